//! Load from concurrent clients on the HTTP service, shared by the load benchmarks
//! (`service`, `replicas`): each client uploads clips in turn (a different one each time)
//! and honours 503's Retry-After, as a well-behaved pipeline would.
#![allow(dead_code)] // each benchmark reads a different part of a level

use super::common::Api;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub struct Level {
    pub clients: usize,
    pub ok: Vec<f64>,
    /// Server-side screening time of each successful check.
    pub screening: Vec<f64>,
    pub busy: usize,
    pub failed: usize,
    pub seconds: f64,
}

pub fn run_level(ports: &[u16], clips: &Arc<Vec<PathBuf>>, clients: usize, seconds: f64) -> Level {
    let next = Arc::new(AtomicUsize::new(0));
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let (clips, next, port) = (clips.clone(), next.clone(), ports[i % ports.len()]);
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
