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

impl From<MediaError> for ApiError {
    fn from(e: MediaError) -> Self {
        let status = match &e {
            MediaError::NotVideo { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            MediaError::OverLimit { what, .. } if what.starts_with("file size") => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            MediaError::NotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            _ => e.code(),
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<ScreenError> for ApiError {
    fn from(e: ScreenError) -> Self {
        match e {
            ScreenError::Media(m) => m.into(),
            ScreenError::Persons(p) => p.into(),
            ScreenError::Enrol(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "enrolment", e.to_string())
            }
            ScreenError::Vision(_) => Self::internal(e.code(), e.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            e => Self::internal("store", e.to_string()),
        }
    }
}

impl From<PersonsError> for ApiError {
    fn from(e: PersonsError) -> Self {
        match e {
            PersonsError::NotFound(_) => Self::not_found(e.to_string()),
            PersonsError::Invalid(_) | PersonsError::Import { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_person",
                e.to_string(),
            ),
            PersonsError::Enrol(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "enrolment", e.to_string())
            }
            PersonsError::Store(s) => s.into(),
            e => Self::internal("persons", e.to_string()),
        }
    }
}

impl From<PolicyError> for ApiError {
    fn from(e: PolicyError) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_policy",
            e.to_string(),
        )
    }
}

impl From<PoolError> for ApiError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Busy { .. } => Self::unavailable("busy", e.to_string(), 1),
            PoolError::Expired => Self::unavailable("deadline_exceeded", e.to_string(), 1),
            PoolError::Closed => Self::unavailable("shutting_down", e.to_string(), 5),
        }
    }
}

impl From<ObjectError> for ApiError {
    fn from(e: ObjectError) -> Self {
        let status = match &e {
            ObjectError::InvalidUri { .. } => StatusCode::BAD_REQUEST,
            ObjectError::NoRoots { .. } | ObjectError::OutsideRoots { .. } => StatusCode::FORBIDDEN,
            ObjectError::NotFound { .. } => StatusCode::NOT_FOUND,
            ObjectError::NotAFile { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ObjectError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ObjectError::Store { .. } => StatusCode::BAD_GATEWAY,
            ObjectError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<CheckError> for ApiError {
    fn from(e: CheckError) -> Self {
        match e {
            CheckError::Intake(e) => e.into(),
            // The status says screening failed; the message names the logged decision.
            CheckError::Screening(f) => {
                let message = f.to_string();
                let mut api = ApiError::from(f.source);
                api.message = message;
                api
            }
            CheckError::Screen(e) => (*e).into(),
            CheckError::Store(e) => e.into(),
            CheckError::Persons(e) => e.into(),
            CheckError::Attest(e) => e.into(),
            CheckError::Pool(e) => e.into(),
            CheckError::Deadline { seconds } => Self::unavailable(
                "deadline_exceeded",
                format!("no result within the {seconds} s deadline"),
                seconds / 4,
            ),
            CheckError::ShuttingDown => Self::unavailable(
                "shutting_down",
                "the worker stopped before screening the clip",
                5,
            ),
            CheckError::NoDecision(_) => Self::not_found(e.to_string()),
            CheckError::NotReviewable { .. } | CheckError::AlreadyReviewed { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
        }
    }
}

impl From<AttestError> for ApiError {
    fn from(e: AttestError) -> Self {
        Self::internal("attestation", e.to_string())
    }
}

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
