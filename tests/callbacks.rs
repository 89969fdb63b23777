//! What a real `clipguard serve` pushes out, to receivers on loopback: asynchronous checks'
//! signed callbacks (each signature checked, a review's approval pushes a second callback and
//! turns the decision into `allow` with an attestation that verifies, a host not allowed is
//! refused, an API key's default URL is used when a check names none, and on PostgreSQL a
//! replica killed with checks queued leaves them to another, which decides each once), and a
//! check's OpenTelemetry trace, sent to an OTLP/HTTP collector.

mod common;

use common::{start_server, Api};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SECRET: &str = "test-callback-secret";

/// One request a receiver got: its path, headers (lowercase names) and body.
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A webhook receiver on a free loopback port: answers each request with the next status of
/// `statuses` (then 200), and hands what it got to the channel.
fn receiver(statuses: Vec<u16>) -> (u16, mpsc::Receiver<Received>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = HashMap::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split(' ').nth(1).unwrap_or_default().to_string();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let status = statuses.next().unwrap_or(200);
            write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            if tx
                .send(Received {
                    path,
                    headers,
                    body,
                })
                .is_err()
            {
                return;
            }
        }
    });
    (port, rx)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The next callback, its signature checked; its event, delivery and body.
fn signed_callback(rx: &mpsc::Receiver<Received>) -> (String, String, Value) {
    let (_, event, delivery, body) = signed_callback_at(rx);
    (event, delivery, body)
}

/// As `signed_callback`, with the path it was sent to first.
fn signed_callback_at(rx: &mpsc::Receiver<Received>) -> (String, String, String, Value) {
    let got = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("a callback arrives");
    let signature = &got.headers["clipguard-signature"];
    // Checked as a receiver would, from the documented scheme alone: v1 is the hex
    // HMAC-SHA256 of "<t>.<body>" with the shared secret, and t is recent.
    let (t, v1) = signature
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("malformed signature header {signature}"));
    assert!(
        t.parse::<u64>().unwrap().abs_diff(now()) < 300,
        "{signature}"
    );
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&got.body);
    assert_eq!(v1, hex::encode(mac.finalize().into_bytes()), "{signature}");
    assert!(
        clipguard::callbacks::verify(SECRET, signature, &got.body, now(), 300),
        "signature {signature} does not verify"
    );
    assert!(!clipguard::callbacks::verify(
        "another secret",
        signature,
        &got.body,
        now(),
        300
    ));
    (
        got.path,
        got.headers["clipguard-event"].clone(),
        got.headers["clipguard-delivery"].clone(),
        serde_json::from_slice(&got.body).unwrap(),
    )
}

/// A key made with `clipguard keys new --callback-url`: the key, and the config lines.
fn key_with_callback(role: &str, name: &str, url: &str) -> (String, String) {
    let (key, config) =
        common::new_key_with(&["--role", role, "--name", name, "--callback-url", url]);
    assert!(
        config.contains(&format!("callback_url = \"{url}\"")),
        "{config}"
    );
    (key, config)
}

/// Polls `GET /v1/decisions/{id}` until the check is decided (or failed).
fn decided(api: &Api, id: &str) -> common::Reply {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let r = api.get(&format!("/v1/decisions/{id}"));
        if r.status != 202 {
            return r;
        }
        assert_eq!(r.json["id"], id, "{}", r.json);
        assert!(
            ["queued", "screening"].contains(&r.json["state"].as_str().unwrap()),
            "{}",
            r.json
        );
        assert!(Instant::now() < deadline, "{id} never decided: {}", r.json);
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn callbacks_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        (
            "CLIPGUARD_CALLBACKS__ALLOWED_HOSTS",
            format!("127.0.0.1:{port}"),
        ),
        ("CLIPGUARD_CALLBACKS__SECRET", SECRET.to_string()),
        ("CLIPGUARD_CALLBACKS__RETRY_BASE_MS", "300".to_string()),
    ]
}

