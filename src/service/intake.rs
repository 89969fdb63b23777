//! Where a clip comes from, and getting it onto local disk once, hashed while it is read:
//! an upload (already streamed to a temporary file and hashed by `http`), a local path named
//! on the command line, a path an audit found inside its roots, a `file://` URI inside the
//! configured roots, or an `s3://` object (downloaded to a temporary file). Every local path
//! goes through `objects::Roots` and is opened by `objects::open_resolved`: regular files
//! only, never a FIFO or a device, and never a link swapped in after it was resolved.

use crate::objects::{self, ObjectError, Roots};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Where a stored clip is: what the CLI, an audit or a URI names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClipLocation {
    /// A local file named on the command line: resolved anywhere on this machine (symlinks
    /// followed), but only a regular file, and never on `/proc`, `/sys` or `/dev`.
    Path(PathBuf),
    /// A canonical path an audit's resolver found inside its roots: opened only if it still
    /// is that regular file (a link or FIFO put in its place since is refused).
    Found(PathBuf),
    /// A `file://` URI: resolved inside the configured roots.
    FileUri { uri: String, path: PathBuf },
    /// An object in S3 (or a compatible store).
    S3 { bucket: String, key: String },
}

impl ClipLocation {
    /// A `file://` or `s3://` URI.
    pub fn parse_uri(uri: &str) -> Result<Self, ObjectError> {
        let invalid = |reason: &str| ObjectError::InvalidUri {
            uri: uri.to_string(),
            reason: reason.to_string(),
        };
        if let Some(path) = uri.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(invalid("a file URI needs an absolute path (file:///...)"));
            }
            return Ok(ClipLocation::FileUri {
                uri: uri.to_string(),
                path: PathBuf::from(path),
            });
        }
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, key) = rest
                .split_once('/')
                .ok_or_else(|| invalid("expected s3://bucket/key"))?;
            if bucket.is_empty() || key.is_empty() {
                return Err(invalid("expected s3://bucket/key"));
            }
            return Ok(ClipLocation::S3 {
                bucket: bucket.to_string(),
                key: key.to_string(),
            });
        }
        Err(invalid("only file:// and s3:// URIs are supported"))
    }

    /// How messages and reports name it (and how an audit keys and shards it): a path, or
    /// the URI.
    pub fn name(&self) -> String {
        match self {
            ClipLocation::Path(p) | ClipLocation::Found(p) => p.display().to_string(),
            ClipLocation::FileUri { uri, .. } => uri.clone(),
            ClipLocation::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }
}

/// A clip to check: uploaded, or somewhere to fetch it from.
#[derive(Debug)]
pub enum ClipSource {
    /// Bytes already on disk in a temporary file, hashed while they arrived, with the
    /// client's name for them.
    Upload {
        file: tempfile::TempPath,
        name: String,
        sha256: String,
    },
    At(ClipLocation),
}

impl ClipSource {
    /// Puts the clip on local disk (if it is not already) and hashes it, reading it once.
    pub async fn materialise(self, place: &Intake) -> Result<Clip, ObjectError> {
        match self {
            ClipSource::Upload { file, sha256, name } => Ok(Clip {
                on_disk: OnDisk::Temp(file),
                name,
                sha256,
            }),
            ClipSource::At(at) => {
                let name = at.name();
                match at {
                    ClipLocation::Path(path) => {
                        let real = Roots::anywhere().resolve(&name, &path)?;
                        local(real, name).await
                    }
                    ClipLocation::Found(real) => local(real, name).await,
                    ClipLocation::FileUri { uri, path } => {
                        let real = place.roots.resolve(&uri, &path)?;
                        local(real, name).await
                    }
                    ClipLocation::S3 { bucket, key } => {
                        std::fs::create_dir_all(&place.tmp)?;
                        let dest = tempfile::Builder::new()
                            .prefix("s3-")
                            .tempfile_in(&place.tmp)?
                            .into_temp_path();
                        let (sha256, _) =
                            objects::fetch_s3(&bucket, &key, &dest, place.max_file_bytes).await?;
                        Ok(Clip {
                            on_disk: OnDisk::Temp(dest),
                            name,
                            sha256,
                        })
                    }
                }
            }
        }
    }
}

/// Opens a resolved file and hashes it through that one descriptor, which the clip keeps:
/// screening reads `/proc/self/fd/N`, the very file that was checked and hashed, whatever
/// happens to its path meanwhile.
async fn local(real: PathBuf, name: String) -> Result<Clip, ObjectError> {
    let uri = name.clone();
    let (file, sha256) = tokio::task::spawn_blocking(move || {
        let mut file = objects::open_resolved(&uri, &real)?;
        let sha256 = crate::digest::sha256_reader(&mut file).map_err(|e| ObjectError::Store {
            uri: uri.clone(),
            reason: crate::vocab::io_reason(&e),
        })?;
        Ok::<_, ObjectError>((file, sha256))
    })
    .await
    .map_err(|e| ObjectError::Io(std::io::Error::other(e)))??;
    let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    Ok(Clip {
        on_disk: OnDisk::Local { _file: file, path },
        name,
        sha256,
    })
}

/// Where clips are put and which may be named: the same for every entry point.
#[derive(Debug, Clone)]
pub struct Intake {
    pub roots: Roots,
    /// Temporary files (uploads, downloads); cleared by the server at start.
    pub tmp: PathBuf,
    pub max_file_bytes: u64,
}

/// A clip on local disk with its sha256. A temporary copy is deleted when this is dropped.
#[derive(Debug)]
pub struct Clip {
    on_disk: OnDisk,
    /// The client's name for it.
    pub name: String,
    pub sha256: String,
}

#[derive(Debug)]
enum OnDisk {
    Temp(tempfile::TempPath),
    /// An open local file, and the path that reads it through the open descriptor.
    Local {
        _file: std::fs::File,
        path: PathBuf,
    },
}

impl Clip {
    pub fn path(&self) -> &Path {
        match &self.on_disk {
            OnDisk::Temp(p) => p,
            OnDisk::Local { path, .. } => path,
        }
    }

    /// `message` with the clip's path replaced by its name.
    pub fn naming(&self, message: &str) -> String {
        message.replace(&self.path().display().to_string(), &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_or_say_why_not() {
        assert_eq!(
            ClipLocation::parse_uri("file:///clips/a.mp4").unwrap(),
            ClipLocation::FileUri {
                uri: "file:///clips/a.mp4".into(),
                path: "/clips/a.mp4".into()
            }
        );
        assert_eq!(
            ClipLocation::parse_uri("s3://b/p/a.mp4").unwrap(),
            ClipLocation::S3 {
                bucket: "b".into(),
                key: "p/a.mp4".into()
            }
        );
        for bad in [
            "http://x/a.mp4",
            "file://relative.mp4",
            "s3://bucket",
            "s3:///k",
        ] {
            assert!(ClipLocation::parse_uri(bad).is_err(), "{bad}");
        }
    }
}
