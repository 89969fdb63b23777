//! Every error the API returns: `{"error": {"code", "message"}}` with its status. The library's
//! typed errors are mapped to statuses here and nowhere else.

use crate::attest::AttestError;
use crate::banks::BanksError;
use crate::callbacks::CallbackError;
use crate::categories::CategoriesError;
use crate::meaning::TextCategoriesError;
use crate::media::MediaError;
use crate::objects::ObjectError;
use crate::persons::PersonsError;
use crate::policy::PolicyError;
use crate::screen::ScreenError;
use crate::service::pool::PoolError;
use crate::service::CheckError;
use crate::store::StoreError;
use crate::vocab::{ErrorCode, ErrorKind, Failure};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Stable and machine-readable: clients branch on it. It decides the status.
    pub code: ErrorCode,
    pub message: String,
    /// Seconds, for 503s: when trying again is likely to work.
    pub retry_after_s: Option<u64>,
    /// For 405s: the methods the route does serve.
    pub allow: Option<String>,
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_s: None,
            allow: None,
        }
    }

    /// The same error with what was being done in front of its message.
    pub fn context(mut self, doing: &str) -> Self {
        self.message = format!("{doing}: {}", self.message);
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// A request the body of which is not the JSON expected, `what` naming the part (body,
    /// metadata...). Unknown and missing fields get the same codes as unknown and missing
    /// multipart fields; serde's messages for them are the only way to tell them apart.
    pub fn json(what: &str, e: &serde_json::Error) -> Self {
        let text = e.to_string();
        let code = if text.starts_with("unknown field") {
            ErrorCode::UnknownField
        } else if text.starts_with("missing field") {
            ErrorCode::MissingField
        } else {
            ErrorCode::MalformedJson
        };
        crate::metrics::rejected(code.as_str());
        Self::new(code, format!("{what}: {text}"))
    }

    /// Names files in the message as the client knows them, never by their temporary paths.
    pub fn naming(mut self, files: &[(&std::path::Path, &str)]) -> Self {
        for (path, name) in files {
            self.message = self.message.replace(&path.display().to_string(), name);
        }
        self
    }

    pub fn status(&self) -> StatusCode {
        status(self.code.kind())
    }

    /// The code and message as an answer shows them (never a path of the data folder).
    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code,
            message: without_server_paths(&self.message),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        // Inside the request's span: the log line carries its id. Store and io failures end
        // here as 500s, so each is logged with its cause.
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(code = self.code.as_str(), error = %self.message, "answered 503");
        } else if self.status().is_server_error() {
            tracing::error!(code = self.code.as_str(), error = %self.message, "answered {}", self.status().as_u16());
        }
        let mut res = HttpResponse::build(self.status());
        if let Some(s) = self.retry_after_s {
            res.insert_header(("Retry-After", s.to_string()));
        }
        if let Some(methods) = &self.allow {
            res.insert_header(("Allow", methods.as_str()));
        }
        if self.code.kind() == ErrorKind::Unauthorized {
            // RFC 9110: a 401 names the scheme that would work.
            res.insert_header(("WWW-Authenticate", "Bearer realm=\"clipguard\""));
        }
        res.json(ErrorBody {
            error: self.detail(),
        })
    }
}

/// The one place a kind of failure becomes a status.
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadInput => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Upstream => StatusCode::BAD_GATEWAY,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// A library error as the API answers it: its code (hence its status) and its message.
    pub fn failure(e: &dyn Failure) -> Self {
        Self {
            retry_after_s: e.retry_after_s(),
            ..Self::new(e.code(), e.to_string())
        }
    }
}

macro_rules! from_failure {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                Self::failure(&e)
            }
        }
    )*};
}

from_failure!(
    MediaError,
    ScreenError,
    StoreError,
    PersonsError,
    BanksError,
    PolicyError,
    PoolError,
    ObjectError,
    CheckError,
    AttestError,
    CategoriesError,
    CallbackError,
    TextCategoriesError
);

