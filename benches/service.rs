//! `cargo bench --bench service`: the load benchmark of the HTTP service. It starts
//! `clipguard serve` on loopback with the clip cache off, and uploads 10 s 1280x720 H.264 clips
//! (each request a clip with different bytes, so nothing is served from cache) from 1, 2, 4 and
//! 16 concurrent clients for a fixed time each. It reports throughput, p50/p95/p99 latency,
//! 503s (with Retry-After honoured, as a well-behaved pipeline would) and other failures, the
//! service's overhead over screening at one client, and the server's peak RSS.
//!
//! `CLIPGUARD_BENCH_SECONDS` sets the time per level (default 20).

#[path = "../tests/common/mod.rs"]
mod common;
mod load;
mod memory;

use common::{start_server, Api};
use load::{percentile, run_level};
use memory::status_mb;
use std::ffi::OsStr;
use std::sync::Arc;

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter this harness ignores.
    let seconds: f64 = std::env::var("CLIPGUARD_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20.0);
    let clips = Arc::new(common::remux_copies(
        &common::astronaut_zoom_clip(),
        &common::clips_dir().join("load"),
        64,
        "load",
    ));
    let (server, port) = start_server(&[("CLIPGUARD_SERVER__CACHE_CLIPS", OsStr::new("0"))]);
    let api = Api::new(port);
    let ready = api.get("/readyz").json;
    println!(
        "service load benchmark: 10 s 1280x720 H.264 clips, {} screening worker(s), queue {}, {seconds} s per level, {} cores",
        ready["workers"],
        ready["queue"],
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    // Warm up: the first check creates the sessions.
    assert_eq!(api.check_clip(&clips[0], None).status, 200);
    println!(
        "{:>7} {:>10} {:>8} {:>8} {:>8} {:>6} {:>7}",
        "clients", "clips/s", "p50 ms", "p95 ms", "p99 ms", "503s", "failed"
    );
    let mut overhead = None;
    for clients in [1, 2, 4, 16] {
        let l = run_level(&[port], &clips, clients, seconds);
        println!(
            "{:>7} {:>10.2} {:>8.0} {:>8.0} {:>8.0} {:>6} {:>7}",
            l.clients,
            l.ok.len() as f64 / l.seconds,
            percentile(&l.ok, 0.5),
            percentile(&l.ok, 0.95),
            percentile(&l.ok, 0.99),
            l.busy,
            l.failed
        );
        if clients == 1 {
            let (total, screening) = (percentile(&l.ok, 0.5), percentile(&l.screening, 0.5));
            overhead = Some((total, screening));
        }
    }
    if let Some((total, screening)) = overhead {
        println!(
            "one client: median request {total:.0} ms, median screening {screening:.0} ms: service overhead (HTTP, upload, hashing, policy, log) {:.0} ms = {:.1}% of screening",
            total - screening,
            (total - screening) / screening * 100.0
        );
    }
    println!(
        "server peak RSS: {:.0} MB",
        status_mb(server.0.id(), "VmHWM")
    );
}
