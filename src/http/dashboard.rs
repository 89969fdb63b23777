//! The operators' dashboard: one page embedded in the binary (no CDN, no external asset) that
//! polls `/v1/dashboard` and clears the review queue through the reviews API.

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::config::Role;
use crate::metrics::{self, RecentLatency};
use crate::store::{DecisionQuery, MinuteCounts, RuleCounts};
use crate::vocab::{Action, PolicyRef};
use crate::vocab::{Decision, ReviewOutcome};
use actix_web::{get, web, HttpResponse};
use serde::Serialize;
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
    pub clip: RecentLatency,
    pub prompt: RecentLatency,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ServiceLoad {
    pub workers: usize,
    pub queue: usize,
    pub queued: usize,
    pub screening: usize,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DashboardData {
    pub generated_at: String,
    pub policy: PolicyRef,
    pub models: Vec<crate::vocab::ModelInfo>,
    /// The last 60 minutes, oldest first, every minute present.
    pub per_minute: Vec<MinuteCounts>,
    /// Check latency over the last hour, upload included.
    pub latency: Latencies,
    /// Rule matches over the last 24 hours.
    pub rules: RuleCounts,
    /// The latest block and review decisions.
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

#[utoipa::path(
    get, path = "/v1/dashboard", tag = "dashboard",
    responses((status = 200, description = "What the dashboard shows", body = DashboardData)),
    security(("api_key" = []))
)]
#[get("/v1/dashboard")]
pub async fn data(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let service = state.service.clone();
    let (per_minute, rules, recent, queue) = web::block(move || {
        let log = service.decisions();
        let now = SystemTime::now();
        let hour_ago = rfc3339(now - Duration::from_secs(3600));
        let counted = log.per_minute(&hour_ago)?;
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
        let rules = log.rule_counts(&rfc3339(now - Duration::from_secs(24 * 3600)))?;
        let cards = |ds: Vec<Decision>| -> Result<Vec<DecisionCard>, crate::store::StoreError> {
            ds.into_iter()
                .map(|d| Ok(card(d.clone(), log.thumbnail_count(&d.id)?)))
                .collect()
        };
        let mut recent = Vec::new();
        for action in [Action::Block, Action::Review] {
            recent.extend(log.list(&DecisionQuery {
                action: Some(action),
                limit: 12,
                ..Default::default()
            })?);
        }
        recent.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        recent.truncate(12);
        let recent = cards(recent)?;
        let queue = cards(log.review_queue(50)?)?;
        Ok::<_, crate::store::StoreError>((per_minute, rules, recent, queue))
    })
    .await??;
    let policy = state.service.policy().current();
    Ok(HttpResponse::Ok().json(DashboardData {
        generated_at: rfc3339(SystemTime::now()),
        policy: PolicyRef {
            name: policy.name.clone(),
            version: policy.version.clone(),
        },
        models: state.service.models().to_vec(),
        per_minute,
        latency: Latencies {
            clip: metrics::recent_latency("clip"),
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
