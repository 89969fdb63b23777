//! The command line as scripts use it: exit codes by action on real clips, several clips in
//! one check, JSON output and JSON errors, the attestation notice, and shell completions.

mod common;

use common::{cli, cli_status};
use serde_json::Value;
use std::path::Path;

fn env(data: &Path) -> [(&str, &Path); 1] {
    [("CLIPGUARD_DATA_DIR", data)]
}

/// Her face, as the audit corpus frames it: blocked for bob once she is registered.
fn collins_clip() -> std::path::PathBuf {
    common::still_clip_vf("astronaut.png", "crop=512:288:0:0,scale=640:360", 2, "cli")
}

fn cat_clip() -> std::path::PathBuf {
    common::still_clip("chelsea.png", 2, 320, 240, "cli")
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn check_exits_by_action_and_with_the_most_severe_of_several_clips() {
    let data = common::data_with_collins();
    let (cat, collins) = (cat_clip(), collins_clip());
    let (cat, collins) = (cat.to_str().unwrap(), collins.to_str().unwrap());

    let (status, out, err) = cli_status(&["check", cat, "--user", "bob"], &env(&data));
    assert_eq!(status, 0, "allow: {out}{err}");
    assert!(out.contains("decision: allow (policy default"), "{out}");

    let (status, out, err) = cli_status(&["check", collins, "--user", "bob"], &env(&data));
    assert_eq!(status, 20, "block: {out}{err}");
    assert!(
        out.contains("decision: block (policy default")
            && out.contains("  block by likeness-public-figure: likeness of Eileen Collins"),
        "lower-case actions, no Rust names: {out}"
    );
    assert!(!out.contains("Block") && !out.contains("Full"), "{out}");

    // A surname alone sends the prompt to review; the cat clip itself is clean.
    let (status, out, err) = cli_status(
        &[
            "check",
            cat,
            "--prompt",
            "a cat in the style of Collins",
            "--user",
            "bob",
        ],
        &env(&data),
    );
    assert_eq!(status, 10, "review: {out}{err}");
    assert!(
        out.contains("decision: review") && out.contains("(surname, score"),
        "{out}"
    );

    // Alice may depict her: the same clip is allowed.
    cli(&["persons", "allow", "1", "alice"], &env(&data));
    let (status, _, err) = cli_status(&["check", collins, "--user", "alice"], &env(&data));
    assert_eq!(status, 0, "{err}");

    // Several clips: one decision each, in order; the status is the most severe.
    let (status, out, err) = cli_status(
        &["check", "--json", cat, collins, "--user", "bob"],
        &env(&data),
    );
    assert_eq!(status, 20, "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["clip"], cat);
    assert_eq!(lines[0]["decision"]["action"], "allow");
    assert_eq!(lines[1]["clip"], collins);
    assert_eq!(lines[1]["decision"]["action"], "block");
    // Each is in the log.
    for l in &lines {
        let id = l["decision"]["id"].as_str().unwrap();
        assert!(cli(&["decisions", "show", id], &env(&data)).0, "{id}");
    }

    // A clip that cannot be checked makes the status an error, whatever the others got, and
    // the others are still decided.
    let missing = common::clips_dir().join("cli-missing.mp4");
    let (status, out, err) = cli_status(
        &["check", collins, missing.to_str().unwrap(), "--user", "bob"],
        &env(&data),
    );
    assert_eq!(status, 1, "{out}{err}");
    assert!(out.contains("decision: block"), "{out}");
    assert!(
        err.contains("error: ") && err.contains("cli-missing.mp4"),
        "{err}"
    );
    let (status, out, _) = cli_status(
        &["check", "--json", cat, missing.to_str().unwrap()],
        &env(&data),
    );
    assert_eq!(status, 1);
    let lines = json_lines(&out);
    assert_eq!(lines[0]["decision"]["action"], "allow");
    assert_eq!(lines[1]["clip"], missing.to_str().unwrap());
    assert_eq!(lines[1]["error"]["code"], "not_found", "{}", lines[1]);

    // A prompt alone.
    let (status, out, err) = cli_status(
        &[
            "check",
            "--prompt",
            "Eileen Collins on the moon",
            "--user",
            "bob",
        ],
        &env(&data),
    );
    assert_eq!(status, 20, "{out}{err}");
    assert!(out.contains("(full, score"), "{out}");
}

#[test]
fn json_errors_and_usage_errors() {
    let data = common::data_dir();
    let dir = common::clips_dir();
    let text = dir.join("cli-text.txt");
    std::fs::write(&text, "hello").unwrap();
    for (path, code) in [
        (dir.join("cli-absent.mp4"), "not_found"),
        (text, "not_video"),
    ] {
        let (status, out, err) =
            cli_status(&["check", "--json", path.to_str().unwrap()], &env(&data));
        assert_eq!(status, 1, "{out}{err}");
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(v["error"]["code"], code, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains(path.file_name().unwrap().to_str().unwrap()),
            "{v}"
        );
        assert!(!err.contains("error"), "the error is on stdout only: {err}");
    }
    let (status, out, _) = cli_status(&["decisions", "show", "nope"], &env(&data));
    assert_eq!(status, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["error"]["code"], "not_found");

    // Usage errors exit 2: as JSON when --json was given, as clap's text otherwise.
    let (status, out, _) = cli_status(&["check", "--json", "--frobnicate", "x.mp4"], &env(&data));
    assert_eq!(status, 2);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["error"]["code"], "usage");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--frobnicate"));
    let (status, _, err) = cli_status(&["decisions", "list", "--since", "yesterday"], &env(&data));
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("RFC 3339"), "{err}");
    let (status, _, err) = cli_status(&["check", "--user", "bob"], &env(&data));
    assert_eq!(status, 2, "neither clip nor prompt: {err}");
    let (status, out, _) = cli_status(
        &[
            "check",
            "a.mp4",
            "b.mp4",
            "--json",
            "--attestation-out",
            "not-a-folder.json",
        ],
        &env(&data),
    );
    assert_eq!(status, 2, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("folder"),
        "{v}"
    );
}

