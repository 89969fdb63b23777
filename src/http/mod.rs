//! The HTTP service (actix-web). Handlers are thin: they authenticate, parse, hand CPU work to
//! the screening pool and call the same library functions as the CLI. Errors are mapped to
//! statuses in `error` only.

mod admission;
mod async_checks;
mod attestations;
mod audits;
pub mod auth;
mod banks;
mod categories;
mod checks;
mod dashboard;
mod decisions;
pub mod error;
mod openapi;
mod persons;
mod text_categories;
mod upload;

use crate::config::{Config, Role};
use crate::policy::Reloaded;
use crate::screen::Live;
use crate::service::CheckService;
use crate::vocab::ErrorCode;
use actix_web::dev::Service;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{get, post, web, App, HttpResponse, HttpServer, Responder};
use auth::{Caller, Keys};
use error::ApiError;
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

pub use openapi::ApiDoc;

pub struct AppState {
    pub service: Arc<CheckService>,
    /// The live snapshots (persons, categories, banks, Content Credentials), as the service
    /// reads them.
    pub live: Arc<Live>,
    /// This process's name for the audit jobs it holds (new at every start).
    pub replica: String,
    /// How long a replica holds an audit job without renewing its lease.
    pub audit_lease_s: u64,
    /// Audit jobs run here since the service started.
    audits: dashmap::DashMap<String, Arc<audits::Job>>,
    /// Where callbacks may go and how they are signed.
    pub callbacks: crate::config::CallbacksConfig,
    /// This replica's taker of queued checks, woken when one is queued here.
    pub queue: crate::service::queue::Runner,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("refusing to serve on {bind} without API keys: add [[server.api_keys]] to the config (make one with `clipguard keys new --role checker --name NAME`) or bind a loopback address such as 127.0.0.1:8080")]
    OpenNonLoopback { bind: String },
    #[error("API key {key:?}: {source}")]
    KeyCallback {
        key: String,
        source: crate::callbacks::CallbackError,
    },
    #[error("cannot bind {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
    #[error("cannot prepare the upload folder {path}: {source}")]
    Tmp {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}

#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, body = Health)))]
#[get("/healthz")]
async fn healthz() -> impl Responder {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub status: String,
    pub models: Vec<crate::vocab::ModelInfo>,
    pub policy: crate::vocab::PolicyRef,
    pub workers: usize,
    /// Clips that may wait for a worker before checks are refused with 503.
    pub queue: usize,
    pub queued: usize,
    pub screening: usize,
}

/// Ready means the models are loaded and verified and a policy is in force; the server only
/// starts listening once they are.
#[utoipa::path(get, path = "/readyz", tag = "service", responses((status = 200, body = Readiness)))]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> impl Responder {
    let policy = state.service.policy().current();
    let pool = state.service.pool();
    HttpResponse::Ok().json(Readiness {
        status: "ready".into(),
        models: state.service.models().to_vec(),
        policy: crate::vocab::PolicyRef {
            name: policy.name.clone(),
            version: policy.version.clone(),
        },
        workers: pool.workers(),
        queue: pool.capacity(),
        queued: pool.queued(),
        screening: pool.running(),
    })
}

/// The methods served at each path template: those of the OpenAPI document (which the tests
/// keep equal to the routes), and the two pages it does not describe.
fn route_methods() -> &'static [(Vec<String>, Vec<String>)] {
    static ROUTES: std::sync::OnceLock<Vec<(Vec<String>, Vec<String>)>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        use utoipa::OpenApi;
        const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let segments = |p: &str| p.split('/').map(str::to_string).collect::<Vec<_>>();
        let mut routes: Vec<_> = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, item)| {
                let methods = METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect();
                (segments(path), methods)
            })
            .collect();
        for page in ["/openapi.json", "/dashboard"] {
            routes.push((segments(page), vec!["GET".into()]));
        }
        routes
    })
}

