//! Every error the API returns: `{"error": {"code", "message"}}` with its status. The library's
//! typed errors are mapped to statuses here and nowhere else.

use crate::attest::AttestError;
use crate::media::MediaError;
use crate::objects::ObjectError;
use crate::persons::PersonsError;
use crate::policy::PolicyError;
use crate::screen::ScreenError;
use crate::service::pool::PoolError;
use crate::service::CheckError;
use crate::store::StoreError;
use crate::vocab::{ErrorKind, Failure};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable and machine-readable: clients branch on it.
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 503s: when trying again is likely to work.
    pub retry_after_s: Option<u64>,
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// e.g. `not_video`, `too_large`, `corrupt`, `malformed_json`, `busy`, `forbidden`.
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>, retry_s: u64) -> Self {
        Self {
            retry_after_s: Some(retry_s.max(1)),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    /// Names files in the message as the client knows them, never by their temporary paths.
    pub fn naming(mut self, files: &[(&std::path::Path, &str)]) -> Self {
        for (path, name) in files {
            self.message = self.message.replace(&path.display().to_string(), name);
        }
        self
    }

    fn internal(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, code, message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after_s {
            res.insert_header(("Retry-After", s.to_string()));
        }
        res.json(ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
            },
        })
    }
}

/// The one place a kind of failure becomes a status.
fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadInput => StatusCode::BAD_REQUEST,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
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
    /// A library error as the API answers it: its kind's status, its code and its message.
    pub fn failure(e: &dyn Failure) -> Self {
        Self {
            status: status(e.kind()),
            code: e.code(),
            message: e.to_string(),
            retry_after_s: e.retry_after_s(),
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
    PolicyError,
    PoolError,
    ObjectError,
    CheckError,
    AttestError
);

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        Self::internal("io", e.to_string())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal("internal", e.to_string())
    }
}
