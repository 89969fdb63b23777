//! Banks of known content (admin): create, list, remove, import hash files, and bank a
//! decided clip's frames. Every change is matched from the next check (the banks snapshot is
//! rebuilt when their generation moves).

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::{upload, AppState};
use crate::banks::{Added, Bank, NewBank};
use crate::config::Role;
use crate::vocab::ErrorCode;
use actix_web::{delete, get, post, web, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;

/// Largest hash file accepted: a million hashes with their quality and item names.
const MAX_HASH_FILE_BYTES: usize = 128 * 1024 * 1024;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankDecision {
    /// The decision whose clip's frame hashes are banked (a blocked clip, say).
    pub decision_id: String,
}

#[utoipa::path(
    post, path = "/v1/banks", tag = "banks",
    request_body(content = NewBank, example = json!({"name": "blocked-clips", "source": "decisions", "action": "block"})),
    responses(
        (status = 201, body = Bank),
        (status = 400, description = "Malformed JSON, or an unknown or missing field", body = ErrorBody),
        (status = 409, description = "A bank of that name exists", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/banks")]
pub async fn create_bank(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewBank>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let banks = state.live.banks.banks().clone();
    let bank = web::block(move || banks.create(&body)).await??;
    Ok(HttpResponse::Created().json(bank))
}

#[utoipa::path(
    get, path = "/v1/banks", tag = "banks",
    responses((status = 200, body = [Bank])),
    security(("api_key" = []))
)]
#[get("/v1/banks")]
pub async fn list_banks(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let banks = state.live.banks.banks().clone();
    let list = web::block(move || banks.list()).await??;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    delete, path = "/v1/banks/{name}", tag = "banks",
    params(("name" = String, Path)),
    responses((status = 204, description = "Removed, with its hashes"), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
#[delete("/v1/banks/{name}")]
pub async fn remove_bank(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let banks = state.live.banks.banks().clone();
    web::block(move || banks.remove(&name)).await??;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/v1/banks/{name}/hashes", tag = "banks",
    params(("name" = String, Path)),
    request_body(content = String, content_type = "text/plain", description = "One hex PDQ hash per line, optionally followed by its quality (0-100) and the item it belongs to, separated by commas or tabs; blank lines and lines starting with # are skipped. All or nothing."),
    responses(
        (status = 200, body = Added),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "A malformed line (the message names it): nothing is stored", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/banks/{name}/hashes")]
pub async fn import_hashes(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| upload::body_error(&e))?;
        if body.len() + chunk.len() > MAX_HASH_FILE_BYTES {
            return Err(ApiError::new(
                ErrorCode::TooLarge,
                format!("a hash file is at most {MAX_HASH_FILE_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let banks = state.live.banks.banks().clone();
    let added = web::block(move || banks.import(&name, body.as_slice())).await??;
    Ok(HttpResponse::Ok().json(added))
}

#[utoipa::path(
    post, path = "/v1/banks/{name}/decisions", tag = "banks",
    params(("name" = String, Path)),
    request_body(content = BankDecision),
    responses(
        (status = 200, body = Added),
        (status = 404, description = "No such bank or decision", body = ErrorBody),
        (status = 422, description = "A decision with no clip or no frame hashes", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/banks/{name}/decisions")]
pub async fn bank_decision(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Json<BankDecision>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let banks = state.live.banks.banks().clone();
    let added = web::block(move || banks.add_decision(&name, &body.decision_id)).await??;
    Ok(HttpResponse::Ok().json(added))
}