/// Anything no route serves: 405 with `Allow` where the path is served with other methods,
/// 404 otherwise, both naming the method and path.
async fn no_route(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let path: Vec<&str> = req.path().split('/').collect();
    let mut allow: Vec<&str> = route_methods()
        .iter()
        .filter(|(template, _)| {
            template.len() == path.len()
                && template
                    .iter()
                    .zip(&path)
                    .all(|(t, p)| t.starts_with('{') || t == p)
        })
        .flat_map(|(_, methods)| methods.iter().map(String::as_str))
        .collect();
    allow.sort_unstable();
    allow.dedup();
    if allow.is_empty() {
        return Err(ApiError::not_found(format!(
            "no route for {} {}",
            req.method(),
            req.path()
        )));
    }
    let allow = allow.join(", ");
    Err(ApiError {
        allow: Some(allow.clone()),
        ..ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!(
                "{} is not served at {}: use {allow}",
                req.method(),
                req.path()
            ),
        )
    })
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain")))]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> impl Responder {
    let pool = state.service.pool();
    crate::metrics::QUEUE_DEPTH.set(pool.queued() as i64);
    crate::metrics::IN_FLIGHT.set(pool.running() as i64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render())
}

#[get("/openapi.json")]
async fn openapi_json() -> impl Responder {
    use utoipa::OpenApi;
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// Reloads the policy from its files; a broken file is refused (422) and the running one stays.
#[utoipa::path(post, path = "/v1/policies/reload", tag = "policies",
    responses((status = 200, body = Reloaded), (status = 422, description = "The files do not load: the running policy stays", body = error::ErrorBody)),
    security(("api_key" = [])))]
#[post("/v1/policies/reload")]
async fn reload_policy(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let policy = state.service.policy().clone();
    let reloaded = web::block(move || policy.reload("api")).await??;
    Ok(HttpResponse::Ok().json(reloaded))
}

fn json_error(
    err: actix_web::error::JsonPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let e = match &err {
        E::ContentType => ApiError::new(
            ErrorCode::UnsupportedContentType,
            "send the body as application/json",
        ),
        E::Overflow { .. } | E::OverflowKnownLength { .. } => {
            ApiError::new(ErrorCode::TooLarge, err.to_string())
        }
        E::Deserialize(e) => ApiError::json("body", e),
        E::Payload(e) => upload::body_error(e),
        _ => {
            crate::metrics::rejected(ErrorCode::MalformedJson.as_str());
            ApiError::new(ErrorCode::MalformedJson, format!("body: {err}"))
        }
    };
    e.into()
}

fn query_error(
    err: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::QueryPayloadError as E;
    let reason = match &err {
        E::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    ApiError::new(ErrorCode::InvalidQuery, format!("query: {reason}")).into()
}

fn path_error(err: actix_web::error::PathError, _: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::new(ErrorCode::InvalidPath, err.to_string()).into()
}

/// Every route, for the server and for tests that build the app in-process.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(upload::MAX_JSON_BYTES)
            .error_handler(json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .service(healthz)
    .service(readyz)
    .service(metrics)
    .service(openapi_json)
    .service(reload_policy)
    .service(checks::check_prompt)
    .service(checks::check_clip)
    .service(async_checks::get_check)
    .service(decisions::evidence)
    .service(decisions::get_decision)
    .service(decisions::list_decisions)
    .service(decisions::review_queue)
    .service(decisions::post_review)
    .service(decisions::credentialed)
    .service(persons::add_person)
    .service(persons::list_persons)
    .service(persons::get_person)
    .service(persons::remove_person)
    .service(persons::enrol_faces)
    .service(persons::enrol_voices)
    .service(persons::grant_consent)
    .service(persons::revoke_consent)
    .service(categories::create_category)
    .service(categories::list_categories)
    .service(categories::get_category)
    .service(categories::delete_category)
    .service(text_categories::create_text_category)
    .service(text_categories::list_text_categories)
    .service(text_categories::get_text_category)
    .service(text_categories::delete_text_category)
    .service(banks::create_bank)
    .service(banks::list_banks)
    .service(banks::remove_bank)
    .service(banks::import_hashes)
    .service(banks::bank_decision)
    .service(attestations::public_key)
    .service(attestations::verify)
    .service(audits::start_audit)
    .service(audits::get_audit)
    .service(audits::get_report)
    .service(dashboard::page)
    .service(dashboard::data)
    .service(dashboard::search)
    .service(dashboard::detail);
}

/// The header that carries a request's id, in both directions.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The caller's `X-Request-Id` when it is a plausible id (1 to 128 visible ASCII characters,
/// so it cannot forge log lines), else a new UUID.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The span every log line of a request is under, carrying its id.
fn request_span(id: &str) -> tracing::Span {
    tracing::info_span!("request", request_id = %id)
}

/// Takes `n` span slots of the log subscriber's registry on this thread at once, then frees
/// them. The registry keeps a slot's memory for reuse and allocates it (a few hundred bytes)
/// the first time the slot is used; a burst of connections, each request with its span,
/// would otherwise place those allocations one by one among the connections' buffers, and
/// each would keep a page of the heap resident after the buffers are freed (5,000 slow
/// uploads left 20 MB more RSS once closed). Reserved together at start, they share a few
/// pages, and a burst up to the connection cap reuses them.
fn reserve_request_spans(n: usize) {
    let spans: Vec<tracing::Span> = (0..n).map(|_| request_span("")).collect();
    drop(spans);
}

/// One line per request; a 5xx at error level (503, the service being busy, at warn), so no
/// server failure goes unlogged.
fn access_log(
    id: &str,
    method: &str,
    path: &str,
    route: &str,
    status: StatusCode,
    elapsed: Duration,
) {
    let ms = elapsed.as_secs_f64() * 1000.0;
    let status = status.as_u16();
    if status == 503 {
        tracing::warn!(target: "clipguard::access", request_id = id, method, path, route, status, ms, "request refused");
    } else if status >= 500 {
        tracing::error!(target: "clipguard::access", request_id = id, method, path, route, status, ms, "request failed");
    } else {
        tracing::info!(target: "clipguard::access", request_id = id, method, path, route, status, ms, "request");
    }
}

/// Whether a request carries a body: a length over zero, or chunks.
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => headers.contains_key(actix_web::http::header::TRANSFER_ENCODING),
    }
}

