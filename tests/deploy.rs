//! The files in `deploy/` agree with the code: every metric the Grafana dashboard, the
//! Prometheus notes and the autoscaler query is one the service defines, the audit Job shards
//! by its index, and the Kubernetes manifests' probes, ports, environment, mounts and policies
//! are those the binary serves, reads and loads.

mod common;

use clipguard::Config;
use serde::Deserialize as _;
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
    let text =
        std::fs::read_to_string(common::repo().join("deploy/kubernetes/audit-job.yaml")).unwrap();
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

/// Every object of every manifest in deploy/kubernetes, by kind and name.
fn manifests() -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    let dir = common::repo().join("deploy/kubernetes");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let kind = v["kind"].as_str().unwrap().to_string();
            let name = v["metadata"]["name"].as_str().unwrap().to_string();
            out.insert((kind, name), v);
        }
    }
    out
}

fn get<'a>(all: &'a BTreeMap<(String, String), Value>, kind: &str, name: &str) -> &'a Value {
    all.get(&(kind.into(), name.into()))
        .unwrap_or_else(|| panic!("no {kind} {name} in deploy/kubernetes"))
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

/// The configuration a pod template's first container runs with: its ConfigMap's file and
/// its environment (values from the Secret), loaded as the binary loads it.
fn pod_config(all: &BTreeMap<(String, String), Value>, pod: &Value) -> Config {
    let container = &pod["containers"][0];
    let secret = get(all, "Secret", "clipguard");
    let mut vars = Vec::new();
    let mut config_path = None;
    for e in container["env"].as_sequence().unwrap() {
        let name = str_of(&e["name"]);
        let value = match &e["valueFrom"]["secretKeyRef"] {
            Value::Null => str_of(&e["value"]).to_string(),
            r => {
                assert_eq!(str_of(&r["name"]), "clipguard", "{name}");
                str_of(&secret["stringData"][str_of(&r["key"])]).to_string()
            }
        };
        if name == "CLIPGUARD_CONFIG" {
            config_path = Some(value);
        } else if name.starts_with("CLIPGUARD_") {
            vars.push((name.into(), value.into()));
        }
    }
    // The config file is the ConfigMap's, mounted where CLIPGUARD_CONFIG says.
    let config_path = config_path.expect("CLIPGUARD_CONFIG is set");
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| str_of(&m["mountPath"]) == config_path)
        .expect("CLIPGUARD_CONFIG names a mounted file");
    let volume = volume(pod, str_of(&mount["name"]));
    let map = get(all, "ConfigMap", str_of(&volume["configMap"]["name"]));
    let text = str_of(&map["data"][str_of(&mount["subPath"])]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clipguard.toml");
    std::fs::write(&file, text).unwrap();
    Config::load_from(Some(&file), vars, Path::new("/opt/clipguard"))
        .unwrap_or_else(|e| panic!("the manifests' configuration does not load: {e}"))
}

fn volume<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no volume {name}"))
}

/// The folder each volume is mounted at, by volume name (subPath mounts left out).
fn mounts(pod: &Value) -> BTreeMap<String, PathBuf> {
    pod["containers"][0]["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|m| m["subPath"].is_null())
        .map(|m| (str_of(&m["name"]).into(), str_of(&m["mountPath"]).into()))
        .collect()
}

#[test]
fn probes_and_ports_are_those_the_binary_serves() {
    use utoipa::OpenApi;
    let all = manifests();
    let deployment = get(&all, "Deployment", "clipguard");
    let pod = &deployment["spec"]["template"]["spec"];
    let cfg = pod_config(&all, pod);
    let container = &pod["containers"][0];
    assert_eq!(container["args"][0], "serve");

    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    let bind: std::net::SocketAddr = cfg.server.bind.parse().unwrap();
    assert_eq!(bind.port() as u64, port, "server.bind {}", cfg.server.bind);
    // Not loopback, so the service needs API keys: the Secret's, through the environment.
    assert!(!bind.ip().is_loopback());
    assert_eq!(cfg.server.api_keys.len(), 2);
    clipguard::http::check_access(&cfg).unwrap();

    let doc = serde_json::to_value(clipguard::http::ApiDoc::openapi()).unwrap();
    let port_name = str_of(&container["ports"][0]["name"]);
    for (probe, path) in [
        ("startupProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} is not served"
        );
        assert_eq!(get["port"], port_name, "{probe}");
    }

    let service = get(&all, "Service", "clipguard");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port_name);
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["template"]["metadata"]["labels"]
    );
    let pdb = get(&all, "PodDisruptionBudget", "clipguard");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    // Checks in flight finish before the pod is killed.
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() > cfg.server.shutdown_timeout_s);
}

