//! The runtime around the models: CUDA configured on a machine without it falls back to CPU,
//! concurrent screenings share the session pools and agree with sequential ones, and the
//! server answers health and readiness on loopback.

mod common;

use clipguard::Screener;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn cuda_falls_back_to_cpu_and_unknown_providers_are_refused() {
    let mut cfg = common::config();
    cfg.runtime.providers = vec!["cuda".into(), "cpu".into()];
    let screener = Screener::load(&cfg).expect("falls back to CPU");
    let s = screener
        .screen_clip(&common::astronaut_zoom_clip())
        .unwrap();
    assert!(s.frames.iter().all(|f| f.faces.len() == 1));

    cfg.runtime.providers = vec!["tpu".into()];
    let err = Screener::load(&cfg)
        .err()
        .expect("unknown provider refused")
        .to_string();
    assert!(err.contains("tpu"), "{err}");
}

#[test]
fn concurrent_screenings_agree_with_sequential_ones() {
    let screener = common::screener();
    let clip = common::astronaut_zoom_clip();
    let alone = screener.screen_clip(&clip).unwrap();
    let together: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| s.spawn(|| screener.screen_clip(&clip).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for s in together {
        assert_eq!(s.frames.len(), alone.frames.len());
        for (a, b) in s.frames.iter().zip(&alone.frames) {
            assert_eq!(a.nudity, b.nudity);
            assert_eq!(a.faces.len(), b.faces.len());
        }
    }
}

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn server_answers_health_and_readiness_on_loopback() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_clipguard"))
        .arg("serve")
        .current_dir(common::repo())
        .env("CLIPGUARD_BIND", format!("127.0.0.1:{port}"))
        .env("CLIPGUARD_DATA_DIR", common::data_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        if let Some(r) = get(port, "/healthz") {
            break r;
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(100));
    };
    let ready = get(port, "/readyz").unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        health.starts_with("HTTP/1.1 200") && health.contains("\"ok\""),
        "{health}"
    );
    assert!(
        ready.starts_with("HTTP/1.1 200") && ready.contains("nudenet-320n"),
        "{ready}"
    );
}
