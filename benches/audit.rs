//! `cargo bench --bench audit`: an audit of 100 distinct 10 s 1280x720 H.264 clips, in clips
//! per minute, against screening the same clips one by one with `clipguard check` (a process
//! per clip, as a shell loop would), measured in one run. `CLIPGUARD_BENCH_CLIPS` sets the
//! number of clips.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

fn clipguard(args: &[&str], data: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_clipguard"))
        .args(args)
        .current_dir(common::repo())
        .env_remove("CLIPGUARD_CONFIG")
        .env("CLIPGUARD_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("clipguard runs");
    assert!(status.success(), "clipguard {args:?} failed");
}

fn main() {
    let n: usize = std::env::var("CLIPGUARD_BENCH_CLIPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let dir = common::clips_dir().join("audit-bench");
    let clips = common::remux_copies(&common::astronaut_zoom_clip(), &dir, n, "stored");
    println!(
        "audit benchmark: {n} distinct 10 s 1280x720 H.264 clips, {} cores",
        std::thread::available_parallelism()
            .map(|c| c.get())
            .unwrap_or(1)
    );
    let data = common::data_dir();
    let t = Instant::now();
    for c in &clips {
        clipguard(&["check", c.to_str().unwrap()], &data);
    }
    let one_by_one = t.elapsed().as_secs_f64();
    println!(
        "`clipguard check` one by one: {one_by_one:.1} s, {:.1} clips/min",
        n as f64 * 60.0 / one_by_one
    );
    for concurrency in ["1", "2"] {
        let data = common::data_dir();
        let out = data.join("report.jsonl");
        let t = Instant::now();
        clipguard(
            &[
                "audit",
                dir.to_str().unwrap(),
                "--concurrency",
                concurrency,
                "--out",
                out.to_str().unwrap(),
            ],
            &data,
        );
        let s = t.elapsed().as_secs_f64();
        println!(
            "`clipguard audit --concurrency {concurrency}`: {s:.1} s, {:.1} clips/min, {:.2}x one by one",
            n as f64 * 60.0 / s,
            one_by_one / s
        );
    }
}
