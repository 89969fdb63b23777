//! What an audit covers: folders (recursive), globs, files listing paths or URIs, single clips,
//! and object-store prefixes, expanded into clips with stable keys. Every local path goes
//! through the one resolver (`objects::Roots`): only regular files inside the roots are
//! clips; a link out, a FIFO, a device or a `/proc` path is returned as skipped, with why,
//! and never opened.

use super::AuditError;
use crate::objects::{self, Found, ObjectError, Roots};
use crate::service::ClipLocation;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// File extensions taken as clips when walking folders and globs.
pub const VIDEO_EXTENSIONS: [&str; 9] = [
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts", "3gp",
];

/// Which roots an audit's local paths must resolve into.
#[derive(Debug, Clone)]
pub enum Confinement {
    /// The configured `server.file_roots` (the service always; the CLI when they are set):
    /// every path, however it is named, resolves inside them.
    Roots(Roots),
    /// The CLI without configured roots: a folder's walk stays inside the folder named and a
    /// glob's matches inside the glob's fixed leading folders; a clip or list line named
    /// explicitly may be anywhere. Regular files only in every case, never `/proc`, `/sys`
    /// or `/dev`.
    Named,
}

/// The clips an audit covers, and the entries its sources named or held that are not clips
/// it may read, each with why (reported as error lines, never screened).
#[derive(Debug, Default)]
pub struct Expanded {
    pub clips: Vec<ClipLocation>,
    /// By key (the entry's path as found).
    pub skipped: BTreeMap<String, ObjectError>,
}

fn is_video(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn source_error(name: &str, e: impl std::fmt::Display) -> AuditError {
    AuditError::Source {
        source_name: name.to_string(),
        reason: e.to_string(),
    }
}

/// Collects clips and skipped entries, each once.
#[derive(Default)]
struct Collect {
    clips: BTreeSet<ClipLocation>,
    skipped: BTreeMap<String, ObjectError>,
}

impl Collect {
    /// One explicitly named path (a single clip, a glob match, a list line).
    fn path(&mut self, roots: &Roots, p: &Path) {
        let key = absolute(p);
        let name = key.display().to_string();
        match roots.resolve(&name, &key) {
            Ok(real) => {
                self.clips.insert(ClipLocation::Found(real));
            }
            Err(e) => {
                self.skipped.insert(name, e);
            }
        }
    }

    /// A glob's match, taken as an explicitly named path, unless the glob reached it through
    /// a folder outside the roots (a link out on the way, or fixed folders beside the roots):
    /// then that folder is reported once, as a walk reports a link out, and nothing inside it
    /// is named, so a glob cannot list what exists outside the roots. Folders above a root
    /// are passed through: a glob's fixed part may start higher than the roots.
    fn glob_match(&mut self, roots: &Roots, base: &Path, m: &Path) {
        let m = absolute(m);
        let mut folder = PathBuf::new();
        for c in m.parent().unwrap_or(&m).components() {
            folder.push(c);
            if !folder.starts_with(base) {
                continue;
            }
            let passable = folder
                .canonicalize()
                .is_ok_and(|real| roots.contains(&real) || roots.is_above(&real));
            if passable {
                continue;
            }
            let name = folder.display().to_string();
            if let Err(e) = roots.resolve_source(&name, &folder) {
                self.skipped.insert(name, e);
                return;
            }
        }
        self.path(roots, &m);
    }

    fn walk(&mut self, roots: &Roots, source: &str, dir: &Path) -> Result<(), AuditError> {
        let real = roots
            .resolve_source(source, dir)
            .map_err(|e| source_error(source, e))?;
        let found = roots
            .walk(&real, &is_video)
            .map_err(|e| source_error(source, crate::vocab::io_reason(&e)))?;
        for f in found {
            match f {
                Found::Clip(p) => {
                    self.clips.insert(ClipLocation::Found(p));
                }
                Found::Skipped { path, error } => {
                    self.skipped.insert(path.display().to_string(), error);
                }
            }
        }
        Ok(())
    }
}

fn s3_prefix(uri: &str, rt: &tokio::runtime::Runtime) -> Result<Vec<ClipLocation>, AuditError> {
    let rest = uri.trim_start_matches("s3://");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(source_error(uri, "expected s3://bucket/prefix"));
    }
    let keys = rt.block_on(objects::list_s3(bucket, prefix))?;
    Ok(keys
        .into_iter()
        .map(|key| ClipLocation::S3 {
            bucket: bucket.to_string(),
            key,
        })
        .collect())
}

