//! The files in `deploy/` agree with the code: every metric the Grafana dashboard and the
//! Prometheus notes query is one the service defines, and the audit Job shards by its index.

mod common;

use std::collections::BTreeSet;

fn names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("clipguard_") {
        let start = i + at;
        let end = start
            + text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(text.len() - start);
        let preceded =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if !preceded {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

#[test]
fn dashboards_query_only_metrics_the_service_defines() {
    let defined: BTreeSet<String> =
        names(&std::fs::read_to_string(common::repo().join("src/metrics.rs")).unwrap());
    let grafana =
        std::fs::read_to_string(common::repo().join("deploy/grafana/clipguard.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&grafana).expect("the Grafana dashboard is JSON");
    let prometheus = std::fs::read_to_string(common::repo().join("deploy/prometheus.yml")).unwrap();
    let used: BTreeSet<String> = names(&grafana)
        .into_iter()
        .chain(names(&prometheus))
        .collect();
    assert!(used.len() >= 12, "{used:?}");
    for name in used {
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name)
            .to_string();
        assert!(defined.contains(&base), "{name} is not a clipguard metric");
    }
}

#[test]
fn the_audit_job_shards_by_its_completion_index() {
    let text = std::fs::read_to_string(common::repo().join("deploy/audit-job.yaml")).unwrap();
    let job: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    let n = job["spec"]["completions"].as_u64().unwrap();
    let args: Vec<&str> = job["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let shard = args[args.iter().position(|a| *a == "--shard").unwrap() + 1];
    assert_eq!(shard, format!("$(JOB_COMPLETION_INDEX)/{n}"));
    assert!(args.contains(&"--resume"));
}
