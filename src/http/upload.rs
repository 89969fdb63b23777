//! Multipart uploads, streamed to temporary files in the data folder and hashed on the way:
//! never buffered whole in memory, refused as soon as they pass the size limit, refused from
//! their first bytes when they are not the kind of file expected, and answered 408 when the
//! client stops sending or sends too slowly (the partial file is removed with the error).
//! Every request body, JSON and hash files too, is read under the same limits (`limited`,
//! applied by the server to all routes: a stall limit, a minimum rate and a deadline).

use super::error::ApiError;
use crate::digest::HashingWriter;
use crate::vocab::ErrorCode;
use actix_multipart::{Multipart, MultipartError};
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use futures_util::{StreamExt, TryStreamExt};
use std::collections::HashMap;
use std::io::BufWriter;
use std::path::Path;
use std::time::{Duration, Instant};
use tempfile::TempPath;

/// An uploaded file on disk (deleted when dropped), with its sha256.
pub struct Upload {
    pub path: TempPath,
    /// The client's file name, for messages (never a path on this machine).
    pub name: String,
    pub sha256: String,
}

/// What a multipart body held: files by field name, and small text fields.
#[derive(Default)]
pub struct Form {
    pub files: Vec<(String, Upload)>,
    pub text: HashMap<String, String>,
}

impl Form {
    /// The files sent in `field`, in order.
    pub fn paths(&self, field: &str) -> Vec<&Path> {
        self.files
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, u)| u.path.as_ref())
            .collect()
    }

    /// Every file with the client's name for it, so an error about a file can name it.
    pub fn names(&self) -> Vec<(&Path, &str)> {
        self.files
            .iter()
            .map(|(_, u)| (u.path.as_ref(), u.name.as_str()))
            .collect()
    }
}

/// Largest image accepted (face photos, category examples).
const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;

/// Reads a form of JPEG or PNG images (at most `max_files`, each at most 20 MB) in
/// `file_fields`, beside `text_fields`.
pub async fn read_images(
    req: &actix_web::HttpRequest,
    payload: actix_web::web::Payload,
    tmp: &Path,
    file_fields: &'static [&'static str],
    text_fields: &'static [&'static str],
    max_files: u64,
) -> Result<Form, ApiError> {
    read(
        req,
        payload,
        tmp,
        &Expect::images(file_fields, text_fields, max_files),
    )
    .await
}

/// What a file field must be.
pub struct Expect {
    /// Field names that carry files.
    pub file_fields: &'static [&'static str],
    /// Field names that carry text (JSON).
    pub text_fields: &'static [&'static str],
    /// What the files must be, judged from their first bytes; None takes any file.
    pub kind: Option<Kind>,
    pub max_file_bytes: u64,
    /// Files one request may carry: with `max_file_bytes`, bounds its declared length.
    pub max_files: u64,
}

impl Expect {
    /// JPEG or PNG images (at most `max_files`, each at most 20 MB) in `file_fields`, beside
    /// `text_fields`.
    pub fn images(
        file_fields: &'static [&'static str],
        text_fields: &'static [&'static str],
        max_files: u64,
    ) -> Self {
        Self {
            file_fields,
            text_fields,
            kind: Some(IMAGE),
            max_file_bytes: MAX_IMAGE_BYTES,
            max_files,
        }
    }
}

/// A kind of file recognised from its first bytes.
pub struct Kind {
    pub sniff: fn(&[u8]) -> bool,
    /// The error code for a file of another kind.
    pub code: ErrorCode,
    /// What was expected, for the message.
    pub what: &'static str,
}

pub const VIDEO: Kind = Kind {
    sniff: crate::media::is_video_signature,
    code: ErrorCode::NotVideo,
    what: "a video (MP4, MOV, MKV, WebM, AVI or MPEG-TS)",
};

const IMAGE: Kind = Kind {
    sniff: is_image_signature,
    code: ErrorCode::NotImage,
    what: "a JPEG or PNG image",
};

/// A text field: room for the longest prompt (`vocab::MAX_PROMPT_CHARS`) in any encoding
/// JSON allows, escapes included, beside the other fields.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
const SNIFF_BYTES: usize = 12;

fn too_large(limit: u64) -> ApiError {
    crate::metrics::rejected(ErrorCode::TooLarge.as_str());
    ApiError::new(
        ErrorCode::TooLarge,
        format!("the upload is over the limit of {limit} bytes"),
    )
}

/// Refuses a body whose declared length is already over the limit, before reading it.
fn check_length(req: &actix_web::HttpRequest, limit: u64) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        // A little room for the multipart framing and metadata.
        Some(n) if n > limit + MAX_TEXT_BYTES as u64 => Err(too_large(limit)),
        _ => Ok(()),
    }
}

/// Reads a multipart body as `expect` says, after refusing one whose declared length is
/// already over its limits.
pub async fn read(
    req: &actix_web::HttpRequest,
    payload: actix_web::web::Payload,
    tmp: &Path,
    expect: &Expect,
) -> Result<Form, ApiError> {
    check_length(req, expect.max_file_bytes * expect.max_files.max(1))?;
    read_parts(Multipart::new(req.headers(), payload), tmp, expect).await
}

