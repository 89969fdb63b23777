//! `cargo bench --bench c2pa`: Content Credentials per clip, on the 10 s 1280x720 H.264 clip of
//! the tests: signing (clipguard's manifest embedded, the clip written to a new file, as
//! `check --c2pa-out` and `POST /v1/decisions/{id}/credentialed` do) and reading it back with
//! full validation (as every screening does).

#[path = "../tests/common/mod.rs"]
mod common;

use clipguard::attest::c2pa::{CoverageSummary, Credential, Credentials, DecisionAssertion};
use clipguard::attest::{self, Signer};
use clipguard::vocab::ProvenanceState;
use criterion::{criterion_group, criterion_main, Criterion};

fn content_credentials(c: &mut Criterion) {
    let clip = common::astronaut_zoom_clip();
    let data = common::data_dir();
    let credentials = Credentials::load_or_create(&data, &Default::default()).unwrap();
    let signer = Signer::load_or_create(&data).unwrap();
    let sha = attest::sha256_file(&clip).unwrap();
    let credential = Credential {
        decision: DecisionAssertion {
            decision_id: "bench".into(),
            policy_name: "default".into(),
            policy_version: "0".repeat(64),
            action: "allow".into(),
            approved_by: None,
            coverage: CoverageSummary {
                complete: true,
                covered_share: 1.0,
                analysed_frames: 20,
                duration_s: 10.0,
            },
            attestation: signer.sign(attest::statement(sha, "bench".into(), "0".repeat(64))),
        },
        generator: Some("bench".into()),
        title: "astronaut_zoom.mp4".into(),
    };
    let out = data.join("credentialed.mp4");
    c.bench_function("c2pa_sign_10s_720p", |b| {
        b.iter(|| credentials.sign_clip(&clip, &out, &credential).unwrap())
    });
    c.bench_function("c2pa_read_10s_720p", |b| {
        b.iter(|| assert_eq!(credentials.read(&out).state, ProvenanceState::Trusted))
    });
}

criterion_group!(benches, content_credentials);
criterion_main!(benches);
