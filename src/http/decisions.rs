//! The decision log and the review queue.

use super::async_checks::{self, CheckStatus};
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::{upload, AppState};
use crate::config::Role;
use crate::store::{DecisionQuery, JobState, ReviewQuery};
use crate::vocab::{
    Action, Decision, DecisionSummary, ErrorCode, Origin, Review, ReviewOutcome, Timestamp,
};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

/// Which form of a decision to answer with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum View {
    /// `DecisionSummary`: the action at the top, the rules with their evidence, the
    /// attestation; about 1 KB.
    #[default]
    Compact,
    /// `Decision`: everything, the per-frame signals included (10 KB and more for a clip).
    Full,
}

/// A decision in the form asked for.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum DecisionView {
    Compact(Box<DecisionSummary>),
    Full(Box<Decision>),
}

impl View {
    pub fn of(self, d: Decision) -> DecisionView {
        match self {
            View::Compact => DecisionView::Compact(Box::new(d.summary())),
            View::Full => DecisionView::Full(Box::new(d)),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ViewQuery {
    /// `compact` (the default) or `full` (with the per-frame signals).
    pub view: Option<View>,
}

/// One page of decisions and the cursor of the next.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DecisionPage {
    pub decisions: Vec<DecisionView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

const MAX_LIMIT: usize = 1000;

fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit.unwrap_or(100) {
        n @ 1..=MAX_LIMIT => Ok(n),
        n => Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("limit={n}: it is 1 to {MAX_LIMIT}"),
        )),
    }
}

fn time(name: &str, value: Option<String>) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|v| {
            v.parse()
                .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, format!("{name}: {e}")))
        })
        .transpose()
}

/// The page of `limit` out of up to `limit + 1` decisions read, with the next page's cursor
/// when there is a next page.
fn page(mut found: Vec<Decision>, limit: usize, view: View) -> DecisionPage {
    let more = found.len() > limit;
    found.truncate(limit);
    let next_cursor = if more {
        found.last().map(|d| d.id.clone())
    } else {
        None
    };
    DecisionPage {
        decisions: found.into_iter().map(|d| view.of(d)).collect(),
        next_cursor,
    }
}

