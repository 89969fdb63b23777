//! The one resolver for local paths, whatever names them: a `file://` URI sent to a check, an
//! audit's folder walk, glob, list of paths or single clip. A path is taken only when its
//! canonical form (symlinks and `..` resolved) is inside the roots and not on the kernel's
//! pseudo file systems (`/proc`, `/sys`), and only when it is a regular file, which is known from
//! `stat` before anything is opened: a FIFO or a device is never opened, so it cannot block a
//! worker. Symlinks are followed only where their target is inside the roots. Whatever a walk
//! leaves out is returned with the reason, so an audit reports it instead of dropping it.

use super::ObjectError;
use std::collections::HashSet;
use std::fs::File;
use std::path::{Component, Path, PathBuf};

/// The kernel's pseudo file systems: their "files" are the machine's state (a process's
/// environment and memory), never clips, whatever the roots say.
const PSEUDO: [&str; 2] = ["/proc", "/sys"];

/// The folders local paths may resolve into.
#[derive(Debug, Clone, Default)]
pub struct Roots(Vec<PathBuf>);

/// What a folder walk found: a clip to screen (its canonical path), or an entry it left out
/// and why.
#[derive(Debug)]
pub enum Found {
    Clip(PathBuf),
    Skipped { path: PathBuf, error: ObjectError },
}

