//! The HTTP service, driven over loopback like the generation pipeline and reviewers drive it:
//! real server process, real models, clips made with ffmpeg at test time.

mod common;

use common::{start_server, still_clip, Api};
use serde_json::{json, Value};
use std::ffi::OsStr;
use std::path::Path;

/// Registers Eileen Collins (the astronaut photo) through the API.
fn enrol_collins(api: &Api) -> i64 {
    let r = api.post_json(
        "/v1/persons",
        &json!({"name": "Eileen Collins", "aliases": ["Eileen Marie Collins"]}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_i64().unwrap();
    let r = api.post_form(
        &format!("/v1/persons/{id}/faces"),
        &[("image", &common::testdata("astronaut.png"))],
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["faces"].as_array().unwrap().len(), 1);
    id
}

fn verify(api: &Api, attestation: &Value, sha: &str) -> Value {
    let r = api.post_json(
        "/v1/attestations/verify",
        &json!({"attestation": attestation, "clip_sha256": sha}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    r.json
}

#[test]
fn block_review_and_allow_over_http_with_evidence_and_attestations() {
    let (_server, port) = start_server(&[]);
    let api = Api::new(port);
    let collins = enrol_collins(&api);

    // Block: her face, for a user she has not allowed. Evidence names her, with time and box.
    let zoom = common::astronaut_zoom_clip();
    let r = api.check_clip(&zoom, Some(json!({"user": "bob", "clip_id": "gen-1"})));
    assert_eq!(r.status, 200, "{}", r.json);
    let blocked = r.json;
    assert_eq!(blocked["decision"]["action"], "block");
    assert_eq!(blocked["clip_id"], "gen-1");
    let rule = &blocked["decision"]["matched"][0];
    assert_eq!(rule["rule"], "likeness-public-figure");
    let evidence = &rule["evidence"][0];
    assert_eq!(evidence["person_id"], collins);
    assert!(evidence["distance"].as_f64().unwrap() < 0.5, "{evidence}");
    assert!(evidence["time_s"].as_f64().unwrap() <= 10.0);
    assert!(evidence["box"]["w"].as_f64().unwrap() > 40.0, "{evidence}");
    assert!(blocked.get("attestation").is_none());

    // Allow: a cat, with an attestation that verifies, and fails for other bytes.
    let cat = still_clip("chelsea.png", 3, 640, 360, "allow");
    let r = api.check_clip(
        &cat,
        Some(json!({"user": "bob", "prompt": "a cat on a sofa"})),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let allowed = r.json;
    assert_eq!(
        allowed["decision"]["action"], "allow",
        "{}",
        allowed["decision"]
    );
    let sha = allowed["clip_sha256"].as_str().unwrap();
    assert_eq!(sha, clipguard::digest::sha256_file(&cat).unwrap());
    let att = &allowed["attestation"];
    assert_eq!(verify(&api, att, sha)["valid"], true);
    let other = verify(&api, att, &"0".repeat(64));
    assert_eq!(
        (other["valid"].as_bool(), other["error"]["code"].as_str()),
        (Some(false), Some("clip_mismatch"))
    );
    let mut forged = att.clone();
    forged["statement"]["policy_version"] = json!("0");
    assert_eq!(verify(&api, &forged, sha)["error"]["code"], "bad_signature");
    // The multipart form hashes the clip itself; one changed byte breaks it.
    let changed = common::clips_dir().join("cat-changed.mp4");
    let mut bytes = std::fs::read(&cat).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&changed, bytes).unwrap();
    let att_text = att.to_string();
    for (clip, valid) in [(cat.as_path(), true), (changed.as_path(), false)] {
        let r = api.post_form(
            "/v1/attestations/verify",
            &[("file", clip)],
            &[("attestation", &att_text)],
        );
        assert_eq!(r.json["valid"], valid, "{}", r.json);
    }
    // And offline, with the key the service publishes.
    let key = api.get("/v1/attestations/key").json;
    let dir = common::clips_dir();
    let (key_file, att_file) = (dir.join("service.pub"), dir.join("cat.att.json"));
    std::fs::write(&key_file, key["public_key"].as_str().unwrap()).unwrap();
    std::fs::write(&att_file, att.to_string()).unwrap();
    let args = |clip: &Path| {
        vec![
            "verify".to_string(),
            "--attestation".into(),
            att_file.display().to_string(),
            "--key".into(),
            key_file.display().to_string(),
            clip.display().to_string(),
        ]
    };
    let run = |clip: &Path| {
        let a = args(clip);
        common::cli(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]).0
    };
    assert!(run(&cat));
    assert!(!run(&changed));

    // Review: the same cat, with a prompt naming her surname only.
    let r = api.check_clip(
        &cat,
        Some(json!({"user": "bob", "prompt": "a cat in the style of Collins"})),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.headers["x-clipguard-cache"], "hit", "screened once");
    let review = r.json;
    assert_eq!(review["decision"]["action"], "review");
    assert_eq!(review["decision"]["matched"][0]["rule"], "prompt-surname");
    assert!(review.get("attestation").is_none());
    let id = review["id"].as_str().unwrap();
    let queue = api.get("/v1/reviews").json;
    let queued: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(queued, vec![id]);
    // Only review decisions can be reviewed, and only once.
    let r = api.post_json(
        &format!("/v1/reviews/{}", allowed["id"].as_str().unwrap()),
        &json!({"outcome": "approve"}),
    );
    assert_eq!((r.status, r.code()), (409, "conflict"));
    let r = api.post_json(
        &format!("/v1/reviews/{id}"),
        &json!({"outcome": "approve", "note": "a cat, no likeness"}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["reviewer"], "local");
    assert_eq!(verify(&api, &r.json["attestation"], sha)["valid"], true);
    assert_eq!(
        r.json["attestation"]["statement"]["decision_id"].as_str(),
        Some(id)
    );
    let again = api.post_json(&format!("/v1/reviews/{id}"), &json!({"outcome": "reject"}));
    assert_eq!((again.status, again.code()), (409, "conflict"));
    assert!(api.get("/v1/reviews").json.as_array().unwrap().is_empty());
    let logged = api.get(&format!("/v1/decisions/{id}")).json;
    assert_eq!(logged["review"]["outcome"], "approve");
    assert_eq!(logged["review"]["note"], "a cat, no likeness");

    // The log is queryable by action, user and clip.
    let blocks = api.get("/v1/decisions?action=block&user=bob").json;
    assert_eq!(blocks.as_array().unwrap().len(), 1);
    assert_eq!(blocks[0]["id"], blocked["id"]);
    let by_clip = api.get(&format!("/v1/decisions?clip_sha256={sha}")).json;
    assert_eq!(by_clip.as_array().unwrap().len(), 2);
    let r = api.get("/v1/decisions?action=maybe");
    assert_eq!((r.status, r.code()), (400, "invalid_query"));
    let r = api.get("/v1/decisions/nope");
    assert_eq!((r.status, r.code()), (404, "not_found"));

    // A prompt check.
    let r = api.post_json(
        "/v1/prompts/check",
        &json!({"prompt": "Eileen Collins walking on the moon", "user": "bob"}),
    );
    assert_eq!(r.json["decision"]["action"], "block", "{}", r.json);
    assert_eq!(
        r.json["decision"]["matched"][0]["rule"],
        "prompt-names-person"
    );

    // Removing her takes effect for the next check: the cached screening no longer applies.
    assert_eq!(api.get(&format!("/v1/persons/{collins}")).status, 200);
    let r = api.delete(&format!("/v1/persons/{collins}"));
    assert_eq!(r.status, 204);
    let r = api.check_clip(&zoom, Some(json!({"user": "bob"})));
    assert_eq!(r.headers["x-clipguard-cache"], "miss");
    assert_eq!(
        r.json["decision"]["action"], "allow",
        "{}",
        r.json["decision"]
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_nothing_accepted_is_lost() {
    let roots = tempfile::tempdir().unwrap();
    let root = roots.path().join("clips");
    std::fs::create_dir(&root).unwrap();
    let cat = still_clip("chelsea.png", 2, 320, 240, "bad-input");
    std::fs::copy(&cat, root.join("cat.mp4")).unwrap();
    std::fs::write(roots.path().join("secret.mp4"), b"not for you").unwrap();
    std::os::unix::fs::symlink(roots.path().join("secret.mp4"), root.join("link.mp4")).unwrap();
    let (_server, port) = start_server(&[
        ("CLIPGUARD_MAX_FILE_BYTES", OsStr::new("400000")),
        ("CLIPGUARD_FILE_ROOTS", root.as_os_str()),
    ]);
    let api = Api::new(port);
    let dir = common::clips_dir();
    let accepted = api.check_clip(&cat, None);
    assert_eq!(accepted.status, 200, "{}", accepted.json);

    let text = dir.join("notes.mp4");
    std::fs::write(&text, "these are notes, not a video").unwrap();
    let png = common::testdata("camera.png");
    let big = common::astronaut_zoom_clip();
    assert!(std::fs::metadata(&big).unwrap().len() > 400_000);
    let corrupt = dir.join("corrupt.mp4");
    let mut bytes = std::fs::read(&cat).unwrap();
    bytes.truncate(64);
    bytes.extend(std::iter::repeat_n(0x5a_u8, 20_000));
    std::fs::write(&corrupt, bytes).unwrap();
    let empty = dir.join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();

    let cases: Vec<(&str, common::Reply, u16, &str)> = vec![
        ("text", api.check_clip(&text, None), 415, "not_video"),
        ("png", api.check_clip(&png, None), 415, "not_video"),
        (
            "over the limit",
            api.check_clip(&big, None),
            413,
            "too_large",
        ),
        ("corrupt", api.check_clip(&corrupt, None), 422, "corrupt"),
        ("empty", api.check_clip(&empty, None), 415, "not_video"),
        (
            "malformed metadata",
            api.post_form(
                "/v1/clips/check",
                &[("file", &cat)],
                &[("metadata", "{\"user\": ")],
            ),
            400,
            "malformed_json",
        ),
        (
            "unknown metadata field",
            api.check_clip(&cat, Some(json!({"usr": "bob"}))),
            400,
            "malformed_json",
        ),
        (
            "unknown part",
            api.post_form("/v1/clips/check", &[("clip", &cat)], &[]),
            400,
            "unknown_field",
        ),
        (
            "no file",
            api.post_form("/v1/clips/check", &[], &[("metadata", "{}")]),
            400,
            "missing_file",
        ),
        (
            "malformed prompt JSON",
            api.post_raw(
                "/v1/prompts/check",
                "application/json",
                b"{\"prompt\": ".to_vec(),
            ),
            400,
            "malformed_json",
        ),
        (
            "wrong content type",
            api.post_raw("/v1/clips/check", "video/mp4", std::fs::read(&cat).unwrap()),
            415,
            "unsupported_content_type",
        ),
        (
            "traversal",
            api.post_json(
                "/v1/clips/check",
                &json!({"uri": format!("file://{}/../secret.mp4", root.display())}),
            ),
            403,
            "forbidden_path",
        ),
        (
            "symlink out of the root",
            api.post_json(
                "/v1/clips/check",
                &json!({"uri": format!("file://{}/link.mp4", root.display())}),
            ),
            403,
            "forbidden_path",
        ),
        (
            "outside the root",
            api.post_json(
                "/v1/clips/check",
                &json!({"uri": format!("file://{}/secret.mp4", roots.path().display())}),
            ),
            403,
            "forbidden_path",
        ),
        (
            "missing file in the root",
            api.post_json(
                "/v1/clips/check",
                &json!({"uri": format!("file://{}/nope.mp4", root.display())}),
            ),
            404,
            "not_found",
        ),
        (
            "unsupported scheme",
            api.post_json(
                "/v1/clips/check",
                &json!({"uri": "http://example.com/a.mp4"}),
            ),
            400,
            "invalid_uri",
        ),
        ("no such route", api.get("/v1/nothing"), 404, "not_found"),
    ];
    for (what, reply, status, code) in &cases {
        assert_eq!(
            (reply.status, reply.code()),
            (*status, *code),
            "{what}: {}",
            reply.json
        );
        let message = reply.json["error"]["message"].as_str().unwrap();
        assert!(!message.is_empty(), "{what}: a message names the problem");
        assert!(
            !message.contains("/tmp/") || what.contains("root") || what.contains("traversal"),
            "{what}: the message should not leak temporary paths: {message}"
        );
    }

    // A file URI inside the root works, and is the same clip as the upload.
    let r = api.post_json(
        "/v1/clips/check",
        &json!({"uri": format!("file://{}/cat.mp4", root.display()), "user": "carol"}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["clip_sha256"], accepted.json["clip_sha256"]);
    assert_eq!(r.headers["x-clipguard-cache"], "hit");

    // Nothing accepted was lost, and every refusal left no decision behind.
    let log = api.get("/v1/decisions").json;
    let ids: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![
            r.json["id"].as_str().unwrap(),
            accepted.json["id"].as_str().unwrap()
        ]
    );
}

/// Makes a key with `clipguard keys new` and returns (key, config lines).
fn new_key(role: &str, name: &str) -> (String, String) {
    let (ok, out, err) = common::cli(&["keys", "new", "--role", role, "--name", name], &[]);
    assert!(ok, "{err}");
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("# cg_"))
        .map(|k| format!("cg_{k}"))
        .expect("the key is printed");
    let config: String = out
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!config.contains(&key), "the config holds only the hash");
    (key, config)
}

#[test]
fn api_keys_roles_and_policy_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (checker, c1) = new_key("checker", "pipeline");
    let (auditor, c2) = new_key("auditor", "trust-and-safety");
    let (admin, c3) = new_key("admin", "ops");
    let config = dir.path().join("clipguard.toml");
    std::fs::write(&config, format!("{c1}{c2}{c3}")).unwrap();
    // A policies folder of our own, to break.
    let policies = dir.path().join("policies");
    copy_dir(&common::repo().join("policies"), &policies);
    let (_server, port) = start_server(&[
        ("CLIPGUARD_CONFIG", config.as_os_str()),
        ("CLIPGUARD_POLICIES_DIR", policies.as_os_str()),
    ]);
    let prompt = json!({"prompt": "a lighthouse at dawn"});
    let anonymous = Api::new(port);
    let r = anonymous.post_json("/v1/prompts/check", &prompt);
    assert_eq!((r.status, r.code()), (401, "missing_api_key"));
    let r = Api::with_key(port, "cg_not-a-key").post_json("/v1/prompts/check", &prompt);
    assert_eq!((r.status, r.code()), (401, "invalid_api_key"));
    for open in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/attestations/key",
    ] {
        assert_eq!(anonymous.get(open).status, 200, "{open} is open");
    }

    let (checker, auditor, admin) = (
        Api::with_key(port, &checker),
        Api::with_key(port, &auditor),
        Api::with_key(port, &admin),
    );
    let r = checker.post_json("/v1/prompts/check", &prompt);
    assert_eq!(r.status, 200, "{}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(checker.get(&format!("/v1/decisions/{id}")).status, 200);
    for (path, who) in [("/v1/decisions", &checker), ("/v1/reviews", &checker)] {
        let r = who.get(path);
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{path}");
    }
    assert_eq!(auditor.get("/v1/decisions").status, 200);
    assert_eq!(auditor.get("/v1/reviews").status, 200);
    let r = auditor.post_json("/v1/persons", &json!({"name": "Someone"}));
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = auditor.post_json("/v1/policies/reload", &json!({}));
    assert_eq!((r.status, r.code()), (403, "forbidden"));

    // A broken policy is refused and the running one stays.
    let before = admin.get("/readyz").json["policy"]["version"].clone();
    let file = policies.join("default.yaml");
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        good.replace("signals.persons.exists(", "signals.persons.exits("),
    )
    .unwrap();
    let r = admin.post_json("/v1/policies/reload", &json!({}));
    assert_eq!((r.status, r.code()), (422, "invalid_policy"), "{}", r.json);
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("rule"));
    assert_eq!(admin.get("/readyz").json["policy"]["version"], before);
    assert_eq!(
        admin.metric("clipguard_policy_reloads_total", &[("result", "error")]),
        1.0
    );
    let r = checker.post_json("/v1/prompts/check", &prompt);
    assert_eq!(r.json["decision"]["policy"]["version"], before);

    // A fixed one is taken.
    std::fs::write(&file, good.replace("possible likeness", "likely likeness")).unwrap();
    let r = admin.post_json("/v1/policies/reload", &json!({}));
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["changed"], true);
    assert_ne!(admin.get("/readyz").json["policy"]["version"], before);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn an_open_service_refuses_a_public_address() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_clipguard"));
    let out = cmd
        .arg("serve")
        .current_dir(common::repo())
        .env_remove("CLIPGUARD_CONFIG")
        .env("CLIPGUARD_DATA_DIR", common::data_dir())
        .env("CLIPGUARD_BIND", "0.0.0.0:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without API keys") && err.contains("clipguard keys new"),
        "{err}"
    );
}
