//! The pre-publish checks: a prompt, or a clip (uploaded, or named by URI) with its prompt.

use super::async_checks;
use super::auth::Caller;
use super::decisions::{DecisionView, ViewQuery};
use super::error::{ApiError, ErrorBody};
use super::{upload, AppState};
use crate::config::Role;
use crate::metrics;
use crate::service::{ClipLocation, ClipSource};
use crate::vocab::{CheckRequest, ErrorCode, Origin};
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use std::time::Instant;

/// A prompt to check before generation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptCheck {
    /// At most 16,384 characters.
    #[schema(max_length = 16384)]
    pub prompt: String,
    pub user: Option<String>,
    #[serde(default)]
    pub consents: Vec<i64>,
}

/// A clip named by URI: `file:///...` inside the configured roots, or `s3://bucket/key`.
/// The fields beside `uri` are those of the upload's `metadata`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClipByUri {
    pub uri: String,
    /// The prompt the clip was generated from (at most 16,384 characters).
    #[schema(max_length = 16384)]
    pub prompt: Option<String>,
    /// The requesting user: checked against each matched person's consent.
    pub user: Option<String>,
    /// Person ids the requester declares consent for.
    #[serde(default)]
    pub consents: Vec<i64>,
    /// The caller's own id for the clip, echoed back in the decision.
    pub clip_id: Option<String>,
    /// Answer 202 with the decision's id at once and screen the clip from the queue.
    #[serde(default, rename = "async")]
    pub run_async: bool,
    /// Where to push the compact decision when it is made, and again when a review decides
    /// it (signed: `Clipguard-Signature`). Its host must be in `callbacks.allowed_hosts`.
    /// Without it, the API key's default callback URL is used, if the operator gave it one.
    pub callback_url: Option<String>,
}

/// The `metadata` part of a clip upload.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClipMetadata {
    /// The prompt the clip was generated from (at most 16,384 characters).
    #[schema(max_length = 16384)]
    pub prompt: Option<String>,
    /// The requesting user: checked against each matched person's consent.
    pub user: Option<String>,
    /// Person ids the requester declares consent for.
    pub consents: Vec<i64>,
    /// The caller's own id for the clip, echoed back in the decision.
    pub clip_id: Option<String>,
    /// Answer 202 with the decision's id at once and screen the clip from the queue.
    #[serde(rename = "async")]
    pub run_async: bool,
    /// Where to push the compact decision when it is made, and again when a review decides
    /// it (signed: `Clipguard-Signature`). Its host must be in `callbacks.allowed_hosts`.
    /// Without it, the API key's default callback URL is used, if the operator gave it one.
    pub callback_url: Option<String>,
}

/// The multipart form of `POST /v1/clips/check`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the form for the OpenAPI document; never built
pub struct ClipUpload {
    /// The clip: MP4, MOV, MKV, WebM, AVI or MPEG-TS.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Optional JSON: prompt, user, consents, clip_id, async, callback_url.
    metadata: Option<ClipMetadata>,
}

