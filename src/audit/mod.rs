//! Batch audits of stored clips: "which published clips would the new policy block?". Clips
//! from folders, globs, lists and object stores are screened on the bounded pool (several at
//! once, so one clip's decoding overlaps another's inference), decided like any check but
//! logged as audit decisions, and reported one JSON line each. Resumable after a kill, and
//! shardable across machines.

pub mod report;
pub mod shard;
pub mod sources;

pub use report::{Line, LineError, Previous, Summary};
pub use shard::Shard;
pub use sources::ClipRef;

use crate::objects::ObjectError;
use crate::policy::Action;
use crate::screen::pool::{Pool, PoolError};
use crate::screen::{CheckRequest, Checker, Origin, ScreenedClip};
use crate::store::DecisionQuery;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
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
    pub out: PathBuf,
    /// Clips screened at once.
    pub concurrency: usize,
    pub shard: Option<Shard>,
    /// Carry on from an existing report instead of starting over.
    pub resume: bool,
    /// Compare each clip's new action with its last logged decision.
    pub compare: bool,
    /// Largest object downloaded from an object store.
    pub max_file_bytes: u64,
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
    checker: &Arc<Checker>,
    pool: &Pool,
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
    let mut clips = sources::expand(&opts.sources, &rt)?;
    if let Some(s) = &opts.shard {
        clips.retain(|c| s.contains(&c.key()));
    }
    let (mut writer, done) = if opts.resume {
        report::resume(&opts.out)?
    } else {
        (report::Writer::create(&opts.out)?, Vec::new())
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
    let todo: Vec<ClipRef> = clips
        .into_iter()
        .filter(|c| !already.contains(&c.key()))
        .collect();
    observer.started(summary.resumed + todo.len() as u64, summary.resumed);
    crate::metrics::AUDITS_RUNNING.inc();
    crate::metrics::AUDIT_REMAINING.add(todo.len() as i64);
    let remaining = todo.len() as u64;
    let result = feed(checker, pool, opts, &rt, todo, |line| {
        writer
            .line(&line)
            .map_err(|e| AuditError::report(&opts.out, e))?;
        summary.add(&line);
        crate::metrics::audited(&line);
        observer.clip(&line, &summary);
        Ok(())
    });
    crate::metrics::AUDITS_RUNNING.dec();
    // An audit stopped by an error leaves its clips uncounted.
    let finished = summary.clips - summary.resumed;
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
    writer
        .summary(&summary)
        .map_err(|e| AuditError::report(&opts.out, e))?;
    Ok(summary)
}

/// Keeps up to `concurrency` clips on the pool, and hands each finished line to `on_line` in
/// the order they finish. On a shared pool (the service's) it takes a slot only when one is
/// free, so pre-publish checks are not crowded out.
fn feed(
    checker: &Arc<Checker>,
    pool: &Pool,
    opts: &AuditOptions,
    rt: &Arc<tokio::runtime::Runtime>,
    todo: Vec<ClipRef>,
    mut on_line: impl FnMut(Line) -> Result<(), AuditError>,
) -> Result<(), AuditError> {
    let before = crate::screen::now_rfc3339();
    let (tx, rx) = mpsc::channel::<Line>();
    let mut todo = todo.into_iter().peekable();
    let mut pending = 0usize;
    let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
    while todo.peek().is_some() || pending > 0 {
        let mut blocked = false;
        while pending < opts.concurrency.max(1) {
            let Some(clip) = todo.peek().cloned() else {
                break;
            };
            let (checker, rt, tx, before) =
                (checker.clone(), rt.clone(), tx.clone(), before.clone());
            let (compare, max_bytes) = (opts.compare, opts.max_file_bytes);
            let job = move || {
                // A bug in one clip's screening must not hang the audit: it is that clip's error.
                let line = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    audit_one(&checker, &clip, &rt, max_bytes, compare.then_some(&before))
                }))
                .unwrap_or_else(|_| {
                    error_line(clip.key(), None, "internal", "screening panicked".into())
                });
                let _ = tx.send(line);
            };
            match pool.submit(far, job) {
                Ok(_) => {
                    todo.next();
                    pending += 1;
                }
                Err(PoolError::Busy { .. }) => {
                    blocked = true;
                    break;
                }
                Err(_) => return Err(AuditError::PoolClosed),
            }
        }
        if pending == 0 {
            if blocked {
                std::thread::sleep(Duration::from_millis(50));
            }
            continue;
        }
        let wait = if blocked {
            Duration::from_millis(50)
        } else {
            Duration::from_secs(3600)
        };
        match rx.recv_timeout(wait) {
            Ok(line) => {
                pending -= 1;
                on_line(line)?;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(AuditError::PoolClosed),
        }
    }
    Ok(())
}

fn error_line(key: String, sha256: Option<String>, code: &str, message: String) -> Line {
    Line {
        key,
        sha256,
        decision_id: None,
        action: None,
        rules: vec![],
        shadow: vec![],
        error: Some(LineError {
            code: code.to_string(),
            message,
        }),
        previous: None,
        changed: None,
    }
}

/// Fetches, hashes, screens and decides one clip; whatever goes wrong becomes its error line.
fn audit_one(
    checker: &Checker,
    clip: &ClipRef,
    rt: &tokio::runtime::Runtime,
    max_bytes: u64,
    compare_before: Option<&String>,
) -> Line {
    let key = clip.key();
    let (path, sha256, _download) = match clip {
        ClipRef::Local(p) => match crate::digest::sha256_file(p) {
            Ok(sha) => (p.clone(), sha, None),
            Err(e) => return error_line(key, None, "unreadable", format!("{}: {e}", p.display())),
        },
        ClipRef::S3 { bucket, key: k } => {
            let temp = match tempfile::Builder::new().prefix("audit-").tempfile() {
                Ok(t) => t.into_temp_path(),
                Err(e) => return error_line(key, None, "io", e.to_string()),
            };
            match rt.block_on(crate::objects::fetch_s3(bucket, k, &temp, max_bytes)) {
                Ok((sha, _)) => (temp.to_path_buf(), sha, Some(temp)),
                Err(e) => {
                    let code = match e {
                        ObjectError::NotFound { .. } => "not_found",
                        ObjectError::TooLarge { .. } => "too_large",
                        _ => "object_store",
                    };
                    return error_line(key, None, code, e.to_string());
                }
            }
        }
    };
    let signals = match checker.screener.screen_clip(&path) {
        Ok(s) => s,
        Err(e) => {
            let message = e.to_string().replace(&path.display().to_string(), &key);
            return error_line(key, Some(sha256), e.code(), message);
        }
    };
    let screened = ScreenedClip {
        sha256: sha256.clone(),
        signals,
    };
    let decision = match checker.decide(Origin::Audit, &CheckRequest::default(), Some(screened)) {
        Ok(d) => d,
        Err(e) => return error_line(key, Some(sha256), e.code(), e.to_string()),
    };
    let previous = compare_before.and_then(|before| {
        let q = DecisionQuery {
            clip_sha256: Some(sha256.clone()),
            until: Some(before.clone()),
            limit: 1,
            ..Default::default()
        };
        let last = checker
            .screener
            .decisions()
            .list(&q)
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
    let changed = compare_before.map(|_| previous.as_ref().is_some_and(|p| p.action != action));
    Line {
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
    }
}
