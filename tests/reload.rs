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
    let prompt = json!({"prompt": "a gremlin posing naked on a beach", "user": "bob"});

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

    // "gremlin" joins the minors list: the same prompt now combines minors and sexual terms.
    let minors = dir.join("lists/minors.txt");
    let mut list = std::fs::read_to_string(&minors).unwrap();
    list.push_str("gremlin\n");
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
    assert_eq!(rule["evidence"][0]["text"], "gremlin", "{rule}");

    // Taking the word out again restores the first version and the first answer.
    let list = std::fs::read_to_string(&minors).unwrap();
    std::fs::write(&minors, list.replace("gremlin\n", "")).unwrap();
    let r = api.post_json("/v1/policies/reload", &json!({}));
    assert_eq!(r.json["version"], v0.as_str(), "{}", r.json);
    let again = api.post_json("/v1/prompts/check?view=full", &prompt);
    assert_eq!(
        again.json["decision"]["action"],
        before.json["decision"]["action"]
    );
    assert_eq!(again.json["decision"]["policy"]["version"], v0.as_str());
}