/// An I/O failure in a handler, said without the path it may carry; out of file descriptors
/// is an overload (503 with Retry-After), not a server fault.
impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        if crate::vocab::out_of_descriptors(&e) {
            crate::metrics::rejected(ErrorCode::Busy.as_str());
            return Self {
                retry_after_s: Some(crate::vocab::RETRY_OUT_OF_DESCRIPTORS_S),
                ..Self::new(
                    ErrorCode::Busy,
                    format!(
                        "the server is at its limit of open files ({}): retry later",
                        crate::vocab::io_reason(&e)
                    ),
                )
            };
        }
        Self::new(ErrorCode::Io, crate::vocab::io_reason(&e))
    }
}

/// Folders of this machine that no answer may show (the data folder, where uploads, the
/// database and evidence live): set once by the server at start.
static HIDDEN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Hides `folders` (and their canonical forms) from every error message from now on.
pub fn hide_paths(folders: &[&std::path::Path]) {
    let mut hidden: Vec<String> = folders
        .iter()
        .flat_map(|f| [f.to_path_buf(), f.canonicalize().unwrap_or_default()])
        .map(|p| p.display().to_string())
        // Absolute folders only: a bare word would be replaced inside ordinary words.
        .filter(|p| p.starts_with('/') && p.len() > 1)
        .collect();
    // Longest first, so a folder inside another is replaced whole.
    hidden.sort_by_key(|p| std::cmp::Reverse(p.len()));
    hidden.dedup();
    let _ = HIDDEN.set(hidden);
}

fn without_server_paths(message: &str) -> String {
    let mut out = message.to_string();
    for folder in HIDDEN.get().into_iter().flatten() {
        out = out.replace(folder.as_str(), "<server>");
    }
    out
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::new(ErrorCode::Internal, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The (status, code) pairs of a Markdown table headed `| status | code | when |`.
    fn documented(markdown: &str) -> Option<BTreeSet<(u16, String)>> {
        let mut lines = markdown
            .lines()
            .skip_while(|l| !l.starts_with("| status | code |"));
        lines.next()?;
        let rows = lines.skip(1).take_while(|l| l.starts_with('|'));
        let mut out = BTreeSet::new();
        for row in rows {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let status: u16 = cells[1].parse().expect("a status in the first column");
            for code in cells[2].split(',') {
                out.insert((status, code.trim().trim_matches('`').to_string()));
            }
        }
        Some(out)
    }

    #[test]
    fn the_documented_codes_are_exactly_the_codes_produced_with_their_statuses() {
        let produced: BTreeSet<(u16, String)> = ErrorCode::ALL
            .iter()
            .map(|c| (status(c.kind()).as_u16(), c.as_str().to_string()))
            .collect();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let api = std::fs::read_to_string(root.join("docs/api.md")).unwrap();
        let table = documented(&api).expect("docs/api.md has the table of error codes");
        assert_eq!(
            table.difference(&produced).collect::<Vec<_>>(),
            Vec::<&(u16, String)>::new(),
            "documented, but not produced with that status"
        );
        assert_eq!(
            produced.difference(&table).collect::<Vec<_>>(),
            Vec::<&(u16, String)>::new(),
            "produced, but not documented"
        );
        // The README may keep a copy of the table; if it does, the same one.
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        if let Some(copy) = documented(&readme) {
            assert_eq!(copy, produced, "README.md's table of error codes");
        }
    }

    #[test]
    fn a_401_names_the_scheme_and_a_405_the_methods() {
        let res = ApiError::new(ErrorCode::MissingApiKey, "no key").error_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers().get("www-authenticate").unwrap(),
            "Bearer realm=\"clipguard\""
        );
        let res = ApiError {
            allow: Some("GET, DELETE".into()),
            ..ApiError::new(ErrorCode::MethodNotAllowed, "no")
        }
        .error_response();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers().get("allow").unwrap(), "GET, DELETE");
    }

    #[test]
    fn unknown_and_missing_json_fields_have_the_multipart_codes() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)] // only deserialised
        struct Body {
            prompt: String,
        }
        let code = |json: &str| {
            ApiError::json("body", &serde_json::from_str::<Body>(json).unwrap_err()).code
        };
        assert_eq!(
            code(r#"{"prompt": "x", "promt": "y"}"#),
            ErrorCode::UnknownField
        );
        assert_eq!(code("{}"), ErrorCode::MissingField);
        assert_eq!(code("{"), ErrorCode::MalformedJson);
        assert_eq!(code(r#"{"prompt": 3}"#), ErrorCode::MalformedJson);
    }
}