#[test]
fn an_async_check_is_pushed_signed_and_its_approval_closes_the_loop() {
    // The receiver fails the first attempt: the callback is retried.
    let (hook, rx) = receiver(vec![500]);
    let env = callbacks_env(hook);
    // The caller's key names a default callback URL, used by the checks that name none.
    let by_key = format!("http://127.0.0.1:{hook}/hooks/by-key");
    let (key, key_config) = key_with_callback("admin", "pipeline", &by_key);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("clipguard.toml");
    std::fs::write(&config, key_config).unwrap();
    let mut env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, OsStr::new(v))).collect();

    // A key whose default URL names a host not allowed stops the start (before the models
    // load), naming the key.
    let (_, stray) = key_with_callback("checker", "stray", "http://example.com/hook");
    let stray_config = dir.path().join("stray.toml");
    std::fs::write(&stray_config, stray).unwrap();
    let refused = std::process::Command::new("timeout")
        .args(["60", env!("CARGO_BIN_EXE_clipguard"), "serve"])
        .current_dir(common::repo())
        .envs(env.iter().copied())
        .env("CLIPGUARD_CONFIG", &stray_config)
        .env("CLIPGUARD_DATA_DIR", dir.path().join("stray-data"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\"stray\"") && stderr.contains("allowed_hosts"),
        "{stderr}"
    );

    env.push(("CLIPGUARD_CONFIG", config.as_os_str()));
    let (_server, port) = start_server(&env);
    let api = Api::with_key(port, &key);
    let r = api.post_json("/v1/persons", &json!({"name": "Eileen Collins"}));
    assert_eq!(r.status, 201, "{}", r.json);

    // Queued at once: 202, the id, and where to read it.
    let cat = common::still_clip("chelsea.png", 2, 320, 240, "callbacks");
    let url = format!("http://127.0.0.1:{hook}/hooks/clipguard");
    let r = api.check_clip(
        &cat,
        Some(
            json!({"prompt": "a cat in the style of Collins", "user": "carol",
                    "clip_id": "gen-7", "async": true, "callback_url": url}),
        ),
    );
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(r.json["state"], "queued");
    assert_eq!(r.headers["location"], format!("/v1/decisions/{id}"));

    // Decided from the queue under that id: a review, since the prompt names her surname.
    let r = decided(&api, &id);
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        (r.json["action"].as_str(), r.json["clip_id"].as_str()),
        (Some("review"), Some("gen-7"))
    );

    // Pushed, signed, and pushed again after the receiver's 500: the same delivery. The
    // request's own URL won over its key's.
    let (path, event, first, body) = signed_callback_at(&rx);
    assert_eq!(path, "/hooks/clipguard");
    assert_eq!(
        (event.as_str(), body["id"].as_str()),
        ("decided", Some(id.as_str()))
    );
    let (event, again, retried) = signed_callback(&rx);
    assert_eq!((event.as_str(), &again), ("decided", &first));
    assert_eq!(retried, body);
    assert_eq!(body["action"], "review");
    let status = wait_for(&api, &id, |s| s["callbacks"][0]["state"] == "delivered");
    assert_eq!(status["state"], "decided");
    let delivery = &status["callbacks"][0];
    assert_eq!(
        (
            delivery["attempts"].as_i64(),
            delivery["last_status"].as_i64()
        ),
        (Some(2), Some(200)),
        "{status}"
    );
    assert_eq!(delivery["url"], url);

    // A reviewer approves: a second callback, and the decision now reads allow with the
    // approval's attestation at the top, which verifies against the clip.
    let r = api.post_json(
        &format!("/v1/reviews/{id}"),
        &json!({"outcome": "approve", "note": "a cat"}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let (event, _, reviewed) = signed_callback(&rx);
    assert_eq!(event, "reviewed");
    assert_eq!(
        (
            reviewed["action"].as_str(),
            reviewed["policy_action"].as_str()
        ),
        (Some("allow"), Some("review"))
    );
    let now = api.get(&format!("/v1/decisions/{id}")).json;
    assert_eq!(
        (now["action"].as_str(), now["policy_action"].as_str()),
        (Some("allow"), Some("review"))
    );
    assert_eq!(now["attestation"], reviewed["attestation"]);
    assert_eq!(now["attestation"], now["review"]["attestation"]);
    let verified = api.post_json(
        "/v1/attestations/verify",
        &json!({"attestation": now["attestation"], "clip_sha256": now["clip_sha256"]}),
    );
    assert_eq!(verified.json["valid"], true, "{}", verified.json);
    // The log keeps the policy's verdict: the review is recorded beside it.
    let full = api.get(&format!("/v1/decisions/{id}?view=full")).json;
    assert_eq!(full["decision"]["action"], "review");
    assert_eq!(full["review"]["outcome"], "approve");

    // A rejected one reads block.
    let r = api.post_json(
        "/v1/prompts/check",
        &json!({"prompt": "a dog in the style of Collins", "user": "carol"}),
    );
    let rejected = r.json["id"].as_str().unwrap().to_string();
    api.post_json(
        &format!("/v1/reviews/{rejected}"),
        &json!({"outcome": "reject"}),
    );
    let r = api.get(&format!("/v1/decisions/{rejected}"));
    assert_eq!(
        (r.json["action"].as_str(), r.json["policy_action"].as_str()),
        (Some("block"), Some("review"))
    );
    assert!(r.json["attestation"].is_null());

    // A synchronous check with a callback is pushed too.
    let r = api.check_clip(&cat, Some(json!({"user": "dave", "callback_url": url})));
    assert_eq!(
        (r.status, r.json["action"].as_str()),
        (200, Some("allow")),
        "{}",
        r.json
    );
    let (event, _, body) = signed_callback(&rx);
    assert_eq!((event.as_str(), &body["id"]), ("decided", &r.json["id"]));

    // A check naming no URL is pushed to its key's.
    let r = api.check_clip(
        &cat,
        Some(json!({"user": "erin", "clip_id": "gen-8", "async": true})),
    );
    assert_eq!(r.status, 202, "{}", r.json);
    let keyed = r.json["id"].as_str().unwrap().to_string();
    let (path, event, _, body) = signed_callback_at(&rx);
    assert_eq!(
        (path.as_str(), event.as_str(), body["id"].as_str()),
        ("/hooks/by-key", "decided", Some(keyed.as_str()))
    );
    assert_eq!(body["clip_id"], "gen-8");
    let status = wait_for(&api, &keyed, |s| s["callbacks"][0]["state"] == "delivered");
    assert_eq!(status["callbacks"][0]["url"], by_key, "{status}");

    // Hosts (and ports) not allowed are refused when asked, before anything is queued.
    for refused in ["http://example.com/hook", "http://127.0.0.1:1/hook"] {
        let r = api.check_clip(&cat, Some(json!({"async": true, "callback_url": refused})));
        assert_eq!(
            (r.status, r.code()),
            (403, "forbidden_callback"),
            "{}",
            r.json
        );
        assert!(r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allowed_hosts"));
    }
    let r = api.check_clip(&cat, Some(json!({"callback_url": "ftp://127.0.0.1/x"})));
    assert_eq!((r.status, r.code()), (400, "invalid_uri"), "{}", r.json);

    // A clip that cannot be screened fails closed: no decision, its error where the
    // decision would be.
    let whole = std::fs::read(&cat).unwrap();
    let cut = common::clips_dir().join("callbacks-truncated.mp4");
    std::fs::write(&cut, &whole[..whole.len() / 3]).unwrap();
    let r = api.check_clip(&cut, Some(json!({"async": true})));
    assert_eq!(r.status, 202, "{}", r.json);
    let failed = r.json["id"].as_str().unwrap().to_string();
    let r = decided(&api, &failed);
    assert_eq!(r.status, 422, "{}", r.json);
    let status = api.get(&format!("/v1/checks/{failed}")).json;
    assert_eq!(status["state"], "failed", "{status}");
    assert!(status["decision"].is_null());
    assert_eq!(status["error"]["code"], r.json["error"]["code"]);
    assert_eq!(api.get("/v1/checks/nope").status, 404);
}

/// Polls `GET /v1/checks/{id}` until `done` holds.
fn wait_for(api: &Api, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = api.get(&format!("/v1/checks/{id}")).json;
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{s}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_killed_replica_leaves_its_queued_checks_to_another_which_decides_each_once() {
    let Some(db) = clipguard::store::scratch::ScratchDatabase::create() else {
        return;
    };
    let key = common::clips_dir().join("callbacks-attestation.key");
    std::fs::write(&key, hex::encode([9u8; 32])).unwrap();
    let (hook, rx) = receiver(vec![]);
    let mut env: Vec<(&str, String)> = callbacks_env(hook);
    env.extend([
        ("CLIPGUARD_DATABASE_URL", db.url.clone()),
        ("CLIPGUARD_ATTESTATION__KEY_FILE", key.display().to_string()),
        ("CLIPGUARD_SERVER__JOB_LEASE_S", "2".to_string()),
        ("CLIPGUARD_SERVER__WORKERS", "1".to_string()),
    ]);
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, OsStr::new(v))).collect();
    let (mut a, port_a) = start_server(&env);
    let api_a = Api::new(port_a);

    // Six different clips queued on A.
    let url = format!("http://127.0.0.1:{hook}/hook");
    let mut ids = Vec::new();
    for (n, image) in ["chelsea.png", "coffee.png", "rocket.jpg"]
        .iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let clip = common::still_clip(image, 2, 320 + 32 * n as u32, 240, "killed");
        let r = api_a.check_clip(
            &clip,
            Some(json!({"clip_id": format!("killed-{n}"), "async": true, "callback_url": url})),
        );
        assert_eq!(r.status, 202, "{}", r.json);
        ids.push(r.json["id"].as_str().unwrap().to_string());
    }
    // A is killed while it screens one of them.
    let held = loop {
        let states: Vec<Value> = ids
            .iter()
            .map(|id| api_a.get(&format!("/v1/checks/{id}")).json)
            .collect();
        if let Some(s) = states.iter().find(|s| s["state"] == "screening") {
            break s["id"].as_str().unwrap().to_string();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    a.0.kill().unwrap();
    a.0.wait().unwrap();

    // B finishes every one: decided once each, the held one after A's lease ran out.
    let (_b, port_b) = start_server(&env);
    let api_b = Api::new(port_b);
    for (n, id) in ids.iter().enumerate() {
        let r = decided(&api_b, id);
        assert_eq!(r.status, 200, "{}", r.json);
        let logged = api_b.get(&format!("/v1/decisions?clip_id=killed-{n}")).json;
        assert_eq!(
            logged["decisions"].as_array().unwrap().len(),
            1,
            "decided once: {logged}"
        );
        assert_eq!(logged["decisions"][0]["id"], id.as_str());
    }
    let status = api_b.get(&format!("/v1/checks/{held}")).json;
    assert!(status["attempts"].as_i64().unwrap() >= 2, "{status}");
    // Every decision is pushed (a delivery A made just before it died may come twice: the
    // same `Clipguard-Delivery`, for the receiver to drop).
    let mut pushed = std::collections::BTreeSet::new();
    while pushed.len() < ids.len() {
        let (event, delivery, body) = signed_callback(&rx);
        assert_eq!(event, "decided");
        assert_eq!(
            delivery,
            format!("{}:decided", body["id"].as_str().unwrap())
        );
        assert!(ids.contains(&body["id"].as_str().unwrap().to_string()));
        pushed.insert(delivery);
    }
}

/// The spans of one export, flattened, with the resource's service name checked.
fn exported_spans(got: &Received) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    use prost::Message;
    assert_eq!(got.path, "/v1/traces");
    assert_eq!(got.headers["content-type"], "application/x-protobuf");
    let request =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
            &got.body[..],
        )
        .expect("an OTLP protobuf body");
    let mut out = Vec::new();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .and_then(|a| a.value.as_ref())
            .map(|v| format!("{:?}", v.value));
        assert!(
            service.as_deref().is_some_and(|s| s.contains("clipguard")),
            "{service:?}"
        );
        for scope in resource.scope_spans {
            out.extend(scope.spans);
        }
    }
    out
}

