//! The OpenAPI document, generated from the handlers' annotations and the types they return,
//! served at `/openapi.json`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "clipguard",
        description = "Screens AI-generated video for public figures' likeness and unsafe content before it is published. Decisions are compact (`DecisionSummary`: the action at the top, the rules with their evidence, the attestation) unless `view=full` asks for the full `Decision` with the per-frame signals. Lists are pages: pass `next_cursor` back as `cursor`. Errors are `{\"error\": {\"code\", \"message\"}}`, each code with one status. With API keys configured, send `Authorization: Bearer <key>` (or `X-API-Key`); roles are checker < auditor < admin. Every answer carries `X-Request-Id`: the request's own when it sent a plausible one (1 to 128 visible ASCII characters), else a new UUID; the service's log lines for the request carry the same id."
    ),
    paths(
        super::healthz,
        super::readyz,
        super::metrics,
        super::reload_policy,
        super::checks::check_prompt,
        super::checks::check_clip,
        super::async_checks::get_check,
        super::decisions::get_decision,
        super::decisions::list_decisions,
        super::decisions::review_queue,
        super::decisions::post_review,
        super::decisions::credentialed,
        super::persons::add_person,
        super::persons::list_persons,
        super::persons::get_person,
        super::persons::remove_person,
        super::persons::enrol_faces,
        super::persons::enrol_voices,
        super::persons::grant_consent,
        super::persons::revoke_consent,
        super::categories::create_category,
        super::categories::list_categories,
        super::categories::get_category,
        super::categories::delete_category,
        super::text_categories::create_text_category,
        super::text_categories::list_text_categories,
        super::text_categories::get_text_category,
        super::text_categories::delete_text_category,
        super::banks::create_bank,
        super::banks::list_banks,
        super::banks::remove_bank,
        super::banks::import_hashes,
        super::banks::bank_decision,
        super::attestations::public_key,
        super::attestations::verify,
        super::audits::start_audit,
        super::audits::get_audit,
        super::audits::get_report,
        super::decisions::evidence,
        super::dashboard::data,
        super::dashboard::search,
        super::dashboard::detail,
    ),
    // Types only parameters name are not collected from the paths.
    components(schemas(super::decisions::View)),
    modifiers(&Security, &RequestId)
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key_header",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// Every answer carries `X-Request-Id` (added by the server's middleware, for every route).
struct RequestId;

impl Modify for RequestId {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{HeaderBuilder, ObjectBuilder, Type};
        let header = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(
                "The request's id: the one sent, if plausible, else a new UUID. Log lines carry it.",
            ))
            .build();
        for item in api.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for response in op.responses.responses.values_mut() {
                    if let utoipa::openapi::RefOr::T(r) = response {
                        r.headers.insert("X-Request-Id".into(), header.clone());
                    }
                }
            }
        }
    }
}
