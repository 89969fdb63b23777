//! The command line as scripts use it: exit codes by action on real clips, several clips in
//! one check, JSON output and JSON errors, the attestation notice, shell completions, and the
//! configuration (`config show`, mistakes in the file and the environment).

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

#[test]
fn config_show_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clipguard.toml");
    let hash = "ab".repeat(32);
    std::fs::write(
        &file,
        format!(
            "[policies]\ndir = \"my-policies\"\n\n[[server.api_keys]]\nname = \"ci\"\n\
             role = \"checker\"\nsha256 = \"{hash}\"\n"
        ),
    )
    .unwrap();
    // Started elsewhere than the repository: relative paths must not follow the working folder.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clipguard"))
        .args(["config", "show"])
        .current_dir(elsewhere.path())
        .env("CLIPGUARD_CONFIG", &file)
        .env("CLIPGUARD_SERVER__WORKERS", "3")
        .env("CLIPGUARD_MEDIA__SAMPLE_FPS", "1.5")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    let shown: toml::Table = toml::from_str(&stdout).unwrap();
    assert_eq!(shown["server"]["workers"].as_integer(), Some(3));
    assert_eq!(shown["media"]["sample_fps"].as_float(), Some(1.5));
    assert_eq!(
        shown["policies"]["dir"].as_str(),
        dir.path().join("my-policies").to_str()
    );
    assert_eq!(
        shown["models"]["dir"].as_str(),
        common::repo().join(".local/models").to_str()
    );
    let key = &shown["server"]["api_keys"][0];
    assert_eq!(key["name"].as_str(), Some("ci"));
    assert_eq!(key["sha256"].as_str(), Some("<redacted>"));
    assert!(!stdout.contains(&hash), "{stdout}");
    // What it shows loads back as it was.
    let shown_file = dir.path().join("shown.toml");
    std::fs::write(
        &shown_file,
        stdout.replace("\"<redacted>\"", &format!("\"{hash}\"")),
    )
    .unwrap();
    let (ok, again, err) = cli(
        &["--config", shown_file.to_str().unwrap(), "config", "show"],
        &[],
    );
    assert!(ok, "{err}");
    let mut again: toml::Table = toml::from_str(&again).unwrap();
    let mut shown = shown;
    // `cli` gives each run a fresh data folder.
    again.remove("data_dir");
    shown.remove("data_dir");
    assert_eq!(again, shown);
}

#[test]
fn configuration_mistakes_are_reported_once_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "[server]\nworkrs = 2\n").unwrap();
    for command in [&["config", "show"][..], &["serve"], &["models"]] {
        let args: Vec<&str> = ["--config", typo.to_str().unwrap()]
            .into_iter()
            .chain(command.iter().copied())
            .collect();
        let (status, _, err) = cli_status(&args, &[]);
        assert_eq!(status, 1, "{command:?}: {err}");
        assert_eq!(
            err.matches("unknown field `workrs`").count(),
            1,
            "{command:?}: {err}"
        );
        assert!(err.contains("line 2"), "{err}");
    }

    let (status, _, err) = cli_status(
        &["config", "show"],
        &[("CLIPGUARD_WORKERS", Path::new("2"))],
    );
    assert_eq!(status, 1, "{err}");
    assert_eq!(err.matches("CLIPGUARD_WORKERS").count(), 1, "{err}");
    assert!(
        err.contains("did you mean CLIPGUARD_SERVER__WORKERS?"),
        "{err}"
    );

    let (status, out, _) = cli_status(
        &["check", "--json", "--prompt", "a cat"],
        &[("CLIPGUARD_SERVER__QUEUE", Path::new("lots"))],
    );
    assert_eq!(status, 1);
    let error: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(error["error"]["code"], "config", "{out}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CLIPGUARD_SERVER__QUEUE"),
        "{out}"
    );
}
