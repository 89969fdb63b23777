//! Several replicas on one PostgreSQL database, as a Deployment runs them: two real
//! `clipguard serve` processes share the decision log, the review queue, the registry and the
//! signing key. Needs the test server `make test` starts (`CLIPGUARD_TEST_DATABASE_URL`).

mod common;

use clipguard::store::scratch::ScratchDatabase;
use common::{start_server, Api};
use serde_json::json;
use std::ffi::OsStr;

/// A signing key file, as a Kubernetes Secret would mount it.
fn key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("attestation.key");
    std::fs::write(&path, hex::encode([7u8; 32])).unwrap();
    path
}

#[test]
fn replicas_share_decisions_reviews_consent_and_key() {
    let Some(db) = ScratchDatabase::create() else {
        return;
    };
    let key = key_file(common::clips_dir());
    let env = [
        ("CLIPGUARD_DATABASE_URL", OsStr::new(&db.url)),
        ("CLIPGUARD_ATTESTATION__KEY_FILE", key.as_os_str()),
    ];
    let (_a, port_a) = start_server(&env);
    let (_b, port_b) = start_server(&env);
    let (a, b) = (Api::new(port_a), Api::new(port_b));

    // One key: an attestation made by either verifies against the other's public key.
    assert_eq!(
        a.get("/v1/attestations/key").json["key_id"],
        b.get("/v1/attestations/key").json["key_id"]
    );

    // A person registered through A is known to B.
    let r = a.post_json("/v1/persons", &json!({"name": "Eileen Collins"}));
    assert_eq!(r.status, 201, "{}", r.json);
    let collins = r.json["id"].as_i64().unwrap();
    assert_eq!(b.get(&format!("/v1/persons/{collins}")).status, 200);

    // A decision made on A is readable on B.
    let prompt = json!({"prompt": "Eileen Collins walking on the moon", "user": "bob"});
    let r = a.post_json("/v1/prompts/check", &prompt);
    assert_eq!(r.json["action"], "block", "{}", r.json);
    let blocked = r.json["id"].as_str().unwrap().to_string();
    let r = b.get(&format!("/v1/decisions/{blocked}"));
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["action"], "block");

    // Consent granted through B applies to A's next check.
    let r = b.send_put(&format!("/v1/persons/{collins}/consents/bob"));
    assert_eq!(r.status, 200, "{}", r.json);
    let r = a.post_json("/v1/prompts/check", &prompt);
    assert_eq!(r.json["action"], "allow", "{}", r.json);

    // A clip checked on A (the store is read on the way, from async code) is logged for B.
    let cat = common::still_clip("chelsea.png", 2, 320, 240, "replicas");
    let r = a.check_clip(&cat, Some(json!({"user": "bob"})));
    assert_eq!(r.status, 200, "{}", r.json);
    let r = b.get(&format!("/v1/decisions/{}", r.json["id"].as_str().unwrap()));
    assert_eq!(r.status, 200, "{}", r.json);

    // A review decision made on A, approved on B: A sees the review and its queue is empty.
    let r = a.post_json(
        "/v1/prompts/check",
        &json!({"prompt": "a cat in the style of Collins", "user": "carol"}),
    );
    assert_eq!(r.json["action"], "review", "{}", r.json);
    let queued = r.json["id"].as_str().unwrap().to_string();
    let r = b.post_json(
        &format!("/v1/reviews/{queued}"),
        &json!({"outcome": "approve", "note": "a cat"}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let r = a.get(&format!("/v1/decisions/{queued}"));
    assert_eq!(r.json["review"]["outcome"], "approve", "{}", r.json);
    assert_eq!(a.get("/v1/reviews").json["decisions"], json!([]));
    // The same review sent to A as well is refused: one review per decision, whoever asks.
    let r = a.post_json(
        &format!("/v1/reviews/{queued}"),
        &json!({"outcome": "reject"}),
    );
    assert_eq!((r.status, r.code()), (409, "conflict"));
}

#[test]
fn a_shared_store_without_a_key_file_is_refused() {
    let Some(db) = ScratchDatabase::create() else {
        return;
    };
    let (status, _, err) = common::cli_status(
        &["check", "--prompt", "Eileen Collins"],
        &[("CLIPGUARD_DATABASE_URL", std::path::Path::new(&db.url))],
    );
    assert_ne!(status, 0);
    assert!(err.contains("CLIPGUARD_ATTESTATION__KEY_FILE"), "{err}");
}
