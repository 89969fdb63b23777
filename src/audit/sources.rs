//! What an audit covers: folders (recursive), globs, files listing paths or URIs, single clips,
//! and object-store prefixes, expanded into clips with stable keys.

use super::AuditError;
use crate::objects;
use crate::service::ClipLocation;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// File extensions taken as clips when walking folders and globs.
pub const VIDEO_EXTENSIONS: [&str; 9] = [
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "mts", "3gp",
];

fn is_video(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn walk(dir: &Path, out: &mut BTreeSet<ClipLocation>) -> Result<(), AuditError> {
    let entries = std::fs::read_dir(dir).map_err(|e| AuditError::Source {
        source_name: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out)?,
            Ok(_) if is_video(&p) => {
                out.insert(ClipLocation::Path(absolute(&p)));
            }
            _ => {}
        }
    }
    Ok(())
}

fn s3_prefix(uri: &str, rt: &tokio::runtime::Runtime) -> Result<Vec<ClipLocation>, AuditError> {
    let rest = uri.trim_start_matches("s3://");
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(AuditError::Source {
            source_name: uri.into(),
            reason: "expected s3://bucket/prefix".into(),
        });
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

fn list_file(path: &Path, out: &mut BTreeSet<ClipLocation>) -> Result<(), AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuditError::Source {
        source_name: path.display().to_string(),
        reason: e.to_string(),
    })?;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(p) = line.strip_prefix("file://") {
            out.insert(ClipLocation::Path(absolute(Path::new(p))));
        } else if line.starts_with("s3://") {
            out.insert(ClipLocation::parse_uri(line)?);
        } else {
            // Relative paths in a list are relative to the list.
            let p = Path::new(line);
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                path.parent().unwrap_or(Path::new(".")).join(p)
            };
            out.insert(ClipLocation::Path(absolute(&p)));
        }
    }
    Ok(())
}

/// Expands every source into clips, each once, in a stable order.
pub fn expand(
    sources: &[String],
    rt: &tokio::runtime::Runtime,
) -> Result<Vec<ClipLocation>, AuditError> {
    let mut out = BTreeSet::new();
    for s in sources {
        if s.starts_with("s3://") {
            out.extend(s3_prefix(s, rt)?);
            continue;
        }
        let p = Path::new(s);
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            if is_video(p) {
                out.insert(ClipLocation::Path(absolute(p)));
            } else {
                list_file(p, &mut out)?;
            }
        } else if s.contains(['*', '?', '[']) {
            let paths = glob::glob(s).map_err(|e| AuditError::Source {
                source_name: s.clone(),
                reason: e.to_string(),
            })?;
            for p in paths.flatten() {
                if p.is_file() {
                    out.insert(ClipLocation::Path(absolute(&p)));
                }
            }
        } else {
            return Err(AuditError::Source {
                source_name: s.clone(),
                reason: "no such file or folder".into(),
            });
        }
    }
    Ok(out.into_iter().collect())
}
