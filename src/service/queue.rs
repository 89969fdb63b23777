//! Asynchronous checks: a clip accepted now and screened later, from the durable queue in the
//! store (`store::checks`), by whichever replica has a worker free. The caller is answered the
//! decision's id at once; the decision is logged under that id, fetched by it, and pushed to
//! the caller's callback URL when there is one.
//!
//! A replica claims a job only when one of its screening workers is idle and nothing waits
//! for one, so synchronous checks come first. It holds the job by a lease it renews while
//! the clip is screened; when it is killed, another replica claims the job once the lease
//! runs out. A job is decided once: its decision is logged under the job's id, and a claimer
//! that finds it already logged (its first holder died between logging and finishing) only
//! finishes the job.

use super::{CheckError, CheckService, ClipLocation, ClipSource};
use crate::store::{CallbackEvent, ClaimedJob, DecisionLog};
use crate::vocab::{CheckRequest, Failure, Origin};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a job screens and for whom, as the queue keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub request: CheckRequest,
    pub source: JobSource,
    /// Where the decision is pushed, already checked against the allow-list.
    pub callback_url: Option<String>,
}

/// Where a job's clip is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum JobSource {
    /// Uploaded: the bytes are kept with the job in the store.
    Upload { name: String, sha256: String },
    /// A `file://` or `s3://` URI, read when the job runs.
    Uri(String),
}

/// How long a job's screening may take before it is given back to the queue (its result
/// is kept in the cache, so the next claim decides at once).
const SCREEN_DEADLINE: Duration = Duration::from_secs(600);
/// How often the queue is looked at for other replicas' jobs and expired leases.
const POLL: Duration = Duration::from_millis(250);

impl CheckService {
    /// Queues a check to screen later under a new decision id, with the uploaded clip's
    /// bytes when it was uploaded; answers the id.
    pub fn enqueue_check(
        &self,
        spec: &JobSpec,
        upload: Option<&std::path::Path>,
    ) -> Result<String, CheckError> {
        super::within_limits(&spec.request)?;
        let id = uuid::Uuid::now_v7().to_string();
        let text = serde_json::to_string(spec).expect("a job spec serialises");
        let mut file = upload.map(std::fs::File::open).transpose().map_err(|e| {
            CheckError::Store(crate::store::StoreError::Corrupt(format!(
                "cannot read the upload: {}",
                crate::vocab::io_reason(&e)
            )))
        })?;
        self.store.enqueue_check(
            &id,
            &text,
            file.as_mut().map(|f| f as &mut dyn std::io::Read),
        )?;
        Ok(id)
    }
}

/// Screens the queue's jobs on this replica. Cloned handles wake it when a job is queued
/// here, so it need not wait for its next look.
#[derive(Clone)]
pub struct Runner {
    wake: Arc<tokio::sync::Notify>,
}

impl Runner {
    /// Starts taking jobs on its own thread until the process ends.
    pub fn start(service: Arc<CheckService>, owner: String, lease_s: u64) -> std::io::Result<Self> {
        let wake = Arc::new(tokio::sync::Notify::new());
        let runner = Self { wake: wake.clone() };
        let lease_ms = lease_s.max(1) * 1000;
        std::thread::Builder::new()
            .name("check-queue".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the queue");
                rt.block_on(run(service, owner, lease_ms, wake));
            })?;
        Ok(runner)
    }

    /// A job was queued: look now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

