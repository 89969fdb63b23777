//! Categories defined by example images: create (admin), list and show (auditor), delete
//! (admin). A change takes effect at the next check: the set is versioned, the version is in
//! every decision and in the clip cache's key.

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::{upload, AppState};
use crate::categories::Category;
use crate::config::Role;
use crate::vocab::ErrorCode;
use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use serde::Serialize;

/// The categories and the version of the set they make.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CategoryList {
    /// Empty while no category is defined.
    pub version: String,
    pub categories: Vec<Category>,
}

/// The multipart form that creates a category.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the form for the OpenAPI document; never built
pub struct NewCategoryForm {
    /// Lower-case letters, digits and `_`, starting with a letter: policies read
    /// `signals.categories.<name>`.
    name: String,
    description: Option<String>,
    /// At least 3 JPEG or PNG images of what the category catches.
    #[schema(value_type = Vec<String>, format = Binary)]
    example: Vec<Vec<u8>>,
    /// Images of look-alikes that must not count (optional).
    #[schema(value_type = Vec<String>, format = Binary)]
    counter_example: Vec<Vec<u8>>,
}

#[utoipa::path(
    post, path = "/v1/categories", tag = "categories",
    request_body(content = NewCategoryForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Category),
        (status = 400, description = "No name, or not a multipart form", body = ErrorBody),
        (status = 409, description = "A category with this name exists", body = ErrorBody),
        (status = 415, description = "Not a JPEG or PNG", body = ErrorBody),
        (status = 422, description = "An invalid name, or fewer than 3 distinct examples: nothing is stored", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/categories")]
pub async fn create_category(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let form = upload::read_images(
        &req,
        payload,
        &state.service.intake().tmp,
        &["example", "counter_example"],
        &["name", "description"],
        2 * crate::categories::MAX_EXAMPLES as u64,
    )
    .await?;
    let Some(name) = form.text.get("name").cloned() else {
        return Err(ApiError::new(
            ErrorCode::MissingField,
            "no `name` part in the form",
        ));
    };
    let description = form.text.get("description").cloned().unwrap_or_default();
    let service = state.service.clone();
    let category = web::block(move || {
        service
            .create_category(
                &name,
                &description,
                &caller.name,
                &form.paths("example"),
                &form.paths("counter_example"),
            )
            .map_err(|e| ApiError::from(e).naming(&form.names()))
    })
    .await??;
    Ok(HttpResponse::Created().json(category))
}

#[utoipa::path(
    get, path = "/v1/categories", tag = "categories",
    responses((status = 200, body = CategoryList)),
    security(("api_key" = []))
)]
#[get("/v1/categories")]
pub async fn list_categories(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let service = state.service.clone();
    let list = web::block(move || -> Result<CategoryList, ApiError> {
        Ok(CategoryList {
            version: service.live().categories_version()?,
            categories: service.categories().list()?,
        })
    })
    .await??;
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    get, path = "/v1/categories/{name}", tag = "categories",
    params(("name" = String, Path)),
    responses((status = 200, body = Category), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
#[get("/v1/categories/{name}")]
pub async fn get_category(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let service = state.service.clone();
    let category = web::block(move || service.categories().get(&name)).await??;
    Ok(HttpResponse::Ok().json(category))
}

#[utoipa::path(
    delete, path = "/v1/categories/{name}", tag = "categories",
    params(("name" = String, Path)),
    responses(
        (status = 204, description = "Removed with its examples; rules naming it now fail, which sends clips to review"),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[delete("/v1/categories/{name}")]
pub async fn delete_category(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let service = state.service.clone();
    web::block(move || service.categories().delete(&name)).await??;
    Ok(HttpResponse::NoContent().finish())
}
