//! Batch audits: a folder of 50 generated clips (blocked, allowed and broken ones), audited in
//! full, killed and resumed, sharded, compared against a stricter policy, from S3, and as a
//! job of the service.

mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The 50 clips, by what they show. Made once per test binary by remuxing a few encodes with
/// distinct metadata (distinct bytes, the same pictures).
struct Corpus {
    dir: PathBuf,
    collins: Vec<String>,
    hopper: Vec<String>,
    plain: Vec<String>,
    broken: Vec<String>,
}

impl Corpus {
    fn all(&self) -> BTreeSet<String> {
        [&self.collins, &self.hopper, &self.plain, &self.broken]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}

fn corpus() -> &'static Corpus {
    static C: OnceLock<Corpus> = OnceLock::new();
    C.get_or_init(|| {
        let dir = common::clips_dir().join("corpus");
        std::fs::create_dir_all(dir.join("nested/deeper")).unwrap();
        std::fs::write(dir.join("README.txt"), "not a clip: ignored").unwrap();
        let copies = |base: &Path, n: usize, name: &str, sub: &str| -> Vec<String> {
            common::remux_copies(base, &dir.join(sub), n, name)
                .into_iter()
                .map(|p| p.display().to_string())
                .collect()
        };
        // Her face, from the top of the photograph (as the zoom clip frames it).
        let astronaut =
            common::still_clip_vf("astronaut.png", "crop=512:288:0:0,scale=640:360", 2, "face");
        let collins = copies(&astronaut, 10, "collins", "");
        let hopper = copies(
            &common::still_clip("grace_hopper.jpg", 2, 640, 360, "corpus"),
            10,
            "hopper",
            "nested",
        );
        let mut plain = copies(
            &common::still_clip("chelsea.png", 2, 320, 240, "corpus"),
            12,
            "cat",
            "nested/deeper",
        );
        plain.extend(copies(
            &common::still_clip("coffee.png", 2, 320, 240, "corpus"),
            12,
            "coffee",
            "",
        ));
        let cat = std::fs::read(&plain[0]).unwrap();
        let broken: Vec<String> = (0..6)
            .map(|i| {
                let p = dir.join(format!("broken-{i}.mp4"));
                let bytes = match i % 3 {
                    0 => b"a text file, not a video".to_vec(),
                    1 => cat[..cat.len() / 3].to_vec(),
                    _ => [&cat[..64], &vec![0x5a; 4000][..]].concat(),
                };
                std::fs::write(&p, bytes).unwrap();
                p.display().to_string()
            })
            .collect();
        Corpus {
            dir,
            collins,
            hopper,
            plain,
            broken,
        }
    })
}

fn run(args: &[&str], data: &Path) -> (bool, String, String) {
    common::cli(args, &[("CLIPGUARD_DATA_DIR", data)])
}

/// Asserts an audit's exit status says what its report does: 0 when every clip was
/// screened, 1 (after writing the whole report) when any could not be.
fn assert_exit_matches_report(status: i32, out: &Path, err: &str) {
    let (_, summary) = read_report(out);
    let failed = summary["errors"].as_u64().unwrap() > 0;
    assert_eq!(status, i32::from(failed), "{summary}\n{err}");
}

/// The report's clip lines by key, and its summary.
fn read_report(path: &Path) -> (BTreeMap<String, Value>, Value) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.pop().unwrap();
    assert!(
        summary.get("summary").is_some(),
        "the last line is the summary"
    );
    let mut by_key = BTreeMap::new();
    for l in lines {
        let key = l["key"].as_str().unwrap().to_string();
        assert!(by_key.insert(key.clone(), l).is_none(), "{key} twice");
    }
    (by_key, summary["summary"].clone())
}