async fn run(
    service: Arc<CheckService>,
    owner: String,
    lease_ms: u64,
    wake: Arc<tokio::sync::Notify>,
) {
    let held = Arc::new(AtomicUsize::new(0));
    let mut renewed = Instant::now();
    loop {
        if renewed.elapsed() >= Duration::from_millis(lease_ms / 3)
            && held.load(Ordering::SeqCst) > 0
        {
            let (store, who) = (service.store().clone(), owner.clone());
            if let Ok(Err(e)) =
                tokio::task::spawn_blocking(move || store.renew_checks(&who, lease_ms)).await
            {
                tracing::warn!(error = %e, "cannot renew the leases of queued checks");
            }
            renewed = Instant::now();
        }
        let pool = service.pool();
        while held.load(Ordering::SeqCst) < pool.workers() && pool.queued() == 0 {
            let (store, who) = (service.store().clone(), owner.clone());
            let claimed =
                tokio::task::spawn_blocking(move || store.claim_check(&who, lease_ms)).await;
            match claimed {
                Ok(Ok(Some(job))) => {
                    held.fetch_add(1, Ordering::SeqCst);
                    let (service, owner, held) = (service.clone(), owner.clone(), held.clone());
                    tokio::spawn(async move {
                        screen(&service, &owner, job).await;
                        held.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot look for queued checks");
                    break;
                }
                Err(_) => return,
            }
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// What became of a job's screening.
enum Outcome {
    /// Decided (now, or by an earlier holder): the decision is logged under the job's id.
    Decided(Box<crate::vocab::Decision>),
    /// Not decided, for good: the clip could not be screened.
    Failed(CheckError),
    /// Not decided for now (no worker free, stopping, the database away): back to the queue.
    Later(CheckError),
}

async fn screen(service: &Arc<CheckService>, owner: &str, job: ClaimedJob) {
    let id = job.id.clone();
    let outcome = decide(service, &job).await;
    let store = service.store().clone();
    let (who, key) = (owner.to_string(), id.clone());
    let finished = match outcome {
        Outcome::Decided(decision) => {
            let service = service.clone();
            tokio::task::spawn_blocking(move || {
                let spec: Option<JobSpec> = serde_json::from_str(&job.spec).ok();
                // Queued before the job is finished: a holder that dies in between leaves the
                // job to the next, which queues nothing twice.
                if let Some(url) = spec.and_then(|s| s.callback_url) {
                    service.queue_callback(&decision, CallbackEvent::Decided, Some(&url))?;
                }
                store.finish_check(&key, &who, None)
            })
            .await
        }
        Outcome::Failed(e) => {
            tracing::warn!(check = %id, error = %e, "queued check failed");
            let (code, message) = (e.code().as_str(), e.to_string());
            tokio::task::spawn_blocking(move || {
                store.finish_check(&key, &who, Some((code, &message)))
            })
            .await
        }
        Outcome::Later(e) => {
            tracing::info!(check = %id, error = %e, "queued check given back for later");
            tokio::task::spawn_blocking(move || store.release_check(&key, &who).map(|()| true))
                .await
        }
    };
    if let Ok(Err(e)) = finished {
        tracing::error!(check = %id, error = %e, "cannot record a queued check's end");
    }
}

async fn decide(service: &Arc<CheckService>, job: &ClaimedJob) -> Outcome {
    let store = service.store().clone();
    let key = job.id.clone();
    match tokio::task::spawn_blocking(move || store.get(&key)).await {
        Ok(Ok(Some(logged))) => return Outcome::Decided(Box::new(logged)),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => return Outcome::Later(e.into()),
        Err(_) => return Outcome::Later(CheckError::ShuttingDown),
    }
    let spec: JobSpec = match serde_json::from_str(&job.spec) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::Failed(CheckError::Store(crate::store::StoreError::Corrupt(
                format!("queued check {}: {e}", job.id),
            )))
        }
    };
    let source = match clip_of(service, &job.id, &spec.source).await {
        Ok(s) => s,
        Err(e) => return classify(e),
    };
    let checked = service
        .check_clip_as(
            source,
            spec.request,
            Origin::Check,
            Instant::now() + SCREEN_DEADLINE,
            Some(job.id.clone()),
        )
        .await;
    match checked {
        Ok(c) => Outcome::Decided(Box::new(c.decision)),
        Err(e) => {
            // Logged by another holder meanwhile (this one's lease ran out): that decision
            // stands.
            let store = service.store().clone();
            let key = job.id.clone();
            match tokio::task::spawn_blocking(move || store.get(&key)).await {
                Ok(Ok(Some(logged))) => Outcome::Decided(Box::new(logged)),
                _ => classify(e),
            }
        }
    }
}

/// Errors of the moment go back to the queue; errors of the clip, the request or the stored
/// job end it.
fn classify(e: CheckError) -> Outcome {
    match &e {
        CheckError::Store(crate::store::StoreError::Corrupt(_)) => Outcome::Failed(e),
        CheckError::Pool(_)
        | CheckError::Deadline { .. }
        | CheckError::ShuttingDown
        | CheckError::Store(_) => Outcome::Later(e),
        _ => Outcome::Failed(e),
    }
}

/// The job's clip on this replica's disk: an upload written back from the store (and hashed
/// as it is), or its URI.
async fn clip_of(
    service: &Arc<CheckService>,
    id: &str,
    from: &JobSource,
) -> Result<ClipSource, CheckError> {
    match from {
        JobSource::Uri(uri) => Ok(ClipSource::At(ClipLocation::parse_uri(uri)?)),
        JobSource::Upload { name, sha256 } => {
            let tmp = service.intake().tmp.clone();
            let (store, key) = (service.store().clone(), id.to_string());
            let (path, read) = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&tmp)?;
                let mut file = tempfile::Builder::new()
                    .prefix("queued-")
                    .tempfile_in(&tmp)?;
                let read = store.read_check_upload(&key, file.as_file_mut());
                Ok::<_, std::io::Error>((file.into_temp_path(), read))
            })
            .await
            .map_err(|_| CheckError::ShuttingDown)?
            .map_err(|e| CheckError::Intake(e.into()))?;
            match read? {
                Some(actual) if &actual == sha256 => Ok(ClipSource::Upload {
                    file: path,
                    name: name.clone(),
                    sha256: actual,
                }),
                other => Err(CheckError::Store(crate::store::StoreError::Corrupt(format!(
                    "the stored upload of check {id} is not the clip received (sha256 {other:?}, expected {sha256})"
                )))),
            }
        }
    }
}
