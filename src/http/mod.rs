//! The HTTP service (actix-web): health, readiness, metrics and policy reload so far.
//! Errors are `{"error": {"code", "message"}}`, mapped to status codes here only.

use crate::policy::{LivePolicy, PolicyError};
use crate::Screener;
use actix_web::{
    get, http::StatusCode, post, web, App, HttpResponse, HttpServer, Responder, ResponseError,
};
use std::sync::Arc;
use std::time::Duration;

struct AppState {
    screener: Arc<Screener>,
    policy: Arc<LivePolicy>,
}

/// Every error the API returns, with its status and stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Policy(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let code = match self {
            ApiError::Policy(_) => "invalid_policy",
        };
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "error": { "code": code, "message": self.to_string() } }))
    }
}

#[get("/healthz")]
async fn healthz() -> impl Responder {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Ready means the models are loaded and verified and a policy is in force; the server only
/// starts once they are.
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> impl Responder {
    let policy = state.policy.current();
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ready",
        "models": state.screener.models(),
        "policy": { "name": policy.name, "version": policy.version },
    }))
}

/// Anything no route serves: a JSON 404 naming the method and path.
async fn no_route(req: actix_web::HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({ "error": {
        "code": "not_found",
        "message": format!("no route for {} {}", req.method(), req.path()),
    } }))
}

#[get("/metrics")]
async fn metrics() -> impl Responder {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render())
}

/// Reloads the policy from its files; a broken file is refused (422) and the running one stays.
#[post("/v1/policies/reload")]
async fn reload_policy(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let policy = state.policy.clone();
    let reloaded = web::block(move || policy.reload("api"))
        .await
        .expect("reload does not panic")?;
    Ok(HttpResponse::Ok().json(reloaded))
}

/// Serves until the process is stopped. The policy also reloads on SIGHUP and when its files
/// change on disk.
pub async fn serve(
    bind: &str,
    screener: Arc<Screener>,
    policy: Arc<LivePolicy>,
) -> std::io::Result<()> {
    policy.watch(Duration::from_secs(2));
    let on_hup = policy.clone();
    let mut hup =
        actix_web::rt::signal::unix::signal(actix_web::rt::signal::unix::SignalKind::hangup())?;
    actix_web::rt::spawn(async move {
        while hup.recv().await.is_some() {
            let p = on_hup.clone();
            let _ = web::block(move || p.reload("SIGHUP")).await;
        }
    });
    let state = web::Data::new(AppState { screener, policy });
    tracing::info!(%bind, "clipguard listening");
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(healthz)
            .service(readyz)
            .service(metrics)
            .service(reload_policy)
            .default_service(web::to(no_route))
    })
    .bind(bind)?
    .run()
    .await
}