fn audit(data: &Path, extra: &[&str]) -> (BTreeMap<String, Value>, Value, String) {
    let out = data.join(format!(
        "report-{}.jsonl",
        extra.join("_").replace('/', "of")
    ));
    let c = corpus();
    let mut args = vec![
        "audit",
        c.dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let (status, _, err) = common::cli_status(&args, &[("CLIPGUARD_DATA_DIR", data)]);
    assert_exit_matches_report(status, &out, &err);
    let (lines, summary) = read_report(&out);
    (lines, summary, err)
}

#[test]
fn a_folder_is_audited_in_full_and_a_stricter_policy_is_compared() {
    let c = corpus();
    let data = common::data_with_collins();
    let (lines, summary, stderr) = audit(&data, &[]);
    assert_eq!(lines.keys().cloned().collect::<BTreeSet<_>>(), c.all());
    for k in &c.collins {
        assert_eq!(lines[k]["action"], "block", "{k}: {}", lines[k]);
        assert_eq!(lines[k]["rules"][0], "likeness-public-figure");
    }
    for k in c.hopper.iter().chain(&c.plain) {
        assert_eq!(lines[k]["action"], "allow", "{k}: {}", lines[k]);
    }
    for k in &c.broken {
        let code = lines[k]["error"]["code"].as_str().unwrap_or_default();
        assert!(
            ["not_video", "corrupt", "truncated"].contains(&code),
            "{k}: {}",
            lines[k]
        );
        assert!(lines[k].get("action").is_none());
    }
    assert_eq!(summary["clips"], 50);
    assert_eq!(summary["by_action"]["block"], 10);
    assert_eq!(summary["by_action"]["allow"], 34);
    assert_eq!(summary["errors"], 6);
    assert_eq!(summary["by_rule"]["likeness-public-figure"], 10);
    assert!(summary["clips_per_minute"].as_f64().unwrap() > 0.0);
    assert!(stderr.contains("audit done: 50 clips"), "{stderr}");
    // Logged as audit decisions, without attestations.
    let (ok, out, _) = run(
        &["decisions", "list", "--origin", "audit", "--limit", "100"],
        &data,
    );
    assert!(ok);
    assert_eq!(out.lines().count(), 44);
    let id = lines[&c.plain[0]]["decision_id"].as_str().unwrap();
    let (_, shown, _) = run(&["decisions", "show", id], &data);
    let shown: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["origin"], "audit");
    assert!(shown.get("attestation").is_none());

    // A stricter policy: any face goes to review. Only the Grace Hopper clips change (her face,
    // registered nobody); Collins stays blocked, the cat and the coffee have no face.
    let strict = data.join("strict-policies");
    common::copy_dir(&common::repo().join("policies"), &strict);
    let file = strict.join("default.yaml");
    let mut yaml = std::fs::read_to_string(&file).unwrap();
    yaml.push_str(
        "\n  - id: strict-any-face\n    category: likeness\n    when: signals.faces.faces_embedded > 0\n    action: review\n    message: \"a face is visible\"\n",
    );
    std::fs::write(&file, yaml).unwrap();
    let (lines, summary, stderr) = audit(
        &data,
        &["--policies", strict.to_str().unwrap(), "--compare"],
    );
    let changed: BTreeSet<String> = lines
        .iter()
        .filter(|(_, l)| l["changed"] == true)
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(changed, c.hopper.iter().cloned().collect());
    for k in &c.hopper {
        assert_eq!(lines[k]["previous"]["action"], "allow");
        assert_eq!(lines[k]["action"], "review");
    }
    assert_eq!(lines[&c.collins[0]]["changed"], false);
    assert_eq!(summary["changed"], 10);
    assert_eq!(summary["changes"]["allow->review"], 10);
    assert!(
        stderr.contains("changed: 10 (allow->review 10)"),
        "{stderr}"
    );
}

#[test]
fn a_killed_audit_resumes_without_losing_or_repeating_a_clip() {
    let c = corpus();
    let data = common::data_with_collins();
    let out = data.join("killed.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_clipguard"))
        .args([
            "audit",
            c.dir.to_str().unwrap(),
            "--concurrency",
            "1",
            "--out",
        ])
        .arg(&out)
        .current_dir(common::repo())
        .env_remove("CLIPGUARD_CONFIG")
        .env("CLIPGUARD_DATA_DIR", &data)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let n = std::fs::read_to_string(&out)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if n >= 15 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the audit does not progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL, mid-run
    child.wait().unwrap();
    let before = std::fs::read_to_string(&out).unwrap();
    let whole = before.lines().filter(|l| l.ends_with('}')).count();
    assert!(whole < 50, "killed before the end");
    let resume = || {
        let (status, _, err) = common::cli_status(
            &[
                "audit",
                c.dir.to_str().unwrap(),
                "--resume",
                "--out",
                out.to_str().unwrap(),
            ],
            &[("CLIPGUARD_DATA_DIR", data.as_path())],
        );
        assert_exit_matches_report(status, &out, &err);
        read_report(&out)
    };
    let (lines, summary) = resume();
    assert_eq!(lines.keys().cloned().collect::<BTreeSet<_>>(), c.all());
    assert_eq!(summary["clips"], 50);
    assert!(summary["resumed"].as_u64().unwrap() >= 15, "{summary}");
    assert_eq!(summary["by_action"]["block"], 10);
    // Resuming a finished audit adds nothing.
    let (again, summary) = resume();
    assert_eq!(again.len(), 50);
    assert_eq!(summary["resumed"], 50);
}

