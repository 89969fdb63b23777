//! A bounded pool of worker threads for CPU work (decoding, inference), kept off the async
//! executor. Its queue is bounded too: when it is full, work is refused at once (the service
//! answers 503 with Retry-After) rather than waiting in a queue that grows without limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PoolError {
    #[error("busy: all {workers} workers are screening and {queued} clips are waiting")]
    Busy { workers: usize, queued: usize },
    #[error("the deadline passed while the clip was waiting for a worker")]
    Expired,
    #[error("shutting down: no new work is accepted")]
    Closed,
}

impl crate::vocab::Failure for PoolError {
    fn code(&self) -> crate::vocab::ErrorCode {
        use crate::vocab::ErrorCode;
        match self {
            PoolError::Busy { .. } => ErrorCode::Busy,
            PoolError::Expired => ErrorCode::DeadlineExceeded,
            PoolError::Closed => ErrorCode::ShuttingDown,
        }
    }

    fn retry_after_s(&self) -> Option<u64> {
        Some(match self {
            PoolError::Closed => 5,
            _ => 1,
        })
    }
}

pub struct Pool {
    tx: Mutex<Option<SyncSender<Job>>>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    workers: usize,
    capacity: usize,
    queued: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
}

impl Pool {
    /// `workers` threads, and at most `queue` jobs waiting for one.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let handles = (0..workers)
            .map(|i| {
                let rx = rx.clone();
                std::thread::Builder::new()
                    .name(format!("screen-{i}"))
                    .spawn(move || loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    })
                    .expect("worker thread starts")
            })
            .collect();
        Self {
            tx: Mutex::new(Some(tx)),
            handles: Mutex::new(handles),
            workers,
            capacity: queue,
            queued: Arc::new(AtomicUsize::new(0)),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Queues `f` to run on a worker, unless the queue is full. A job that reaches a worker
    /// after `deadline` is not run: nobody is waiting for it any more.
    pub fn submit<T: Send + 'static>(
        &self,
        deadline: Instant,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<T, PoolError>>, PoolError> {
        let (done, rx) = tokio::sync::oneshot::channel();
        let (queued, running) = (self.queued.clone(), self.running.clone());
        let job: Job = Box::new(move || {
            queued.fetch_sub(1, Ordering::SeqCst);
            let out = if Instant::now() > deadline {
                Err(PoolError::Expired)
            } else {
                running.fetch_add(1, Ordering::SeqCst);
                let out = f();
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(out)
            };
            let _ = done.send(out);
        });
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let tx = tx.as_ref().ok_or(PoolError::Closed)?;
        self.queued.fetch_add(1, Ordering::SeqCst);
        match tx.try_send(job) {
            Ok(()) => Ok(rx),
            Err(e) => {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                Err(match e {
                    TrySendError::Full(_) => PoolError::Busy {
                        workers: self.workers,
                        queued: self.queued(),
                    },
                    TrySendError::Disconnected(_) => PoolError::Closed,
                })
            }
        }
    }

    /// Runs `f` on the pool and waits for it (batch callers on plain threads).
    pub fn run<T: Send + 'static>(
        &self,
        deadline: Instant,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        self.submit(deadline, f)?
            .blocking_recv()
            .map_err(|_| PoolError::Closed)?
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Jobs that may wait for a worker.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Refuses new work, then waits for every queued and running job to finish.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let handles = std::mem::take(&mut *self.handles.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_full_queue_refuses_and_shutdown_finishes_queued_work() {
        let pool = Pool::new(1, 1);
        let far = Instant::now() + Duration::from_secs(60);
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let first = pool
            .submit(far, move || gate.recv().map(|_| 1).unwrap_or(0))
            .unwrap();
        while pool.running() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let second = pool.submit(far, || 2).unwrap();
        assert_eq!(pool.queued(), 1);
        let refused = pool.submit(far, || 3).unwrap_err();
        assert!(
            matches!(
                refused,
                PoolError::Busy {
                    workers: 1,
                    queued: 1
                }
            ),
            "{refused}"
        );
        release.send(()).unwrap();
        pool.shutdown();
        assert_eq!(first.blocking_recv().unwrap().unwrap(), 1);
        assert_eq!(second.blocking_recv().unwrap().unwrap(), 2);
        assert!(matches!(pool.submit(far, || 4), Err(PoolError::Closed)));
    }

    #[test]
    fn a_job_past_its_deadline_is_not_run() {
        let pool = Pool::new(1, 4);
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let past = Instant::now() - Duration::from_millis(1);
        let out = pool.run(past, move || r.fetch_add(1, Ordering::SeqCst));
        assert!(matches!(out, Err(PoolError::Expired)));
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}
