//! Audits as background jobs: the same audit as `clipguard audit`, run on the service's
//! screening pool (taking a slot only when one is free, so pre-publish checks come first),
//! with its spec and report in the store. One replica runs a job, holding a lease it renews;
//! when a replica dies, another claims the job once the lease runs out and resumes it from the
//! report lines already recorded (`store::audits`).

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::audit::{self, AuditOptions, Line, Observer, ReportTo, Shard, Summary};
use crate::config::Role;
use crate::store::{AuditJob, Store, StoreError};
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
    let text = serde_json::to_string(&spec).expect("a job spec serialises");
    let (store, id) = (state.service.store().clone(), spec.id.clone());
    let (replica, lease_s) = (state.replica.clone(), state.audit_lease_s);
    web::block(move || store.create_audit(&id, &text, &replica, lease_s)).await??;
    let status = launch(&state, spec)?;
    Ok(HttpResponse::Accepted().json(status))
}

/// An audit job as started, kept in the store so any replica can resume it.
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

/// Renews this replica's lease on a job every third of it, until dropped.
struct Heartbeat {
    _stop: std::sync::mpsc::Sender<()>,
}

impl Heartbeat {
    fn start(store: Arc<Store>, id: String, owner: String, lease_s: u64) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let every = std::time::Duration::from_millis(lease_s * 1000 / 3);
        std::thread::Builder::new()
            .name(format!("lease-{id}"))
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(every)
                {
                    match store.renew_audit(&id, &owner, lease_s) {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => tracing::warn!(audit = %id, error = %e, "cannot renew the audit's lease"),
                    }
                }
            })?;
        Ok(Self { _stop: tx })
    }
}

/// Runs a job held by this replica on its own thread (the screening itself on the service's
/// pool), resuming from the lines already in its report.
fn launch(state: &AppState, spec: JobSpec) -> Result<AuditStatus, ApiError> {
    let service = match &spec.policies {
        None => state.service.clone(),
        Some(dir) => state.service.with_policy(Arc::new(
            state.service.policy().candidate_in(Path::new(dir))?,
        )),
    };
    let id = spec.id.clone();
    let opts = AuditOptions {
        sources: spec.sources,
        report: ReportTo::Job {
            id: id.clone(),
            owner: state.replica.clone(),
        },
        concurrency: spec.concurrency,
        shard: spec.shard,
        resume: true,
        compare: spec.compare,
        max_file_bytes: state.service.intake().max_file_bytes,
        confinement: audit::Confinement::Roots(state.service.intake().roots.clone()),
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
    let (store, owner, lease_s) = (
        state.service.store().clone(),
        state.replica.clone(),
        state.audit_lease_s,
    );
    std::thread::Builder::new()
        .name(format!("audit-{id}"))
        .spawn(move || {
            let heartbeat = Heartbeat::start(store.clone(), id.clone(), owner.clone(), lease_s);
            let result = match heartbeat {
                Ok(_renewing) => audit::run(&service, &opts, job.as_ref()),
                Err(e) => Err(audit::AuditError::Report {
                    path: format!("audit {id}"),
                    reason: format!("cannot keep its lease: {e}"),
                }),
            };
            if let Err(e) = &result {
                if let Err(e) = store.finish_audit(&id, &owner, None, Some(&e.to_string())) {
                    tracing::error!(audit = %id, error = %e, "cannot record the audit's failure");
                }
            }
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

/// Claims, every half lease, the jobs whose replica stopped renewing its lease (killed, or
/// this replica before a restart), and resumes them here: no clip is lost or done twice.
pub fn watch_jobs(state: web::Data<AppState>) -> std::io::Result<()> {
    let every = std::time::Duration::from_millis((state.audit_lease_s * 500).max(500));
    std::thread::Builder::new()
        .name("audit-claims".into())
        .spawn(move || loop {
            loop {
                match state
                    .service
                    .store()
                    .claim_audit(&state.replica, state.audit_lease_s)
                {
                    Ok(Some(job)) => resume(&state, job),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot look for audits to resume");
                        break;
                    }
                }
            }
            std::thread::sleep(every);
        })?;
    Ok(())
}

fn resume(state: &AppState, job: AuditJob) {
    let launched = serde_json::from_str::<JobSpec>(&job.spec)
        .map_err(|e| format!("unreadable job spec: {e}"))
        .and_then(|spec| launch(state, spec).map_err(|e| e.to_string()));
    match launched {
        Ok(_) => tracing::info!(audit = %job.id, "resuming an interrupted audit"),
        Err(e) => {
            tracing::error!(audit = %job.id, error = %e, "cannot resume audit");
            let _ = state
                .service
                .store()
                .finish_audit(&job.id, &state.replica, None, Some(&e));
        }
    }
}

/// A job and its report lines so far, from the store.
fn stored(store: &Store, id: &str) -> Result<Option<(AuditJob, Vec<Line>)>, StoreError> {
    let Some(job) = store.audit(id)? else {
        return Ok(None);
    };
    let lines = store
        .audit_lines(id)?
        .iter()
        .map(|l| {
            serde_json::from_str(l).map_err(|e| StoreError::Corrupt(format!("audit line: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Some((job, lines)))
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
        // A job this replica lost to another is read from the store like any other.
        if status.state != AuditState::Failed {
            return Ok(HttpResponse::Ok().json(status));
        }
    }
    let store = state.service.store().clone();
    let key = id.clone();
    let Some((job, lines)) = web::block(move || stored(&store, &key)).await?? else {
        return Err(ApiError::not_found(format!("no audit {id}")));
    };
    let spec: JobSpec = serde_json::from_str(&job.spec)
        .map_err(|e| StoreError::Corrupt(format!("audit job spec: {e}")))?;
    let summary = match &job.summary {
        Some(s) => serde_json::from_str(s)
            .map_err(|e| StoreError::Corrupt(format!("audit summary: {e}")))?,
        None => lines.iter().fold(Summary::default(), |mut s, l| {
            s.add(l);
            s
        }),
    };
    let state = match job.state.as_str() {
        "done" => AuditState::Done,
        "failed" => AuditState::Failed,
        _ => AuditState::Running,
    };
    Ok(HttpResponse::Ok().json(AuditStatus {
        id: id.to_string(),
        state,
        sources: spec.requested,
        total: summary.clips,
        summary,
        error: job.error,
        started_at: spec.started_at,
        finished_at: job.finished_at,
        report: format!("/v1/audits/{id}/report"),
    }))
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
    let store = state.service.store().clone();
    let key = id.clone();
    let found = web::block(move || -> Result<_, StoreError> {
        let Some(job) = store.audit(&key)? else {
            return Ok(None);
        };
        Ok(Some((job.summary, store.audit_lines(&key)?)))
    })
    .await??;
    let Some((summary, lines)) = found else {
        return Err(ApiError::not_found(format!("no report for audit {id}")));
    };
    let mut text = String::new();
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    if let Some(s) = summary {
        let summary: Summary = serde_json::from_str(&s)
            .map_err(|e| StoreError::Corrupt(format!("audit summary: {e}")))?;
        text.push_str(&audit::report::summary_line(&summary));
        text.push('\n');
    }
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .body(text))
}
