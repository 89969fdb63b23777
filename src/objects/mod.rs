//! Clips named by URI or path: local paths resolved inside the configured roots (`roots`, the
//! one resolver every path source goes through), and `s3://bucket/key` objects (crate
//! `object_store`; credentials, region and endpoint from the usual `AWS_*` variables).

mod roots;

pub use roots::{open_resolved, Found, Roots};

use crate::digest::HashingWriter;
use crate::vocab::{ErrorCode, Failure};
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::ObjectStore;
use std::path::Path;

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
    #[error("{uri}: a symbolic link whose target is outside the allowed roots")]
    LinkOutside { uri: String },
    #[error("{uri}: changed since it was resolved (a link or another file put in its place)")]
    Changed { uri: String },
    #[error("{uri}: is {kind}, not a regular file")]
    NotAFile { uri: String, kind: &'static str },
    #[error("{uri}: {size} bytes is over the limit of {limit}")]
    TooLarge { uri: String, size: u64, limit: u64 },
    #[error("{uri}: {reason}")]
    Store { uri: String, reason: String },
    #[error("cannot write a temporary file: {}", crate::vocab::io_reason(.0))]
    Io(#[from] std::io::Error),
}

impl Failure for ObjectError {
    fn code(&self) -> ErrorCode {
        match self {
            ObjectError::InvalidUri { .. } => ErrorCode::InvalidUri,
            ObjectError::NoRoots { .. }
            | ObjectError::OutsideRoots { .. }
            | ObjectError::LinkOutside { .. }
            | ObjectError::Changed { .. } => ErrorCode::ForbiddenPath,
            ObjectError::NotFound { .. } => ErrorCode::NotFound,
            ObjectError::NotAFile { .. } => ErrorCode::NotAFile,
            ObjectError::TooLarge { .. } => ErrorCode::TooLarge,
            ObjectError::Store { .. } => ErrorCode::ObjectStore,
            ObjectError::Io(e) if crate::vocab::out_of_descriptors(e) => ErrorCode::Busy,
            ObjectError::Io(_) => ErrorCode::Io,
        }
    }

    fn retry_after_s(&self) -> Option<u64> {
        (self.code() == ErrorCode::Busy).then_some(crate::vocab::RETRY_OUT_OF_DESCRIPTORS_S)
    }
}

/// Whether `bucket` is a valid S3 bucket name: 3 to 63 lowercase letters, digits, dots and
/// hyphens, beginning and ending with a letter or a digit. The name becomes part of the
/// request's URL (its host, where virtual-hosted requests are configured), so a name such as
/// `attacker.example#` must never reach the store: a URI may pick a bucket, not an endpoint.
fn is_bucket_name(bucket: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge(bucket.chars().next())
        && edge(bucket.chars().last())
        && !bucket.contains("..")
}

fn s3(bucket: &str, uri: &str) -> Result<impl ObjectStore, ObjectError> {
    if !is_bucket_name(bucket) {
        return Err(ObjectError::InvalidUri {
            uri: uri.to_string(),
            reason: "not a valid bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"
                .into(),
        });
    }
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

    /// A bucket name that would change the host of a virtual-hosted request (or the path of a
    /// path-style one) is refused before any store is built, so the configured endpoint is
    /// the only one an `s3://` URI can reach.
    #[test]
    fn a_bucket_name_cannot_name_another_endpoint() {
        for good in ["clips", "archive", "my-bucket.2026", "a1b"] {
            assert!(s3(good, "s3://x/y").is_ok(), "{good}");
        }
        for bad in [
            "attacker.example#",
            "169.254.169.254?",
            "user@attacker.example",
            "host:8080",
            "..",
            "a..b",
            "Clips",
            "ab",
            "-clips",
            "clips-",
            "bücket",
            &"a".repeat(64),
        ] {
            let uri = format!("s3://{bad}/clip.mp4");
            match s3(bad, &uri) {
                Err(e @ ObjectError::InvalidUri { .. }) => {
                    assert_eq!(e.code(), ErrorCode::InvalidUri, "{bad}")
                }
                Err(e) => panic!("{bad}: {e}"),
                Ok(_) => panic!("{bad}: accepted"),
            }
        }
    }
}
