//! The fuzzed entry points, shared by the fuzzer and by the test that replays every input that
//! ever failed (tests/fuzz_regressions.rs includes this file): the calls an uploaded clip and a
//! policy file go through in the service.

use clipguard::config::MediaConfig;
use clipguard::media;
use clipguard::policy::Policy;
use std::path::Path;

/// Probes and samples `bytes` written to a file in `dir`, converting every analysed frame to
/// RGB as the screener does. Returns the outcome in a few words: "ok complete", "ok
/// incomplete", or the error's code and message (with the temp path left out).
pub fn media(bytes: &[u8], dir: &Path) -> String {
    let path = dir.join("clip");
    std::fs::write(&path, bytes).expect("the fuzz folder is writable");
    let cfg = MediaConfig::default();
    let outcome = media::probe(&path, &cfg).and_then(|info| {
        media::sample(&path, &info, &cfg, |frame| {
            drop(frame);
            true
        })
    });
    match outcome {
        Ok(stats) if stats.coverage.complete => "ok complete".into(),
        Ok(stats) => format!("ok incomplete: {}", stats.coverage.problems.join("; ")),
        Err(e) => without(&e.to_string(), &path),
    }
}

/// Loads `bytes` as a policy file (with the shipped term lists) and says whether it loaded.
pub fn policy(bytes: &[u8], dir: &Path, lists: &Path) -> String {
    let path = dir.join("policy.yaml");
    std::fs::write(&path, bytes).expect("the fuzz folder is writable");
    match Policy::load(&path, lists, &clipguard::analysers::schema()) {
        Ok(p) => format!("ok {} rules", p.rules.len()),
        Err(e) => without(&e.to_string(), &path),
    }
}

fn without(message: &str, path: &Path) -> String {
    message.replace(&path.display().to_string(), "")
}