#[utoipa::path(
    get, path = "/v1/decisions/{id}", tag = "decisions",
    params(("id" = String, Path, description = "The decision id"), ViewQuery),
    responses(
        (status = 200, description = "The decision, with its review if any; compact: `action` is the review's outcome once there is one", body = DecisionView),
        (status = 202, description = "An asynchronous check not decided yet: its state (`Retry-After` says when to look again)", body = CheckStatus),
        (status = 404, body = ErrorBody),
        (status = 422, description = "An asynchronous check whose clip could not be screened: its error (a failed check answers its error with that error's status: 403 for a file URI outside the roots, 502 for the object store...)", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[get("/v1/decisions/{id}")]
pub async fn get_decision(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<ViewQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Checker)?;
    let service = state.service.clone();
    let id = id.into_inner();
    let key = id.clone();
    let found = web::block(move || -> Result<_, crate::store::StoreError> {
        match service.decisions().get(&key)? {
            Some(d) => Ok(Ok(d)),
            None => async_checks::find(service.store(), &key).map(Err),
        }
    })
    .await??;
    let pending = match found {
        Ok(d) => return Ok(HttpResponse::Ok().json(q.view.unwrap_or_default().of(d))),
        Err(found) => found,
    };
    if let Some(job) = pending.0.as_ref().filter(|j| j.state == JobState::Failed) {
        return Err(async_checks::job_error(job));
    }
    match async_checks::status(&id, pending) {
        Some(s) => Ok(HttpResponse::Accepted()
            .insert_header(("Retry-After", "1"))
            .json(s)),
        None => Err(ApiError::not_found(format!("no decision with id {id}"))),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DecisionsQuery {
    pub action: Option<Action>,
    pub user: Option<String>,
    pub clip_sha256: Option<String>,
    /// The caller's own clip id, as sent with the check.
    pub clip_id: Option<String>,
    pub origin: Option<Origin>,
    /// A rule id: decisions where it matched, enforced or shadow.
    pub rule: Option<String>,
    /// Decisions at or after this RFC 3339 time (any offset, any fraction of a second).
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// Decisions before this RFC 3339 time.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// At most this many per page, newest first (default 100, 1 to 1000).
    pub limit: Option<usize>,
    /// `compact` (the default) or `full`.
    pub view: Option<View>,
}

#[utoipa::path(
    get, path = "/v1/decisions", tag = "decisions",
    params(DecisionsQuery),
    responses(
        (status = 200, description = "Newest first", body = DecisionPage),
        (status = 400, description = "A filter that does not parse, or a cursor that names no decision", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[get("/v1/decisions")]
pub async fn list_decisions(
    caller: Caller,
    state: web::Data<AppState>,
    q: web::Query<DecisionsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let query = DecisionQuery {
        action: q.action,
        user: q.user,
        clip_sha256: q.clip_sha256,
        clip_id: q.clip_id,
        rule: q.rule,
        since: time("since", q.since)?,
        until: time("until", q.until)?,
        origin: q.origin,
        after: q.cursor,
        limit: limit + 1,
    };
    let service = state.service.clone();
    let found = web::block(move || service.decisions().list(&query)).await??;
    Ok(HttpResponse::Ok().json(page(found, limit, q.view.unwrap_or_default())))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewsQuery {
    pub origin: Option<Origin>,
    /// The caller's own clip id, as sent with the check.
    pub clip_id: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// At most this many per page, oldest first (default 100, 1 to 1000).
    pub limit: Option<usize>,
    /// `compact` (the default) or `full`.
    pub view: Option<View>,
}

#[utoipa::path(
    get, path = "/v1/reviews", tag = "reviews",
    params(ReviewsQuery),
    responses(
        (status = 200, description = "`review` decisions nobody has reviewed yet, oldest first", body = DecisionPage),
        (status = 400, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[get("/v1/reviews")]
pub async fn review_queue(
    caller: Caller,
    state: web::Data<AppState>,
    q: web::Query<ReviewsQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let query = ReviewQuery {
        origin: q.origin,
        clip_id: q.clip_id,
        after: q.cursor,
        limit: limit + 1,
    };
    let service = state.service.clone();
    let found = web::block(move || service.decisions().review_page(&query)).await??;
    Ok(HttpResponse::Ok().json(page(found, limit, q.view.unwrap_or_default())))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    pub outcome: ReviewOutcome,
    #[serde(default)]
    pub note: String,
}

#[utoipa::path(
    post, path = "/v1/reviews/{decision_id}", tag = "reviews",
    params(("decision_id" = String, Path, description = "A `review` decision")),
    request_body(content = ReviewInput, example = json!({"outcome": "approve", "note": "a cat, no likeness"})),
    responses(
        (status = 200, description = "The recorded review; an approved clip carries its attestation", body = Review),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Not a review decision, or already reviewed", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/reviews/{decision_id}")]
pub async fn post_review(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ReviewInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let service = state.service.clone();
    let ReviewInput { outcome, note } = body.into_inner();
    let review =
        web::block(move || service.review(&id.into_inner(), outcome, note, caller.name)).await??;
    Ok(HttpResponse::Ok().json(review))
}

#[utoipa::path(
    get, path = "/v1/decisions/{id}/evidence/{n}", tag = "decisions",
    params(("id" = String, Path), ("n" = usize, Path, description = "From 0")),
    responses(
        (status = 200, description = "A JPEG crop of a frame that made a rule match (block and review decisions)", content_type = "image/jpeg"),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[get("/v1/decisions/{id}/evidence/{n}")]
pub async fn evidence(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, usize)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let (id, n) = path.into_inner();
    let service = state.service.clone();
    let found = web::block(move || service.decisions().thumbnail(&id, n)).await??;
    match found {
        Some(jpeg) => Ok(HttpResponse::Ok()
            .content_type("image/jpeg")
            .insert_header(("Cache-Control", "private, max-age=86400"))
            .body(jpeg)),
        None => Err(ApiError::not_found("no such evidence thumbnail")),
    }
}

/// The multipart form of `POST /v1/decisions/{id}/credentialed`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the form for the OpenAPI document; never built
pub struct CredentialUpload {
    /// The clip exactly as it was checked (its sha256 must be the decision's). MP4/MOV or AVI.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The model or product that generated the clip, named in the manifest as the software
    /// agent of its `c2pa.created` action.
    generator: Option<String>,
}

#[utoipa::path(
    post, path = "/v1/decisions/{id}/credentialed", tag = "decisions",
    params(("id" = String, Path, description = "An `allow` decision, or a `review` decision a reviewer approved")),
    request_body(content = CredentialUpload, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The clip with clipguard's Content Credentials (a signed C2PA manifest) embedded; the media itself is unchanged", content_type = "video/mp4"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such decision", body = ErrorBody),
        (status = 409, description = "The decision neither allowed the clip nor was approved, or the file is not the clip it checked", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, description = "A container that cannot carry Content Credentials (only MP4/MOV and AVI can)", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/decisions/{id}/credentialed")]
pub async fn credentialed(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Checker)?;
    let tmp = state.service.intake().tmp.clone();
    let form = upload::read(
        &req,
        payload,
        &tmp,
        &upload::Expect {
            file_fields: &["file"],
            text_fields: &["generator"],
            kind: Some(upload::VIDEO),
            max_file_bytes: state.service.intake().max_file_bytes,
            max_files: 1,
        },
    )
    .await?;
    let generator = form.text.get("generator").cloned();
    let (_, file) = form
        .files
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::new(ErrorCode::MissingFile, "no `file` part in the form"))?;
    let service = state.service.clone();
    let (out, len, media_type) = web::block(move || -> Result<_, ApiError> {
        let out = tempfile::Builder::new()
            .prefix("credentialed-")
            .tempfile_in(&tmp)?
            .into_temp_path();
        service.credential(&id, &file.path, &file.sha256, generator, &out)?;
        let media_type = crate::attest::c2pa::media_type(&out).unwrap_or("video/mp4");
        // Opened, then unlinked as `out` drops: the open file stays readable, and nothing is
        // left in the data folder however the response ends.
        let opened = std::fs::File::open(&out)?;
        let len = opened.metadata()?.len();
        Ok((opened, len, media_type))
    })
    .await??;
    // Streamed from disk: a clip may be as large as an upload may (512 MB by default).
    let body =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(out), 256 * 1024);
    Ok(HttpResponse::Ok()
        .content_type(media_type)
        .body(actix_web::body::SizedStream::new(len, body)))
}
