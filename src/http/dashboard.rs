//! The operators' and reviewers' dashboard: one page embedded in the binary (no CDN, no
//! external asset) that polls `/v1/dashboard`, finds decisions through `/v1/dashboard/decisions`,
//! shows one in full with every piece of evidence through `/v1/dashboard/decisions/{id}`, and
//! clears the review queue through the reviews API. Live checks and audits are counted apart:
//! a bulk audit must not read as a spike in traffic.

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::config::Role;
use crate::metrics::{self, RecentLatency};
use crate::store::{DecisionLog, DecisionQuery, MinuteCounts, RuleCounts, StoreError};
use crate::vocab::{Action, ErrorCode, Origin, PolicyRef, Timestamp};
use crate::vocab::{Decision, ReviewOutcome};
use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

const PAGE: &str = include_str!("assets/dashboard.html");

/// The page. It holds no data itself: it asks for an auditor key when the service has keys.
#[get("/dashboard")]
pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' blob:"))
        .body(PAGE)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RuleLine {
    pub rule: String,
    pub action: Action,
    pub message: String,
}

/// A decision as the dashboard lists it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DecisionCard {
    pub id: String,
    pub created_at: String,
    pub action: Action,
    pub origin: String,
    pub user: Option<String>,
    pub clip_id: Option<String>,
    pub clip_sha256: Option<String>,
    pub prompt: bool,
    pub rules: Vec<RuleLine>,
    /// Thumbnails at `/v1/decisions/{id}/evidence/{n}`, n from 0.
    pub thumbnails: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewOutcome>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Latencies {
    /// Clip checks that screened the clip (or joined a screening of it in flight).
    pub clip: RecentLatency,
    /// Clip checks answered from the cache (the clip screened before): apart, so they do not
    /// hide what screening costs.
    pub clip_cached: RecentLatency,
    pub prompt: RecentLatency,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ServiceLoad {
    pub workers: usize,
    pub queue: usize,
    pub queued: usize,
    pub screening: usize,
}

#[derive(Serialize, Default, utoipa::ToSchema)]
pub struct ActionCounts {
    pub allow: u64,
    pub review: u64,
    pub block: u64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DashboardData {
    pub generated_at: String,
    pub policy: PolicyRef,
    /// The policy's rule ids, enforced and shadow, for filtering.
    pub policy_rules: Vec<String>,
    pub models: Vec<crate::vocab::ModelInfo>,
    /// Live checks (not audits) in the last 60 minutes, oldest first, every minute present.
    pub per_minute: Vec<MinuteCounts>,
    /// Audit decisions over the last 24 hours, counted apart from live checks.
    pub audits: ActionCounts,
    /// Check latency over the last hour, upload included.
    pub latency: Latencies,
    /// Rule matches in live checks over the last 24 hours.
    pub rules: RuleCounts,
    /// The latest live block and review decisions.
    pub recent: Vec<DecisionCard>,
    /// Review decisions waiting for a person, oldest first.
    pub queue: Vec<DecisionCard>,
    pub load: ServiceLoad,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

fn card(d: Decision, thumbnails: usize) -> DecisionCard {
    DecisionCard {
        thumbnails,
        action: d.decision.action,
        origin: d.origin.as_str().into(),
        prompt: d.prompt.is_some(),
        rules: d
            .decision
            .matched
            .into_iter()
            .map(|m| RuleLine {
                rule: m.rule,
                action: m.action,
                message: m.message,
            })
            .collect(),
        review: d.review.map(|r| r.outcome),
        id: d.id,
        created_at: d.created_at,
        user: d.user,
        clip_id: d.clip_id,
        clip_sha256: d.clip_sha256,
    }
}

fn cards(log: &dyn DecisionLog, ds: Vec<Decision>) -> Result<Vec<DecisionCard>, StoreError> {
    ds.into_iter()
        .map(|d| {
            let n = log.thumbnail_count(&d.id)?;
            Ok(card(d, n))
        })
        .collect()
}

#[utoipa::path(
    get, path = "/v1/dashboard", tag = "dashboard",
    responses((status = 200, description = "What the dashboard shows", body = DashboardData)),
    security(("api_key" = []))
)]
#[get("/v1/dashboard")]
pub async fn data(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let service = state.service.clone();
    let (per_minute, audits, rules, recent, queue) = web::block(move || {
        let log = service.decisions();
        let now = SystemTime::now();
        let hour_ago = rfc3339(now - Duration::from_secs(3600));
        let counted = log.per_minute(&hour_ago, Origin::Check)?;
        let per_minute: Vec<MinuteCounts> = (0..60)
            .rev()
            .map(|k| {
                let minute = rfc3339(now - Duration::from_secs(60 * k))[..16].to_string();
                counted
                    .iter()
                    .find(|m| m.minute == minute)
                    .cloned()
                    .unwrap_or(MinuteCounts {
                        minute,
                        ..Default::default()
                    })
            })
            .collect();
        let day_ago = rfc3339(now - Duration::from_secs(24 * 3600));
        let rules = log.rule_counts(&day_ago, Origin::Check)?;
        let audits = log.per_minute(&day_ago, Origin::Audit)?.into_iter().fold(
            ActionCounts::default(),
            |c, m| ActionCounts {
                allow: c.allow + m.allow,
                review: c.review + m.review,
                block: c.block + m.block,
            },
        );
        let mut recent = Vec::new();
        for action in [Action::Block, Action::Review] {
            recent.extend(log.list(&DecisionQuery {
                action: Some(action),
                origin: Some(Origin::Check),
                limit: 12,
                ..Default::default()
            })?);
        }
        recent.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        recent.truncate(12);
        let recent = cards(log, recent)?;
        let queue = cards(log, log.review_queue(50)?)?;
        Ok::<_, StoreError>((per_minute, audits, rules, recent, queue))
    })
    .await??;
    let policy = state.service.policy().current();
    Ok(HttpResponse::Ok().json(DashboardData {
        generated_at: rfc3339(SystemTime::now()),
        policy: PolicyRef {
            name: policy.name.clone(),
            version: policy.version.clone(),
        },
        policy_rules: policy.rules.iter().map(|r| r.id.clone()).collect(),
        models: state.service.models().to_vec(),
        per_minute,
        audits,
        latency: Latencies {
            clip: metrics::recent_latency("clip"),
            clip_cached: metrics::recent_latency("clip_cached"),
            prompt: metrics::recent_latency("prompt"),
        },
        rules,
        recent,
        queue,
        load: ServiceLoad {
            workers: state.service.pool().workers(),
            queue: state.service.pool().capacity(),
            queued: state.service.pool().queued(),
            screening: state.service.pool().running(),
        },
    }))
}

/// The decisions a reviewer's search looks through, newest first, after the store's own
/// filters: rule and text are matched here, so a search reaches this far back.
const SEARCH_SCAN: usize = 2000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    pub action: Option<Action>,
    /// `check` (live) or `audit`.
    pub origin: Option<Origin>,
    /// A rule id: decisions where it matched, enforced or shadow.
    pub rule: Option<String>,
    pub user: Option<String>,
    /// RFC 3339 time: decisions at or after it.
    pub since: Option<String>,
    /// RFC 3339 time: decisions before it.
    pub until: Option<String>,
    /// A decision id, the caller's clip id, or a clip sha256 (or the start of one).
    pub q: Option<String>,
    /// At most this many, newest first (default 50, at most 200).
    pub limit: Option<usize>,
}

