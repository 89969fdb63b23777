//! What the API does with a clip, a prompt or a review, the command line does with the same
//! names (`--clip-id`, `--prompt-file -`, `--policies`, `reviews list|approve|reject`), under
//! the one prompt limit every route shares; and its output piped into a reader that stops
//! early ends quietly.

mod common;

use common::{cli, cli_status, start_server, Api};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the CLI with `stdin` as its standard input: exit status, stdout, stderr.
fn cli_with_stdin(args: &[&str], data: &Path, stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clipguard"))
        .args(args)
        .current_dir(common::repo())
        .env_remove("CLIPGUARD_CONFIG")
        .env("CLIPGUARD_DATA_DIR", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn one_prompt_limit_for_every_route_named_in_the_error_and_the_document() {
    let (_server, port) = start_server(&[]);
    let api = Api::new(port);
    let limit = clipguard::vocab::MAX_PROMPT_CHARS;
    // Counted in characters, as JSON Schema's maxLength is: `é` is two bytes, one character.
    let at_limit = "é".repeat(limit);
    let over = "é".repeat(limit + 1);
    let r = api.post_json("/v1/prompts/check", &json!({"prompt": at_limit}));
    assert_eq!(r.status, 200, "{}", r.json);
    let r = api.post_json("/v1/prompts/check", &json!({"prompt": over}));
    assert_eq!((r.status, r.code()), (413, "too_large"), "{}", r.json);
    let message = r.json["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("prompt:") && message.contains(&limit.to_string()),
        "{message}"
    );
    // The same in a clip's metadata, uploaded or by URI, synchronous or queued.
    let cat = common::still_clip("chelsea.png", 1, 160, 120, "limits");
    for run_async in [false, true] {
        let r = api.check_clip(&cat, Some(json!({"prompt": over, "async": run_async})));
        assert_eq!((r.status, r.code()), (413, "too_large"), "{}", r.json);
        assert!(r.json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("prompt:"));
    }
    let r = api.post_json(
        "/v1/clips/check",
        &json!({"uri": "s3://clips/a.mp4", "prompt": over}),
    );
    assert_eq!((r.status, r.code()), (413, "too_large"), "{}", r.json);
    // The document says so wherever a prompt is taken.
    let doc = api.get("/openapi.json").json;
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [
        ("PromptCheck", "prompt"),
        ("ClipByUri", "prompt"),
        ("ClipMetadata", "prompt"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["maxLength"].as_u64(),
            Some(limit as u64),
            "{schema}.{field}: {}",
            schemas[schema]["properties"][field]
        );
    }

    // The CLI: the same limit, the prompt read from standard input.
    let data = common::data_dir();
    let (status, out, _) = cli_with_stdin(
        &["check", "--prompt-file", "-", "--json"],
        &data,
        over.as_bytes(),
    );
    assert_eq!(status, 1, "{out}");
    let err: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(err["error"]["code"], "too_large", "{err}");
}

#[test]
fn the_cli_checks_reviews_and_lists_with_the_apis_names() {
    let data = common::data_dir();
    let env = [("CLIPGUARD_DATA_DIR", data.as_path())];
    let (ok, _, err) = cli(&["persons", "add", "--name", "Eileen Collins"], &env);
    assert!(ok, "{err}");

    // A prompt from standard input (a file's last line end dropped), a clip id, and a
    // decision to review.
    let cat = common::still_clip("chelsea.png", 1, 160, 120, "parity");
    let (status, out, err) = cli_with_stdin(
        &[
            "check",
            cat.to_str().unwrap(),
            "--prompt-file",
            "-",
            "--clip-id",
            "gen-9",
            "--json",
        ],
        &data,
        b"a cat in the style of Collins\n",
    );
    assert_eq!(status, 10, "{out}{err}");
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (d["action"].as_str(), d["clip_id"].as_str()),
        (Some("review"), Some("gen-9"))
    );
    let id = d["id"].as_str().unwrap();
    let (ok, out, _) = cli(&["decisions", "list", "--clip-id", "gen-9", "--json"], &env);
    assert!(ok);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed[0]["id"], id);

    // The review queue, and an approval that closes the loop as the API's does.
    let (ok, out, _) = cli(&["reviews", "list", "--json"], &env);
    assert!(ok);
    let queue: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(queue[0]["id"], id);
    let (ok, out, err) = cli(&["reviews", "approve", id, "--note", "a cat"], &env);
    assert!(ok, "{err}");
    let review: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(review["outcome"], "approve");
    assert!(review["attestation"]["signature"].is_string(), "{review}");
    let (ok, out, _) = cli(&["decisions", "list", "--clip-id", "gen-9", "--json"], &env);
    assert!(ok);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            listed[0]["action"].as_str(),
            listed[0]["policy_action"].as_str()
        ),
        (Some("allow"), Some("review"))
    );
    let (ok, out, _) = cli(&["reviews", "list", "--json"], &env);
    assert!(ok);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), json!([]));
    // Reviews print JSON, errors too: a second review is refused as the API refuses it.
    let (status, out, _) = cli_status(&["reviews", "reject", id], &env);
    assert_eq!(status, 1);
    let refused: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(refused["error"]["code"], "conflict", "{refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already reviewed"));

    // --policies on check and on policy test: another folder's policy decides.
    let strict = common::data_dir().join("policies");
    common::copy_dir(&common::repo().join("policies"), &strict);
    let default = std::fs::read_to_string(strict.join("default.yaml")).unwrap();
    std::fs::write(
        strict.join("default.yaml"),
        default.replace("action: review", "action: block"),
    )
    .unwrap();
    let (status, out, err) = cli_status(
        &[
            "check",
            "--prompt",
            "a cat in the style of Collins",
            "--policies",
            strict.to_str().unwrap(),
            "--json",
        ],
        &env,
    );
    assert_eq!(status, 20, "{out}{err}");
    let (ok, out, _) = cli(
        &["policy", "test", "--policies", strict.to_str().unwrap()],
        &env,
    );
    assert!(
        !ok,
        "the stricter policy fails the default's fixtures: {out}"
    );
}

#[test]
fn output_piped_into_a_reader_that_stops_early_ends_quietly() {
    // `true` reads nothing and exits: every write after that meets a closed pipe.
    for args in ["completions bash", "config show"] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "sleep 0.2 | {} {args} | true",
                env!("CARGO_BIN_EXE_clipguard")
            ))
            .current_dir(common::repo())
            .env("CLIPGUARD_DATA_DIR", common::data_dir())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args}: {err}"
        );
    }
}
