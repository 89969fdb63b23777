//! Policies through the CLI and the service: fixtures, explain, decisions on real clips, and
//! safe reload (API, SIGHUP, file change) where a broken file never replaces the running one.

mod common;

use common::cli;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A copy of the repository's policies folder to edit.
fn policies_copy() -> PathBuf {
    let dir = common::data_dir().join("policies");
    for sub in ["", "lists", "meaning", "tests"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(common::repo().join("policies").join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, dir.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    dir
}

#[test]
fn policy_test_passes_the_default_fixtures_and_fails_a_wrong_expectation() {
    let (ok, out, _) = cli(&["policy", "test"], &[]);
    assert!(ok, "{out}");
    let line = out.lines().find(|l| l.starts_with("policy: ")).unwrap();
    let passed: usize = line["policy: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(passed >= 25 && line.ends_with("0 failed"), "{line}");

    let dir = common::data_dir().join("fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wrong.yaml"), "- name: nudity is not allowed\n  signals:\n    nudity: {ANUS_EXPOSED: {max_score: 0.9}}\n  expect: allow\n").unwrap();
    let (ok, out, err) = cli(&["policy", "test", dir.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(
        out.contains("FAILED")
            && out.contains("expected Allow, got Block")
            && err.contains("1 of 1"),
        "{out}{err}"
    );

    // A case may set the policy's parameters, but not invent one.
    std::fs::write(dir.join("wrong.yaml"), "- name: a misspelt parameter\n  params: {required_generator: [Sora]}\n  signals: {present: true}\n  expect: review\n").unwrap();
    let (ok, out, _) = cli(&["policy", "test", dir.to_str().unwrap()], &[]);
    assert!(
        !ok && out.contains("the policy has no parameter \"required_generator\""),
        "{out}"
    );
}

#[test]
fn a_broken_policy_is_refused_by_the_cli_with_the_rule_named() {
    let dir = policies_copy();
    let text = std::fs::read_to_string(dir.join("default.yaml")).unwrap();
    std::fs::write(
        dir.join("default.yaml"),
        text.replace(
            "signals.persons.exists(p, p.kind == \"private_individual\"",
            "signals.persns.exists(p, p.kind == \"private_individual\"",
        ),
    )
    .unwrap();
    let (ok, _, err) = cli(&["policy", "test"], &[("CLIPGUARD_POLICIES__DIR", &dir)]);
    assert!(!ok);
    assert!(
        err.contains("likeness-private-individual") && err.contains("persns"),
        "{err}"
    );
}

#[test]
fn check_decides_on_a_real_clip_and_explain_replays_it() {
    let data = common::data_dir();
    let env = [("CLIPGUARD_DATA_DIR", data.as_path())];
    let astronaut = common::testdata("astronaut.png");
    let (ok, out, err) = cli(
        &[
            "persons",
            "add",
            "--name",
            "Eileen Collins",
            "--allow",
            "alice",
            "--image",
            astronaut.to_str().unwrap(),
        ],
        &env,
    );
    assert!(ok, "{out}{err}");
    let clip = common::astronaut_zoom_clip();

    let (status, json, err) = common::cli_status(
        &[
            "check",
            "--json",
            "--full",
            clip.to_str().unwrap(),
            "--user",
            "bob",
        ],
        &env,
    );
    assert_eq!(status, 20, "block exits 20: {err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let d = &v["decision"];
    assert_eq!(d["action"], "block", "{d}");
    let m = d["matched"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["rule"] == "likeness-public-figure")
        .unwrap();
    assert!(
        m["message"].as_str().unwrap().contains("Eileen Collins"),
        "{m}"
    );
    let e = &m["evidence"][0];
    assert!(
        e["distance"].as_f64().unwrap() < 0.5
            && e["time_s"].as_f64().is_some()
            && e["box"]["w"].as_f64().unwrap() > 20.0,
        "{e}"
    );
    assert_eq!(d["policy"]["name"], "default");
    // The decision shown is the one in the log.
    let id = v["id"].as_str().unwrap();
    let (ok, logged, err) = cli(&["decisions", "show", id], &env);
    assert!(ok, "{err}");
    let logged: serde_json::Value = serde_json::from_str(&logged).unwrap();
    assert_eq!(logged, v);
    let (ok, list, _) = cli(
        &["decisions", "list", "--action", "block", "--user", "bob"],
        &env,
    );
    assert!(
        ok && list.contains(id) && list.contains("likeness-public-figure"),
        "{list}"
    );
    let (ok, _, err) = cli(&["decisions", "list", "--action", "maybe"], &env);
    assert!(!ok && err.contains("not allow, review or block"), "{err}");

    let (ok, json, _) = cli(
        &[
            "check",
            "--json",
            "--full",
            clip.to_str().unwrap(),
            "--user",
            "alice",
        ],
        &env,
    );
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["decision"]["action"], "allow", "{}", v["decision"]);

    let saved = data.join("check.json");
    let (_, json, _) = cli(
        &[
            "check",
            "--json",
            "--full",
            clip.to_str().unwrap(),
            "--prompt",
            // Plainly written: the meaning model reads the digits of "E1leen Co11ins" as drugs
            // (0.68, a known false review); tests/persons.rs covers the matcher's leet folds.
            "Eileen Collins on the moon",
            "--user",
            "bob",
        ],
        &env,
    );
    std::fs::write(&saved, json).unwrap();
    let (ok, out, err) = cli(
        &["policy", "explain", "--signals", saved.to_str().unwrap()],
        &env,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("MATCH  likeness-public-figure") && out.contains("MATCH  prompt-names-person"),
        "{out}"
    );
    assert!(
        out.contains("-      nudity-explicit") && out.contains("decision: block (policy default"),
        "{out}"
    );
    let (ok, out, _) = cli(
        &[
            "policy",
            "explain",
            "--signals",
            saved.to_str().unwrap(),
            "--user",
            "alice",
        ],
        &env,
    );
    assert!(
        ok && out.contains("decision: allow (policy default"),
        "{out}"
    );
}

fn ready_version(port: u16) -> String {
    let (_, body) = common::http(port, "GET", "/readyz").unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["policy"]["version"].as_str().unwrap().to_string()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_service_reloads_safely_by_api_sighup_and_file_change() {
    let dir = policies_copy();
    let file = dir.join("default.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    let (server, port) = common::start_server(&[("CLIPGUARD_POLICIES__DIR", dir.as_os_str())]);
    let v0 = ready_version(port);

    let (status, body) = common::http(port, "POST", "/v1/policies/reload").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"changed\":false"), "{body}");
    let (status, body) = common::http(port, "GET", "/v1/policies/reload").unwrap();
    assert_eq!(status, 405);
    assert!(
        body.contains("\"method_not_allowed\"")
            && body.contains("GET is not served at /v1/policies/reload: use POST"),
        "{body}"
    );

    // A broken file: refused with the rule named, counted, and the running policy stays.
    std::fs::write(
        &file,
        original.replace("id: nudity-possible", "id: nudity-explicit"),
    )
    .unwrap();
    let (status, body) = common::http(port, "POST", "/v1/policies/reload").unwrap();
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("invalid_policy")
            && body.contains("duplicate rule id")
            && body.contains("nudity-explicit"),
        "{body}"
    );
    assert_eq!(ready_version(port), v0);
    let (_, metrics) = common::http(port, "GET", "/metrics").unwrap();
    assert!(
        metrics.contains("clipguard_policy_reloads_total{result=\"error\"}"),
        "{metrics}"
    );

    // A valid change (one that keeps every rule and passes the fixtures) is picked up by the
    // file watcher alone.
    let trial = "description: Trial of a lower block threshold for explicit nudity.";
    std::fs::write(
        &file,
        original.replace(trial, &format!("{trial} (first edit)")),
    )
    .unwrap();
    wait_for("the file watcher", || ready_version(port) != v0);
    let v1 = ready_version(port);

    // And by SIGHUP.
    std::fs::write(
        &file,
        original.replace(trial, &format!("{trial} (second edit)")),
    )
    .unwrap();
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    wait_for("SIGHUP", || ready_version(port) != v1);
    let (_, metrics) = common::http(port, "GET", "/metrics").unwrap();
    assert!(
        metrics.contains("clipguard_policy_info{name=\"default\",version=\""),
        "{metrics}"
    );
}

/// A decision logged before analysers owned their sections (written by clipguard at 6d45489:
/// `check --json --full` of a 1 s clip of the astronaut photograph) still reads: its nudity and
/// Content Credentials are the nudity and provenance analysers' sections, `policy explain`
/// replays it to the action logged, and its compact form keeps its fields.
#[test]
fn a_decision_logged_in_the_previous_format_reads_and_replays() {
    use clipguard::policy::{Policy, PolicyInput};
    use clipguard::vocab::{ClassPeak, Decision, NudityClass, Provenance, ProvenanceState};
    use std::collections::BTreeMap;
    let path = common::repo().join("tests/decisions/logged-at-6d45489.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let d: Decision = serde_json::from_str(&text).unwrap();
    let clip = d.clip.as_ref().unwrap();
    let nudity: BTreeMap<NudityClass, ClassPeak> = clip.sections.get("nudity").unwrap();
    assert!(
        nudity[&NudityClass::FaceFemale].max_score > 0.7,
        "{nudity:?}"
    );
    let provenance: Provenance = clip.sections.get("provenance").unwrap();
    assert_eq!(provenance.state, ProvenanceState::Absent);
    let frame: Vec<serde_json::Value> = clip.frames[0].parts.get("nudity").unwrap();
    assert_eq!(frame[0]["class"], "FACE_FEMALE");
    // Written back, it is the decision it was: every field kept with its value, none renamed
    // (fields added since, such as the frames shown, come with their defaults).
    let again: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
    let logged: serde_json::Value = serde_json::from_str(&text).unwrap();
    fn kept(logged: &serde_json::Value, again: &serde_json::Value, at: &str) {
        match (logged, again) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in a {
                    let w = b.get(k).unwrap_or_else(|| panic!("{at}.{k} was lost"));
                    kept(v, w, &format!("{at}.{k}"));
                }
            }
            (serde_json::Value::Array(a), serde_json::Value::Array(b)) => {
                assert_eq!(a.len(), b.len(), "{at}");
                for (i, (v, w)) in a.iter().zip(b).enumerate() {
                    kept(v, w, &format!("{at}[{i}]"));
                }
            }
            _ => assert_eq!(logged, again, "{at}"),
        }
    }
    kept(&logged, &again, "decision");

    let policy =
        Policy::from_config(&common::config().policies, &clipguard::analysers::schema()).unwrap();
    let verdict = policy.decide(&PolicyInput::for_decision(&d));
    assert_eq!(verdict.action, d.decision.action);
    let compact = serde_json::to_value(d.summary()).unwrap();
    for field in ["id", "action", "rules", "clip_sha256", "attestation"] {
        assert!(compact.get(field).is_some(), "{field} in {compact}");
    }
    // The CLI replays it from the file, as an operator would.
    let (ok, out, err) = cli(
        &["policy", "explain", "--signals", path.to_str().unwrap()],
        &[],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("decision: allow"), "{out}");
}