/// Reads a list of clips (itself resolved and opened like a clip, so a FIFO named as a list
/// cannot block the audit).
fn list_file(roots: &Roots, path: &Path, out: &mut Collect) -> Result<(), AuditError> {
    use std::io::Read;
    let name = path.display().to_string();
    let mut text = String::new();
    roots
        .resolve(&name, path)
        .and_then(|real| objects::open_resolved(&name, &real))
        .map_err(|e| source_error(&name, e))?
        .read_to_string(&mut text)
        .map_err(|e| source_error(&name, crate::vocab::io_reason(&e)))?;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(p) = line.strip_prefix("file://") {
            out.path(roots, Path::new(p));
        } else if line.starts_with("s3://") {
            out.clips.insert(ClipLocation::parse_uri(line)?);
        } else {
            // Relative paths in a list are relative to the list.
            let p = Path::new(line);
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                path.parent().unwrap_or(Path::new(".")).join(p)
            };
            out.path(roots, &p);
        }
    }
    Ok(())
}

/// The folders before a glob's first wildcard: what its matches must stay inside when no
/// roots are configured.
fn glob_base(pattern: &str) -> PathBuf {
    let mut base = PathBuf::new();
    for c in Path::new(pattern).components() {
        if let Component::Normal(s) = c {
            if s.to_string_lossy().contains(['*', '?', '[']) {
                break;
            }
        }
        base.push(c);
    }
    if base.as_os_str().is_empty() {
        base.push(".");
    }
    absolute(&base)
}

/// Expands every source into clips, each once, in a stable order, and the entries left out.
pub fn expand(
    sources: &[String],
    confinement: &Confinement,
    rt: &tokio::runtime::Runtime,
) -> Result<Expanded, AuditError> {
    let mut out = Collect::default();
    let confined = |named: &Path| match confinement {
        Confinement::Roots(r) => r.clone(),
        Confinement::Named => Roots::new(&[absolute(named)]),
    };
    let explicit = match confinement {
        Confinement::Roots(r) => r.clone(),
        Confinement::Named => Roots::anywhere(),
    };
    for s in sources {
        if s.starts_with("s3://") {
            out.clips.extend(s3_prefix(s, rt)?);
            continue;
        }
        let p = Path::new(s.strip_prefix("file://").unwrap_or(s));
        // `stat` only: nothing is opened before its kind is known.
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => out.walk(&confined(p), s, p)?,
            Ok(_) if is_video(p) => out.path(&explicit, p),
            Ok(_) => list_file(&explicit, p, &mut out)?,
            Err(_) if s.contains(['*', '?', '[']) => {
                let base = glob_base(s);
                let roots = confined(&base);
                let paths = glob::glob(s).map_err(|e| source_error(s, e))?;
                for m in paths.flatten() {
                    if !m.is_dir() {
                        out.glob_match(&roots, &base, &m);
                    }
                }
            }
            Err(_) => {
                // A link out answers as outside whether or not its target exists.
                return Err(match explicit.resolve(s, &absolute(p)) {
                    Err(
                        e @ (ObjectError::OutsideRoots { .. } | ObjectError::LinkOutside { .. }),
                    ) => source_error(s, e),
                    _ => source_error(s, "no such file or folder"),
                });
            }
        }
    }
    Ok(Expanded {
        clips: out.clips.into_iter().collect(),
        skipped: out.skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Globs over a folder with a link out and beside folders outside the roots: the clips
    /// inside are taken, each folder outside is reported once by its own name, and no name of
    /// anything inside those folders appears, taken or skipped.
    #[test]
    fn a_glob_does_not_list_what_is_outside_the_roots() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let root = base.join("clips");
        std::fs::create_dir_all(root.join("b")).unwrap();
        std::fs::create_dir_all(base.join("elsewhere")).unwrap();
        std::fs::create_dir_all(base.join("other")).unwrap();
        std::fs::write(root.join("top.mp4"), b"x").unwrap();
        std::fs::write(root.join("b/real.mp4"), b"x").unwrap();
        std::fs::write(base.join("elsewhere/secret.mp4"), b"x").unwrap();
        std::fs::write(base.join("other/hidden.mp4"), b"x").unwrap();
        symlink(base.join("elsewhere"), root.join("b/dir_out")).unwrap();
        let confinement = Confinement::Roots(Roots::new(std::slice::from_ref(&root)));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let sources = [
            format!("{}/b/*/*.mp4", root.display()),
            format!("{}/*/*.mp4", base.display()),
            format!("{}/elsewhere/*.mp4", base.display()),
        ];
        let found = expand(&sources, &confinement, &rt).unwrap();
        let clips: Vec<String> = found.clips.iter().map(ClipLocation::name).collect();
        assert_eq!(clips, [root.join("top.mp4").display().to_string()]);
        let skipped: Vec<(String, &str)> = found
            .skipped
            .iter()
            .map(|(k, e)| (k.clone(), crate::vocab::Failure::code(e).as_str()))
            .collect();
        let want: Vec<(String, &str)> = [
            base.join("clips/b/dir_out"),
            base.join("elsewhere"),
            base.join("other"),
        ]
        .iter()
        .map(|p| (p.display().to_string(), "forbidden_path"))
        .collect();
        assert_eq!(skipped, want);
        let said = format!("{clips:?} {:?}", found.skipped);
        assert!(
            !said.contains("secret") && !said.contains("hidden"),
            "{said}"
        );
    }
}
