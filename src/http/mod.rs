//! The HTTP service (actix-web). For now: liveness and readiness.

use crate::Screener;
use actix_web::{get, web, App, HttpResponse, HttpServer, Responder};
use std::sync::Arc;

struct AppState {
    screener: Arc<Screener>,
}

#[get("/healthz")]
async fn healthz() -> impl Responder {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Ready means the models are loaded and verified; the server only starts once they are.
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> impl Responder {
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ready",
        "models": state.screener.models(),
    }))
}

/// Serves until the process is stopped.
pub async fn serve(bind: &str, screener: Arc<Screener>) -> std::io::Result<()> {
    let state = web::Data::new(AppState { screener });
    tracing::info!(%bind, "clipguard listening");
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .service(healthz)
            .service(readyz)
    })
    .bind(bind)?
    .run()
    .await
}
