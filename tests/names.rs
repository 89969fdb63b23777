//! Names in prompts at registry scale: 20,000 generated names plus stage names and public
//! figures whose names are ordinary words (tests/names/), loaded through the registry and
//! gazetteer the service uses, and judged by the default policy. Innocent prompts may be
//! flagged at most 1% of the time and never blocked; evasions must be caught 99% of the time.

mod common;

use clipguard::policy::{Policy, PolicyInput, RequestContext};
use clipguard::service::CheckService;
use clipguard::vocab::Action;
use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::OnceLock;

fn lines(file: &str) -> Vec<String> {
    std::fs::read_to_string(common::repo().join("tests/names").join(file))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The registry of tests/names, imported as JSONL through `Registry::import`.
fn service() -> &'static std::sync::Arc<CheckService> {
    static S: OnceLock<std::sync::Arc<CheckService>> = OnceLock::new();
    S.get_or_init(|| {
        let s = common::service(common::config());
        let mut jsonl = String::new();
        for name in lines("registry.txt") {
            jsonl += &serde_json::json!({ "name": name }).to_string();
            jsonl.push('\n');
        }
        for line in lines("stage_names.txt") {
            let mut parts = line.split('|');
            let name = parts.next().unwrap();
            let aliases: Vec<&str> = parts.collect();
            jsonl += &serde_json::json!({ "name": name, "aliases": aliases }).to_string();
            jsonl.push('\n');
        }
        let n = s
            .registry()
            .import("tests/names", Cursor::new(jsonl))
            .unwrap();
        assert!(n >= 20_200, "{n} persons");
        s
    })
}

fn policy() -> Policy {
    Policy::from_config(&common::config().policies, &clipguard::analysers::schema()).unwrap()
}

fn decide(policy: &Policy, prompt: &str) -> (Action, Vec<String>) {
    let found = service().screen_prompt(prompt, &policy.terms).unwrap();
    let input = PolicyInput::new(
        None,
        Some(&found),
        RequestContext {
            user: "tester".into(),
            consents: vec![],
        },
    );
    let names = found
        .persons
        .iter()
        .map(|m| format!("{} {:?} {} {:?}", m.name, m.text, m.score, m.reasons))
        .collect();
    (policy.decide(&input).action, names)
}

#[test]
fn innocent_prompts_are_rarely_flagged_and_never_blocked() {
    let policy = policy();
    // Written by hand to read like real use; none generated from word pools.
    let prompts: Vec<String> = lines("innocent_written.txt")
        .into_iter()
        .chain(lines("innocent_realistic.txt"))
        .collect();
    assert!(prompts.len() >= 500);
    let mut flagged = Vec::new();
    let mut blocked = Vec::new();
    for p in &prompts {
        let (action, names) = decide(&policy, p);
        match action {
            Action::Allow => {}
            Action::Review => flagged.push(format!("review {p:?}: {names:?}")),
            Action::Block => blocked.push(format!("block {p:?}: {names:?}")),
        }
    }
    let rate = (flagged.len() + blocked.len()) as f64 / prompts.len() as f64;
    println!(
        "innocent: {} prompts, {} reviewed, {} blocked ({:.2}% flagged)",
        prompts.len(),
        flagged.len(),
        blocked.len(),
        rate * 100.0
    );
    for f in flagged.iter().chain(&blocked) {
        println!("  {f}");
    }
    assert!(blocked.is_empty(), "blocked: {blocked:#?}");
    assert!(rate <= 0.01, "flagged {:.2}%: {flagged:#?}", rate * 100.0);
}

#[test]
fn evasions_are_caught() {
    let policy = policy();
    let cases = lines("evasions.txt");
    assert!(cases.len() >= 500);
    let mut missed = Vec::new();
    let mut by_class: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for case in &cases {
        let mut parts = case.splitn(3, '\t');
        let (who, class, prompt) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap().replace("\\n", "\n"),
        );
        let found = service().screen_prompt(&prompt, &policy.terms).unwrap();
        let (action, names) = decide(&policy, &prompt);
        // A title and a surname name everyone registered with that surname: the match is
        // right when it reports the surname, whichever of them (at most 8) it lists.
        let surname = |n: &str| n.split_whitespace().last().map(str::to_lowercase);
        let named = found
            .persons
            .iter()
            .any(|m| m.name == who || (class == "title" && surname(&m.name) == surname(who)));
        let entry = by_class.entry(class.to_string()).or_default();
        entry.0 += 1;
        if action != Action::Allow && named {
            entry.1 += 1;
        } else {
            missed.push(format!(
                "{class}: {who} in {prompt:?} -> {action:?} {names:?}"
            ));
        }
    }
    let caught = cases.len() - missed.len();
    let rate = caught as f64 / cases.len() as f64;
    println!(
        "evasions: {} prompts, {} caught ({:.2}%)",
        cases.len(),
        caught,
        rate * 100.0
    );
    for (class, (n, c)) in &by_class {
        println!("  {class}: {c}/{n}");
    }
    for m in &missed {
        println!("  missed {m}");
    }
    assert!(rate >= 0.99, "caught {:.2}%", rate * 100.0);
}