/// A time filter, compared exactly with the log's times.
fn time(name: &str, value: &str) -> Result<Timestamp, ApiError> {
    value.parse().map_err(|e: crate::vocab::TimeError| {
        ApiError::new(ErrorCode::InvalidQuery, format!("{name}: {e}"))
    })
}

/// Whether a decision is the one a search text names: by its id, its clip id, or the start of
/// its clip's sha256 (case ignored).
fn named_by(d: &Decision, text: &str) -> bool {
    let lower = |s: &str| s.to_lowercase();
    d.id.starts_with(text)
        || d.clip_id
            .as_deref()
            .is_some_and(|c| lower(c).contains(text))
        || d.clip_sha256
            .as_deref()
            .is_some_and(|c| c.starts_with(text))
}

#[utoipa::path(
    get, path = "/v1/dashboard/decisions", tag = "dashboard",
    params(SearchQuery),
    responses(
        (status = 200, description = "Decisions matching every filter, newest first", body = [DecisionCard]),
        (status = 400, body = super::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
#[get("/v1/dashboard/decisions")]
pub async fn search(
    caller: Caller,
    state: web::Data<AppState>,
    q: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let q = q.into_inner();
    let since = q.since.as_deref().map(|s| time("since", s)).transpose()?;
    let until = q.until.as_deref().map(|s| time("until", s)).transpose()?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let text =
        q.q.map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty());
    let rule = q.rule.filter(|r| !r.is_empty());
    let service = state.service.clone();
    let found = web::block(move || {
        let log = service.decisions();
        // A whole decision id names one decision, whatever the filters say.
        if let Some(id) = text.as_deref().filter(|t| uuid::Uuid::parse_str(t).is_ok()) {
            return cards(log, log.get(id)?.into_iter().collect());
        }
        let sha256 = text
            .clone()
            .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()));
        let listed = log.list(&DecisionQuery {
            action: q.action,
            user: q.user.filter(|u| !u.is_empty()),
            clip_sha256: sha256,
            rule: rule.clone(),
            since,
            until,
            origin: q.origin,
            limit: SEARCH_SCAN,
            ..Default::default()
        })?;
        let matches = |d: &Decision| text.as_deref().is_none_or(|t| named_by(d, t));
        let kept = listed.into_iter().filter(matches).take(limit).collect();
        cards(log, kept)
    })
    .await??;
    Ok(HttpResponse::Ok().json(found))
}

/// A decision with everything a reviewer looks at, and which thumbnail shows which evidence.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DecisionDetail {
    pub decision: Decision,
    /// For each matched rule, for each of its evidence items, the number of the thumbnail
    /// showing it (`/v1/decisions/{id}/evidence/{n}`), or null: evidence without a time
    /// (prompt matches, shown in the prompt's text), or a frame that could not be read again.
    pub evidence_thumbnails: Vec<Vec<Option<usize>>>,
    /// How many thumbnails the decision has.
    pub thumbnails: usize,
}

#[utoipa::path(
    get, path = "/v1/dashboard/decisions/{id}", tag = "dashboard",
    params(("id" = String, Path, description = "The decision id")),
    responses(
        (status = 200, body = DecisionDetail),
        (status = 404, body = super::error::ErrorBody),
    ),
    security(("api_key" = []))
)]
#[get("/v1/dashboard/decisions/{id}")]
pub async fn detail(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let service = state.service.clone();
    let id = id.into_inner();
    let found = web::block(move || {
        let log = service.decisions();
        let Some(decision) = log.get(&id)? else {
            return Ok::<_, StoreError>(Err(id));
        };
        let stored = log.thumbnail_index(&id)?;
        Ok(Ok(DecisionDetail {
            evidence_thumbnails: crate::service::thumbnails_of_evidence(&decision, &stored),
            thumbnails: stored.len(),
            decision,
        }))
    })
    .await??;
    match found {
        Ok(detail) => Ok(HttpResponse::Ok().json(detail)),
        Err(id) => Err(ApiError::not_found(format!("no decision with id {id}"))),
    }
}
