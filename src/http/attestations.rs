//! Publish attestations: the public key, and verification for callers without the CLI. Both
//! are open: a signature is only useful if anyone can check it.

use super::error::ApiError;
use super::{upload, AppState};
use crate::attest::{self, AttestError};
use crate::vocab::{Attestation, ErrorCode, Provenance, ProvenanceState};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

#[derive(Serialize, utoipa::ToSchema)]
pub struct PublicKey {
    pub algorithm: String,
    pub key_id: String,
    /// Hex of the 32-byte ed25519 public key: save it as a file for `clipguard verify --key`.
    pub public_key: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub attestation: Attestation,
    /// sha256 of the clip's bytes (`sha256sum clip.mp4`).
    pub clip_sha256: String,
}

/// The multipart form of verification: the clip itself, and its attestation unless the clip
/// carries clipguard's Content Credentials (which hold it).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the form for the OpenAPI document; never built
pub struct VerifyUpload {
    attestation: Option<Attestation>,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub valid: bool,
    /// Why not, when not valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<VerifyFailure>,
    pub clip_sha256: String,
    /// The clip's Content Credentials (C2PA manifest) as read and validated, for an uploaded
    /// clip that has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Provenance>,
}

/// Why an attestation does not verify: an answer about the attestation, not an error of the
/// request, so its codes are apart from the error codes.
#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifyFailure {
    pub code: VerifyCode,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerifyCode {
    /// The signature is not this service's over this statement.
    BadSignature,
    /// The clip's bytes are not those the attestation was issued for.
    ClipMismatch,
    /// The statement is for a decision that did not allow the clip.
    NotAllowed,
    /// The clip's embedded Content Credentials do not hold (a changed byte of the media, a
    /// broken signature, an untrusted signer), are not clipguard's, or hold another
    /// attestation than the one given.
    CredentialsInvalid,
    Malformed,
}

#[utoipa::path(
    get, path = "/v1/attestations/key", tag = "attestations",
    responses((status = 200, body = PublicKey))
)]
#[get("/v1/attestations/key")]
pub async fn public_key(state: web::Data<AppState>) -> HttpResponse {
    let key = state.service.signer().public_key();
    HttpResponse::Ok().json(PublicKey {
        algorithm: "ed25519".into(),
        key_id: attest::key_id(&key),
        public_key: hex::encode(key.as_bytes()),
    })
}

#[utoipa::path(
    post, path = "/v1/attestations/verify", tag = "attestations",
    request_body(content(
        (VerifyRequest = "application/json"),
        (VerifyUpload = "multipart/form-data"),
    )),
    responses(
        (status = 200, description = "Whether the attestation is this service's, for these clip bytes, and for an allowed clip; for an uploaded clip with Content Credentials, whether they hold and carry such an attestation", body = Verification),
        (status = 400, body = super::error::ErrorBody),
    )
)]
#[post("/v1/attestations/verify")]
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let key = state.service.signer().public_key();
    if !multipart {
        let r: VerifyRequest = upload::json_body(payload).await?;
        let clip_sha256 = r.clip_sha256.to_lowercase();
        let error = attest::verify(&key, &r.attestation, &clip_sha256)
            .err()
            .map(failure);
        return Ok(answer(error, clip_sha256, None));
    }
    let form = upload::read(
        &req,
        payload,
        &state.service.intake().tmp,
        &upload::Expect {
            file_fields: &["file"],
            text_fields: &["attestation"],
            // Verification hashes whatever it is given: any changed byte fails it.
            kind: None,
            max_file_bytes: state.service.intake().max_file_bytes,
            max_files: 1,
        },
    )
    .await?;
    let given = form
        .text
        .get("attestation")
        .map(|a| upload::parse_json::<Attestation>("attestation", a.as_bytes()))
        .transpose()?;
    let (_, file) = form
        .files
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::new(ErrorCode::MissingFile, "no `file` part in the form"))?;
    let credentials = state.live.credentials.clone();
    let ((provenance, embedded), file) =
        web::block(move || (credentials.verify_embedded(&key, &file.path), file)).await?;
    let has_manifest = !matches!(
        provenance.state,
        ProvenanceState::Absent | ProvenanceState::Unsupported
    );
    let error =
        match (embedded, given) {
            (Ok(Some(d)), Some(g)) if g != d.attestation => Some(AttestError::Credentials(
                "the attestation given is not the one in the clip's Content Credentials".into(),
            )),
            (Ok(Some(_)), _) => None,
            (Ok(None), Some(a)) => attest::verify(&key, &a, &file.sha256).err(),
            (Ok(None), None) => return Err(ApiError::new(
                ErrorCode::MissingField,
                "no `attestation` part in the form, and the clip carries no Content Credentials",
            )),
            (Err(e), _) => Some(e),
        };
    Ok(answer(
        error.map(failure),
        file.sha256.clone(),
        has_manifest.then_some(provenance),
    ))
}

fn failure(e: AttestError) -> VerifyFailure {
    VerifyFailure {
        code: match e {
            AttestError::BadSignature => VerifyCode::BadSignature,
            AttestError::ClipMismatch { .. } => VerifyCode::ClipMismatch,
            AttestError::NotAllowed(_) => VerifyCode::NotAllowed,
            AttestError::Credentials(_) => VerifyCode::CredentialsInvalid,
            _ => VerifyCode::Malformed,
        },
        message: e.to_string(),
    }
}

fn answer(
    error: Option<VerifyFailure>,
    clip_sha256: String,
    credentials: Option<Provenance>,
) -> HttpResponse {
    HttpResponse::Ok().json(Verification {
        valid: error.is_none(),
        error,
        clip_sha256,
        credentials,
    })
}