#[test]
fn shards_cover_every_clip_exactly_once() {
    let c = corpus();
    let data = common::data_dir();
    let mut seen = BTreeSet::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let (lines, summary, _) = audit(&data, &["--shard", &shard]);
        assert_eq!(summary["shard"], shard);
        assert!(!lines.is_empty(), "shard {shard} is empty");
        for key in lines.into_keys() {
            assert!(seen.insert(key.clone()), "{key} in two shards");
        }
    }
    assert_eq!(seen, c.all());
    let (ok, _, err) = run(&["audit", c.dir.to_str().unwrap(), "--shard", "3/3"], &data);
    assert!(!ok && err.contains("shard"), "{err}");
}

#[test]
fn clips_under_an_s3_prefix_are_audited() {
    let c = corpus();
    let (_s3, env) = common::s3_server("archive");
    for k in c
        .collins
        .iter()
        .take(2)
        .chain(c.plain.iter().take(2))
        .chain(&c.broken[..1])
    {
        let name = Path::new(k).file_name().unwrap().to_str().unwrap();
        common::s3_put(&env, "archive", &format!("2026/11/{name}"), Path::new(k));
    }
    common::s3_put(&env, "archive", "other/skip.mp4", Path::new(&c.plain[3]));
    let data = common::data_with_collins();
    let out = data.join("s3.jsonl");
    let mut cmd_env: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, Path::new(v))).collect();
    cmd_env.push(("CLIPGUARD_DATA_DIR", &data));
    let (status, _, err) = common::cli_status(
        &[
            "audit",
            "s3://archive/2026/",
            "--out",
            out.to_str().unwrap(),
        ],
        &cmd_env,
    );
    assert_exit_matches_report(status, &out, &err);
    let (lines, summary) = read_report(&out);
    assert_eq!(lines.len(), 5, "{:?}", lines.keys());
    assert!(lines.keys().all(|k| k.starts_with("s3://archive/2026/11/")));
    assert_eq!(summary["by_action"]["block"], 2);
    assert_eq!(summary["by_action"]["allow"], 2);
    assert_eq!(summary["errors"], 1);
    let name = Path::new(&c.collins[0])
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let line = &lines[&format!("s3://archive/2026/11/{name}")];
    assert_eq!(
        line["sha256"].as_str().unwrap(),
        clipguard::digest::sha256_file(Path::new(&c.collins[0])).unwrap()
    );
}

