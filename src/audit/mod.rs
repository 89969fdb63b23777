//! Batch audits of stored clips: "which published clips would the new policy block?". Clips
//! from folders, globs, lists and object stores are screened on the bounded pool (several at
//! once, so one clip's decoding overlaps another's inference), decided like any check but
//! logged as audit decisions, and reported one JSON line each. Resumable after a kill, and
//! shardable across machines.

pub mod report;
pub mod shard;
pub mod sources;

pub use sources::Confinement;

use crate::objects::ObjectError;
use crate::service::pool::PoolError;
use crate::service::{CheckError, CheckService, ClipLocation, ClipSource};
use crate::store::DecisionQuery;
use crate::vocab::{Action, CheckRequest, ErrorCode, Failure, Origin, Timestamp};
use futures_util::stream::{FuturesUnordered, StreamExt};
pub use report::{Line, LineError, Previous, Summary};

/// Where an audit's report goes.
#[derive(Debug, Clone)]
pub enum ReportTo {
    /// A JSON-lines file (the CLI).
    File(PathBuf),
    /// The service's job `id` in the store, held by replica `owner`.
    Job { id: String, owner: String },
}
pub use shard::Shard;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("source {source_name}: {reason}")]
    Source { source_name: String, reason: String },
    #[error(transparent)]
    Object(#[from] ObjectError),
    #[error("report {path}: {reason}")]
    Report { path: String, reason: String },
    #[error("the screening pool stopped")]
    PoolClosed,
}

impl AuditError {
    fn report(path: &Path, e: std::io::Error) -> Self {
        AuditError::Report {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub sources: Vec<String>,
    pub report: ReportTo,
    /// Clips screened at once.
    pub concurrency: usize,
    pub shard: Option<Shard>,
    /// Carry on from an existing report file instead of starting over (a job always does).
    pub resume: bool,
    /// Compare each clip's new action with its last logged decision.
    pub compare: bool,
    /// Largest object downloaded from an object store.
    pub max_file_bytes: u64,
    /// Where local paths may resolve.
    pub confinement: sources::Confinement,
}

/// Told about an audit's progress (a progress bar, log lines, the service's job status).
pub trait Observer: Send + Sync {
    /// `total` clips in this audit (this shard), `resumed` of them already in the report.
    fn started(&self, total: u64, resumed: u64);
    fn clip(&self, line: &Line, summary: &Summary);
}

/// Runs an audit to its end. A clip that cannot be read or screened is an error line, never a
/// stop; only a problem with the sources or the report itself stops the audit.
pub fn run(
    service: &Arc<CheckService>,
    opts: &AuditOptions,
    observer: &dyn Observer,
) -> Result<Summary, AuditError> {
    let started = Instant::now();
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| AuditError::Source {
                source_name: "object store".into(),
                reason: e.to_string(),
            })?,
    );
    let expanded = sources::expand(&opts.sources, &opts.confinement, &rt)?;
    let (mut clips, mut skipped) = (expanded.clips, expanded.skipped);
    if let Some(s) = &opts.shard {
        clips.retain(|c| s.contains(&c.name()));
        skipped.retain(|key, _| s.contains(key));
    }
    let (mut writer, done): (Box<dyn report::Sink>, Vec<Line>) = match &opts.report {
        ReportTo::File(path) if opts.resume => {
            let (w, done) = report::resume(path)?;
            (Box::new(w), done)
        }
        ReportTo::File(path) => (Box::new(report::Writer::create(path)?), Vec::new()),
        ReportTo::Job { id, owner } => {
            let sink = report::JobSink::new(service.store().clone(), id, owner);
            let done = sink.lines()?;
            (Box::new(sink), done)
        }
    };
    let mut summary = Summary {
        shard: opts.shard.map(|s| s.to_string()),
        ..Default::default()
    };
    let already = report::keys(&done);
    for l in &done {
        summary.add(l);
    }
    summary.resumed = done.len() as u64;
    let todo: Vec<ClipLocation> = clips
        .into_iter()
        .filter(|c| !already.contains(&c.name()))
        .collect();
    skipped.retain(|key, _| !already.contains(key));
    observer.started(
        summary.resumed + todo.len() as u64 + skipped.len() as u64,
        summary.resumed,
    );
    crate::metrics::AUDITS_RUNNING.inc();
    crate::metrics::AUDIT_REMAINING.add(todo.len() as i64);
    let remaining = todo.len() as u64;
    let skipped_lines = skipped.len() as u64;
    let mut record = |line: Line| -> Result<(), AuditError> {
        writer.line(&line)?;
        summary.add(&line);
        crate::metrics::audited(line.action.map_or("error", Action::as_str));
        observer.clip(&line, &summary);
        Ok(())
    };
    // What the sources named but the audit may not read: a line each, saying why.
    let mut result = skipped.into_iter().try_for_each(|(key, e)| {
        tracing::warn!(entry = %key, error = %e, "audit entry skipped");
        record(error_line(key, None, e.code(), e.to_string()))
    });
    if result.is_ok() {
        result = feed(service, opts, &rt, todo, &mut record);
    }
    crate::metrics::AUDITS_RUNNING.dec();
    // An audit stopped by an error leaves its clips uncounted.
    let finished = (summary.clips - summary.resumed).saturating_sub(skipped_lines);
    crate::metrics::AUDIT_REMAINING.sub(remaining.saturating_sub(finished) as i64);
    result?;
    let seconds = started.elapsed().as_secs_f64();
    let this_run = summary.clips - summary.resumed;
    summary.seconds = seconds;
    summary.clips_per_minute = if seconds > 0.0 {
        this_run as f64 * 60.0 / seconds
    } else {
        0.0
    };
    writer.summary(&summary)?;
    Ok(summary)
}

