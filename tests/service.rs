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
    // An image without a face is refused, named as it was sent.
    let r = api.post_form(
        &format!("/v1/persons/{id}/faces"),
        &[("image", &common::testdata("coffee.png"))],
        &[],
    );
    assert_eq!((r.status, r.code()), (422, "enrolment"), "{}", r.json);
    let message = r.json["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("upload \"coffee.png\": found 0 faces"),
        "{message}"
    );
    let r = api.post_form(
        &format!("/v1/persons/{id}/faces"),
        &[("image", &common::astronaut_zoom_clip())],
        &[],
    );
    assert_eq!((r.status, r.code()), (415, "not_image"), "{}", r.json);
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
    assert_eq!(blocked["action"], "block");
    assert_eq!(blocked["clip_id"], "gen-1");
    // The compact decision of a 10 s clip: the action at the top, under 2 KB; the per-frame
    // view only on request.
    let compact = blocked.to_string().len();
    assert!(compact < 2048, "{compact} bytes: {blocked}");
    let id = blocked["id"].as_str().unwrap();
    let full = api.get(&format!("/v1/decisions/{id}?view=full")).json;
    assert_eq!(full["decision"]["action"], "block");
    assert!(full["clip"]["frames"].as_array().unwrap().len() >= 10);
    assert!(full.to_string().len() > 4 * compact, "{full}");
    assert_eq!(api.get(&format!("/v1/decisions/{id}")).json, blocked);
    let rule = &blocked["rules"][0];
    assert_eq!(rule["rule"], "likeness-public-figure");
    let evidence = &rule["evidence"][0];
    assert_eq!(evidence["person_id"], collins);
    assert!(evidence["distance"].as_f64().unwrap() < 0.5, "{evidence}");
    assert!(evidence["time_s"].as_f64().unwrap() <= 10.0);
    assert!(evidence["box"]["w"].as_f64().unwrap() > 40.0, "{evidence}");
    assert!(blocked["attestation"].is_null());
    // Evidence thumbnails follow the answer: a small JPEG crop around her face.
    let thumb = format!(
        "{}/v1/decisions/{}/evidence/0",
        api.base,
        blocked["id"].as_str().unwrap()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let jpeg = loop {
        let r = reqwest::blocking::get(&thumb).unwrap();
        if r.status() == 200 {
            assert_eq!(r.headers()["content-type"], "image/jpeg");
            break r.bytes().unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "no thumbnail");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
    assert!(
        img.width() <= 192 && img.height() <= 192 && img.width() >= 64,
        "{img:?}"
    );
    let r = reqwest::blocking::get(thumb.replace("/evidence/0", "/evidence/9")).unwrap();
    assert_eq!(r.status(), 404);

    // Allow: a cat, with an attestation that verifies, and fails for other bytes.
    let cat = still_clip("chelsea.png", 3, 640, 360, "allow");
    let r = api.check_clip(
        &cat,
        Some(json!({"user": "bob", "prompt": "a cat on a sofa"})),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let allowed = r.json;
    assert_eq!(allowed["action"], "allow", "{}", allowed);
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
    assert_eq!(review["action"], "review");
    assert_eq!(review["rules"][0]["rule"], "prompt-may-name-person");
    assert!(review["attestation"].is_null());
    let id = review["id"].as_str().unwrap();
    let queue = api.get("/v1/reviews").json;
    let queued: Vec<&str> = queue["decisions"]
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
    assert!(api.get("/v1/reviews").json["decisions"]
        .as_array()
        .unwrap()
        .is_empty());
    let logged = api.get(&format!("/v1/decisions/{id}")).json;
    assert_eq!(logged["review"]["outcome"], "approve");
    assert_eq!(logged["review"]["note"], "a cat, no likeness");

    // The log is queryable by action, user and clip.
    let blocks = api.get("/v1/decisions?action=block&user=bob").json;
    assert_eq!(blocks["decisions"].as_array().unwrap().len(), 1);
    assert_eq!(blocks["decisions"][0]["id"], blocked["id"]);
    let by_clip = api.get(&format!("/v1/decisions?clip_sha256={sha}")).json;
    assert_eq!(by_clip["decisions"].as_array().unwrap().len(), 2);
    let by_clip_id = api.get("/v1/decisions?clip_id=gen-1").json;
    assert_eq!(by_clip_id["decisions"][0]["id"], blocked["id"]);
    // Times are compared as times: the whole second the block was logged in holds it, and a
    // bound a fraction of a millisecond later does not.
    let block_id = blocked["id"].as_str().unwrap().to_string();
    let at = blocked["created_at"].as_str().unwrap();
    let second = format!("{}Z", &at[..19]);
    let found = |q: &str| -> Vec<String> {
        let r = api.get(&format!("/v1/decisions?clip_id=gen-1&{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.json);
        r.json["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(found(&format!("since={second}")), vec![block_id.clone()]);
    let ms: u32 = at[20..23].parse().unwrap();
    let later = format!("{}.{:03}1Z", &at[..19], ms);
    assert!(found(&format!("since={later}")).is_empty());
    assert_eq!(found(&format!("until={later}")), vec![block_id]);
    let r = api.get("/v1/decisions?since=yesterday");
    assert_eq!((r.status, r.code()), (400, "invalid_query"));
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("since: \"yesterday\""));
    let r = api.get("/v1/decisions?action=maybe");
    assert_eq!((r.status, r.code()), (400, "invalid_query"));
    let r = api.get("/v1/decisions/nope");
    assert_eq!((r.status, r.code()), (404, "not_found"));

    // A prompt check.
    let r = api.post_json(
        "/v1/prompts/check",
        &json!({"prompt": "Eileen Collins walking on the moon", "user": "bob"}),
    );
    assert_eq!(r.json["action"], "block", "{}", r.json);
    assert_eq!(r.json["rules"][0]["rule"], "prompt-names-person");

    // Consent granted to bob allows his clip of her; revoked, it is blocked again. Each change
    // applies to the next check, cached screening or not.
    let r = api.send_put(&format!("/v1/persons/{collins}/consents/bob"));
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["allowed_users"], json!(["bob"]));
    let r = api.check_clip(&zoom, Some(json!({"user": "bob"})));
    assert_eq!(r.json["action"], "allow", "{}", r.json);
    let r = api.delete(&format!("/v1/persons/{collins}/consents/bob"));
    assert_eq!(r.json["allowed_users"], json!([]));
    let r = api.check_clip(&zoom, Some(json!({"user": "bob"})));
    assert_eq!(r.json["action"], "block", "{}", r.json);
    assert_eq!(api.send_put("/v1/persons/999/consents/bob").status, 404);

    // Removing her takes effect for the next check: the cached screening no longer applies.
    assert_eq!(api.get(&format!("/v1/persons/{collins}")).status, 200);
    let r = api.delete(&format!("/v1/persons/{collins}"));
    assert_eq!(r.status, 204);
    let r = api.check_clip(&zoom, Some(json!({"user": "bob"})));
    assert_eq!(r.headers["x-clipguard-cache"], "miss");
    assert_eq!(r.json["action"], "allow", "{}", r.json);
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
        ("CLIPGUARD_MEDIA__MAX_FILE_BYTES", OsStr::new("400000")),
        ("CLIPGUARD_SERVER__FILE_ROOTS", root.as_os_str()),
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
        ("empty", api.check_clip(&empty, None), 422, "empty"),
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
            "unknown_field",
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
        (
            "wrong method",
            api.delete("/v1/prompts/check"),
            405,
            "method_not_allowed",
        ),
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
    let ids: Vec<&str> = log["decisions"]
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

#[test]
fn api_keys_roles_and_policy_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (checker, c1) = common::new_key("checker", "pipeline");
    let (auditor, c2) = common::new_key("auditor", "trust-and-safety");
    let (admin, c3) = common::new_key("admin", "ops");
    let config = dir.path().join("clipguard.toml");
    std::fs::write(&config, format!("{c1}{c2}{c3}")).unwrap();
    // A policies folder of our own, to break.
    let policies = dir.path().join("policies");
    common::copy_dir(&common::repo().join("policies"), &policies);
    let (_server, port) = start_server(&[
        ("CLIPGUARD_CONFIG", config.as_os_str()),
        ("CLIPGUARD_POLICIES__DIR", policies.as_os_str()),
    ]);
    let prompt = json!({"prompt": "a lighthouse at dawn"});
    let anonymous = Api::new(port);
    let r = anonymous.post_json("/v1/prompts/check", &prompt);
    assert_eq!((r.status, r.code()), (401, "missing_api_key"));
    assert_eq!(r.headers["www-authenticate"], "Bearer realm=\"clipguard\"");
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
        assert_eq!(
            r.json["error"]["message"],
            "key \"pipeline\" has role checker; this needs auditor or above"
        );
    }
    assert_eq!(auditor.get("/v1/decisions").status, 200);
    assert_eq!(auditor.get("/v1/reviews").status, 200);
    let r = auditor.post_json("/v1/persons", &json!({"name": "Someone"}));
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = auditor.post_json("/v1/policies/reload", &json!({}));
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    // Banks of known content are the admin's.
    let bank = json!({"name": "b", "source": "tests", "action": "block"});
    for who in [&checker, &auditor] {
        let r = who.post_json("/v1/banks", &bank);
        assert_eq!((r.status, r.code()), (403, "forbidden"));
        assert_eq!(who.get("/v1/banks").status, 403);
    }
    assert_eq!(admin.post_json("/v1/banks", &bank).status, 201);
    assert_eq!(admin.get("/v1/banks").json[0]["name"], "b");

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
    assert_eq!(r.json["policy"]["version"], before);

    // A fixed one is taken.
    std::fs::write(&file, good.replace("possible likeness", "likely likeness")).unwrap();
    let r = admin.post_json("/v1/policies/reload", &json!({}));
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["changed"], true);
    assert_ne!(admin.get("/readyz").json["policy"]["version"], before);
}

#[test]
fn an_open_service_refuses_a_public_address() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_clipguard"));
    let out = cmd
        .arg("serve")
        .current_dir(common::repo())
        .env_remove("CLIPGUARD_CONFIG")
        .env("CLIPGUARD_DATA_DIR", common::data_dir())
        .env("CLIPGUARD_SERVER__BIND", "0.0.0.0:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without API keys") && err.contains("clipguard keys new"),
        "{err}"
    );
}

