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

use common::{start_server, Api};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Level {
    clients: usize,
    ok: Vec<f64>,
    /// Server-side screening time of each successful check.
    screening: Vec<f64>,
    busy: usize,
    failed: usize,
    seconds: f64,
}

fn run_level(port: u16, clips: &Arc<Vec<PathBuf>>, clients: usize, seconds: f64) -> Level {
    let next = Arc::new(AtomicUsize::new(0));
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (clips, next) = (clips.clone(), next.clone());
            std::thread::spawn(move || {
                let api = Api::new(port);
                let (mut ok, mut screening, mut busy, mut failed) = (vec![], vec![], 0, 0);
                while Instant::now() < end {
                    let clip = &clips[next.fetch_add(1, Ordering::SeqCst) % clips.len()];
                    let t = Instant::now();
                    match api.try_check_clip(clip) {
                        Some(r) if r.status == 200 => {
                            ok.push(t.elapsed().as_secs_f64() * 1e3);
                            screening.push(r.json["clip"]["timings"]["total_ms"].as_f64().unwrap());
                        }
                        Some(r) if r.status == 503 => {
                            busy += 1;
                            let wait: u64 = r
                                .headers
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok()?.parse().ok())
                                .unwrap_or(1);
                            std::thread::sleep(Duration::from_secs(wait));
                        }
                        _ => failed += 1,
                    }
                }
                (ok, screening, busy, failed)
            })
        })
        .collect();
    let mut level = Level {
        clients,
        ok: vec![],
        screening: vec![],
        busy: 0,
        failed: 0,
        seconds: 0.0,
    };
    for t in threads {
        let (ok, screening, busy, failed) = t.join().unwrap();
        level.ok.extend(ok);
        level.screening.extend(screening);
        level.busy += busy;
        level.failed += failed;
    }
    level.seconds = started.elapsed().as_secs_f64();
    level.ok.sort_by(f64::total_cmp);
    level.screening.sort_by(f64::total_cmp);
    level
}

fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

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
        let l = run_level(port, &clips, clients, seconds);
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
    println!("server peak RSS: {:.0} MB", peak_rss_mb(server.0.id()));
}