impl Roots {
    /// Roots that do not exist are skipped with a warning.
    pub fn new(roots: &[PathBuf]) -> Self {
        Self(
            roots
                .iter()
                .filter_map(|r| match r.canonicalize() {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::warn!(root = %r.display(), error = %e, "file root skipped");
                        None
                    }
                })
                .collect(),
        )
    }

    /// The whole file system, for a path the operator names on the command line: still only
    /// regular files, never `/proc` or `/sys`.
    pub fn anywhere() -> Self {
        Self(vec![PathBuf::from("/")])
    }

    fn is_anywhere(&self) -> bool {
        self.0.iter().any(|r| r == Path::new("/"))
    }

    /// Whether a canonical path is inside the roots (and not on a pseudo file system).
    pub fn contains(&self, real: &Path) -> bool {
        !PSEUDO.iter().any(|p| real.starts_with(p)) && self.0.iter().any(|r| real.starts_with(r))
    }

    /// Whether a canonical folder holds one of the roots further down: passing through it
    /// leads into the roots, though it is not inside them.
    pub fn is_above(&self, real: &Path) -> bool {
        self.0.iter().any(|r| r != real && r.starts_with(real))
    }

    /// A clip: a regular file inside the roots. Directories, FIFOs, sockets and devices are
    /// refused from their metadata, never opened (reading a FIFO would block the request).
    pub fn resolve(&self, uri: &str, path: &Path) -> Result<PathBuf, ObjectError> {
        let real = self.locate(uri, path)?;
        match file_kind(&real) {
            None => Ok(real),
            Some(kind) => Err(ObjectError::NotAFile {
                uri: uri.to_string(),
                kind,
            }),
        }
    }

    /// An audit source: a folder or a regular file inside the roots (nothing else).
    pub fn resolve_source(&self, uri: &str, path: &Path) -> Result<PathBuf, ObjectError> {
        let real = self.locate(uri, path)?;
        match file_kind(&real) {
            None | Some(DIRECTORY) => Ok(real),
            Some(kind) => Err(ObjectError::NotAFile {
                uri: uri.to_string(),
                kind,
            }),
        }
    }

    /// Every entry under the folder `dir` (resolved by `resolve_source`) that `wanted` takes
    /// by its name, recursively: regular files inside the roots as clips; FIFOs, sockets,
    /// devices and symlinks whose target is outside the roots (or missing) as skipped, with
    /// why. Subfolders reached through a symlink inside the roots are walked once each, so a
    /// link loop ends. A folder that cannot be read is skipped too; only `dir` itself
    /// failing is an error.
    pub fn walk(
        &self,
        dir: &Path,
        wanted: &dyn Fn(&Path) -> bool,
    ) -> Result<Vec<Found>, std::io::Error> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        self.walk_into(dir, wanted, &mut seen, &mut out)?;
        Ok(out)
    }

    fn walk_into(
        &self,
        dir: &Path,
        wanted: &dyn Fn(&Path) -> bool,
        seen: &mut HashSet<PathBuf>,
        out: &mut Vec<Found>,
    ) -> Result<(), std::io::Error> {
        if !seen.insert(dir.to_path_buf()) {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for path in entries {
            let name = path.display().to_string();
            // Not followed: what the entry itself is.
            let Ok(meta) = path.symlink_metadata() else {
                continue; // gone since the folder was read
            };
            let t = meta.file_type();
            let target = if t.is_symlink() {
                match self.locate(&name, &path) {
                    Ok(real) => real,
                    Err(_) => {
                        // Judged by the name, or by a folder at the other end: either is
                        // something the operator would expect the walk to cover.
                        if wanted(&path) || path.is_dir() {
                            out.push(Found::Skipped {
                                path,
                                error: ObjectError::LinkOutside { uri: name },
                            });
                        }
                        continue;
                    }
                }
            } else {
                path.clone()
            };
            match file_kind(&target) {
                Some(DIRECTORY) => {
                    if let Err(e) = self.walk_into(&target, wanted, seen, out) {
                        out.push(Found::Skipped {
                            path,
                            error: ObjectError::Store {
                                uri: name,
                                reason: format!(
                                    "cannot read the folder: {}",
                                    crate::vocab::io_reason(&e)
                                ),
                            },
                        });
                    }
                }
                _ if !wanted(&path) => {}
                None => out.push(Found::Clip(target)),
                Some(kind) => out.push(Found::Skipped {
                    path,
                    error: ObjectError::NotAFile { uri: name, kind },
                }),
            }
        }
        Ok(())
    }

    /// The error for a path outside the roots, naming the roots it should have been in (the
    /// operator's own configuration, so the caller learns where clips may come from, and
    /// nothing about the path it probed).
    fn outside_roots(&self, uri: &str) -> ObjectError {
        ObjectError::OutsideRoots {
            uri: uri.to_string(),
            roots: self
                .0
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// The real path of `path` if it is inside the roots. A missing path is `NotFound` only
    /// when the deepest part of it that exists resolves inside the roots; anywhere else the
    /// answer is `OutsideRoots` whether or not it exists, so a symlinked folder cannot be used
    /// to learn what exists outside.
    fn locate(&self, uri: &str, path: &Path) -> Result<PathBuf, ObjectError> {
        if self.0.is_empty() {
            return Err(ObjectError::NoRoots {
                uri: uri.to_string(),
            });
        }
        let outside = || {
            if path.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
                ObjectError::LinkOutside {
                    uri: uri.to_string(),
                }
            } else {
                self.outside_roots(uri)
            }
        };
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let path = absolute.as_path();
        // Refused before touching the file system, so probing for paths outside reveals
        // nothing (harmless, and allowed, where the whole file system is the root).
        if !self.is_anywhere() && path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(self.outside_roots(uri));
        }
        match path.canonicalize() {
            Ok(real) if self.contains(&real) => Ok(real),
            Ok(_) => Err(outside()),
            Err(_) => {
                // The deepest ancestor that exists (a dangling symlink counts as existing and
                // then fails to resolve, so it is judged outside too).
                let existing = path
                    .ancestors()
                    .skip(1)
                    .find(|a| a.symlink_metadata().is_ok())
                    .and_then(|a| a.canonicalize().ok());
                match existing {
                    Some(real) if self.contains(&real) && path.symlink_metadata().is_err() => {
                        Err(ObjectError::NotFound {
                            uri: uri.to_string(),
                        })
                    }
                    _ => Err(outside()),
                }
            }
        }
    }
}