/// Keeps up to `concurrency` clips in the check service, and hands each finished line to
/// `on_line` in the order they finish. On a shared pool (the service's) a clip waits for a
/// free worker before it starts, so pre-publish checks are not crowded out.
fn feed(
    service: &Arc<CheckService>,
    opts: &AuditOptions,
    rt: &tokio::runtime::Runtime,
    todo: Vec<ClipLocation>,
    mut on_line: impl FnMut(Line) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let before = Timestamp::now();
    rt.block_on(async {
        let mut todo = todo.into_iter();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < opts.concurrency.max(1) {
                let Some(clip) = todo.next() else { break };
                let before = opts.compare.then_some(before);
                running.push(audit_one(service.clone(), clip, before));
            }
            match running.next().await {
                // The report may be in PostgreSQL, whose client must not block a runtime thread.
                Some(Ok(line)) => tokio::task::block_in_place(|| on_line(line))?,
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    })
}

fn error_line(key: String, sha256: Option<String>, code: ErrorCode, message: String) -> Line {
    Line {
        key,
        sha256,
        decision_id: None,
        action: None,
        rules: vec![],
        shadow: vec![],
        error: Some(LineError {
            code: code.as_str().to_string(),
            message,
        }),
        previous: None,
        changed: None,
    }
}

/// Checks one clip through the service, as an audit; whatever goes wrong with the clip
/// becomes its error line. Only a stopped pool stops the audit.
async fn audit_one(
    service: Arc<CheckService>,
    clip: ClipLocation,
    compare_before: Option<Timestamp>,
) -> Result<Line, AuditError> {
    let key = clip.name();
    let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
    let checked = loop {
        let pool = service.pool();
        if pool.queued() > 0 || pool.running() >= pool.workers() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let source = ClipSource::At(clip.clone());
        match service
            .check_clip(source, CheckRequest::default(), Origin::Audit, far)
            .await
        {
            Err(CheckError::Pool(PoolError::Busy { .. })) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(CheckError::Pool(PoolError::Closed)) | Err(CheckError::ShuttingDown) => {
                return Err(AuditError::PoolClosed)
            }
            other => break other,
        }
    };
    let decision = match checked {
        Ok(c) => c.decision,
        Err(CheckError::Screening(f)) => {
            return Ok(error_line(
                key,
                Some(f.clip_sha256),
                f.error.code(),
                f.message,
            ))
        }
        Err(e) => return Ok(error_line(key, None, e.code(), e.to_string())),
    };
    let sha256 = decision.clip_sha256.clone().unwrap_or_default();
    let comparing = compare_before.is_some();
    let previous = compare_before.and_then(|before| {
        let q = DecisionQuery {
            clip_sha256: Some(sha256.clone()),
            until: Some(before),
            limit: 1,
            ..Default::default()
        };
        let last = tokio::task::block_in_place(|| service.decisions().list(&q))
            .ok()?
            .into_iter()
            .next()?;
        Some(Previous {
            decision_id: last.id,
            action: last.decision.action,
            created_at: last.created_at,
        })
    });
    let action: Action = decision.decision.action;
    let changed = comparing.then(|| previous.as_ref().is_some_and(|p| p.action != action));
    Ok(Line {
        key,
        sha256: Some(sha256),
        decision_id: Some(decision.id),
        action: Some(action),
        rules: decision
            .decision
            .matched
            .iter()
            .map(|m| m.rule.clone())
            .collect(),
        shadow: decision
            .decision
            .shadow
            .iter()
            .map(|m| m.rule.clone())
            .collect(),
        error: None,
        previous,
        changed,
    })
}
