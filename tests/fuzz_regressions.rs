//! Replays every input the fuzzer ever found failing (fuzz/regressions), and the seeds, through
//! the same entry points it fuzzes: each must finish, within a bound, without a panic. An
//! error is a fine answer; a crash takes the test binary down with it.

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Far above the few hundred milliseconds the largest input here takes.
const BOUND: Duration = Duration::from_secs(60);

fn inputs(dirs: &[&str]) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for d in dirs {
        for e in std::fs::read_dir(root.join(d)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Runs `f` on a thread: its outcome, or a failure naming the input if it panics or hangs.
fn bounded(input: &Path, f: impl FnOnce() -> String + Send + 'static) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(BOUND) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => panic!("{}: panicked", input.display()),
        Err(_) => panic!("{}: no answer within {BOUND:?}", input.display()),
    }
}

#[test]
fn media_regressions_finish_without_panic() {
    let inputs = inputs(&["seeds/media", "regressions/media"]);
    assert!(inputs.len() >= 10, "the media seeds are missing");
    for input in inputs {
        let bytes = std::fs::read(&input).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let outcome = bounded(&input, move || targets::media(&bytes, &path));
        // The seeds are undamaged clips: they must decode completely.
        if input.parent().is_some_and(|p| p.ends_with("seeds/media")) {
            assert_eq!(outcome, "ok complete", "{}", input.display());
        }
    }
}

#[test]
fn policy_regressions_finish_without_panic() {
    let lists = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/lists");
    let inputs = inputs(&["seeds/policy", "regressions/policy"]);
    assert!(!inputs.is_empty(), "the policy seeds are missing");
    for input in inputs {
        let bytes = std::fs::read(&input).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (path, lists) = (dir.path().to_path_buf(), lists.clone());
        let outcome = bounded(&input, move || targets::policy(&bytes, &path, &lists));
        if input.parent().is_some_and(|p| p.ends_with("seeds/policy")) {
            assert!(outcome.starts_with("ok "), "{}: {outcome}", input.display());
        }
    }
}