#[utoipa::path(
    post, path = "/v1/prompts/check", tag = "checks",
    params(ViewQuery),
    request_body(content = PromptCheck, example = json!({"prompt": "Eileen Collins on the moon", "user": "bob"})),
    responses(
        (status = 200, description = "The logged decision, compact unless `view=full`", body = DecisionView),
        (status = 400, description = "Malformed JSON, or an unknown or missing field", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/prompts/check")]
pub async fn check_prompt(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<PromptCheck>,
    view: web::Query<ViewQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Checker)?;
    let started = Instant::now();
    let body = body.into_inner();
    let request = CheckRequest {
        prompt: Some(body.prompt),
        user: body.user,
        consents: body.consents,
        clip_id: None,
    };
    let service = state.service.clone();
    // On the blocking pool, under this request's span (its id in the trace).
    let span = tracing::Span::current();
    let decision = web::block(move || span.in_scope(|| service.check_prompt(&request))).await??;
    metrics::check_finished("prompt", started.elapsed().as_secs_f64());
    Ok(HttpResponse::Ok().json(view.view.unwrap_or_default().of(decision)))
}

#[utoipa::path(
    post, path = "/v1/clips/check", tag = "checks",
    request_body(
        description = "Either a multipart upload (`file`, and optional `metadata` JSON) or JSON naming the clip by URI",
        content(
            (ClipUpload = "multipart/form-data"),
            (ClipByUri = "application/json", example = json!({"uri": "s3://clips/gen-42.mp4", "user": "bob", "clip_id": "gen-42"})),
        )
    ),
    params(ViewQuery),
    responses(
        (status = 200, description = "The logged decision, compact unless `view=full`; `X-Clipguard-Cache` says whether the clip was screened (miss), joined a screening in flight (joined) or already screened (hit)", body = DecisionView),
        (status = 202, description = "`async: true`: queued; the decision will be logged under `id` (`Location` names it)", body = async_checks::CheckAccepted),
        (status = 400, description = "Malformed JSON, multipart or URI; an unknown or missing field", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "Wrong role, a file URI outside the roots, or a callback URL whose host is not allowed (`forbidden_callback`)", body = ErrorBody),
        (status = 404, description = "The URI names nothing", body = ErrorBody),
        (status = 408, description = "The upload stalled", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody),
        (status = 415, description = "Not a video", body = ErrorBody),
        (status = 422, description = "Empty, corrupt, truncated or over a duration or resolution limit", body = ErrorBody),
        (status = 500, description = "Screening failed (never answered as allow)", body = ErrorBody),
        (status = 502, description = "The object store failed, for example `s3://` without credentials (`object_store`)", body = ErrorBody),
        (status = 503, description = "Busy or past the deadline: retry after `Retry-After` seconds", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/clips/check")]
pub async fn check_clip(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
    view: web::Query<ViewQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Checker)?;
    let started = Instant::now();
    let deadline = started + state.service.deadline();
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (run_async, callback_url);
    let (source, request) = if content_type.starts_with("multipart/form-data") {
        let form = upload::read(
            &req,
            payload,
            &state.service.intake().tmp,
            &upload::Expect {
                file_fields: &["file"],
                text_fields: &["metadata"],
                kind: Some(upload::VIDEO),
                max_file_bytes: state.service.intake().max_file_bytes,
                max_files: 1,
            },
        )
        .await?;
        let metadata: ClipMetadata = match form.text.get("metadata") {
            Some(m) => upload::parse_json("metadata", m.as_bytes())?,
            None => ClipMetadata::default(),
        };
        let request = CheckRequest {
            prompt: metadata.prompt,
            user: metadata.user,
            consents: metadata.consents,
            clip_id: metadata.clip_id,
        };
        run_async = metadata.run_async;
        callback_url = metadata.callback_url;
        let mut files = form.files.into_iter();
        let (_, up) = files
            .next()
            .ok_or_else(|| ApiError::new(ErrorCode::MissingFile, "no `file` part in the form"))?;
        if files.next().is_some() {
            return Err(ApiError::new(
                ErrorCode::TooManyFiles,
                "one clip per check: send a single `file` part",
            ));
        }
        let source = ClipSource::Upload {
            file: up.path,
            name: up.name,
            sha256: up.sha256,
        };
        (source, request)
    } else if content_type.starts_with("application/json") {
        let by_uri: ClipByUri = upload::json_body(payload).await?;
        let request = CheckRequest {
            prompt: by_uri.prompt,
            user: by_uri.user,
            consents: by_uri.consents,
            clip_id: by_uri.clip_id,
        };
        run_async = by_uri.run_async;
        callback_url = by_uri.callback_url;
        (
            ClipSource::At(ClipLocation::parse_uri(&by_uri.uri)?),
            request,
        )
    } else {
        crate::metrics::rejected(ErrorCode::UnsupportedContentType.as_str());
        return Err(ApiError::new(
            ErrorCode::UnsupportedContentType,
            format!("send multipart/form-data (an upload) or application/json (a URI), not {content_type:?}"),
        ));
    };
    // The request's own URL wins over its key's default.
    let callback_url = callback_url
        .or(caller.callback_url)
        .map(|url| crate::callbacks::allowed(&state.callbacks, &url))
        .transpose()?;
    if run_async {
        let accepted = async_checks::enqueue(&state, source, request, callback_url).await?;
        return Ok(HttpResponse::Accepted()
            .insert_header(("Location", accepted.decision.clone()))
            .json(accepted));
    }
    let checked = state
        .service
        .check_clip(source, request, Origin::Check, deadline)
        .await?;
    let kind = match checked.cache {
        crate::service::CacheOutcome::Hit => "clip_cached",
        _ => "clip",
    };
    metrics::check_finished(kind, started.elapsed().as_secs_f64());
    if let Some(url) = callback_url {
        let (service, decision) = (state.service.clone(), checked.decision.clone());
        web::block(move || {
            service.queue_callback(&decision, crate::store::CallbackEvent::Decided, Some(&url))
        })
        .await??;
    }
    Ok(HttpResponse::Ok()
        .insert_header(("X-Clipguard-Cache", checked.cache.as_str()))
        .json(view.view.unwrap_or_default().of(checked.decision)))
}
