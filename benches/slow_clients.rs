//! `cargo bench --bench slow_clients`: slow clients against the real server, on loopback only.
//! It starts `clipguard serve` on 127.0.0.1, takes the server's RSS after two warm-up checks
//! and three timed idle ones (the baseline), opens `CLIPGUARD_BENCH_SLOW` uploads (default
//! 5,000) that each send their headers, the start of a declared 100 MB clip and then one byte
//! a second, and while they are all open sends a real clip check every 2 s, which must be
//! answered 200, or 503 with Retry-After, never anything else. Then it closes the slow
//! connections and takes the RSS again once the server has let go of them: it must be within
//! 10% of the baseline. It stops by itself (about a minute) and prints its figures: check
//! latencies idle and under the load, RSS and descriptors.
//!
//! - `CLIPGUARD_BENCH_SLOW`: slow uploads (default 5000).
//! - `CLIPGUARD_BENCH_SLOW_HOLD_S`: seconds they are held open (default 20).
//! - `CLIPGUARD_BENCH_SLOW_MAX_UPLOADS`: the server's `max_uploads` (default 6000, so all of
//!   them are admitted; set it under the count to see the excess refused with 503).

#[path = "../tests/common/mod.rs"]
mod common;
mod memory;

use common::{start_server, Api};
use memory::status_mb;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const BOUNDARY: &str = "clipguard-bench-boundary";

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        Err(_) => default,
    }
}

/// This process needs a descriptor per slow client too.
fn raise_own_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

/// Opens a slow upload: headers, the multipart head and an MP4 signature, then nothing yet.
fn open_slow(port: u16) -> Option<TcpStream> {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let request = format!(
        "POST /v1/clips/check HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        100 << 20
    );
    s.write_all(request.as_bytes()).ok()?;
    s.write_all(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00")
        .ok()?;
    s.set_nonblocking(true).ok()?;
    Some(s)
}

/// Statuses of whatever the server has answered on `s` so far (0: nothing yet).
fn answered(s: &mut TcpStream) -> u16 {
    let mut buf = [0u8; 2048];
    match s.read(&mut buf) {
        Ok(n) if n >= 12 => String::from_utf8_lossy(&buf[9..12]).parse().unwrap_or(0),
        _ => 0,
    }
}

fn main() {
    raise_own_fd_limit();
    let slow_n: usize = env_or("CLIPGUARD_BENCH_SLOW", 5000);
    let hold = Duration::from_secs(env_or("CLIPGUARD_BENCH_SLOW_HOLD_S", 20));
    let max_uploads: usize = env_or("CLIPGUARD_BENCH_SLOW_MAX_UPLOADS", 6000);
    let clip = common::still_clip("chelsea.png", 2, 320, 240, "slow");
    let (server, port) = start_server(&[
        (
            "CLIPGUARD_SERVER__MAX_UPLOADS",
            OsStr::new(&max_uploads.to_string()),
        ),
        // Held for the whole measurement: the minimum rate would otherwise cut them off.
        (
            "CLIPGUARD_SERVER__BODY_GRACE_S",
            OsStr::new(&(hold.as_secs() + 60).to_string()),
        ),
        ("CLIPGUARD_SERVER__UPLOAD_TIMEOUT_S", OsStr::new("60")),
        // Every check is screened, not answered from the cache.
        ("CLIPGUARD_SERVER__CACHE_CLIPS", OsStr::new("0")),
    ]);
    let pid = server.0.id();
    let api = Api::new(port);
    for _ in 0..2 {
        let r = api.check_clip(&clip, None);
        assert_eq!(r.status, 200, "warm-up: {}", r.json);
    }
    // The latency of a check on the idle server, to compare with the checks under load.
    let idle: Vec<f64> = (0..3)
        .map(|_| {
            let t = Instant::now();
            let r = api.check_clip(&clip, None);
            assert_eq!(r.status, 200, "idle: {}", r.json);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let baseline = status_mb(pid, "VmRSS");
    let fds_before = fds(pid);

    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..slow_n).filter_map(|_| open_slow(port)).collect();
    let opened = slow.len();
    let opening_s = started.elapsed().as_secs_f64();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    // (status, ms, slow uploads open at the time) of each real check during the load.
    let mut checks: Vec<(u16, f64, usize)> = Vec::new();
    let mut peak = baseline;
    let mut peak_fds = 0;
    let hold_start = Instant::now();
    let mut last_check = Instant::now() - Duration::from_secs(10);
    while hold_start.elapsed() < hold {
        // A byte a second from each; whatever they were answered is counted once.
        slow.retain_mut(|s| {
            let _ = s.write(b"x");
            match answered(s) {
                0 => true,
                status => {
                    *statuses.entry(status).or_default() += 1;
                    false
                }
            }
        });
        if last_check.elapsed() >= Duration::from_secs(2) {
            last_check = Instant::now();
            let r = api.check_clip(&clip, None);
            let retry = r.status == 503 && r.code() == "busy";
            assert!(
                r.status == 200 || retry,
                "a real check during the load: {} {}",
                r.status,
                r.json
            );
            checks.push((
                r.status,
                last_check.elapsed().as_secs_f64() * 1000.0,
                slow.len(),
            ));
        }
        peak = peak.max(status_mb(pid, "VmRSS"));
        peak_fds = peak_fds.max(fds(pid));
        std::thread::sleep(Duration::from_secs(1));
    }
    let still_open = slow.len();
    let fewest_open = checks.iter().map(|c| c.2).min().unwrap_or(0);
    drop(slow);
    // The server notices the closed connections and drops their bodies and temporary files;
    // the RSS is taken once it has let go of every descriptor, and a moment more.
    let closed = Instant::now();
    while fds(pid) > fds_before + 8 && closed.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let released_s = closed.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(2));
    let after = status_mb(pid, "VmRSS");
    let r = api.check_clip(&clip, None);
    assert_eq!(r.status, 200, "a check after the load: {}", r.json);
    let growth = (after - baseline) / baseline * 100.0;
    let loaded: Vec<f64> = checks.iter().map(|c| c.1).collect();
    let slowest = loaded.iter().copied().fold(0.0, f64::max);
    let busy = checks.iter().filter(|c| c.0 == 503).count();
    println!(
        "slow_clients: {opened} slow uploads opened in {opening_s:.1} s (max_uploads {max_uploads}), \
         {still_open} still open after {} s, answered before the end: {statuses:?}\n  \
         real checks: idle median {:.0} ms; with {fewest_open} or more slow uploads open, {} checks \
         ({busy} answered 503), median {:.0} ms, slowest {:.0} ms\n  \
         server RSS: {baseline:.0} MB baseline, {peak:.0} MB peak, {after:.0} MB after ({growth:+.1}%)\n  \
         server fds: {fds_before} before, {peak_fds} peak, {} after (let go {released_s:.1} s after the close)",
        hold.as_secs(),
        median(idle),
        checks.len(),
        median(loaded),
        slowest,
        fds(pid)
    );
    assert!(
        still_open >= slow_n.min(max_uploads),
        "slow uploads were cut off before the end of the hold"
    );
    assert!(
        growth < 10.0,
        "RSS {after:.0} MB after the slow clients closed, {growth:+.1}% over the {baseline:.0} MB baseline"
    );
}
