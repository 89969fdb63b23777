//! Audits as background jobs: the same audit as `clipguard audit`, run on the service's
//! screening pool (taking a slot only when one is free, so pre-publish checks come first),
//! with its report in the data folder and its progress here.

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::audit::{self, AuditOptions, Line, Observer, Shard, Summary};
use crate::config::Role;
use crate::policy::LivePolicy;
use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditRequest {
    /// Folders or clips inside `server.file_roots`, or `s3://bucket/prefix`.
    pub sources: Vec<String>,
    /// Audit with the policy in this server folder instead of the one in force (admin only).
    pub policies: Option<String>,
    /// Compare each clip's action with its last logged decision.
    #[serde(default)]
    pub compare: bool,
    /// `K/N`: only this shard's clips.
    pub shard: Option<String>,
    /// Clips screened at once (default 1, at most the service's workers).
    pub concurrency: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditState {
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditStatus {
    pub id: String,
    pub state: AuditState,
    pub sources: Vec<String>,
    pub total: u64,
    /// Counts so far: by action, by rule, errors, changes; final when done.
    pub summary: Summary,
    /// Why the audit stopped, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Where the JSON-lines report is served.
    pub report: String,
}

pub struct Job(Mutex<AuditStatus>);

impl Job {
    fn update(&self, f: impl FnOnce(&mut AuditStatus)) {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl Observer for Job {
    fn started(&self, total: u64, _resumed: u64) {
        self.update(|s| s.total = total);
    }

    fn clip(&self, _line: &Line, summary: &Summary) {
        self.update(|s| s.summary = summary.clone());
    }
}

fn bad_source(message: String) -> ApiError {
    ApiError::new(crate::vocab::ErrorCode::InvalidSource, message)
}

#[utoipa::path(
    post, path = "/v1/audits", tag = "audits",
    request_body(content = AuditRequest, example = json!({"sources": ["s3://clips/"], "compare": true})),
    responses(
        (status = 202, description = "Started; poll its status", body = AuditStatus),
        (status = 400, body = ErrorBody),
        (status = 403, description = "A source outside the file roots", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[post("/v1/audits")]
pub async fn start_audit(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<AuditRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let req = body.into_inner();
    if req.sources.is_empty() {
        return Err(bad_source("no sources".into()));
    }
    // Only what the roots allow: folders and clips inside them, and object-store prefixes.
    let mut sources = Vec::new();
    for s in &req.sources {
        if s.starts_with("s3://") {
            sources.push(s.clone());
            continue;
        }
        let path = s.strip_prefix("file://").unwrap_or(s);
        if !path.starts_with('/') {
            return Err(bad_source(format!(
                "{s:?}: give an absolute path inside the file roots, or s3://bucket/prefix"
            )));
        }
        let real = state
            .service
            .intake()
            .roots
            .resolve_source(s, Path::new(path))?;
        if real.is_file()
            && !audit::sources::VIDEO_EXTENSIONS
                .iter()
                .any(|e| real.extension().is_some_and(|x| x.eq_ignore_ascii_case(e)))
        {
            return Err(bad_source(format!(
                "{s:?}: lists of clips are for the CLI; give folders, clips or s3:// prefixes"
            )));
        }
        sources.push(real.display().to_string());
    }
    let shard = req
        .shard
        .as_deref()
        .map(str::parse::<Shard>)
        .transpose()
        .map_err(bad_source)?;
    if req.policies.is_some() {
        caller.require(Role::Admin)?;
    }
    let spec = JobSpec {
        id: uuid::Uuid::now_v7().to_string(),
        requested: req.sources,
        sources,
        policies: req.policies,
        compare: req.compare,
        shard,
        concurrency: req
            .concurrency
            .unwrap_or(1)
            .clamp(1, state.service.pool().workers().max(1)),
        started_at: crate::vocab::now_rfc3339(),
    };
    let dir = state.data_dir.join("audits");
    std::fs::create_dir_all(&dir)?;
    let text = serde_json::to_vec_pretty(&spec).expect("a job spec serialises");
    std::fs::write(dir.join(format!("{}.json", spec.id)), text)?;
    let status = launch(&state, spec, false)?;
    Ok(HttpResponse::Accepted().json(status))
}

/// An audit job as started, kept beside its report so a restart can resume it.
#[derive(Debug, Serialize, Deserialize)]
struct JobSpec {
    id: String,
    /// The sources as the caller gave them.
    requested: Vec<String>,
    /// Resolved inside the roots.
    sources: Vec<String>,
    policies: Option<String>,
    compare: bool,
    shard: Option<Shard>,
    concurrency: usize,
    started_at: String,
}

/// Runs a job on its own thread (the screening itself on the service's pool).
fn launch(state: &AppState, spec: JobSpec, resume: bool) -> Result<AuditStatus, ApiError> {
    let service = match &spec.policies {
        None => state.service.clone(),
        Some(dir) => {
            let mut cfg = state.service.policy().config().clone();
            cfg.dir = dir.into();
            state.service.with_policy(Arc::new(LivePolicy::candidate(
                &cfg,
                &state.service.screener().policy_fields(),
            )?))
        }
    };
    let id = spec.id.clone();
    let opts = AuditOptions {
        sources: spec.sources,
        out: state.data_dir.join("audits").join(format!("{id}.jsonl")),
        concurrency: spec.concurrency,
        shard: spec.shard,
        resume,
        compare: spec.compare,
        max_file_bytes: state.service.intake().max_file_bytes,
    };
    let status = AuditStatus {
        id: id.clone(),
        state: AuditState::Running,
        sources: spec.requested,
        total: 0,
        summary: Summary::default(),
        error: None,
        started_at: spec.started_at,
        finished_at: None,
        report: format!("/v1/audits/{id}/report"),
    };
    let job = Arc::new(Job(Mutex::new(status.clone())));
    state.audits.insert(id.clone(), job.clone());
    std::thread::Builder::new()
        .name(format!("audit-{id}"))
        .spawn(move || {
            let result = audit::run(&service, &opts, job.as_ref());
            job.update(|s| {
                s.finished_at = Some(crate::vocab::now_rfc3339());
                match result {
                    Ok(summary) => {
                        s.summary = summary;
                        s.state = AuditState::Done;
                    }
                    Err(e) => {
                        tracing::error!(audit = %s.id, error = %e, "audit failed");
                        s.error = Some(e.to_string());
                        s.state = AuditState::Failed;
                    }
                }
            });
        })?;
    Ok(status)
}

/// Resumes the audits a stop interrupted (their report has no summary yet), from their
/// reports: no clip is lost or done twice.
pub fn resume_interrupted(state: &AppState) {
    let Ok(entries) = std::fs::read_dir(state.data_dir.join("audits")) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let spec: JobSpec = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "unreadable audit job skipped");
                continue;
            }
        };
        if audit::report::read_summary(&path.with_extension("jsonl")).is_some() {
            continue;
        }
        let id = spec.id.clone();
        match launch(state, spec, true) {
            Ok(_) => tracing::info!(audit = %id, "resuming an interrupted audit"),
            Err(e) => tracing::error!(audit = %id, error = %e, "cannot resume audit"),
        }
    }
}

#[utoipa::path(
    get, path = "/v1/audits/{id}", tag = "audits",
    params(("id" = String, Path)),
    responses((status = 200, body = AuditStatus), (status = 404, body = ErrorBody)),
    security(("api_key" = []))
)]
#[get("/v1/audits/{id}")]
pub async fn get_audit(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    if let Some(job) = state.audits.get(id.as_str()) {
        let status = job.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        return Ok(HttpResponse::Ok().json(status));
    }
    // An audit finished before a restart: its spec and its report's summary say the rest.
    let path = report_path(&state, &id)?;
    let spec: Option<JobSpec> = std::fs::read(path.with_extension("json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match audit::report::read_summary(&path) {
        Some(summary) => Ok(HttpResponse::Ok().json(AuditStatus {
            id: id.to_string(),
            state: AuditState::Done,
            sources: spec
                .as_ref()
                .map(|s| s.requested.clone())
                .unwrap_or_default(),
            total: summary.clips,
            summary,
            error: None,
            started_at: spec.map(|s| s.started_at).unwrap_or_default(),
            finished_at: None,
            report: format!("/v1/audits/{id}/report"),
        })),
        None => Err(ApiError::not_found(format!("no audit {id}"))),
    }
}

fn report_path(state: &AppState, id: &str) -> Result<std::path::PathBuf, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| ApiError::not_found(format!("no audit {id}")))?;
    Ok(state.data_dir.join("audits").join(format!("{id}.jsonl")))
}

#[utoipa::path(
    get, path = "/v1/audits/{id}/report", tag = "audits",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "One JSON line per clip so far, then the summary once done", content_type = "application/x-ndjson"),
        (status = 404, body = ErrorBody),
    ),
    security(("api_key" = []))
)]
#[get("/v1/audits/{id}/report")]
pub async fn get_report(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Auditor)?;
    let path = report_path(&state, &id)?;
    let text = web::block(move || std::fs::read(path))
        .await?
        .map_err(|_| ApiError::not_found(format!("no report for audit {id}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .body(text))
}
