//! The decision log and the review queue.

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::config::Role;
use crate::store::DecisionQuery;
use crate::vocab::Action;
use crate::vocab::{Decision, Origin, Review, ReviewOutcome};
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DecisionsQuery {
    pub action: Option<Action>,
    pub user: Option<String>,
    pub clip_sha256: Option<String>,
    /// RFC 3339 time: decisions at or after it.
    pub since: Option<String>,
    pub origin: Option<Origin>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<usize>,
}

#[utoipa::path(
    get, path = "/v1/decisions/{id}", tag = "decisions",
    params(("id" = String, Path, description = "The decision id")),
    responses((status = 200, body = Decision), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
#[get("/v1/decisions/{id}")]
pub async fn get_decision(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Checker)?;
    let service = state.service.clone();
    let id = id.into_inner();
    let found = web::block(move || service.decisions().get(&id).map(|d| (id, d))).await??;
    match found {
        (_, Some(d)) => Ok(HttpResponse::Ok().json(d)),
        (id, None) => Err(ApiError::not_found(format!("no decision with id {id}"))),
    }
}

#[utoipa::path(
    get, path = "/v1/decisions", tag = "decisions",
    params(DecisionsQuery),
    responses((status = 200, body = [Decision]), (status = 400, body = ErrorBody)),
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
    if let Some(since) = &q.since {
        humantime::parse_rfc3339_weak(since)
            .map_err(|e| ApiError::bad_request("invalid_query", format!("since={since:?}: {e}")))?;
    }
    let query = DecisionQuery {
        action: q.action,
        user: q.user,
        clip_sha256: q.clip_sha256,
        since: q.since,
        until: None,
        origin: q.origin,
        limit: q.limit.unwrap_or(100).min(1000),
    };
    let service = state.service.clone();
    let list = web::block(move || service.decisions().list(&query)).await??;
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// At most this many, oldest first (default 100).
    pub limit: Option<usize>,
}

#[utoipa::path(
    get, path = "/v1/reviews", tag = "reviews",
    params(QueueQuery),
    responses((status = 200, description = "`review` decisions nobody has reviewed yet, oldest first", body = [Decision])),
    security(("api_key" = []))
)]
#[get("/v1/reviews")]
pub async fn review_queue(
    caller: Caller,
    state: web::Data<AppState>,
    q: web::Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let limit = q.limit.unwrap_or(100).min(1000);
    let service = state.service.clone();
    let queue = web::block(move || service.decisions().review_queue(limit)).await??;
    Ok(HttpResponse::Ok().json(queue))
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
    request_body = ReviewInput,
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
