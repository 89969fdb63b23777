//! The error vocabulary: every code the API, the CLI and audit reports can answer with, and
//! what kind of failure each is. Codes are an enum, not strings, so nothing can produce a code
//! that is not listed here (and documented: a test compares `ErrorCode::ALL` with the API
//! documentation's table), and each code has exactly one kind, hence one HTTP status.

use serde::{Deserialize, Serialize};

/// The kinds of failure, by who can do something about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (a bad URI, field or value).
    BadInput,
    /// No API key, or one that is not valid.
    Unauthorized,
    /// The request names something it may not (a path outside the allowed roots), or the
    /// caller's role is too small.
    Forbidden,
    NotFound,
    /// The route exists, but not for this method.
    MethodNotAllowed,
    /// The client stopped sending before the request was complete.
    Timeout,
    /// The request contradicts what is stored (a decision already reviewed).
    Conflict,
    /// Over a size limit.
    TooLarge,
    /// Not the kind of content accepted (not a video).
    UnsupportedType,
    /// Well-formed but unusable content (a corrupt clip, a policy that does not load).
    Unprocessable,
    /// Busy, past the deadline or shutting down: trying again later may work.
    Unavailable,
    /// A service clipguard depends on failed (the object store).
    Upstream,
    /// clipguard's own failure (inference, the database, a file it writes).
    Internal,
}

macro_rules! codes {
    ($($variant:ident = $name:literal => $kind:ident,)*) => {
        /// A stable, machine-readable error code: clients branch on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The one spelling of a code: in JSON, metrics and messages.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)* }
            }

            pub fn kind(self) -> ErrorKind {
                match self { $(ErrorCode::$variant => ErrorKind::$kind,)* }
            }
        }
    };
}

codes! {
    MalformedJson = "malformed_json" => BadInput,
    MalformedMultipart = "malformed_multipart" => BadInput,
    MalformedBody = "malformed_body" => BadInput,
    UnknownField = "unknown_field" => BadInput,
    MissingField = "missing_field" => BadInput,
    MissingFile = "missing_file" => BadInput,
    TooManyFiles = "too_many_files" => BadInput,
    InvalidUri = "invalid_uri" => BadInput,
    InvalidQuery = "invalid_query" => BadInput,
    InvalidPath = "invalid_path" => BadInput,
    InvalidSource = "invalid_source" => BadInput,
    MissingApiKey = "missing_api_key" => Unauthorized,
    InvalidApiKey = "invalid_api_key" => Unauthorized,
    Forbidden = "forbidden" => Forbidden,
    ForbiddenPath = "forbidden_path" => Forbidden,
    ForbiddenCallback = "forbidden_callback" => Forbidden,
    NotFound = "not_found" => NotFound,
    MethodNotAllowed = "method_not_allowed" => MethodNotAllowed,
    UploadTimeout = "upload_timeout" => Timeout,
    Conflict = "conflict" => Conflict,
    TooLarge = "too_large" => TooLarge,
    NotVideo = "not_video" => UnsupportedType,
    NotImage = "not_image" => UnsupportedType,
    UnsupportedContentType = "unsupported_content_type" => UnsupportedType,
    Empty = "empty" => Unprocessable,
    Unreadable = "unreadable" => Unprocessable,
    Corrupt = "corrupt" => Unprocessable,
    Truncated = "truncated" => Unprocessable,
    OverLimit = "over_limit" => Unprocessable,
    NotAFile = "not_a_file" => Unprocessable,
    Enrolment = "enrolment" => Unprocessable,
    InvalidPerson = "invalid_person" => Unprocessable,
    InvalidCategory = "invalid_category" => Unprocessable,
    InvalidBank = "invalid_bank" => Unprocessable,
    InvalidPolicy = "invalid_policy" => Unprocessable,
    ObjectStore = "object_store" => Upstream,
    Busy = "busy" => Unavailable,
    DeadlineExceeded = "deadline_exceeded" => Unavailable,
    ShuttingDown = "shutting_down" => Unavailable,
    Inference = "inference" => Internal,
    Store = "store" => Internal,
    Attestation = "attestation" => Internal,
    WordFrequencies = "word_frequencies" => Internal,
    Io = "io" => Internal,
    Internal = "internal" => Internal,
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A library error with a stable code; its kind (hence its status) follows from the code.
pub trait Failure: std::error::Error {
    fn code(&self) -> ErrorCode;
    fn kind(&self) -> ErrorKind {
        self.code().kind()
    }
    /// For an unavailable service: seconds after which trying again is likely to work.
    fn retry_after_s(&self) -> Option<u64> {
        None
    }
}

/// The operating system's error number behind an I/O error, looking through the errors that
/// wrap one (a temporary file's error carries its path around the original).
fn os_error_code(e: &std::io::Error) -> Option<i32> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        let io = c.downcast_ref::<std::io::Error>();
        if let Some(code) = io.and_then(std::io::Error::raw_os_error) {
            return Some(code);
        }
        cause = match io.and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => c.source(),
        };
    }
    None
}

/// What went wrong in an I/O error, without the path some errors carry (a temporary file's
/// "at path .../tmp/upload-..."): the operating system's own words when there are some, else
/// the kind. Answers and reports never show where this machine keeps its files.
pub fn io_reason(e: &std::io::Error) -> String {
    match os_error_code(e) {
        Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
        None => e.kind().to_string(),
    }
}

/// Whether an I/O error is the process or the system running out of file descriptors: a
/// passing overload (answered 503 with Retry-After), not a server fault.
pub fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(os_error_code(e), Some(libc::EMFILE | libc::ENFILE))
}

/// Seconds to wait before retrying when descriptors ran out: long enough for stalled uploads
/// to be cut off and closed.
pub const RETRY_OUT_OF_DESCRIPTORS_S: u64 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that wraps an I/O error with the path it was about, as `tempfile`'s do
    /// ("Too many open files (os error 24) at path \".../tmp/upload-...\"").
    #[derive(Debug)]
    struct AtPath(std::io::Error, &'static str);

    impl std::fmt::Display for AtPath {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{} at path {:?}", self.0, self.1)
        }
    }

    impl std::error::Error for AtPath {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_io_error_says_what_without_the_path() {
        let wrapped = |code: i32| {
            let e = std::io::Error::from_raw_os_error(code);
            std::io::Error::new(e.kind(), AtPath(e, "/srv/data/tmp/upload-x"))
        };
        let e = wrapped(libc::EMFILE);
        assert!(e.to_string().contains("/srv/data"), "{e}");
        let reason = io_reason(&e);
        assert!(
            !reason.contains("/srv") && !reason.contains("upload-"),
            "{reason}"
        );
        assert!(reason.contains("Too many open files"), "{reason}");
        assert!(out_of_descriptors(&e));
        assert!(out_of_descriptors(&wrapped(libc::ENFILE)));
        assert!(!out_of_descriptors(&wrapped(libc::ENOENT)));
        assert_eq!(
            io_reason(&std::io::Error::other("x at /srv/data")),
            "other error"
        );
    }

    #[test]
    fn codes_are_spelt_as_serde_writes_them_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for &c in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
            assert!(seen.insert(c.as_str()), "{c} twice");
        }
    }
}
