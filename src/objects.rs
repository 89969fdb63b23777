//! Clips named by URI: `file://` paths inside configured roots, and `s3://bucket/key` objects
//! (crate `object_store`; credentials, region and endpoint from the usual `AWS_*` variables).

use crate::digest::HashingWriter;
use crate::vocab::{ErrorCode, Failure};
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::ObjectStore;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("invalid URI {uri:?}: {reason}")]
    InvalidUri { uri: String, reason: String },
    #[error("{uri}: file URIs are disabled: configure server.file_roots to allow them")]
    NoRoots { uri: String },
    #[error("{uri}: outside the allowed roots ({roots})")]
    OutsideRoots { uri: String, roots: String },
    #[error("{uri}: no such file or object")]
    NotFound { uri: String },
    #[error("{uri}: is {kind}, not a regular file")]
    NotAFile { uri: String, kind: &'static str },
    #[error("{uri}: {size} bytes is over the limit of {limit}")]
    TooLarge { uri: String, size: u64, limit: u64 },
    #[error("{uri}: {reason}")]
    Store { uri: String, reason: String },
    #[error("cannot write a temporary file: {0}")]
    Io(#[from] std::io::Error),
}

impl Failure for ObjectError {
    fn code(&self) -> ErrorCode {
        match self {
            ObjectError::InvalidUri { .. } => ErrorCode::InvalidUri,
            ObjectError::NoRoots { .. } | ObjectError::OutsideRoots { .. } => {
                ErrorCode::ForbiddenPath
            }
            ObjectError::NotFound { .. } => ErrorCode::NotFound,
            ObjectError::NotAFile { .. } => ErrorCode::NotAFile,
            ObjectError::TooLarge { .. } => ErrorCode::TooLarge,
            ObjectError::Store { .. } => ErrorCode::ObjectStore,
            ObjectError::Io(_) => ErrorCode::Io,
        }
    }
}

/// The folders `file://` URIs may point into. A path is resolved (symlinks and `..`
/// included) before it is compared, so nothing outside the roots can be reached.
#[derive(Debug, Clone, Default)]
pub struct Roots(Vec<PathBuf>);

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
        let outside = || ObjectError::OutsideRoots {
            uri: uri.to_string(),
            roots: self
                .0
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        };
        // Refused before touching the file system, so probing for paths outside reveals nothing.
        if path
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(outside());
        }
        let inside = |real: &Path| self.0.iter().any(|r| real.starts_with(r));
        match path.canonicalize() {
            Ok(real) if inside(&real) => Ok(real),
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
                    Some(real) if inside(&real) && path.symlink_metadata().is_err() => {
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

const DIRECTORY: &str = "a directory";

/// None for a regular file, else what it is; from `stat`, which does not open the file.
fn file_kind(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Some("unreadable");
    };
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some(DIRECTORY)
    } else if t.is_fifo() {
        Some("a FIFO")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_block_device() || t.is_char_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

fn s3(bucket: &str, uri: &str) -> Result<impl ObjectStore, ObjectError> {
    AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .map_err(|e| ObjectError::Store {
            uri: uri.to_string(),
            reason: e.to_string(),
        })
}

fn store_error(uri: &str, e: object_store::Error) -> ObjectError {
    match e {
        object_store::Error::NotFound { .. } => ObjectError::NotFound {
            uri: uri.to_string(),
        },
        e => ObjectError::Store {
            uri: uri.to_string(),
            reason: with_credentials_hint(e.to_string()),
        },
    }
}

/// Without credentials in the environment, `object_store` asks the cloud's instance metadata
/// service and reports that service's failure, which does not say what to do.
fn with_credentials_hint(reason: String) -> String {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        reason
    } else {
        format!("{reason} (no AWS_ACCESS_KEY_ID in the service's environment: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run it where instance credentials are available)")
    }
}

/// Every object under `s3://bucket/prefix`, as its key.
pub async fn list_s3(bucket: &str, prefix: &str) -> Result<Vec<String>, ObjectError> {
    let uri = format!("s3://{bucket}/{prefix}");
    let store = s3(bucket, &uri)?;
    let prefix = (!prefix.is_empty()).then(|| object_store::path::Path::from(prefix));
    let mut keys = Vec::new();
    let mut stream = store.list(prefix.as_ref());
    while let Some(meta) = stream.next().await {
        keys.push(meta.map_err(|e| store_error(&uri, e))?.location.to_string());
    }
    Ok(keys)
}

/// Downloads an S3 object into `dest`, hashing it on the way. Returns (sha256, bytes).
pub async fn fetch_s3(
    bucket: &str,
    key: &str,
    dest: &Path,
    max_bytes: u64,
) -> Result<(String, u64), ObjectError> {
    let uri = format!("s3://{bucket}/{key}");
    let store = s3(bucket, &uri)?;
    let path = object_store::path::Path::from(key);
    let meta = store.head(&path).await.map_err(|e| store_error(&uri, e))?;
    if meta.size > max_bytes {
        return Err(ObjectError::TooLarge {
            uri,
            size: meta.size,
            limit: max_bytes,
        });
    }
    let mut stream = store
        .get(&path)
        .await
        .map_err(|e| store_error(&uri, e))?
        .into_stream();
    let mut out = HashingWriter::new(std::io::BufWriter::new(std::fs::File::create(dest)?));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| store_error(&uri, e))?;
        out.write(&chunk)?;
        if out.bytes() > max_bytes {
            return Err(ObjectError::TooLarge {
                uri,
                size: out.bytes(),
                limit: max_bytes,
            });
        }
    }
    Ok(out.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_refuse_traversal_and_symlinks_out() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("in.mp4"), b"x").unwrap();
        std::fs::write(base.path().join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(base.path().join("secret"), root.join("link")).unwrap();
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
                matches!(err, ObjectError::OutsideRoots { .. }),
                "{bad:?}: {err}"
            );
        }
        assert!(matches!(
            roots.resolve("u", &root.join("missing.mp4")),
            Err(ObjectError::NotFound { .. })
        ));
        // A dangling link out answers as outside, and still does once its target exists.
        std::os::unix::fs::symlink(base.path().join("later"), root.join("dangling")).unwrap();
        for _ in 0..2 {
            assert!(matches!(
                roots.resolve("u", &root.join("dangling")),
                Err(ObjectError::OutsideRoots { .. })
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
}