#[test]
fn the_autoscaler_scales_the_deployment_on_the_queue_depth() {
    let all = manifests();
    let hpa = get(&all, "HorizontalPodAutoscaler", "clipguard");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "clipguard");
    let defined = names(&std::fs::read_to_string(common::repo().join("src/metrics.rs")).unwrap());
    let pods: Vec<&str> = hpa["spec"]["metrics"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "Pods")
        .map(|m| str_of(&m["pods"]["metric"]["name"]))
        .collect();
    assert_eq!(pods, ["clipguard_queue_depth"]);
    assert!(defined.contains(pods[0]));
}

#[test]
fn pods_find_their_files_where_the_configuration_says() {
    let all = manifests();
    for (kind, name) in [("Deployment", "clipguard"), ("Job", "clipguard-audit")] {
        let pod = &get(&all, kind, name)["spec"]["template"]["spec"];
        let cfg = pod_config(&all, pod);
        let mounts = mounts(pod);
        assert_eq!(mounts["policies"], cfg.policies.dir, "{kind}");
        assert_eq!(mounts["data"], cfg.data_dir, "{kind}");
        // The image's layout (deploy/image/clipguard.toml) holds the models and the runtime.
        let image = Config::load_from(
            Some(&common::repo().join("deploy/image/clipguard.toml")),
            Vec::new(),
            Path::new("/opt/clipguard"),
        )
        .unwrap();
        assert_eq!(cfg.models.dir, image.models.dir, "{kind}");
        assert_eq!(cfg.models.manifest, image.models.manifest, "{kind}");
        assert_eq!(cfg.runtime.onnxruntime, image.runtime.onnxruntime, "{kind}");
        // The attestation key pair is mounted into the data folder, where the binary reads it.
        let (key, public) = clipguard::attest::key_paths(&cfg.data_dir);
        let files: Vec<PathBuf> = pod["containers"][0]["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|m| m["name"] == "keys")
            .map(|m| str_of(&m["mountPath"]).into())
            .collect();
        assert_eq!(files, [key, public], "{kind}");
        // The policy volume lays the ConfigMap's keys out as the policies folder.
        let map = get(&all, "ConfigMap", "clipguard-policies");
        let keys: BTreeSet<&str> = map["data"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(str_of)
            .collect();
        let items: BTreeMap<&str, &str> = volume(pod, "policies")["configMap"]["items"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|i| (str_of(&i["key"]), str_of(&i["path"])))
            .collect();
        assert_eq!(
            items.keys().copied().collect::<BTreeSet<_>>(),
            keys,
            "{kind}"
        );
        for (key, path) in items {
            let expected = match (key.strip_prefix("lists."), key.strip_prefix("meaning.")) {
                (Some(list), _) => format!("lists/{list}"),
                (_, Some(set)) => format!("meaning/{set}"),
                _ => key.to_string(),
            };
            assert_eq!(path, expected, "{kind}");
        }
        assert!(cfg.policies.policy_file().starts_with(&mounts["policies"]));
    }
}

#[test]
fn the_policies_config_map_is_the_policies_folder() {
    let all = manifests();
    let map = get(&all, "ConfigMap", "clipguard-policies");
    let repo = common::repo();
    let mut expected: Vec<PathBuf> = Vec::new();
    for dir in ["policies", "policies/lists", "policies/meaning"] {
        for entry in std::fs::read_dir(repo.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml" || e == "txt") {
                expected.push(path);
            }
        }
    }
    let data = map["data"].as_mapping().unwrap();
    assert_eq!(data.len(), expected.len(), "{expected:?}");
    for path in expected {
        let name = path.file_name().unwrap().to_str().unwrap();
        let parent = path.parent().unwrap();
        let key = if parent.ends_with("lists") {
            format!("lists.{name}")
        } else if parent.ends_with("meaning") {
            format!("meaning.{name}")
        } else {
            name.to_string()
        };
        let in_map = data
            .get(key.as_str())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{key} is not in the ConfigMap"));
        assert_eq!(
            in_map,
            std::fs::read_to_string(&path).unwrap(),
            "{key} differs from {}: run `python3 deploy/kubernetes/make-policies.py`",
            path.display()
        );
    }
}