/// How long a request body may take.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Nothing received for this long ends the body.
    pub stall: Duration,
    /// Free of the minimum rate.
    pub grace: Duration,
    /// Bytes a second the body must average once the grace is over.
    pub min_rate: u64,
    /// The whole body.
    pub deadline: Duration,
}

impl BodyLimits {
    /// From the server's settings; the deadline, unless set, is the grace plus the time the
    /// largest upload takes at the minimum rate.
    pub fn new(cfg: &crate::config::ServerConfig, max_body_bytes: u64) -> Self {
        let min_rate = cfg.body_min_rate.max(1);
        let grace = Duration::from_secs(cfg.body_grace_s);
        let deadline = match cfg.body_deadline_s {
            0 => grace + Duration::from_secs(max_body_bytes.div_ceil(min_rate)),
            s => Duration::from_secs(s),
        };
        Self {
            stall: Duration::from_secs(cfg.upload_timeout_s.max(1)),
            grace,
            min_rate,
            deadline,
        }
    }
}

/// The body of a request, ending in a `TimedOut` error when nothing of it arrives for
/// `stall`, when it has taken `deadline`, or when, after `grace`, it has arrived at less than
/// `min_rate` on average: a client that sends headers and then stops, or trickles a byte now
/// and then, would otherwise hold its connection, and for an upload a temporary file, for as
/// long as it liked.
pub fn limited(payload: Payload, limits: BodyLimits) -> Payload {
    let started = Instant::now();
    let stream =
        futures_util::stream::unfold((Some(payload), 0u64), move |(body, received)| async move {
            let mut body = body?;
            let elapsed = started.elapsed();
            // When the average since the start would fall under the minimum rate.
            let rate_due =
                limits.grace + Duration::from_secs_f64(received as f64 / limits.min_rate as f64);
            let due = limits.deadline.min(rate_due);
            let left = due.saturating_sub(elapsed);
            let wait = limits.stall.min(left);
            match tokio::time::timeout(wait, body.next()).await {
                Ok(Some(Ok(piece))) => {
                    let n = piece.len() as u64;
                    Some((Ok(piece), (Some(body), received + n)))
                }
                Ok(Some(Err(e))) => Some((Err(e), (None, received))),
                Ok(None) => None,
                Err(_) => {
                    let reason = if wait == limits.stall && limits.stall < left {
                        format!("nothing was received for {} s", limits.stall.as_secs())
                    } else if due == limits.deadline {
                        format!("the body took longer than {} s", limits.deadline.as_secs())
                    } else {
                        format!(
                            "the body arrived slower than {} bytes/s after its first {} s",
                            limits.min_rate,
                            limits.grace.as_secs()
                        )
                    };
                    let slow = std::io::Error::new(std::io::ErrorKind::TimedOut, reason);
                    Some((Err(PayloadError::Io(slow)), (None, received)))
                }
            }
        });
    // Fused: readers (multipart) may poll again after the end.
    Payload::Stream {
        payload: Box::pin(stream.fuse()),
    }
}

/// The answer to a body that could not be read: 408 where it stalled, else malformed.
pub fn body_error(e: &PayloadError) -> ApiError {
    match e {
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            crate::metrics::rejected(ErrorCode::UploadTimeout.as_str());
            ApiError::new(
                ErrorCode::UploadTimeout,
                format!("the request body was cut off: {io}"),
            )
        }
        other => ApiError::new(
            ErrorCode::MalformedBody,
            format!("the body cannot be read: {other}"),
        ),
    }
}

/// JSON bodies are at most this large, as text fields are.
pub const MAX_JSON_BYTES: usize = MAX_TEXT_BYTES;

/// Reads and parses a JSON body of at most 256 KiB.
pub async fn json_body<T: serde::de::DeserializeOwned>(
    payload: actix_web::web::Payload,
) -> Result<T, ApiError> {
    let body = payload
        .to_bytes_limited(MAX_JSON_BYTES)
        .await
        .map_err(|_| {
            crate::metrics::rejected(ErrorCode::TooLarge.as_str());
            ApiError::new(ErrorCode::TooLarge, "a JSON body is at most 256 KiB")
        })?
        .map_err(|e| match e.as_error::<PayloadError>() {
            Some(e) => body_error(e),
            None => ApiError::new(ErrorCode::MalformedBody, e.to_string()),
        })?;
    parse_json("body", &body)
}

/// Parses JSON, naming `what` (body, metadata...) in the error.
pub fn parse_json<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::json(what, &e))
}