/// Opens for reading a file the resolver returned (`real`, canonical), only if it still is
/// that regular file: opened without following a final symlink and without blocking (a FIFO
/// put in its place cannot stall the open), then checked through the descriptor itself, its
/// type and the path the kernel gives for it. A file swapped for a link, a FIFO or a device
/// after it was resolved is refused before a byte is read.
pub fn open_resolved(uri: &str, real: &Path) -> Result<File, ObjectError> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let changed = || ObjectError::Changed {
        uri: uri.to_string(),
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(real)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => ObjectError::NotFound {
                uri: uri.to_string(),
            },
            Some(libc::ELOOP) => changed(),
            _ => ObjectError::Store {
                uri: uri.to_string(),
                reason: crate::vocab::io_reason(&e),
            },
        })?;
    let meta = file.metadata().map_err(|e| ObjectError::Store {
        uri: uri.to_string(),
        reason: crate::vocab::io_reason(&e),
    })?;
    if !meta.is_file() {
        return Err(ObjectError::NotAFile {
            uri: uri.to_string(),
            kind: kind_of(meta.file_type()),
        });
    }
    let at =
        std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(|_| changed())?;
    if at != real {
        return Err(changed());
    }
    Ok(file)
}

const DIRECTORY: &str = "a directory";

/// None for a regular file, else what it is; from `stat` and `statfs`, which do not open
/// the file.
fn file_kind(path: &Path) -> Option<&'static str> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && on_kernel_fs(path) => Some("a file of the kernel's"),
        Ok(meta) if meta.is_file() => None,
        Ok(meta) => Some(kind_of(meta.file_type())),
        Err(_) => Some("unreadable"),
    }
}

/// Whether `path` is on procfs or sysfs, wherever they are mounted.
fn on_kernel_fs(path: &Path) -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    const SYSFS_MAGIC: i64 = 0x6265_6572;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return true;
    };
    // SAFETY: statfs fills a zeroed struct through a valid pointer from a NUL-terminated path.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut fs) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between targets
    let t = fs.f_type as i64;
    t == PROC_SUPER_MAGIC || t == SYSFS_MAGIC
}

