//! `cargo bench --bench soak` (or `make soak`): the memory soak of the HTTP service. It starts
//! `clipguard serve` on loopback with the clip cache off and uploads distinct clips (remuxed with
//! a different metadata tag each, so every upload has its own sha256 and is screened), from two
//! clients, and records the server's RSS after the warm-up, at the middle and at the end. The
//! service must not grow by 5% or more over the second half: memory has to plateau, not creep.
//!
//! - `CLIPGUARD_SOAK_CLIPS`: clips to screen (default 1000).
//! - `CLIPGUARD_SOAK_KIND`: `mixed` (default: 2 s clips at 320x240, 640x360, 360x640 and
//!   1280x720 in turn, so the models see varying input shapes) or `720p` (the 10 s 1280x720
//!   H.264 zoom on the astronaut's face).
//! - `CLIPGUARD_SOAK_CLIENTS`: concurrent clients (default 2).

#[path = "../tests/common/mod.rs"]
mod common;
mod memory;

use common::{start_server, Api};
use memory::status_mb;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// The clips to cycle through, by kind.
fn bases(kind: &str) -> Vec<PathBuf> {
    match kind {
        "mixed" => [
            ("astronaut.png", 320, 240),
            ("grace_hopper.jpg", 640, 360),
            ("astronaut.png", 360, 640),
            ("camera.png", 1280, 720),
        ]
        .iter()
        .map(|(img, w, h)| common::still_clip(img, 2, *w, *h, "soak"))
        .collect(),
        "720p" => vec![common::astronaut_zoom_clip()],
        other => panic!("CLIPGUARD_SOAK_KIND={other:?}: expected mixed or 720p"),
    }
}

/// A copy of `base` whose bytes differ by a metadata tag: a distinct sha256, the same pictures.
fn distinct(base: &Path, dir: &Path, i: usize) -> PathBuf {
    let out = dir.join(format!("soak-{i}.mp4"));
    common::ffmpeg(&[
        "-i",
        base.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata",
        &format!("comment=soak-{i}"),
        out.to_str().unwrap(),
    ]);
    out
}

fn main() {
    let total: usize = env_or("CLIPGUARD_SOAK_CLIPS", 1000);
    let kind: String = env_or("CLIPGUARD_SOAK_KIND", "mixed".to_string());
    let clients: usize = env_or("CLIPGUARD_SOAK_CLIENTS", 2);
    assert!(total >= 4, "CLIPGUARD_SOAK_CLIPS must be at least 4");
    let bases = Arc::new(bases(&kind));
    let dir = Arc::new(common::clips_dir().join("soak"));
    std::fs::create_dir_all(dir.as_ref()).unwrap();
    let (server, port) = start_server(&[("CLIPGUARD_SERVER__CACHE_CLIPS", OsStr::new("0"))]);
    let pid = server.0.id();
    let api = Api::new(port);
    // Warm-up: one clip of each base creates the sessions and sees each input shape once.
    for (i, b) in bases.iter().enumerate() {
        let clip = distinct(b, &dir, total + i);
        let r = api.check_clip(&clip, None);
        assert_eq!(r.status, 200, "{}", r.json);
        std::fs::remove_file(clip).unwrap();
    }
    let start_rss = status_mb(pid, "VmRSS");
    let started = Instant::now();
    println!(
        "memory soak: {total} distinct {kind} clips, cache off, {clients} client(s); RSS after warm-up {start_rss:.0} MB"
    );
    let next = Arc::new(AtomicUsize::new(0));
    let samples = Arc::new(Mutex::new(Vec::<(usize, f64)>::new()));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (bases, dir, next, samples) =
                (bases.clone(), dir.clone(), next.clone(), samples.clone());
            std::thread::spawn(move || {
                let api = Api::new(port);
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        break;
                    }
                    let clip = distinct(&bases[i % bases.len()], &dir, i);
                    let r = api.check_clip(&clip, None);
                    assert_eq!(r.status, 200, "clip {i}: {}", r.json);
                    assert_eq!(
                        r.headers.get("x-clipguard-cache").unwrap(),
                        "miss",
                        "clip {i} was not screened"
                    );
                    std::fs::remove_file(clip).unwrap();
                    let done = i + 1;
                    if done % (total / 10).max(1) == 0 || done == total / 2 {
                        let rss = status_mb(pid, "VmRSS");
                        samples.lock().unwrap().push((done, rss));
                        eprintln!("  {done:>5} clips  RSS {rss:>6.0} MB");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let end_rss = status_mb(pid, "VmRSS");
    let samples = samples.lock().unwrap();
    let mid_rss = samples
        .iter()
        .find(|(n, _)| *n == total / 2)
        .map(|(_, r)| *r)
        .expect("a sample at the middle");
    let growth = (end_rss - mid_rss) / mid_rss * 100.0;
    println!(
        "RSS start {start_rss:.0} MB, middle ({} clips) {mid_rss:.0} MB, end ({total} clips) {end_rss:.0} MB; second half {growth:+.1}%; {:.0} s, {:.1} clips/s",
        total / 2,
        started.elapsed().as_secs_f64(),
        total as f64 / started.elapsed().as_secs_f64()
    );
    assert!(
        growth < 5.0,
        "RSS grew {growth:.1}% over the second half of the soak (limit 5%)"
    );
}
