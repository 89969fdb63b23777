//! The pre-publish checks: a prompt, or a clip (uploaded, or named by URI) with its prompt.

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::{upload, AppState};
use crate::config::Role;
use crate::metrics;
use crate::objects::ClipUri;
use crate::policy::Action;
use crate::screen::cache::{CacheOutcome, ClipKey};
use crate::screen::{CheckRequest, Decision, Origin, ScreenedClip};
use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A prompt to check before generation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptCheck {
    pub prompt: String,
    pub user: Option<String>,
    #[serde(default)]
    pub consents: Vec<i64>,
}

/// A clip named by URI: `file:///...` inside the configured roots, or `s3://bucket/key`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClipByUri {
    pub uri: String,
    #[serde(flatten)]
    pub request: CheckRequest,
}

/// The multipart form of `POST /v1/clips/check`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the form for the OpenAPI document; never built
pub struct ClipUpload {
    /// The clip: MP4, MOV, MKV, WebM, AVI or MPEG-TS.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Optional JSON: prompt, user, consents, clip_id.
    metadata: Option<CheckRequest>,
}

#[utoipa::path(
    post, path = "/v1/prompts/check", tag = "checks",
    request_body = PromptCheck,
    responses(
        (status = 200, description = "The logged decision", body = Decision),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/prompts/check")]
pub async fn check_prompt(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<PromptCheck>,
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
    let checker = state.checker.clone();
    let decision = web::block(move || checker.decide(Origin::Check, &request, None)).await??;
    metrics::check_finished("prompt", started.elapsed().as_secs_f64());
    Ok(HttpResponse::Ok().json(decision))
}

/// Where the clip to screen is on disk: an upload or download (deleted when done) or a file
/// in a root, and how messages name it (the client's name, never a temporary path).
struct ClipFile {
    on_disk: OnDisk,
    name: String,
}

enum OnDisk {
    Temp(tempfile::TempPath),
    Local(PathBuf),
}

impl AsRef<Path> for ClipFile {
    fn as_ref(&self) -> &Path {
        match &self.on_disk {
            OnDisk::Temp(p) => p,
            OnDisk::Local(p) => p,
        }
    }
}

#[utoipa::path(
    post, path = "/v1/clips/check", tag = "checks",
    request_body(
        description = "Either a multipart upload (`file`, and optional `metadata` JSON) or JSON naming the clip by URI",
        content(
            (ClipUpload = "multipart/form-data"),
            (ClipByUri = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "The logged decision; `X-Clipguard-Cache` says whether the clip was screened (miss), joined a screening in flight (joined) or already screened (hit)", body = Decision),
        (status = 400, description = "Malformed JSON, multipart or URI", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, description = "Wrong role, or a file URI outside the roots", body = ErrorBody),
        (status = 404, description = "The URI names nothing", body = ErrorBody),
        (status = 413, description = "Over the size limit", body = ErrorBody),
        (status = 415, description = "Not a video", body = ErrorBody),
        (status = 422, description = "Corrupt, truncated or over a duration or resolution limit", body = ErrorBody),
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
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Checker)?;
    let started = Instant::now();
    let deadline = started + state.deadline;
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (file, sha256, request) = if content_type.starts_with("multipart/form-data") {
        let form = upload::read(
            &req,
            payload,
            &state.tmp,
            &upload::Expect {
                file_fields: &["file"],
                text_fields: &["metadata"],
                kind: Some(upload::VIDEO),
                max_file_bytes: state.max_file_bytes,
                max_files: 1,
            },
        )
        .await?;
        let request: CheckRequest = match form.text.get("metadata") {
            Some(m) => upload::parse_json("metadata", m.as_bytes())?,
            None => CheckRequest::default(),
        };
        let mut files = form.files.into_iter();
        let (_, up) = files
            .next()
            .ok_or_else(|| ApiError::bad_request("missing_file", "no `file` part in the form"))?;
        if files.next().is_some() {
            return Err(ApiError::bad_request(
                "too_many_files",
                "one clip per check: send a single `file` part",
            ));
        }
        let file = ClipFile {
            on_disk: OnDisk::Temp(up.path),
            name: up.name,
        };
        (file, up.sha256, request)
    } else if content_type.starts_with("application/json") {
        let by_uri: ClipByUri = upload::json_body(payload).await?;
        let (file, sha256) = fetch(&state, &by_uri.uri).await?;
        (file, sha256, by_uri.request)
    } else {
        crate::metrics::rejected("unsupported_content_type");
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            format!("send multipart/form-data (an upload) or application/json (a URI), not {content_type:?}"),
        ));
    };
    let (decision, outcome) = check(&state, file, sha256, request, deadline).await?;
    metrics::check_finished("clip", started.elapsed().as_secs_f64());
    Ok(HttpResponse::Ok()
        .insert_header(("X-Clipguard-Cache", outcome.as_str()))
        .json(decision))
}