/// True when every address `bind` resolves to is a loopback address.
fn is_loopback(bind: &str) -> bool {
    bind.to_socket_addrs()
        .map(|mut addrs| addrs.all(|a| a.ip().is_loopback()))
        .unwrap_or(false)
}

/// Refuses an open service (no API keys) on anything but loopback, and a key whose default
/// callback URL is not allowed. Checked before the models load, so the mistake is reported
/// at once.
pub fn check_access(cfg: &Config) -> Result<(), ServeError> {
    if cfg.server.api_keys.is_empty() && !is_loopback(&cfg.server.bind) {
        return Err(ServeError::OpenNonLoopback {
            bind: cfg.server.bind.clone(),
        });
    }
    // A key's default callback URL is checked once, here, so a typo or a host left off the
    // allow-list stops the start instead of refusing every check made with the key.
    for key in &cfg.server.api_keys {
        if let Some(url) = &key.callback_url {
            crate::callbacks::allowed(&cfg.callbacks, url).map_err(|source| {
                ServeError::KeyCallback {
                    key: key.name.clone(),
                    source,
                }
            })?;
        }
    }
    Ok(())
}

/// Serves until SIGTERM or SIGINT: then it stops accepting connections, lets requests in
/// flight finish (their decisions are logged before they are answered), and drains the pool.
/// The policy also reloads on SIGHUP and when its files change on disk.
pub async fn serve(cfg: &Config, service: Arc<CheckService>) -> Result<(), ServeError> {
    check_access(cfg)?;
    let bind = cfg.server.bind.clone();
    let tmp = service.intake().tmp.clone();
    let service_max_bytes = service.intake().max_file_bytes;
    error::hide_paths(&[cfg.data_dir.as_path()]);
    let tmp_err = |source| ServeError::Tmp {
        path: tmp.display().to_string(),
        source,
    };
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(tmp_err)?;
    }
    std::fs::create_dir_all(&tmp).map_err(tmp_err)?;

    let policy = service.policy().clone();
    policy.watch(Duration::from_secs(2));
    service.live().persons.watch(Duration::from_secs(2));
    service.live().banks.watch(Duration::from_secs(2));
    let mut hup =
        actix_web::rt::signal::unix::signal(actix_web::rt::signal::unix::SignalKind::hangup())?;
    let on_hup = policy.clone();
    actix_web::rt::spawn(async move {
        while hup.recv().await.is_some() {
            let p = on_hup.clone();
            let _ = web::block(move || p.reload("SIGHUP")).await;
        }
    });

    let stopping = service.clone();
    let replica = uuid::Uuid::now_v7().to_string();
    let queue = crate::service::queue::Runner::start(
        service.clone(),
        replica.clone(),
        cfg.server.job_lease_s,
    )?;
    crate::callbacks::Deliverer::start(
        service.store().clone(),
        cfg.callbacks.clone(),
        replica.clone(),
    )?;
    let state = web::Data::new(AppState {
        live: service.live().clone(),
        service,
        replica,
        audit_lease_s: cfg.server.audit_lease_s.max(1),
        audits: Default::default(),
        callbacks: cfg.callbacks.clone(),
        queue,
    });
    audits::watch_jobs(state.clone())?;
    let keys = web::Data::new(Keys::new(&cfg.server.api_keys));
    tracing::info!(
        %bind,
        workers = stopping.pool().workers(),
        queue = cfg.server.queue,
        keys = cfg.server.api_keys.len(),
        "clipguard listening"
    );
    let limits = upload::BodyLimits::new(&cfg.server, service_max_bytes);
    let caps = admission::fit(&cfg.server, admission::raise_fd_limit());
    let uploads = admission::Uploads::new(caps.max_uploads);
    let http_workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    tracing::info!(
        max_connections = caps.max_connections,
        max_uploads = caps.max_uploads,
        fd_limit = caps.fd_limit,
        body_deadline_s = limits.deadline.as_secs(),
        body_min_rate = limits.min_rate,
        "admission"
    );
    let spans_per_worker = caps.max_connections.div_ceil(http_workers);
    HttpServer::new(move || {
        // Called on each worker's thread, where its requests' spans are made.
        reserve_request_spans(spans_per_worker);
        let uploads = uploads.clone();
        App::new()
            .app_data(state.clone())
            .app_data(keys.clone())
            .wrap_fn(move |mut req, srv| {
                let started = Instant::now();
                let method = req.method().to_string();
                let path = req.path().to_string();
                let id = request_id(req.headers());
                // A request with a body takes one of the upload places, or is refused with
                // 503 before its body is read.
                let ticket =
                    if has_body(req.headers()) {
                        match uploads.admit() {
                            Some(t) => Some(t),
                            None => {
                                crate::metrics::rejected(ErrorCode::Busy.as_str());
                                let busy = ApiError {
                                    retry_after_s: Some(admission::RETRY_UPLOADS_S),
                                    ..ApiError::new(
                                        ErrorCode::Busy,
                                        "too many uploads in progress: retry later",
                                    )
                                };
                                let mut res = req
                                    .into_response(actix_web::ResponseError::error_response(&busy));
                                if let Ok(value) = HeaderValue::from_str(&id) {
                                    res.headers_mut().insert(REQUEST_ID.clone(), value);
                                }
                                access_log(
                                    &id,
                                    &method,
                                    &path,
                                    "unmatched",
                                    res.status(),
                                    started.elapsed(),
                                );
                                return futures_util::future::Either::Left(std::future::ready(
                                    Ok::<_, actix_web::Error>(res),
                                ));
                            }
                        }
                    } else {
                        None
                    };
                // Every body, JSON or upload, is answered 408 when it stalls or trickles.
                let body = actix_web::HttpMessage::take_payload(&mut req);
                req.set_payload(upload::limited(body, limits));
                let span = request_span(&id);
                let fut = span.in_scope(|| srv.call(req)).instrument(span);
                futures_util::future::Either::Right(async move {
                    let mut res = fut.await?.map_into_boxed_body();
                    drop(ticket);
                    let route = res
                        .request()
                        .match_pattern()
                        .unwrap_or_else(|| "unmatched".into());
                    let status = res.status();
                    crate::metrics::HTTP_REQUESTS
                        .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
                        .inc();
                    let elapsed = started.elapsed();
                    crate::metrics::HTTP_SECONDS.observe(elapsed.as_secs_f64());
                    if let Ok(value) = HeaderValue::from_str(&id) {
                        res.headers_mut().insert(REQUEST_ID.clone(), value);
                    }
                    access_log(&id, &method, &path, &route, status, elapsed);
                    Ok(res)
                })
            })
            .configure(routes)
            .default_service(web::to(no_route))
    })
    .shutdown_timeout(cfg.server.shutdown_timeout_s)
    .max_connections(spans_per_worker)
    .bind(&bind)
    .map_err(|source| ServeError::Bind {
        bind: bind.clone(),
        source,
    })?
    .run()
    .await?;
    tracing::info!("stopped accepting; finishing queued screenings");
    stopping.shutdown();
    tracing::info!("clipguard stopped");
    Ok(())
}