#[test]
fn attestations_go_to_a_folder_for_several_clips_and_a_notice_says_what_got_none() {
    let data = common::data_with_collins();
    let out_dir = data.join("attestations");
    std::fs::create_dir(&out_dir).unwrap();
    let (cat, collins) = (cat_clip(), collins_clip());
    let (status, out, err) = cli_status(
        &[
            "check",
            cat.to_str().unwrap(),
            collins.to_str().unwrap(),
            "--user",
            "bob",
            "--attestation-out",
            out_dir.to_str().unwrap(),
        ],
        &env(&data),
    );
    assert_eq!(status, 20, "{out}{err}");
    let cat_att = out_dir.join(format!(
        "{}.attestation.json",
        cat.file_name().unwrap().to_str().unwrap()
    ));
    assert!(cat_att.exists(), "{out}");
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 1);
    assert!(
        err.contains("no attestation written for")
            && err.contains(collins.to_str().unwrap())
            && err.contains("the decision is block"),
        "{err}"
    );
    let (ok, out, err) = cli(
        &[
            "verify",
            "--attestation",
            cat_att.to_str().unwrap(),
            cat.to_str().unwrap(),
        ],
        &env(&data),
    );
    assert!(ok && out.starts_with("ok: "), "{out}{err}");
}

#[test]
fn lists_as_json_read_the_database_without_models() {
    let data = common::data_with_collins();
    let (status, _, err) = cli_status(
        &["check", collins_clip().to_str().unwrap(), "--user", "bob"],
        &env(&data),
    );
    assert_eq!(status, 20, "{err}");
    let no_models = [
        ("CLIPGUARD_DATA_DIR", data.as_path()),
        (
            "ORT_DYLIB_PATH",
            Path::new("/nonexistent/libonnxruntime.so"),
        ),
    ];
    let (ok, out, err) = cli(&["persons", "list", "--json"], &no_models);
    assert!(ok, "{err}");
    let persons: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(persons[0]["id"], 1);
    assert_eq!(persons[0]["name"], "Eileen Collins");
    assert_eq!(persons[0]["kind"], "public_figure");
    assert_eq!(persons[0]["faces"], 1);
    let (ok, out, err) = cli(
        &["decisions", "list", "--json", "--action", "block"],
        &no_models,
    );
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{out}");
    assert_eq!(list[0]["action"], "block");
    assert_eq!(list[0]["user"], "bob");
    // Times are compared as instants: the second it was made in, written without fractions,
    // includes it (the log writes milliseconds); "until" that second excludes it.
    let second = format!("{}Z", &list[0]["created_at"].as_str().unwrap()[..19]);
    let count = |flag: &str| {
        let (ok, out, err) = cli(&["decisions", "list", "--json", flag, &second], &no_models);
        assert!(ok, "{err}");
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((count("--since"), count("--until")), (1, 0), "{second}");
    let (ok, out, _) = cli(
        &["decisions", "list", "--json", "--action", "allow"],
        &no_models,
    );
    assert!(ok && serde_json::from_str::<Value>(&out).unwrap() == Value::Array(vec![]));
}

#[test]
fn completions_for_each_shell_name_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let (ok, out, err) = cli(&["completions", shell], &[]);
        assert!(ok, "{shell}: {err}");
        for word in ["clipguard", "decisions", "--attestation-out", "completions"] {
            assert!(out.contains(word), "{shell} completion lacks {word}");
        }
    }
    let (status, _, _) = cli_status(&["completions", "powershell-9"], &[]);
    assert_eq!(status, 2);
}
