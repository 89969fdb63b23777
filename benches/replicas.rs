//! `cargo bench --bench replicas` (needs `CLIPGUARD_TEST_DATABASE_URL`, which `make bench`
//! sets): one replica on SQLite against two replicas on one PostgreSQL database, on this
//! machine, with the clip cache off: 10 s 1280x720 H.264 clips (a different file each request)
//! from the same number of concurrent clients, spread over the replicas in turn. Reports
//! throughput, p50/p95 latency, 503s and failures for each.
//!
//! `CLIPGUARD_BENCH_SECONDS` sets the time per run (default 30), `CLIPGUARD_BENCH_CLIENTS` the
//! clients (default 4). Both replicas share this machine's cores: the comparison shows what the
//! shared store costs, not what a second machine would add.

#[path = "../tests/common/mod.rs"]
mod common;
mod load;

use clipguard::store::scratch::ScratchDatabase;
use common::{start_server, Api, ServerGuard};
use load::{percentile, run_level, Level};
use std::ffi::OsStr;
use std::sync::Arc;

fn env_or<T: std::str::FromStr>(var: &str, default: T) -> T {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Starts one server per environment and warms each up (the first check creates sessions).
fn replicas(envs: &[Vec<(&str, &OsStr)>], clip: &std::path::Path) -> (Vec<ServerGuard>, Vec<u16>) {
    let (mut guards, mut ports) = (vec![], vec![]);
    for env in envs {
        let (guard, port) = start_server(env);
        assert_eq!(Api::new(port).check_clip(clip, None).status, 200);
        guards.push(guard);
        ports.push(port);
    }
    (guards, ports)
}

fn report(name: &str, l: &Level) {
    println!(
        "{name:<26} {:>7} {:>10.2} {:>8.0} {:>8.0} {:>6} {:>7}",
        l.clients,
        l.ok.len() as f64 / l.seconds,
        percentile(&l.ok, 0.5),
        percentile(&l.ok, 0.95),
        l.busy,
        l.failed
    );
}

fn main() {
    let seconds: f64 = env_or("CLIPGUARD_BENCH_SECONDS", 30.0);
    let clients: usize = env_or("CLIPGUARD_BENCH_CLIENTS", 4);
    let db = ScratchDatabase::create()
        .expect("set CLIPGUARD_TEST_DATABASE_URL (make bench starts a server)");
    let clips = Arc::new(common::remux_copies(
        &common::astronaut_zoom_clip(),
        &common::clips_dir().join("load"),
        64,
        "load",
    ));
    let key = common::clips_dir().join("attestation.key");
    std::fs::write(&key, "07".repeat(32)).unwrap();
    let no_cache = ("CLIPGUARD_SERVER__CACHE_CLIPS", OsStr::new("0"));
    println!(
        "replicas load benchmark: 10 s 1280x720 H.264 clips, {clients} clients, {seconds} s per run, {} cores",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    println!(
        "{:<26} {:>7} {:>10} {:>8} {:>8} {:>6} {:>7}",
        "store", "clients", "clips/s", "p50 ms", "p95 ms", "503s", "failed"
    );
    {
        let (_servers, ports) = replicas(&[vec![no_cache]], &clips[0]);
        report(
            "1 replica, SQLite",
            &run_level(&ports, &clips, clients, seconds),
        );
    }
    let shared = vec![
        no_cache,
        ("CLIPGUARD_DATABASE_URL", OsStr::new(&db.url)),
        ("CLIPGUARD_ATTESTATION__KEY_FILE", key.as_os_str()),
    ];
    let (_servers, ports) = replicas(&[shared.clone(), shared], &clips[0]);
    report(
        "2 replicas, PostgreSQL",
        &run_level(&ports, &clips, clients, seconds),
    );
}