fn kind_of(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        DIRECTORY
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn roots_refuse_traversal_and_symlinks_out() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("in.mp4"), b"x").unwrap();
        std::fs::write(base.path().join("secret"), b"x").unwrap();
        symlink(base.path().join("secret"), root.join("link")).unwrap();
        let roots = Roots::new(std::slice::from_ref(&root));
        let ok = roots.resolve("u", &root.join("in.mp4")).unwrap();
        assert!(ok.ends_with("in.mp4"));
        for bad in [
            root.join("../secret"),
            root.join("link"),
            base.path().join("secret"),
        ] {
            let err = roots.resolve("u", &bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    ObjectError::OutsideRoots { .. } | ObjectError::LinkOutside { .. }
                ),
                "{bad:?}: {err}"
            );
        }
        assert!(matches!(
            roots.resolve("u", &root.join("missing.mp4")),
            Err(ObjectError::NotFound { .. })
        ));
        // A dangling link out answers as outside, and still does once its target exists.
        symlink(base.path().join("later"), root.join("dangling")).unwrap();
        for _ in 0..2 {
            assert!(matches!(
                roots.resolve("u", &root.join("dangling")),
                Err(ObjectError::LinkOutside { .. })
            ));
            std::fs::write(base.path().join("later"), b"x").unwrap();
        }
        assert!(matches!(
            roots.resolve("u", &root),
            Err(ObjectError::NotAFile {
                kind: "a directory",
                ..
            })
        ));
        assert_eq!(
            roots.resolve_source("u", &root).unwrap(),
            root.canonicalize().unwrap()
        );
        assert!(matches!(
            Roots::default().resolve("u", &root.join("in.mp4")),
            Err(ObjectError::NoRoots { .. })
        ));
    }

    /// The attacker's folder: links in and out, a FIFO, a device, /proc, a link loop. The walk
    /// returns exactly the clips inside, says why each other entry was left out, and opens
    /// nothing (a FIFO opened for reading would block it: the walk runs under a timeout).
    #[test]
    fn a_walk_takes_regular_files_inside_and_reports_the_rest() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("clips");
        let b = root.join("b");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::create_dir(base.path().join("elsewhere")).unwrap();
        std::fs::write(base.path().join("elsewhere/secret.mp4"), b"x").unwrap();
        std::fs::write(b.join("real.mp4"), b"x").unwrap();
        std::fs::write(root.join("other.mov"), b"x").unwrap();
        std::fs::write(b.join("notes.txt"), b"x").unwrap();
        symlink(
            base.path().join("elsewhere/secret.mp4"),
            b.join("link_out.mp4"),
        )
        .unwrap();
        symlink("/etc/passwd", b.join("passwd.mp4")).unwrap();
        symlink("/proc/self/environ", b.join("environ.mp4")).unwrap();
        symlink("/dev/zero", b.join("zero.mp4")).unwrap();
        symlink(base.path().join("elsewhere"), b.join("dir_out")).unwrap();
        symlink(root.join("other.mov"), b.join("link_in.mp4")).unwrap();
        symlink(&root, b.join("loop")).unwrap();
        mkfifo(&b.join("fifo.mp4"));
        let roots = Roots::new(std::slice::from_ref(&root));
        let real_root = root.canonicalize().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let walker = roots.clone();
        std::thread::spawn(move || {
            let found = walker.walk(&real_root, &|p| {
                p.extension().is_some_and(|e| e == "mp4" || e == "mov")
            });
            let _ = tx.send(found);
        });
        let found = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the walk does not block on the FIFO")
            .unwrap();
        let mut clips: Vec<String> = Vec::new();
        let mut skipped: Vec<(String, String)> = Vec::new();
        for f in found {
            match f {
                Found::Clip(p) => clips.push(p.file_name().unwrap().to_string_lossy().into()),
                Found::Skipped { path, error } => skipped.push((
                    path.file_name().unwrap().to_string_lossy().into(),
                    crate::vocab::Failure::code(&error).as_str().to_string(),
                )),
            }
        }
        clips.sort();
        skipped.sort();
        // other.mov twice: in place, and through link_in.mp4 (one clip once the audit dedups).
        assert_eq!(clips, ["other.mov", "other.mov", "real.mp4"]);
        let want: Vec<(String, String)> = [
            ("dir_out", "forbidden_path"),
            ("environ.mp4", "forbidden_path"),
            ("fifo.mp4", "not_a_file"),
            ("link_out.mp4", "forbidden_path"),
            ("passwd.mp4", "forbidden_path"),
            ("zero.mp4", "forbidden_path"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(skipped, want);
        // With the whole file system as the root, a device is still no clip, nor a /proc file
        // (which `stat` calls regular), named directly or through a bind of /proc elsewhere.
        let everywhere = Roots::anywhere();
        assert!(matches!(
            everywhere.resolve("u", Path::new("/dev/zero")),
            Err(ObjectError::NotAFile {
                kind: "a device",
                ..
            })
        ));
        assert!(everywhere
            .resolve("u", Path::new("/proc/self/environ"))
            .is_err());
        assert!(on_kernel_fs(Path::new("/proc/self/status")));
        assert!(!on_kernel_fs(base.path()));
    }

    #[test]
    fn a_resolved_file_swapped_for_a_link_or_a_fifo_is_not_opened() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().canonicalize().unwrap();
        let clip = root.join("a.mp4");
        std::fs::write(&clip, b"clip").unwrap();
        std::fs::write(root.join("secret"), b"secret").unwrap();
        let roots = Roots::new(std::slice::from_ref(&root));
        let real = roots.resolve("u", &clip).unwrap();
        assert!(open_resolved("u", &real).is_ok());
        std::fs::remove_file(&clip).unwrap();
        symlink(root.join("secret"), &clip).unwrap();
        assert!(matches!(
            open_resolved("u", &real),
            Err(ObjectError::Changed { .. })
        ));
        std::fs::remove_file(&clip).unwrap();
        mkfifo(&clip);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(open_resolved("u", &real).map(|_| ()));
        });
        let opened = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("opening a FIFO does not block");
        assert!(matches!(
            opened,
            Err(ObjectError::NotAFile { kind: "a FIFO", .. })
        ));
    }
}