#[test]
fn the_service_runs_audits_as_jobs() {
    let c = corpus();
    let data = common::data_with_collins();
    let (_server, port) = common::start_server(&[
        ("CLIPGUARD_DATA_DIR", data.as_os_str()),
        ("CLIPGUARD_SERVER__FILE_ROOTS", c.dir.as_os_str()),
    ]);
    let api = common::Api::new(port);
    let r = api.post_json(
        "/v1/audits",
        &serde_json::json!({"sources": [c.dir.join("nested").display().to_string()]}),
    );
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        let s = api.get(&format!("/v1/audits/{id}")).json;
        if s["state"] != "running" {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the audit does not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(status["state"], "done", "{status}");
    // nested/ holds the Grace Hopper clips and, deeper, the cats.
    assert_eq!(status["total"], 22);
    assert_eq!(status["summary"]["by_action"]["allow"], 22);
    let report = reqwest::blocking::get(format!("{}/v1/audits/{id}/report", api.base))
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(report.lines().count(), 23);
    let audits = api.get("/v1/decisions?origin=audit&limit=100").json;
    assert_eq!(audits["decisions"].as_array().unwrap().len(), 22);
    assert_eq!(
        api.metric("clipguard_audit_clips_total", &[("outcome", "allow")]),
        22.0
    );
    // Sources outside the roots are refused.
    let r = api.post_json("/v1/audits", &serde_json::json!({"sources": ["/etc"]}));
    assert_eq!((r.status, r.code()), (403, "forbidden_path"), "{}", r.json);
}

#[test]
fn lists_and_globs_name_clips() {
    let c = corpus();
    let data = common::data_dir();
    // A list's relative paths are relative to the list: put it beside the clips (audits of
    // the folder ignore it: not a video).
    let list = c.dir.join("clips.txt");
    let relative = Path::new(&c.plain[0])
        .strip_prefix(&c.dir)
        .unwrap()
        .display()
        .to_string();
    std::fs::write(
        &list,
        format!(
            "# clips to re-check\n{}\n\nfile://{}\n{}\n",
            c.collins[0], c.hopper[0], relative
        ),
    )
    .unwrap();
    let glob = format!("{}/nested/hopper-0*.mp4", c.dir.display());
    let out = data.join("listed.jsonl");
    let (ok, _, err) = run(
        &[
            "audit",
            list.to_str().unwrap(),
            &glob,
            "--out",
            out.to_str().unwrap(),
        ],
        &data,
    );
    std::fs::remove_file(&list).unwrap();
    assert!(ok, "{err}");
    let (lines, _) = read_report(&out);
    let mut expected: BTreeSet<String> = c.hopper.iter().cloned().collect();
    expected.insert(c.collins[0].clone());
    expected.insert(c.plain[0].clone());
    assert_eq!(lines.keys().cloned().collect::<BTreeSet<_>>(), expected);
    // An existing report is never overwritten unless asked: --resume or --force.
    let again = ["audit", &glob, "--out", out.to_str().unwrap()];
    let (status, _, err) = common::cli_status(&again, &[("CLIPGUARD_DATA_DIR", data.as_path())]);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    assert_eq!(read_report(&out).0.len(), expected.len(), "left as it was");
    let (ok, _, err) = run(&[&again[..], &["--force"]].concat(), &data);
    assert!(ok, "{err}");
    assert_eq!(read_report(&out).0.len(), c.hopper.len(), "replaced");
    let (ok, _, err) = run(&["audit", "/no/such/folder"], &data);
    assert!(!ok && err.contains("/no/such/folder"), "{err}");
}

/// The report of a service audit so far: its clip lines, by key (each key once), and its
/// summary once done.
fn service_report(api: &common::Api, id: &str) -> (BTreeMap<String, Value>, Option<Value>) {
    let text = reqwest::blocking::get(format!("{}/v1/audits/{id}/report", api.base))
        .unwrap()
        .text()
        .unwrap();
    let (mut lines, mut summary) = (BTreeMap::new(), None);
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        if let Some(s) = v.get("summary") {
            summary = Some(s.clone());
            continue;
        }
        let key = v["key"].as_str().unwrap().to_string();
        assert!(lines.insert(key.clone(), v).is_none(), "{key} twice");
    }
    (lines, summary)
}