/// Resolves a URI to a file on disk, with its sha256.
async fn fetch(state: &AppState, uri: &str) -> Result<(ClipFile, String), ApiError> {
    match ClipUri::parse(uri)? {
        ClipUri::File(path) => {
            let path = state.roots.resolve(uri, &path)?;
            let hashed = path.clone();
            let sha256 = web::block(move || crate::digest::sha256_file(&hashed)).await??;
            let file = ClipFile {
                on_disk: OnDisk::Local(path),
                name: uri.to_string(),
            };
            Ok((file, sha256))
        }
        ClipUri::S3 { bucket, key } => {
            let dest = tempfile::Builder::new()
                .prefix("s3-")
                .tempfile_in(&state.tmp)?
                .into_temp_path();
            let (sha256, _) =
                crate::objects::fetch_s3(&bucket, &key, &dest, state.max_file_bytes).await?;
            let file = ClipFile {
                on_disk: OnDisk::Temp(dest),
                name: uri.to_string(),
            };
            Ok((file, sha256))
        }
    }
}

/// Screens (through the cache and the pool) and decides.
async fn check(
    state: &web::Data<AppState>,
    file: ClipFile,
    sha256: String,
    request: CheckRequest,
    deadline: Instant,
) -> Result<(Decision, CacheOutcome), ApiError> {
    let screener = state.checker.screener.clone();
    let key = ClipKey {
        clip_sha256: sha256.clone(),
        models: state.model_set.clone(),
        persons_generation: screener.persons_generation(),
    };
    let file = Arc::new(file);
    let named = file.clone();
    let for_evidence = file.clone();
    let (entry, signals, outcome) = state
        .cache
        .signals(key, |entry| async move {
            let job = move || {
                let screened = screener.screen_clip((*file).as_ref()).map(Arc::new);
                if let Ok(s) = &screened {
                    entry.offer(s.clone());
                }
                screened
            };
            let rx = state.pool.submit(deadline, job);
            let rx = rx.inspect_err(|e| metrics::rejected(pool_reason(e)))?;
            match tokio::time::timeout_at(deadline.into(), rx).await {
                Err(_) => {
                    metrics::rejected("deadline");
                    Err(ApiError::unavailable(
                        "deadline_exceeded",
                        format!(
                            "no result within the {} s deadline",
                            state.deadline.as_secs()
                        ),
                        state.deadline.as_secs() / 4,
                    ))
                }
                Ok(Err(_)) => Err(ApiError::unavailable(
                    "shutting_down",
                    "the worker stopped before screening the clip",
                    5,
                )),
                Ok(Ok(Err(pool))) => {
                    metrics::rejected(pool_reason(&pool));
                    Err(pool.into())
                }
                Ok(Ok(Ok(screened))) => screened.map_err(|e| {
                    ApiError::from(e).naming(&[((*named).as_ref(), named.name.as_str())])
                }),
            }
        })
        .await?;
    metrics::CACHE.with_label_values(&[outcome.as_str()]).inc();
    let version = state.checker.policy.current().version.clone();
    if let Some(logged) = entry.decision(&version, &request) {
        return Ok((logged, CacheOutcome::Hit));
    }
    let checker = state.checker.clone();
    let screened = ScreenedClip {
        sha256,
        signals: (*signals).clone(),
    };
    let remembered = request.clone();
    let decision =
        web::block(move || checker.decide(Origin::Check, &request, Some(screened))).await??;
    entry.remember(&remembered, &decision);
    if decision.decision.action != Action::Allow && state.pool.queued() == 0 {
        // Thumbnails for reviewers, after the answer; skipped under load rather than taking a
        // queue slot a check could need.
        let (checker, d) = (state.checker.clone(), decision.clone());
        let job = move || checker.store_evidence(&d, (*for_evidence).as_ref());
        if let Err(e) = state.pool.submit(Instant::now() + state.deadline, job) {
            tracing::debug!(error = %e, "evidence thumbnails skipped");
        }
    }
    Ok((decision, outcome))
}

fn pool_reason(e: &crate::screen::pool::PoolError) -> &'static str {
    match e {
        crate::screen::pool::PoolError::Busy { .. } => "busy",
        crate::screen::pool::PoolError::Expired => "deadline",
        crate::screen::pool::PoolError::Closed => "shutting_down",
    }
}