#[test]
fn kill_9_loses_no_decision_that_was_returned() {
    let data = common::data_dir();
    let (mut server, port) = start_server(&[("CLIPGUARD_DATA_DIR", data.as_os_str())]);
    let clips: Vec<_> = (0..3)
        .map(|i| still_clip("coffee.png", 2, 320, 240, &format!("kill-{i}")))
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..3 {
        let (stop, clips) = (stop.clone(), clips.clone());
        workers.push(std::thread::spawn(move || {
            let api = Api::new(port);
            let mut returned = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let reply = if w == 0 {
                    api.try_check_clip(&clips[n % clips.len()])
                } else {
                    api.try_post_json(
                        "/v1/prompts/check",
                        &json!({"prompt": format!("a lighthouse, take {w}-{n}")}),
                    )
                };
                match reply {
                    Some(r) if r.status == 200 => {
                        returned.push(r.json["id"].as_str().unwrap().to_string())
                    }
                    Some(r) => panic!("unexpected reply {}: {}", r.status, r.json),
                    None => break,
                }
            }
            returned
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let returned: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        returned.len() > 20,
        "only {} decisions returned",
        returned.len()
    );

    let (_server, port) = start_server(&[("CLIPGUARD_DATA_DIR", data.as_os_str())]);
    let api = Api::new(port);
    for id in &returned {
        let r = api.get(&format!("/v1/decisions/{id}"));
        assert_eq!(
            r.status, 200,
            "decision {id} was returned but is not in the log"
        );
    }
}

#[test]
fn sigterm_finishes_the_checks_in_flight() {
    let data = common::data_dir();
    let (server, port) = start_server(&[("CLIPGUARD_DATA_DIR", data.as_os_str())]);
    let clip = common::astronaut_zoom_clip();
    let in_flight = std::thread::spawn(move || Api::new(port).check_clip(&clip, None));
    let api = Api::new(port);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while api.get("/readyz").json["screening"] != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the check never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let pid = server.0.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let reply = in_flight.join().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.json);
    let mut server = server;
    let status = server.0.wait().unwrap();
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    assert!(api
        .try_post_json("/v1/prompts/check", &json!({"prompt": "x"}))
        .is_none());

    let (_server, port) = start_server(&[("CLIPGUARD_DATA_DIR", data.as_os_str())]);
    let id = reply.json["id"].as_str().unwrap();
    assert_eq!(
        Api::new(port).get(&format!("/v1/decisions/{id}")).status,
        200
    );
}

#[test]
fn concurrent_checks_of_one_clip_screen_it_once() {
    let (_server, port) = start_server(&[]);
    let clip = still_clip("grace_hopper.jpg", 4, 640, 360, "single-flight");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let replies: Vec<_> = (0..4)
        .map(|_| {
            let (clip, barrier) = (clip.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                Api::new(port).check_clip(&clip, Some(json!({"user": "bob"})))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let api = Api::new(port);
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.json);
    }
    assert_eq!(
        api.metric("clipguard_screenings_total", &[("result", "ok")]),
        1.0
    );
    let outcome = |o| api.metric("clipguard_cache_lookups_total", &[("outcome", o)]);
    assert_eq!(outcome("miss"), 1.0);
    assert_eq!(outcome("joined") + outcome("hit"), 3.0);
    // A retry of the same request returns the decision already logged.
    let again = api.check_clip(&clip, Some(json!({"user": "bob"})));
    assert!(replies.iter().any(|r| r.json["id"] == again.json["id"]));
}

#[test]
fn overload_is_answered_503_with_retry_after() {
    let (_server, port) = start_server(&[
        ("CLIPGUARD_SERVER__WORKERS", OsStr::new("1")),
        ("CLIPGUARD_SERVER__QUEUE", OsStr::new("1")),
    ]);
    let clips: Vec<_> = (0..6)
        .map(|i| still_clip("camera.png", 6, 1280, 720, &format!("load-{i}")))
        .collect();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(clips.len()));
    let replies: Vec<_> = clips
        .into_iter()
        .map(|clip| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                Api::new(port).check_clip(&clip, None)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let busy: Vec<_> = replies.iter().filter(|r| r.status == 503).collect();
    assert_eq!(ok + busy.len(), replies.len(), "only 200 or 503");
    assert!(ok >= 2, "the worker and the queue slot are served");
    assert!(
        !busy.is_empty(),
        "six at once overflow one worker and one slot"
    );
    for r in &busy {
        assert_eq!(r.code(), "busy");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry >= 1);
    }
    let api = Api::new(port);
    assert_eq!(
        api.metric("clipguard_rejections_total", &[("reason", "busy")]),
        busy.len() as f64
    );
    for r in replies.iter().filter(|r| r.status == 200) {
        assert_ne!(r.json["action"], Value::Null);
    }
}

#[test]
fn the_dashboard_page_is_self_contained_and_its_data_needs_a_role() {
    let dir = tempfile::tempdir().unwrap();
    let (checker, c1) = common::new_key("checker", "pipeline");
    let (auditor, c2) = common::new_key("auditor", "ops");
    let config = dir.path().join("clipguard.toml");
    std::fs::write(&config, format!("{c1}{c2}")).unwrap();
    let (_server, port) = start_server(&[("CLIPGUARD_CONFIG", config.as_os_str())]);
    let page = reqwest::blocking::get(format!("http://127.0.0.1:{port}/dashboard")).unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().unwrap();
    assert!(html.contains("/v1/dashboard") && html.contains("Approve"));
    for external in ["src=\"http", "href=\"http", "@import", "url(http", "<link "] {
        assert!(!html.contains(external), "the page loads {external}");
    }
    let r = Api::with_key(port, &checker).get("/v1/dashboard");
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let d = Api::with_key(port, &auditor).get("/v1/dashboard").json;
    assert_eq!(d["per_minute"].as_array().unwrap().len(), 60);
    assert_eq!(d["policy"]["name"], "default");
    // NudeNet, CenterFace, the face embedder, the three OCR models, open_nsfw, the gore
    // classifier, CLIP's image tower, Silero VAD, the voice encoder, Whisper's encoder and
    // decoder and the multilingual text encoder: every verified model, enabled or not.
    assert_eq!(d["models"].as_array().unwrap().len(), 14);
    assert!(d["policy_rules"]
        .as_array()
        .unwrap()
        .contains(&json!("likeness-public-figure")));

    // The reviewer's search and detail: auditors only, exact filters, clear errors.
    let (pipeline, ops) = (Api::with_key(port, &checker), Api::with_key(port, &auditor));
    for path in ["/v1/dashboard/decisions", "/v1/dashboard/decisions/x"] {
        assert_eq!(pipeline.get(path).status, 403, "{path}");
    }
    let prompt = pipeline.post_json(
        "/v1/prompts/check",
        &json!({"prompt": "a red kite", "user": "ann"}),
    );
    assert_eq!(prompt.status, 200, "{}", prompt.json);
    let cat = still_clip("chelsea.png", 2, 320, 240, "dashboard");
    let clip = pipeline.check_clip(&cat, Some(json!({"user": "ann", "clip_id": "gen-B-cat"})));
    assert_eq!(clip.status, 200, "{}", clip.json);
    // Newest first: the clip, then the prompt.
    let ids = [&clip.json, &prompt.json].map(|d| d["id"].as_str().unwrap().to_string());
    let sha256 = clip.json["clip_sha256"].as_str().unwrap();
    let found = |query: &str| -> Vec<String> {
        let r = ops.get(&format!("/v1/dashboard/decisions?{query}"));
        assert_eq!(r.status, 200, "{query}: {}", r.json);
        (r.json.as_array().unwrap().iter())
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(found("action=allow&user=ann"), ids);
    assert_eq!(found("q=GEN-b"), [ids[0].as_str()]);
    assert_eq!(found(&format!("q={}", &sha256[..10])), [ids[0].as_str()]);
    assert_eq!(found(&format!("q={sha256}")), [ids[0].as_str()]);
    assert_eq!(found(&format!("q={}", ids[1])), [ids[1].as_str()]);
    assert!(found("action=block").is_empty());
    assert!(found("origin=audit").is_empty());
    assert!(found("rule=likeness-public-figure").is_empty());
    assert!(found("until=2000-01-01T00:00:00Z").is_empty());
    assert_eq!(
        found("since=2000-01-01T00:00:00Z&limit=1"),
        [ids[0].as_str()]
    );
    let r = ops.get("/v1/dashboard/decisions?since=yesterday");
    assert_eq!((r.status, r.code()), (400, "invalid_query"));
    let detail = ops.get(&format!("/v1/dashboard/decisions/{}", ids[1])).json;
    assert_eq!(detail["decision"]["prompt"]["text"], "a red kite");
    assert_eq!(detail["evidence_thumbnails"], json!([]));
    assert_eq!(detail["thumbnails"], 0);
    let r = ops.get("/v1/dashboard/decisions/nope");
    assert_eq!((r.status, r.code()), (404, "not_found"));
}

#[test]
fn openapi_document_describes_the_api() {
    let (_server, port) = start_server(&[]);
    let api = Api::new(port);
    let doc = api.get("/openapi.json").json;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let routes = [
        ("post", "/v1/prompts/check"),
        ("post", "/v1/clips/check"),
        ("get", "/v1/decisions"),
        ("get", "/v1/decisions/{id}"),
        ("get", "/v1/reviews"),
        ("post", "/v1/reviews/{decision_id}"),
        ("post", "/v1/persons"),
        ("get", "/v1/persons"),
        ("get", "/v1/persons/{id}"),
        ("delete", "/v1/persons/{id}"),
        ("post", "/v1/persons/{id}/faces"),
        ("post", "/v1/persons/{id}/voices"),
        ("put", "/v1/persons/{id}/consents/{user}"),
        ("delete", "/v1/persons/{id}/consents/{user}"),
        ("get", "/v1/attestations/key"),
        ("post", "/v1/attestations/verify"),
        ("post", "/v1/policies/reload"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("post", "/v1/audits"),
        ("get", "/v1/audits/{id}"),
        ("get", "/v1/audits/{id}/report"),
        ("get", "/v1/decisions/{id}/evidence/{n}"),
        ("get", "/v1/dashboard"),
        ("get", "/v1/dashboard/decisions"),
        ("get", "/v1/dashboard/decisions/{id}"),
        ("post", "/v1/decisions/{id}/credentialed"),
        ("post", "/v1/categories"),
        ("get", "/v1/categories"),
        ("get", "/v1/categories/{name}"),
        ("delete", "/v1/categories/{name}"),
        ("post", "/v1/banks"),
        ("get", "/v1/banks"),
        ("delete", "/v1/banks/{name}"),
        ("post", "/v1/banks/{name}/hashes"),
        ("post", "/v1/banks/{name}/decisions"),
        ("get", "/v1/checks/{id}"),
        ("post", "/v1/text-categories"),
        ("get", "/v1/text-categories"),
        ("get", "/v1/text-categories/{name}"),
        ("delete", "/v1/text-categories/{name}"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    for &(method, path) in &routes {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not in the document"
        );
        // Every documented route is served (a 404 would come back as not_found).
        let concrete = path
            .replace("{id}", "1")
            .replace("{decision_id}", "x")
            .replace("{name}", "x");
        let r = match method {
            "get" => api.get(&concrete),
            "delete" => api.delete(&concrete),
            "put" => api.send_put(&concrete),
            _ => api.post_raw(&concrete, "application/json", b"{}".to_vec()),
        };
        assert!(
            r.code() != "not_found" || concrete.contains("/1") || concrete.contains("/x"),
            "{method} {path}: {}",
            r.json
        );
    }
    let unique: std::collections::BTreeSet<&str> = routes.iter().map(|(_, p)| *p).collect();
    assert_eq!(
        paths.len(),
        unique.len(),
        "documented paths: {:?}",
        paths.keys()
    );
    // The decision schemas have exactly the fields real decisions have: the compact one
    // always all of them, the full one all but those absent when empty.
    let keys = |v: &Value| -> std::collections::BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    };
    let compact = api
        .post_json("/v1/prompts/check", &json!({"prompt": "a red kite"}))
        .json;
    let summary = &doc["components"]["schemas"]["DecisionSummary"]["properties"];
    assert_eq!(keys(&compact), keys(summary));
    let full = api
        .post_json(
            "/v1/prompts/check?view=full",
            &json!({"prompt": "a red kite"}),
        )
        .json;
    let documented = keys(&doc["components"]["schemas"]["Decision"]["properties"]);
    let real = keys(&full);
    assert!(
        real.is_subset(&documented),
        "undocumented: {:?}",
        real.difference(&documented)
    );
    for optional in documented.difference(&real) {
        assert!(
            ["attestation", "review", "clip_id", "consents"].contains(&optional.as_str()),
            "documented but never sent: {optional}"
        );
    }
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

#[test]
fn metrics_count_checks_rules_stages_and_rejections() {
    let (_server, port) = start_server(&[]);
    let api = Api::new(port);
    let cat = still_clip("chelsea.png", 2, 640, 360, "metrics");
    assert_eq!(api.check_clip(&cat, None).status, 200);
    for p in ["a child, nude", "a nude child", "a lighthouse"] {
        assert_eq!(
            api.post_json("/v1/prompts/check", &json!({"prompt": p}))
                .status,
            200
        );
    }
    let text = common::clips_dir().join("metrics.txt.mp4");
    std::fs::write(&text, "not a video").unwrap();
    assert_eq!(api.check_clip(&text, None).status, 415);

    let m = |name: &str, labels: &[(&str, &str)]| api.metric(name, labels);
    assert_eq!(
        m(
            "clipguard_checks_total",
            &[("kind", "clip"), ("action", "allow")]
        ),
        1.0
    );
    assert_eq!(
        m(
            "clipguard_checks_total",
            &[("kind", "prompt"), ("action", "block")]
        ),
        2.0
    );
    assert_eq!(
        m(
            "clipguard_checks_total",
            &[("kind", "prompt"), ("action", "allow")]
        ),
        1.0
    );
    assert_eq!(
        m(
            "clipguard_rule_matches_total",
            &[("rule", "prompt-sexualised-minors"), ("mode", "enforce")]
        ),
        2.0
    );
    assert_eq!(
        m(
            "clipguard_rule_matches_total",
            &[("rule", "trial-sexual-prompt"), ("mode", "shadow")]
        ),
        2.0
    );
    for stage in ["decode", "nudity", "faces", "policy"] {
        assert!(
            m(
                "clipguard_stage_duration_seconds_count",
                &[("stage", stage)]
            ) >= 1.0,
            "{stage}"
        );
    }
    // 50 frames, about half of them reference frames that get decoded; a still clip's samples
    // are near-duplicates of its first frame.
    assert!(m("clipguard_frames_total", &[("fate", "decoded")]) >= 20.0);
    assert_eq!(m("clipguard_frames_total", &[("fate", "analysed")]), 1.0);
    assert!(m("clipguard_frames_total", &[("fate", "duplicate")]) >= 3.0);
    assert_eq!(
        m("clipguard_rejections_total", &[("reason", "not_video")]),
        1.0
    );
    assert_eq!(
        m("clipguard_cache_lookups_total", &[("outcome", "miss")]),
        1.0
    );
    assert_eq!(
        m(
            "clipguard_check_duration_seconds_count",
            &[("kind", "clip")]
        ),
        1.0
    );
    assert_eq!(
        m(
            "clipguard_http_requests_total",
            &[("route", "/v1/prompts/check"), ("status", "200")]
        ),
        3.0
    );
    assert!(m("clipguard_frames_total", &[("fate", "decoded")]) >= 10.0);
    assert_eq!(m("clipguard_queue_depth", &[]), 0.0);
    assert_eq!(m("clipguard_model_info", &[("kind", "nudity")]), 1.0);
    assert_eq!(m("clipguard_policy_info", &[("name", "default")]), 1.0);
}

#[test]
fn clips_named_by_s3_uri_are_fetched_and_checked() {
    let (_s3, env) = common::s3_server("clips");
    let cat = still_clip("chelsea.png", 2, 320, 240, "s3");
    common::s3_put(&env, "clips", "generated/cat.mp4", &cat);
    let text = common::clips_dir().join("s3-notes.mp4");
    std::fs::write(&text, "not a video").unwrap();
    common::s3_put(&env, "clips", "generated/notes.mp4", &text);
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, OsStr::new(v))).collect();
    let (_server, port) = start_server(&env);
    let api = Api::new(port);
    let r = api.post_json(
        "/v1/clips/check",
        &json!({"uri": "s3://clips/generated/cat.mp4", "user": "bob", "clip_id": "c-9"}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json["clip_sha256"],
        clipguard::digest::sha256_file(&cat).unwrap()
    );
    assert_eq!(r.json["action"], "allow");
    assert_eq!(r.json["clip_id"], "c-9");
    let r = api.post_json(
        "/v1/clips/check",
        &json!({"uri": "s3://clips/generated/none.mp4"}),
    );
    assert_eq!((r.status, r.code()), (404, "not_found"), "{}", r.json);
    let r = api.post_json(
        "/v1/clips/check",
        &json!({"uri": "s3://clips/generated/notes.mp4"}),
    );
    assert_eq!((r.status, r.code()), (415, "not_video"), "{}", r.json);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("s3://clips/generated/notes.mp4"),
        "{}",
        r.json
    );
}

#[test]
fn a_check_past_its_deadline_gets_503_and_the_retry_is_served_from_the_cache() {
    // 20 s of 1080p with motion and no B-frames: about 2 s to screen here, over a 1 s deadline.
    let slow = common::clips_dir().join("slow-1080p.mp4");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1920x1080:rate=30",
        "-t",
        "20",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        slow.to_str().unwrap(),
    ]);
    let (_server, port) = start_server(&[("CLIPGUARD_SERVER__DEADLINE_S", OsStr::new("1"))]);
    let api = Api::new(port);
    let r = api.check_clip(&slow, None);
    assert_eq!(
        (r.status, r.code()),
        (503, "deadline_exceeded"),
        "{}",
        r.json
    );
    assert!(r.headers.contains_key("retry-after"));
    // The screening goes on; its result is kept for the retry.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while api.get("/readyz").json["screening"] != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the screening never ends"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = api.check_clip(&slow, None);
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.headers["x-clipguard-cache"], "hit");
    assert_eq!(
        api.metric("clipguard_screenings_total", &[("result", "ok")]),
        1.0
    );
    assert_eq!(
        api.metric("clipguard_rejections_total", &[("reason", "deadline")]),
        1.0
    );
}