/// Starts an audit of the corpus on a server started with `env_a`, kills it (SIGKILL) a few
/// clips in, starts (or, `b_first`, has already started) a server with `env_b`, and waits
/// for that one to finish the audit: every clip reported exactly once.
fn killed_audit_is_finished_by_another_server(
    env_a: &[(&str, &OsStr)],
    env_b: &[(&str, &OsStr)],
    b_first: bool,
) {
    let c = corpus();
    let (mut a, port) = common::start_server(env_a);
    let mut b = b_first.then(|| common::start_server(env_b));
    let api = common::Api::new(port);
    let r = api.post_json(
        "/v1/audits",
        &serde_json::json!({"sources": [c.dir.display().to_string()]}),
    );
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while service_report(&api, &id).0.len() < 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "the audit does not progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    a.0.kill().unwrap();
    a.0.wait().unwrap();

    let (_b, port) = b.take().unwrap_or_else(|| common::start_server(env_b));
    let api = common::Api::new(port);
    let (lines, summary) = service_report(&api, &id);
    assert!(
        summary.is_none() && lines.len() < 50,
        "killed before the end"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let status = loop {
        let s = api.get(&format!("/v1/audits/{id}")).json;
        if s["state"] == "done" {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "not resumed: {s}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(status["summary"]["clips"], 50, "{status}");
    assert!(
        status["summary"]["resumed"].as_u64().unwrap() >= 10,
        "{status}"
    );
    let (lines, summary) = service_report(&api, &id);
    assert_eq!(lines.keys().cloned().collect::<BTreeSet<_>>(), c.all());
    assert_eq!(summary.unwrap()["clips"], 50);
}

#[test]
fn a_service_audit_interrupted_by_a_kill_resumes_at_the_next_start() {
    let c = corpus();
    let data = common::data_dir();
    let env = [
        ("CLIPGUARD_DATA_DIR", data.as_os_str()),
        ("CLIPGUARD_SERVER__FILE_ROOTS", c.dir.as_os_str()),
        ("CLIPGUARD_SERVER__AUDIT_LEASE_S", OsStr::new("2")),
    ];
    killed_audit_is_finished_by_another_server(&env, &env, false);
}

/// Two replicas on one PostgreSQL database: the one that did not start the audit leaves it
/// alone while its replica lives, and finishes it after that replica is killed.
#[test]
fn an_audit_whose_replica_is_killed_is_finished_by_another() {
    let Some(db) = clipguard::store::scratch::ScratchDatabase::create() else {
        return;
    };
    let c = corpus();
    let key = common::clips_dir().join("attestation.key");
    std::fs::write(&key, "07".repeat(32)).unwrap();
    let env = [
        ("CLIPGUARD_DATABASE_URL", OsStr::new(&db.url)),
        ("CLIPGUARD_ATTESTATION__KEY_FILE", key.as_os_str()),
        ("CLIPGUARD_SERVER__FILE_ROOTS", c.dir.as_os_str()),
        ("CLIPGUARD_SERVER__AUDIT_LEASE_S", OsStr::new("2")),
    ];
    killed_audit_is_finished_by_another_server(&env, &env, true);
}

/// The attacker's folder inside the roots: a clip, a link to another clip inside, links out
/// (to a clip elsewhere, /etc/passwd, /proc, a device, a folder), and a FIFO.
struct Hostile {
    folder: PathBuf,
    inside: PathBuf,
    /// The sha256 of what the links out point at: none may appear anywhere.
    forbidden_sha256: Vec<String>,
}

fn hostile_folder(root: &Path) -> Hostile {
    let c = corpus();
    let folder = root.join("b");
    let elsewhere = root.parent().unwrap().join("elsewhere");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let inside = folder.join("real.mp4");
    std::fs::copy(&c.plain[0], &inside).unwrap();
    let secret = elsewhere.join("secret.mp4");
    std::fs::copy(&c.collins[0], &secret).unwrap();
    let link =
        |target: &Path, name: &str| std::os::unix::fs::symlink(target, folder.join(name)).unwrap();
    link(&secret, "link_out.mp4");
    link(Path::new("/etc/passwd"), "passwd.mp4");
    link(Path::new("/proc/self/environ"), "environ.mp4");
    link(Path::new("/dev/zero"), "zero.mp4");
    link(&elsewhere, "dir_out");
    link(&inside, "link_in.mp4");
    assert!(Command::new("mkfifo")
        .arg(folder.join("fifo.mp4"))
        .status()
        .unwrap()
        .success());
    let sha = |p: &Path| clipguard::digest::sha256_file(p).unwrap();
    Hostile {
        forbidden_sha256: vec![sha(&secret), sha(Path::new("/etc/passwd"))],
        inside: inside.canonicalize().unwrap(),
        folder,
    }
}

/// The lines an audit of the hostile folder must give: one clip, and each other entry
/// skipped with its reason.
fn assert_stays_inside(h: &Hostile, lines: &BTreeMap<String, Value>, report: &str) {
    let key = |name: &str| h.folder.join(name).display().to_string();
    let clip = &lines[&h.inside.display().to_string()];
    assert_eq!(clip["action"], "allow", "{clip}");
    for (name, code) in [
        ("link_out.mp4", "forbidden_path"),
        ("passwd.mp4", "forbidden_path"),
        ("environ.mp4", "forbidden_path"),
        ("zero.mp4", "forbidden_path"),
        ("dir_out", "forbidden_path"),
        ("fifo.mp4", "not_a_file"),
    ] {
        let line = lines
            .get(&key(name))
            .unwrap_or_else(|| panic!("no line for {name}: {report}"));
        assert_eq!(line["error"]["code"], code, "{line}");
        assert!(line["sha256"].is_null(), "{line}");
    }
    assert_eq!(lines.len(), 7, "{report}");
    for sha in &h.forbidden_sha256 {
        assert!(!report.contains(sha.as_str()), "{sha} hashed: {report}");
    }
}

#[test]
fn audits_stay_inside_their_roots_and_never_block_on_a_fifo() {
    let base = common::data_dir();
    let root = base.join("srv");
    let h = hostile_folder(&root);

    // Over HTTP, the auditor's way in.
    let data = common::data_dir();
    let (_server, port) = common::start_server(&[
        ("CLIPGUARD_DATA_DIR", data.as_os_str()),
        ("CLIPGUARD_SERVER__FILE_ROOTS", root.as_os_str()),
    ]);
    let api = common::Api::new(port);
    let r = api.post_json(
        "/v1/audits",
        &serde_json::json!({"sources": [h.folder.display().to_string()]}),
    );
    assert_eq!(r.status, 202, "{}", r.json);
    let id = r.json["id"].as_str().unwrap().to_string();
    // Bounded: a walk blocked on the FIFO would never finish.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        let s = api.get(&format!("/v1/audits/{id}")).json;
        if s["state"] != "running" {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "the audit hangs: {s}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(status["state"], "done", "{status}");
    assert_eq!(status["summary"]["errors_by_code"]["forbidden_path"], 5);
    assert_eq!(status["summary"]["errors_by_code"]["not_a_file"], 1);
    let report = reqwest::blocking::get(format!("{}/v1/audits/{id}/report", api.base))
        .unwrap()
        .text()
        .unwrap();
    let (lines, _) = service_report(&api, &id);
    assert_stays_inside(&h, &lines, &report);
    // Screened and served: the one clip inside, nothing else.
    let audits = api.get("/v1/decisions?origin=audit&limit=100").json;
    let decisions = audits["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{audits}");
    for sha in &h.forbidden_sha256 {
        assert!(!audits.to_string().contains(sha.as_str()));
        let r = api.get(&format!("/v1/decisions?clip_sha256={sha}"));
        assert_eq!(
            r.json["decisions"].as_array().map_or(0, Vec::len),
            0,
            "{}",
            r.json
        );
    }

    // The CLI, no roots configured: the folder named is the root of its walk.
    let out = data.join("hostile.jsonl");
    let (status, _, err) = common::cli_status(
        &[
            "audit",
            h.folder.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[("CLIPGUARD_DATA_DIR", common::data_dir().as_path())],
    );
    assert_exit_matches_report(status, &out, &err);
    let (lines, summary) = read_report(&out);
    assert_stays_inside(&h, &lines, &std::fs::read_to_string(&out).unwrap());
    assert_eq!(summary["errors"], 6, "{summary}");
    // A list naming the same entries directly: the same refusals, and /proc never read.
    // With roots configured, the list itself must be inside them too.
    let list = root.join("hostile.txt");
    let names = [
        "real.mp4",
        "link_out.mp4",
        "passwd.mp4",
        "environ.mp4",
        "zero.mp4",
        "fifo.mp4",
    ];
    let text: String = names
        .iter()
        .map(|n| format!("{}\n", h.folder.join(n).display()))
        .chain(["/proc/self/environ\n".to_string()])
        .collect();
    std::fs::write(&list, text).unwrap();
    let out = data.join("listed-hostile.jsonl");
    let (status, _, err) = common::cli_status(
        &[
            "audit",
            list.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[
            ("CLIPGUARD_DATA_DIR", data.join("cli").as_path()),
            ("CLIPGUARD_SERVER__FILE_ROOTS", root.as_path()),
        ],
    );
    assert_exit_matches_report(status, &out, &err);
    let text = std::fs::read_to_string(&out).unwrap();
    let (lines, summary) = read_report(&out);
    assert_eq!(lines[&h.inside.display().to_string()]["action"], "allow");
    assert_eq!(summary["errors"], 6, "{text}");
    assert_eq!(
        lines["/proc/self/environ"]["error"]["code"],
        "forbidden_path"
    );
    for sha in &h.forbidden_sha256 {
        assert!(!text.contains(sha.as_str()));
    }
}