async fn read_parts(mut mp: Multipart, tmp: &Path, expect: &Expect) -> Result<Form, ApiError> {
    let malformed = |e: MultipartError| match e {
        MultipartError::Payload(e) => body_error(&e),
        e => ApiError::new(
            ErrorCode::MalformedMultipart,
            format!("the multipart body cannot be read: {e}"),
        ),
    };
    let mut form = Form::default();
    while let Some(mut field) = mp.try_next().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        if expect.file_fields.contains(&name.as_str()) {
            let client_name = field
                .content_disposition()
                .and_then(|d| d.get_filename())
                .map(|f| format!("upload {f:?}"))
                .unwrap_or_else(|| "upload".into());
            let file = tempfile::Builder::new()
                .prefix("upload-")
                .tempfile_in(tmp)
                .map_err(|e| ApiError::from(e).context("cannot store the upload"))?;
            let (f, path) = file.into_parts();
            let mut out = HashingWriter::new(BufWriter::with_capacity(256 * 1024, f));
            let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
            let mut sniffed = false;
            while let Some(chunk) = field.try_next().await.map_err(malformed)? {
                if !sniffed {
                    let take = (SNIFF_BYTES - head.len()).min(chunk.len());
                    head.extend_from_slice(&chunk[..take]);
                    if head.len() == SNIFF_BYTES {
                        sniff(&head, expect)?;
                        sniffed = true;
                    }
                }
                out.write(&chunk)?;
                if out.bytes() > expect.max_file_bytes {
                    return Err(too_large(expect.max_file_bytes));
                }
            }
            if head.is_empty() {
                return Err(ApiError::new(
                    ErrorCode::Empty,
                    format!("{client_name}: file is empty (0 bytes)"),
                ));
            }
            if !sniffed {
                sniff(&head, expect)?;
            }
            let (sha256, _) = out.finish()?;
            form.files.push((
                name,
                Upload {
                    path,
                    name: client_name,
                    sha256,
                },
            ));
        } else if expect.text_fields.contains(&name.as_str()) {
            let mut text = Vec::new();
            while let Some(chunk) = field.try_next().await.map_err(malformed)? {
                text.extend_from_slice(&chunk);
                if text.len() > MAX_TEXT_BYTES {
                    return Err(ApiError::new(
                        ErrorCode::TooLarge,
                        format!("field {name:?} is over {MAX_TEXT_BYTES} bytes"),
                    ));
                }
            }
            let text = String::from_utf8(text).map_err(|_| {
                ApiError::new(
                    ErrorCode::MalformedMultipart,
                    format!("field {name:?} is not UTF-8"),
                )
            })?;
            form.text.insert(name, text);
        } else {
            let mut known: Vec<&str> = expect.file_fields.to_vec();
            known.extend(expect.text_fields);
            return Err(ApiError::new(
                ErrorCode::UnknownField,
                format!(
                    "unknown multipart field {name:?}; expected {}",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(form)
}

fn sniff(head: &[u8], expect: &Expect) -> Result<(), ApiError> {
    match &expect.kind {
        Some(kind) if !(kind.sniff)(head) => {
            crate::metrics::rejected(kind.code.as_str());
            Err(ApiError::new(
                kind.code,
                format!(
                    "the uploaded file is not {} (its first bytes are {head:02x?})",
                    kind.what
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// JPEG or PNG, the image formats enrolment accepts.
fn is_image_signature(head: &[u8]) -> bool {
    head.starts_with(&[0xFF, 0xD8, 0xFF]) || head.starts_with(b"\x89PNG\r\n\x1a\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A body sending 64 KiB every 20 ms, `pieces` times (forever when None).
    fn steady(pieces: Option<usize>) -> Payload {
        let stream = futures_util::stream::unfold(0usize, move |n| async move {
            if pieces.is_some_and(|p| n >= p) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok(Bytes::from(vec![0u8; 64 * 1024])), n + 1))
        });
        Payload::Stream {
            payload: Box::pin(stream),
        }
    }

    /// Limits only the deadline can trip for `steady`: never silent, and from its first piece
    /// on far over the minimum rate.
    const LIMITS: BodyLimits = BodyLimits {
        stall: Duration::from_secs(30),
        grace: Duration::from_secs(1),
        min_rate: 1024,
        deadline: Duration::from_secs(2),
    };

    /// A client that keeps sending fast enough, forever, is still cut off at the deadline
    /// for the whole body, and answered 408.
    #[tokio::test]
    async fn a_body_that_never_ends_is_cut_off_at_its_deadline() {
        let started = Instant::now();
        let mut body = limited(steady(None), LIMITS);
        let mut received = 0usize;
        let error = loop {
            match body.next().await {
                Some(Ok(piece)) => received += piece.len(),
                Some(Err(e)) => break e,
                None => panic!("an endless body ended"),
            }
        };
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(6),
            "{took:?}"
        );
        assert!(received > 1024 * 1024, "{received} bytes before the cut");
        assert!(
            error.to_string().contains("took longer than 2 s"),
            "{error}"
        );
        let answer = body_error(&error);
        assert_eq!(answer.code, ErrorCode::UploadTimeout);
        assert_eq!(answer.status().as_u16(), 408);
    }

    /// A body that ends within its limits arrives whole.
    #[tokio::test]
    async fn a_body_within_its_limits_arrives_whole() {
        let mut body = limited(steady(Some(10)), LIMITS);
        let mut received = 0usize;
        while let Some(piece) = body.next().await {
            received += piece.unwrap().len();
        }
        assert_eq!(received, 10 * 64 * 1024);
    }
}
