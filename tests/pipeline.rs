//! One screening pipeline for every entry point: the CLI, the audit and the server check
//! through the same service, so evidence and registry changes behave the same everywhere; commands that only read the database load no model.

mod common;

use clipguard::store::{DecisionLog, Store};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn run(args: &[&str], data: &Path) -> (bool, String, String) {
    common::cli(args, &[("CLIPGUARD_DATA_DIR", data)])
}

fn thumbnails(data: &Path, decision_id: &str) -> Vec<Vec<u8>> {
    let store = Store::open(data).unwrap();
    (0..store.thumbnail_count(decision_id).unwrap())
        .map(|n| store.thumbnail(decision_id, n).unwrap().unwrap())
        .collect()
}

fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && image::load_from_memory(bytes).is_ok()
}

#[test]
fn cli_and_audit_decisions_to_review_or_block_have_evidence_thumbnails() {
    let data = common::data_with_collins();
    let clip = common::astronaut_zoom_clip();
    let (status, out, err) = common::cli_status(
        &["check", clip.to_str().unwrap(), "--json"],
        &[("CLIPGUARD_DATA_DIR", &data)],
    );
    assert_eq!(status, 20, "{err}");
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["action"], "block", "{out}");
    let shots = thumbnails(&data, d["id"].as_str().unwrap());
    assert!(!shots.is_empty() && shots.iter().all(|t| is_jpeg(t)));

    let folder = common::clips_dir().join("pipeline_audit");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(&clip, folder.join("collins.mp4")).unwrap();
    let report = folder.join("report.jsonl");
    let (ok, _, err) = run(
        &[
            "audit",
            folder.to_str().unwrap(),
            "--out",
            report.to_str().unwrap(),
        ],
        &data,
    );
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&report).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["action"], "block", "{text}");
    let shots = thumbnails(&data, line["decision_id"].as_str().unwrap());
    assert!(!shots.is_empty() && shots.iter().all(|t| is_jpeg(t)));
}

#[test]
fn a_registry_change_made_by_the_cli_reaches_a_running_server() {
    let data = common::data_with_collins();
    let (_server, port) = common::start_server(&[("CLIPGUARD_DATA_DIR", data.as_os_str())]);
    let api = common::Api::new(port);
    let clip = common::astronaut_zoom_clip();
    let alice = Some(serde_json::json!({"user": "alice"}));
    let before = api.check_clip(&clip, alice.clone());
    assert_eq!(before.status, 200);
    assert_eq!(before.json["action"], "block");

    // Another process (the CLI) changes the registry: the server's next check sees it,
    // although the clip is the same (no stale cache entry, no stale snapshot).
    let (ok, _, err) = run(&["persons", "allow", "1", "alice"], &data);
    assert!(ok, "{err}");
    let after = api.check_clip(&clip, alice);
    assert_eq!(after.status, 200);
    assert_eq!(after.json["action"], "allow", "{}", after.json);
    assert_eq!(after.headers["x-clipguard-cache"], "miss");
}

#[test]
fn commands_that_only_read_the_database_load_no_model() {
    let data = common::data_with_collins();
    let empty = common::data_dir();
    let env = [
        ("CLIPGUARD_DATA_DIR", data.as_path()),
        ("CLIPGUARD_MODELS__DIR", empty.as_path()),
        (
            "ORT_DYLIB_PATH",
            Path::new("/nonexistent/libonnxruntime.so"),
        ),
    ];
    let (ok, out, err) = common::cli(&["decisions", "list"], &env);
    assert!(ok, "{err}");
    assert!(out.is_empty(), "{out}");
    let (ok, out, err) = common::cli(&["persons", "list"], &env);
    assert!(ok && out.contains("Eileen Collins"), "{out}{err}");
    let (ok, out, err) = common::cli(&["persons", "show", "1"], &env);
    assert!(ok && out.contains("Eileen Collins"), "{out}{err}");
    // Checking does need the models, and says so.
    let clip = common::astronaut_zoom_clip();
    let (ok, _, err) = common::cli(&["check", clip.to_str().unwrap()], &env);
    assert!(!ok && err.contains("model"), "{err}");
}

/// `crate::<module>` references of each top-level module of the library, tests left out.
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = common::repo().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut graph = std::collections::BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if ["lib", "main", "cli"].contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let deps: &mut std::collections::BTreeSet<String> =
            graph.entry(module.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                deps.insert(name);
            }
        }
    }
    graph
}

#[test]
fn layers_depend_downward_only() {
    let graph = module_graph();
    // No module reaches itself through its imports.
    for start in graph.keys() {
        let mut seen = std::collections::BTreeSet::new();
        let mut todo: Vec<&String> = graph[start].iter().collect();
        while let Some(m) = todo.pop() {
            assert!(m != start, "{start} imports itself through {seen:?}");
            if seen.insert(m.clone()) {
                todo.extend(graph.get(m).into_iter().flatten());
            }
        }
    }
    assert!(
        graph["vocab"].is_empty(),
        "vocab imports {:?}",
        graph["vocab"]
    );
    assert!(
        graph["metrics"].is_empty(),
        "metrics imports {:?}",
        graph["metrics"]
    );
    for low in [
        "vocab", "media", "vision", "persons", "text", "store", "attest", "policy",
    ] {
        for high in ["service", "http", "audit", "screen"] {
            assert!(!graph[low].contains(high), "{low} imports {high}");
        }
    }
}
