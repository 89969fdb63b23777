//! Asynchronous checks as the API shows them: queued by `POST /v1/clips/check` with
//! `"async": true`, screened from the store's queue by any replica (`service::queue`), and
//! read by id: the check's state and callbacks at `/v1/checks/{id}`, the decision at
//! `/v1/decisions/{id}` (202 until it is made).

use super::auth::Caller;
use super::error::{ApiError, ErrorBody, ErrorDetail};
use super::AppState;
use crate::config::Role;
use crate::service::queue::{JobSource, JobSpec};
use crate::service::{ClipLocation, ClipSource};
use crate::store::{Callback, CheckJob, DecisionLog, JobState, Store, StoreError};
use crate::vocab::{CheckRequest, Decision, DecisionSummary, ErrorCode};
use actix_web::{get, web, HttpResponse};
use serde::Serialize;

/// An asynchronous check, accepted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckAccepted {
    /// The id the decision will have.
    pub id: String,
    /// Always `queued`.
    pub state: CheckState,
    /// Where the check's state is read: `/v1/checks/{id}`.
    pub status: String,
    /// Where the decision is read once made: `/v1/decisions/{id}` (202 until then).
    pub decision: String,
}

/// Where a check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// Waiting for a worker.
    Queued,
    /// A replica is screening the clip.
    Screening,
    /// Decided: `decision` holds it.
    Decided,
    /// Not decided: the clip could not be screened (`error` says why). Never an allow.
    Failed,
}

/// A check's state, its decision once made, and the callbacks made for it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckStatus {
    pub id: String,
    pub state: CheckState,
    /// When it was queued (or, for a synchronous check, decided).
    pub created_at: String,
    /// Times a replica took it from the queue (more than one when a replica stopped while
    /// screening it).
    pub attempts: i64,
    /// The compact decision, once made.
    pub decision: Option<DecisionSummary>,
    /// Why it failed.
    pub error: Option<ErrorDetail>,
    /// Each callback: its event, URL, state, attempts and last status.
    pub callbacks: Vec<Callback>,
}

/// Queues a check (the upload's bytes with it) and wakes this replica's queue.
pub async fn enqueue(
    state: &AppState,
    source: ClipSource,
    request: CheckRequest,
    callback_url: Option<String>,
) -> Result<CheckAccepted, ApiError> {
    let (from, upload) = match source {
        ClipSource::Upload { file, name, sha256 } => {
            (JobSource::Upload { name, sha256 }, Some(file))
        }
        ClipSource::At(at) => (JobSource::Uri(uri_of(&at)), None),
    };
    let spec = JobSpec {
        request,
        source: from,
        callback_url,
    };
    let service = state.service.clone();
    let id = web::block(move || service.enqueue_check(&spec, upload.as_deref())).await??;
    state.queue.wake();
    Ok(CheckAccepted {
        status: format!("/v1/checks/{id}"),
        decision: format!("/v1/decisions/{id}"),
        state: CheckState::Queued,
        id,
    })
}

/// The URI a clip named by URI was named by.
fn uri_of(at: &ClipLocation) -> String {
    match at {
        ClipLocation::FileUri { uri, .. } => uri.clone(),
        other => other.name(),
    }
}

/// A check's job (if it was queued), its decision (once made) and callbacks.
pub(super) type Found = (Option<CheckJob>, Option<Decision>, Vec<Callback>);

pub(super) fn find(store: &Store, id: &str) -> Result<Found, StoreError> {
    let decision = store.get(id)?;
    let job = store.check_job(id)?;
    let callbacks = store.callbacks(id)?;
    Ok((job, decision, callbacks))
}

/// The status of a check found by [`find`], or None when there is no such check.
pub(super) fn status(id: &str, (job, decision, callbacks): Found) -> Option<CheckStatus> {
    let created_at = job
        .as_ref()
        .map(|j| j.created_at.clone())
        .or_else(|| decision.as_ref().map(|d| d.created_at.clone()))?;
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let state = match (&job, &decision) {
        (_, Some(_)) => CheckState::Decided,
        (Some(j), None) => match j.state {
            JobState::Failed => CheckState::Failed,
            _ if j.lease_until > now => CheckState::Screening,
            _ => CheckState::Queued,
        },
        (None, None) => return None,
    };
    let error = job
        .as_ref()
        .filter(|_| state == CheckState::Failed)
        .map(|j| job_error(j).detail());
    Some(CheckStatus {
        id: id.to_string(),
        state,
        created_at,
        attempts: job.as_ref().map_or(0, |j| j.attempts),
        decision: decision.map(|d| d.summary()),
        error,
        callbacks,
    })
}

/// A failed job's error, as it was when the job failed.
pub(super) fn job_error(job: &CheckJob) -> ApiError {
    let code = job
        .error_code
        .as_deref()
        .and_then(|c| ErrorCode::ALL.iter().find(|k| k.as_str() == c))
        .copied()
        .unwrap_or(ErrorCode::Internal);
    ApiError::new(
        code,
        format!(
            "check {} was not decided: {}",
            job.id,
            job.error.as_deref().unwrap_or("its screening failed")
        ),
    )
}

#[utoipa::path(
    get, path = "/v1/checks/{id}", tag = "checks",
    params(("id" = String, Path, description = "The id a check answered (asynchronous or not)")),
    responses(
        (status = 200, description = "Queued, screening, decided (with the compact decision) or failed (with the error); the callbacks made for it", body = CheckStatus),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[get("/v1/checks/{id}")]
pub async fn get_check(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Checker)?;
    let store = state.service.store().clone();
    let key = id.clone();
    let found = web::block(move || find(&store, &key)).await??;
    match status(&id, found) {
        Some(s) => Ok(HttpResponse::Ok().json(s)),
        None => Err(ApiError::not_found(format!("no check with id {id}"))),
    }
}
