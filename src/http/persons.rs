//! The protected-persons registry: add, read, remove, and enrol face images and voice samples. Every change
//! takes effect for the next check (the persons snapshot is rebuilt, and cached screenings
//! from before it no longer apply).

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::{upload, AppState};
use crate::config::Role;
use crate::persons::{NewPerson, Person};
use crate::service::{CheckError, CheckService};
use crate::vocab::PersonKind;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use serde::Serialize;
use std::path::Path;

#[derive(Serialize, utoipa::ToSchema)]
pub struct PersonSummary {
    pub id: i64,
    pub name: String,
    pub kind: PersonKind,
    pub allowed_users: Vec<String>,
    pub aliases: usize,
    pub faces: usize,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Enrolled {
    /// Ids of the stored faces, one per image.
    pub faces: Vec<i64>,
}

/// The multipart form of face enrolment.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the form for the OpenAPI document; never built
pub struct FaceImages {
    /// One or more JPEG or PNG images, each showing exactly one face.
    #[schema(value_type = Vec<String>, format = Binary)]
    image: Vec<Vec<u8>>,
}

#[utoipa::path(
    post, path = "/v1/persons", tag = "persons",
    request_body(content = NewPerson, example = json!({"name": "Grace Hopper", "aliases": ["Amazing Grace"], "kind": "public_figure"})),
    responses(
        (status = 201, body = Person),
        (status = 400, description = "Malformed JSON, or an unknown or missing field", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/persons")]
pub async fn add_person(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<NewPerson>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let service = state.service.clone();
    let person = web::block(move || -> Result<Person, ApiError> {
        let warnings = service.registry().name_warnings(&body)?;
        let id = service.registry().add(&body)?;
        let mut person = service.registry().get(id)?;
        person.warnings = warnings;
        Ok(person)
    })
    .await??;
    Ok(HttpResponse::Created().json(person))
}

#[utoipa::path(
    get, path = "/v1/persons", tag = "persons",
    responses((status = 200, body = [PersonSummary])),
    security(("api_key" = []))
)]
#[get("/v1/persons")]
pub async fn list_persons(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let service = state.service.clone();
    let list = web::block(move || service.registry().list()).await??;
    let list: Vec<PersonSummary> = list
        .into_iter()
        .map(|(p, aliases, faces)| PersonSummary {
            id: p.id,
            name: p.name,
            kind: p.kind,
            allowed_users: p.allowed_users,
            aliases,
            faces,
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

#[utoipa::path(
    get, path = "/v1/persons/{id}", tag = "persons",
    params(("id" = i64, Path)),
    responses((status = 200, body = Person), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
#[get("/v1/persons/{id}")]
pub async fn get_person(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let service = state.service.clone();
    let person = web::block(move || service.registry().get(*id)).await??;
    Ok(HttpResponse::Ok().json(person))
}

#[utoipa::path(
    delete, path = "/v1/persons/{id}", tag = "persons",
    params(("id" = i64, Path)),
    responses((status = 204, description = "Removed, with its faces"), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
#[delete("/v1/persons/{id}")]
pub async fn remove_person(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let service = state.service.clone();
    web::block(move || -> Result<(), ApiError> {
        service.registry().remove(*id)?;
        Ok(())
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    post, path = "/v1/persons/{id}/faces", tag = "persons",
    params(("id" = i64, Path)),
    request_body(content = FaceImages, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = Enrolled),
        (status = 404, body = ErrorBody),
        (status = 415, description = "Not a JPEG or PNG", body = ErrorBody),
        (status = 422, description = "An image without exactly one usable face: nothing is stored", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/persons/{id}/faces")]
pub async fn enrol_faces(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let expect = upload::Expect::images(&["image"], &[], 8);
    let faces = enrol_files(&req, &state, *id, payload, expect, CheckService::enrol).await?;
    Ok(HttpResponse::Created().json(Enrolled { faces }))
}

/// Embeds and stores a person's enrolment files: faces or voices. Answers the stored ids.
type Enrol = fn(&CheckService, i64, &[&Path]) -> Result<Vec<i64>, CheckError>;

/// Reads the files of an enrolment form (the one file field `expect` names) and enrols them
/// for person `id` with `enrol`, off the async threads: faces and voices differ only in what
/// a file must be and which model embeds it. An error about a file names it as the client
/// did, never by its temporary path here.
async fn enrol_files(
    req: &HttpRequest,
    state: &AppState,
    id: i64,
    payload: web::Payload,
    expect: upload::Expect,
    enrol: Enrol,
) -> Result<Vec<i64>, ApiError> {
    let field = expect.file_fields[0];
    let form = upload::read(req, payload, &state.service.intake().tmp, &expect).await?;
    if form.files.is_empty() {
        return Err(ApiError::new(
            crate::vocab::ErrorCode::MissingFile,
            format!("no `{field}` part in the form"),
        ));
    }
    let service = state.service.clone();
    web::block(move || {
        enrol(&service, id, &form.paths(field)).map_err(|e| ApiError::from(e).naming(&form.names()))
    })
    .await?
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrolledVoices {
    /// Ids of the stored voices, one per sample.
    pub voices: Vec<i64>,
}

/// The multipart form of voice enrolment.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the form for the OpenAPI document; never built
pub struct VoiceSamples {
    /// One or more audio or video files, each of the person alone speaking (at least 5 s of
    /// speech).
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
}

/// Largest voice sample accepted.
const MAX_SAMPLE_BYTES: u64 = 50 * 1024 * 1024;

#[utoipa::path(
    post, path = "/v1/persons/{id}/voices", tag = "persons",
    params(("id" = i64, Path)),
    request_body(content = VoiceSamples, content_type = "multipart/form-data"),
    responses(
        (status = 201, body = EnrolledVoices),
        (status = 404, body = ErrorBody),
        (status = 422, description = "A sample without audio, with damaged audio, without enough speech or with several speakers: nothing is stored", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/persons/{id}/voices")]
pub async fn enrol_voices(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let expect = upload::Expect {
        file_fields: &["file"],
        text_fields: &[],
        kind: None,
        max_file_bytes: MAX_SAMPLE_BYTES,
        max_files: 8,
    };
    let voices = enrol_files(
        &req,
        &state,
        *id,
        payload,
        expect,
        CheckService::enrol_voices,
    )
    .await?;
    Ok(HttpResponse::Created().json(EnrolledVoices { voices }))
}

/// Grants or revokes a user's consent, then answers the person as it now is.
async fn consent(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
    allowed: bool,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let (id, user) = path.into_inner();
    let service = state.service.clone();
    let person = web::block(move || -> Result<Person, ApiError> {
        service.registry().set_consent(id, &user, allowed)?;
        Ok(service.registry().get(id)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(person))
}

#[utoipa::path(
    put, path = "/v1/persons/{id}/consents/{user}", tag = "persons",
    params(("id" = i64, Path), ("user" = String, Path, description = "The account allowed to depict the person")),
    responses((status = 200, body = Person), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
#[put("/v1/persons/{id}/consents/{user}")]
pub async fn grant_consent(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, ApiError> {
    consent(caller, state, path, true).await
}

#[utoipa::path(
    delete, path = "/v1/persons/{id}/consents/{user}", tag = "persons",
    params(("id" = i64, Path), ("user" = String, Path)),
    responses((status = 200, description = "Revoked: the next check of this user's clips decides without it", body = Person), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
#[delete("/v1/persons/{id}/consents/{user}")]
pub async fn revoke_consent(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, ApiError> {
    consent(caller, state, path, false).await
}
