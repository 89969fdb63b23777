//! A policy reload applies everything its version covers: editing a term list and reloading
//! changes the version and the matching together, over HTTP.

mod common;

use common::{start_server, Api};
use serde_json::json;

#[test]
fn reloading_an_edited_term_list_changes_the_version_and_the_matching() {
    let dir = common::data_dir().join("policies");
    common::copy_dir(&common::repo().join("policies"), &dir);
    let (_server, port) = start_server(&[("CLIPGUARD_POLICIES__DIR", dir.as_os_str())]);
    let api = Api::new(port);
    // Not a gremlin: the meaning model reads one as a child (minors 0.63), a robot it does not.
    let prompt = json!({"prompt": "a robot posing naked on a beach", "user": "bob"});

    let before = api.post_json("/v1/prompts/check?view=full", &prompt);
    assert_eq!(before.status, 200, "{}", before.json);
    let v0 = before.json["decision"]["policy"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(api.get("/readyz").json["policy"]["version"], v0.as_str());
    let categories: Vec<&str> = before.json["prompt"]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["category"].as_str().unwrap())
        .collect();
    assert_eq!(categories, vec!["sexual"], "{}", before.json);
    assert_ne!(
        before.json["decision"]["action"], "block",
        "{}",
        before.json
    );

    // "robot" joins the minors list: the same prompt now combines minors and sexual terms.
    let minors = dir.join("lists/minors.txt");
    let mut list = std::fs::read_to_string(&minors).unwrap();
    list.push_str("robot\n");
    std::fs::write(&minors, list).unwrap();
    let r = api.post_json("/v1/policies/reload", &json!({}));
    assert_eq!(r.status, 200, "{}", r.json);
    let v1 = r.json["version"].as_str().unwrap().to_string();
    assert_ne!(v1, v0, "a list edit changes the version");
    assert_eq!(api.get("/readyz").json["policy"]["version"], v1.as_str());

    let after = api.post_json("/v1/prompts/check?view=full", &prompt);
    assert_eq!(after.status, 200, "{}", after.json);
    assert_eq!(after.json["decision"]["policy"]["version"], v1.as_str());
    assert_eq!(after.json["decision"]["action"], "block", "{}", after.json);
    let rule = &after.json["decision"]["matched"][0];
    assert_eq!(rule["rule"], "prompt-sexualised-minors", "{}", after.json);
    assert_eq!(rule["evidence"][0]["text"], "robot", "{rule}");

    // Taking the word out again restores the first version and the first answer.
    let list = std::fs::read_to_string(&minors).unwrap();
    std::fs::write(&minors, list.replace("robot\n", "")).unwrap();
    let r = api.post_json("/v1/policies/reload", &json!({}));
    assert_eq!(r.json["version"], v0.as_str(), "{}", r.json);
    let again = api.post_json("/v1/prompts/check?view=full", &prompt);
    assert_eq!(
        again.json["decision"]["action"],
        before.json["decision"]["action"]
    );
    assert_eq!(again.json["decision"]["policy"]["version"], v0.as_str());
}

/// A deployment tool writing the policy in place: a file cut just before a rule, then one
/// emptied to `rules: []`, are seen by the watcher and refused (the version in force stays,
/// the refusal is counted and the prompt is still blocked); the complete file with one more
/// comment is then applied, once it has stayed unchanged for a poll.
#[test]
fn a_policy_file_cut_short_or_emptied_in_place_is_refused_by_the_watcher() {
    let dir = common::data_dir().join("policies");
    common::copy_dir(&common::repo().join("policies"), &dir);
    let (_server, port) = start_server(&[("CLIPGUARD_POLICIES__DIR", dir.as_os_str())]);
    let api = Api::new(port);
    let prompt = json!({"prompt": "a naked child on a beach", "user": "bob"});
    let first = api.post_json("/v1/prompts/check", &prompt);
    assert_eq!(first.json["action"], "block", "{}", first.json);
    let v0 = api.get("/readyz").json["policy"]["version"].clone();
    let file = dir.join("default.yaml");
    let full = std::fs::read_to_string(&file).unwrap();
    let cut = full.find("  - id: prompt-sexualised-minors").unwrap();
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    for (n, text) in [
        full[..cut].to_string(),
        "name: default\nrules: []\n".to_string(),
    ]
    .into_iter()
    .enumerate()
    {
        std::fs::write(&file, text).unwrap();
        wait_for("the watcher refuses the file", &|| {
            api.metric(
                "clipguard_policy_reloads_total",
                &[("result", "rules_removed")],
            ) >= (n + 1) as f64
        });
        assert_eq!(api.get("/readyz").json["policy"]["version"], v0);
        let again = api.post_json("/v1/prompts/check", &prompt);
        assert_eq!(again.json["action"], "block", "{}", again.json);
    }
    std::fs::write(&file, format!("{full}# reviewed\n")).unwrap();
    wait_for("the complete file is applied", &|| {
        api.get("/readyz").json["policy"]["version"] != v0
    });
}
