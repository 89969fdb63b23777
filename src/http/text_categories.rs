//! Text categories defined by example phrases: the set shipped with the policy and those an
//! admin adds (create and delete: admin; list and show: auditor). A change takes effect at the
//! next check, on every replica: the set is versioned, and a model is rebuilt when the
//! database's generation of text categories moves.

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::config::Role;
use crate::meaning::{TextCategory, TextCategoryDef, TextCategoryList};
use actix_web::{delete, get, post, web, HttpResponse};

#[utoipa::path(
    post, path = "/v1/text-categories", tag = "text-categories",
    request_body(content = TextCategoryDef, example = json!({
        "name": "gambling", "severity": 1,
        "examples": ["bet all your savings at an online casino", "apuesta todo tu dinero en la ruleta", "play poker for real money"],
        "counter_examples": ["a family playing a board game"]
    })),
    responses(
        (status = 201, body = TextCategory),
        (status = 400, description = "Malformed JSON, or an unknown or missing field", body = ErrorBody),
        (status = 409, description = "The name is taken: by a shipped category (changed in its file), or by one added before (delete it first)", body = ErrorBody),
        (status = 422, description = "An invalid definition; the message starts with the field at fault (`name: ...`, `examples: ...`): nothing is stored", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/text-categories")]
pub async fn create_text_category(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<TextCategoryDef>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let service = state.service.clone();
    let category =
        web::block(move || service.text_categories().create(&body, &caller.name)).await??;
    Ok(HttpResponse::Created().json(category))
}

#[utoipa::path(
    get, path = "/v1/text-categories", tag = "text-categories",
    responses((status = 200, body = TextCategoryList)),
    security(("api_key" = []))
)]
#[get("/v1/text-categories")]
pub async fn list_text_categories(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let service = state.service.clone();
    let list = web::block(move || service.text_categories().list()).await??;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    get, path = "/v1/text-categories/{name}", tag = "text-categories",
    params(("name" = String, Path)),
    responses((status = 200, body = TextCategory), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
#[get("/v1/text-categories/{name}")]
pub async fn get_text_category(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let service = state.service.clone();
    let category = web::block(move || service.text_categories().get(&name)).await??;
    Ok(HttpResponse::Ok().json(category))
}

#[utoipa::path(
    delete, path = "/v1/text-categories/{name}", tag = "text-categories",
    params(("name" = String, Path)),
    responses(
        (status = 204, description = "Removed: the next check no longer scores it"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A shipped category (changed in its file), or part of another category's all_of (delete that one first)", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[delete("/v1/text-categories/{name}")]
pub async fn delete_text_category(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let service = state.service.clone();
    web::block(move || service.text_categories().delete(&name)).await??;
    Ok(HttpResponse::NoContent().finish())
}
