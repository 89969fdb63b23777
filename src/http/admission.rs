//! What the server admits, so slow or many clients cannot exhaust it: connections and request
//! bodies in flight are capped inside a budget of file descriptors (the process's limit,
//! raised to its hard maximum at start where allowed), and a body beyond the cap is answered
//! 503 with Retry-After before a byte of it is read.

use crate::config::ServerConfig;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Descriptors kept for everything but connections and uploads: models, the store, logs,
/// decoders, evidence files, the listen socket.
const RESERVED_FDS: u64 = 512;

/// Seconds a client refused for too many uploads is asked to wait.
pub const RETRY_UPLOADS_S: u64 = 5;

/// The caps in force, after the descriptor budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub max_connections: usize,
    pub max_uploads: usize,
    /// The descriptor limit they were fitted into.
    pub fd_limit: u64,
}

/// Raises the soft limit on open files to the hard limit (allowed without privileges) and
/// returns the limit in force.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        let before = lim.rlim_cur;
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        tracing::info!(
            before,
            now = lim.rlim_cur,
            hard = lim.rlim_max,
            "open-file limit"
        );
        lim.rlim_cur
    }
}

/// Descriptors the process holds now.
fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

/// The configured caps, lowered so that connections and uploads (one descriptor each, an
/// upload's temporary file besides its connection) fit in `fd_limit` with what is already
/// open and a reserve.
pub fn fit(cfg: &ServerConfig, fd_limit: u64) -> Caps {
    let wanted_uploads = if cfg.max_uploads == 0 {
        cfg.max_connections / 2
    } else {
        cfg.max_uploads
    };
    let budget = fd_limit.saturating_sub(open_fds() + RESERVED_FDS).max(16) as usize;
    let mut caps = Caps {
        max_connections: cfg.max_connections.max(1),
        max_uploads: wanted_uploads.max(1),
        fd_limit,
    };
    if caps.max_connections + caps.max_uploads > budget {
        // Keep their proportion: two connections for each upload at the least.
        let share = caps.max_uploads as f64 / (caps.max_connections + caps.max_uploads) as f64;
        caps.max_uploads = ((budget as f64 * share) as usize).max(1);
        caps.max_connections = (budget - caps.max_uploads).max(1);
        tracing::warn!(
            fd_limit,
            budget,
            max_connections = caps.max_connections,
            max_uploads = caps.max_uploads,
            "connections and uploads lowered to fit the open-file limit"
        );
    }
    caps
}

/// Request bodies in flight, against their cap.
#[derive(Debug)]
pub struct Uploads {
    in_flight: AtomicUsize,
    max: usize,
}

/// One admitted body; its place is given back when dropped.
pub struct Ticket(Arc<Uploads>);

impl Uploads {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            max,
        })
    }

    /// A place for one more body, or None when all are taken.
    pub fn admit(self: &Arc<Self>) -> Option<Ticket> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Ticket(Arc::clone(self)))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last body in flight has gone: give the memory its buffers held back to the
            // system, so a burst of slow uploads does not leave the process at its peak.
            trim_heap();
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim only releases free memory of the allocator's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_beyond_the_cap_are_refused_until_one_ends() {
        let uploads = Uploads::new(2);
        let a = uploads.admit().unwrap();
        let _b = uploads.admit().unwrap();
        assert!(uploads.admit().is_none());
        drop(a);
        let _c = uploads.admit().expect("a place is free again");
        assert!(uploads.admit().is_none());
    }

    #[test]
    fn caps_fit_the_descriptor_limit() {
        let cfg = ServerConfig::default();
        let roomy = fit(&cfg, 1 << 20);
        assert_eq!(roomy.max_connections, cfg.max_connections);
        assert_eq!(roomy.max_uploads, cfg.max_connections / 2);
        let tight = fit(&cfg, 2048);
        assert!(tight.max_connections + tight.max_uploads + (RESERVED_FDS as usize) <= 2048);
        assert!(tight.max_uploads >= 1 && tight.max_connections > tight.max_uploads);
    }
}