/// A span's string attribute.
fn attribute(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            V::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
}

#[test]
fn a_check_is_traced_to_an_otlp_collector_with_its_request_id() {
    // A collector on loopback, named by the standard variable; batches sent every 100 ms.
    let (collector, rx) = receiver(Vec::new());
    let endpoint = format!("http://127.0.0.1:{collector}");
    let (_server, port) = start_server(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", OsStr::new(&endpoint)),
        ("OTEL_BSP_SCHEDULE_DELAY", OsStr::new("100")),
    ]);
    let clip = common::still_clip("chelsea.png", 2, 320, 240, "traces");
    let form = reqwest::blocking::multipart::Form::new()
        .file("file", &clip)
        .unwrap()
        .text("metadata", json!({"prompt": "a cat on a sofa"}).to_string());
    let r = reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/clips/check"))
        .header("x-request-id", "trace-me-42")
        .multipart(form)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let decision: Value = r.json().unwrap();

    // Spans arrive in batches until the check's request span, which ends last, is in.
    let mut spans = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let request = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let got = rx
            .recv_timeout(left)
            .expect("the check's spans are exported");
        spans.extend(exported_spans(&got));
        if let Some(r) = spans.iter().find(|s| {
            s.name == "request" && attribute(s, "request_id").as_deref() == Some("trace-me-42")
        }) {
            break r.clone();
        }
    };
    let children = |parent: &opentelemetry_proto::tonic::trace::v1::Span| -> Vec<_> {
        spans
            .iter()
            .filter(|s| s.trace_id == parent.trace_id && s.parent_span_id == parent.span_id)
            .cloned()
            .collect()
    };
    let names = |of: &[opentelemetry_proto::tonic::trace::v1::Span]| -> Vec<String> {
        of.iter().map(|s| s.name.clone()).collect()
    };
    let check = children(&request);
    assert_eq!(names(&check), ["check"], "{:?}", names(&spans));
    let check = &check[0];
    assert_eq!(
        attribute(check, "decision_id"),
        decision["id"].as_str().map(String::from)
    );
    assert_eq!(attribute(check, "action").as_deref(), Some("allow"));
    assert_eq!(attribute(check, "cache").as_deref(), Some("miss"));
    let steps = children(check);
    let step_names = names(&steps);
    for want in ["intake", "screen", "prompt", "text_match", "policy", "log"] {
        assert!(
            step_names.iter().any(|n| n == want),
            "no {want} in {step_names:?}"
        );
    }
    // The screening's stages under `screen`: decoding and each analyser that ran.
    let screen = steps.iter().find(|s| s.name == "screen").unwrap();
    let stages = children(screen);
    let stage_names = names(&stages);
    for want in ["probe", "decode", "faces", "nudity"] {
        assert!(
            stage_names.iter().any(|n| n == want),
            "no {want} in {stage_names:?}"
        );
    }
    for s in &stages {
        assert!(attribute(s, "clipguard.stage_ms").is_some(), "{}", s.name);
        assert!(
            s.start_time_unix_nano >= screen.start_time_unix_nano,
            "{}",
            s.name
        );
    }
    // The order of work: intake, then the screening, then the policy, then the log.
    let at = |name: &str| steps.iter().find(|s| s.name == name).unwrap();
    assert!(at("intake").end_time_unix_nano <= screen.start_time_unix_nano);
    assert!(screen.end_time_unix_nano <= at("policy").start_time_unix_nano);
    assert!(at("policy").end_time_unix_nano <= at("log").start_time_unix_nano);
}
