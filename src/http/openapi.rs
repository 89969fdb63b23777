//! The OpenAPI document, generated from the handlers' annotations and the types they return,
//! served at `/openapi.json`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "clipguard",
        description = "Screens AI-generated video for public figures' likeness and unsafe content before it is published. Decisions are compact (`DecisionSummary`: the action at the top, the rules with their evidence, the attestation) unless `view=full` asks for the full `Decision` with the per-frame signals. Lists are pages: pass `next_cursor` back as `cursor`. Errors are `{\"error\": {\"code\", \"message\"}}`, each code with one status. With API keys configured, send `Authorization: Bearer <key>` (or `X-API-Key`); roles are checker < auditor < admin."
    ),
    paths(
        super::healthz,
        super::readyz,
        super::metrics,
        super::reload_policy,
        super::checks::check_prompt,
        super::checks::check_clip,
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
        super::persons::grant_consent,
        super::persons::revoke_consent,
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
    modifiers(&Security)
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
