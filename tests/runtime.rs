//! The runtime around the models: CUDA configured on a machine without it falls back to CPU,
//! concurrent screenings share the session pools and agree with sequential ones, and the
//! server answers health and readiness on loopback.

mod common;

use clipguard::analysers::faces_in;

#[test]
fn cuda_falls_back_to_cpu_and_unknown_providers_are_refused() {
    let mut cfg = common::config();
    cfg.runtime.providers = vec!["cuda".into(), "cpu".into()];
    let service = clipguard::service::Context::open(cfg.clone())
        .and_then(|c| c.service(1, 1))
        .expect("falls back to CPU");
    let s = service
        .screener()
        .screen_clip(&common::astronaut_zoom_clip())
        .unwrap();
    assert!(s.frames.iter().all(|f| faces_in(f).len() == 1));

    cfg.runtime.providers = vec!["tpu".into()];
    let err = clipguard::service::Context::open(cfg)
        .and_then(|c| c.service(1, 1))
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
            assert_eq!(a.parts.value("nudity"), b.parts.value("nudity"));
            assert_eq!(faces_in(a).len(), faces_in(b).len());
        }
    }
}

#[test]
fn server_answers_health_and_readiness_on_loopback() {
    let (_server, port) = common::start_server(&[]);
    let (status, health) = common::http(port, "GET", "/healthz").unwrap();
    assert!(status == 200 && health.contains("\"ok\""), "{health}");
    let (status, ready) = common::http(port, "GET", "/readyz").unwrap();
    assert!(
        status == 200 && ready.contains("nudenet-320n") && ready.contains("\"default\""),
        "{ready}"
    );
}
