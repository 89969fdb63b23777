//! Content Credentials (C2PA) through the CLI and the API, on clips made here with ffmpeg: an
//! allowed clip is written with a manifest that clipguard and c2pa-python (the Content
//! Authenticity Initiative's SDK, an independent reader) both validate, its media untouched;
//! one changed byte of the media makes the manifest invalid, and screening such a clip sends it
//! to review; a blocked clip gets no credentials.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const TRAINED: &str = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";

fn cli(args: &[&str], data: &Path) -> (i32, String, String) {
    common::cli_status(args, &[("CLIPGUARD_DATA_DIR", data)])
}

/// A 3 s 640x360 H.264 test pattern in MP4, `name` in its metadata so each clip differs.
fn pattern_clip(name: &str) -> PathBuf {
    let out = common::clips_dir().join(format!("{name}.mp4"));
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-metadata",
        &format!("title={name}"),
        out.to_str().unwrap(),
    ]);
    out
}

/// sha256 of the video stream's packets: the same whatever boxes the container gains.
fn stream_hash(clip: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(clip)
        .args([
            "-map",
            "0:v",
            "-c",
            "copy",
            "-f",
            "streamhash",
            "-hash",
            "sha256",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The clip with one bit flipped in the middle of its `mdat` box (the coded frames).
fn with_media_byte_changed(clip: &Path, out: &Path) {
    let mut bytes = std::fs::read(clip).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == b"mdat")
        .expect("an mdat box");
    let size = u32::from_be_bytes(bytes[at - 4..at].try_into().unwrap()) as usize;
    let middle = at + 4 + size / 2;
    bytes[middle] ^= 1;
    std::fs::write(out, bytes).unwrap();
}

/// What c2pa-python makes of a clip's manifest, trusting `anchors`.
fn reference(clip: &Path, anchors: &Path) -> serde_json::Value {
    let python = common::repo().join(".local/venv/bin/python");
    let out = Command::new(python)
        .arg(common::repo().join("tests/c2pa_reference.py"))
        .args([clip, anchors])
        .output()
        .expect("the set-up's Python runs (make setup)");
    assert!(
        out.status.success(),
        "c2pa-python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn an_allowed_clip_gets_content_credentials_that_hold_until_a_media_byte_changes() {
    let data = common::data_dir();
    let clip = pattern_clip("c2pa_allowed");
    let published = data.join("published.mp4");
    let (status, json, err) = cli(
        &[
            "check",
            "--json",
            clip.to_str().unwrap(),
            "--c2pa-out",
            published.to_str().unwrap(),
            "--generator",
            "Sora 2",
        ],
        &data,
    );
    assert_eq!(status, 0, "{err}");
    let decision: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(decision["action"], "allow");
    let id = decision["id"].as_str().unwrap();

    // Only a manifest was added: the coded frames are the same bytes.
    assert_eq!(stream_hash(&clip), stream_hash(&published));
    let grown =
        std::fs::metadata(&published).unwrap().len() - std::fs::metadata(&clip).unwrap().len();
    assert!(
        (1_000..100_000).contains(&grown),
        "manifest of {grown} bytes"
    );

    // The chain clipguard made for itself is private to it, and kept.
    for name in ["c2pa-root.pem", "c2pa-chain.pem", "c2pa-signer.key"] {
        let mode = std::fs::metadata(data.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let chain = std::fs::read_to_string(data.join("c2pa-chain.pem")).unwrap();
    assert_eq!(
        chain.matches("BEGIN CERTIFICATE").count(),
        2,
        "leaf and intermediate"
    );

    // Offline verification needs no attestation file: the manifest carries it.
    let (status, out, err) = cli(&["verify", published.to_str().unwrap()], &data);
    assert_eq!(status, 0, "{out}{err}");
    assert!(
        out.contains("with clipguard's Content Credentials") && out.contains(id),
        "{out}"
    );

    // Screening the published clip reads the credentials back into the signals; publishing
    // it again keeps them, as the parent of a new manifest.
    let republished = data.join("republished.mp4");
    let (status, json, err) = cli(
        &[
            "check",
            "--json",
            "--full",
            published.to_str().unwrap(),
            "--c2pa-out",
            republished.to_str().unwrap(),
        ],
        &data,
    );
    assert_eq!(status, 0, "{err}");
    let again: serde_json::Value = serde_json::from_str(&json).unwrap();
    let p = &again["clip"]["provenance"];
    assert_eq!(p["state"], "trusted", "{p}");
    assert_eq!(p["generator"], "clipguard");
    assert_eq!(p["actions"][0], "c2pa.created");
    assert_eq!(p["digital_source_types"][0], TRAINED);
    assert_eq!(p["software_agents"][0], "Sora 2");
    assert_eq!(p["clipguard_decision"], id);
    assert_eq!(p["problems"], serde_json::json!([]));

    let (status, out, err) = cli(&["verify", republished.to_str().unwrap()], &data);
    assert_eq!(status, 0, "{out}{err}");
    // Read by a clipguard with another chain (the test's screener): it holds, but nothing
    // vouches for the signer.
    let kept = common::live().credentials.read(&republished);
    assert_eq!(kept.state, clipguard::vocab::ProvenanceState::Valid);
    assert_eq!(kept.actions, ["c2pa.opened"]);
    assert_eq!(kept.digital_source_types, [TRAINED], "from the parent");
    assert_eq!(kept.software_agents, ["Sora 2"], "from the parent");
    assert_eq!(kept.ingredients[0].relationship, "parentOf");

    // The Content Authenticity Initiative's own SDK agrees.
    let root = data.join("c2pa-root.pem");
    let r = reference(&published, &root);
    assert_eq!(r["state"], "Trusted", "{r}");
    assert_eq!(r["failures"], serde_json::json!([]), "{r}");
    assert_eq!(r["generator"][0], "clipguard", "{r}");
    let created = &r["actions"][0];
    assert_eq!(created["action"], "c2pa.created", "{r}");
    assert_eq!(created["digitalSourceType"], TRAINED, "{r}");
    assert_eq!(created["softwareAgent"]["name"], "Sora 2", "{r}");
    let recorded = &r["decision"];
    assert_eq!(recorded["decision_id"], id, "{r}");
    assert_eq!(recorded["action"], "allow");
    assert_eq!(recorded["coverage"]["complete"], true);
    assert_eq!(recorded["attestation"], decision["attestation"], "{r}");
    let r = reference(&republished, &root);
    assert_eq!(r["state"], "Trusted", "{r}");
    assert_eq!(r["actions"][0]["action"], "c2pa.opened", "{r}");

    // One changed bit of the media: the manifest no longer holds, for either reader.
    let tampered = data.join("tampered.mp4");
    with_media_byte_changed(&published, &tampered);
    let (status, _, err) = cli(&["verify", tampered.to_str().unwrap()], &data);
    assert_eq!(status, 1);
    assert!(err.contains("Content Credentials do not verify"), "{err}");
    let r = reference(&tampered, &root);
    assert_eq!(r["state"], "Invalid", "{r}");
    assert!(
        r["failures"].as_array().is_some_and(|f| !f.is_empty()),
        "{r}"
    );

    // Screening the tampered clip: invalid with the reason, and the default policy sends it
    // to review.
    let (status, json, err) = cli(
        &["check", "--json", "--full", tampered.to_str().unwrap()],
        &data,
    );
    assert_eq!(status, 10, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let p = &v["clip"]["provenance"];
    assert_eq!(p["state"], "invalid", "{p}");
    assert!(
        p["problems"][0]
            .as_str()
            .is_some_and(|s| s.contains("mismatch")),
        "{p}"
    );
    let rules: Vec<&str> = v["decision"]["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"provenance-invalid"), "{rules:?}");
}

#[test]
fn a_blocked_clip_gets_no_content_credentials() {
    let data = common::data_dir();
    let clip = pattern_clip("c2pa_blocked");
    let out = data.join("not-published.mp4");
    let (status, _, err) = cli(
        &[
            "check",
            clip.to_str().unwrap(),
            "--prompt",
            "a naked child",
            "--c2pa-out",
            out.to_str().unwrap(),
        ],
        &data,
    );
    assert_eq!(status, 20, "{err}");
    assert!(
        err.contains("no Content Credentials written") && err.contains("is block"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn absent_unsupported_and_a_broken_signature_read_apart() {
    use clipguard::attest::c2pa::{CoverageSummary, Credential, DecisionAssertion};
    use clipguard::vocab::ProvenanceState;
    let credentials = &common::live().credentials;
    let mp4 = pattern_clip("c2pa_plain");
    assert_eq!(credentials.read(&mp4).state, ProvenanceState::Absent);
    let mkv = common::clips_dir().join("c2pa_plain.mkv");
    common::ffmpeg(&[
        "-i",
        mp4.to_str().unwrap(),
        "-c",
        "copy",
        mkv.to_str().unwrap(),
    ]);
    assert_eq!(credentials.read(&mkv).state, ProvenanceState::Unsupported);

    let data = common::data_dir();
    let signer = clipguard::attest::Signer::load_or_create(&data).unwrap();
    let sha = clipguard::attest::sha256_file(&mp4).unwrap();
    let credential = Credential {
        decision: DecisionAssertion {
            decision_id: "d-1".into(),
            policy_name: "default".into(),
            policy_version: "v".into(),
            action: "allow".into(),
            approved_by: None,
            coverage: CoverageSummary {
                complete: true,
                covered_share: 1.0,
                analysed_frames: 3,
                duration_s: 3.0,
            },
            attestation: signer.sign(clipguard::attest::statement(sha, "d-1".into(), "v".into())),
        },
        generator: None,
        title: "plain".into(),
    };
    let signed = data.join("signed.mp4");
    credentials.sign_clip(&mp4, &signed, &credential).unwrap();
    let p = credentials.read(&signed);
    assert_eq!(p.state, ProvenanceState::Trusted, "{p:?}");
    assert!(p.software_agents.is_empty(), "no generator named: {p:?}");
    // Writing a clip onto itself is refused before anything is truncated.
    let err = credentials
        .sign_clip(&signed, &signed, &credential)
        .unwrap_err();
    assert!(err.to_string().contains("overwrite"), "{err}");
    assert_eq!(credentials.read(&signed).state, ProvenanceState::Trusted);

    // A byte of the claim's signature changed: invalid with the reason, never absent.
    let mut bytes = std::fs::read(&signed).unwrap();
    let label = bytes
        .windows(14)
        .position(|w| w == b"c2pa.signature")
        .expect("a signature box");
    let at = label + 200;
    bytes[at] ^= 0xff;
    let broken = data.join("broken-signature.mp4");
    std::fs::write(&broken, bytes).unwrap();
    let p = credentials.read(&broken);
    assert_eq!(p.state, ProvenanceState::Invalid, "{p:?}");
    assert!(!p.problems.is_empty(), "{p:?}");
}

#[test]
fn the_pipeline_gets_the_credentialed_bytes_over_http_and_verification_checks_them() {
    let data = common::data_dir();
    let (_server, port) = common::start_server(&[("CLIPGUARD_DATA_DIR", data.as_os_str())]);
    let api = common::Api::new(port);
    let clip = pattern_clip("c2pa_http");
    let checked = api.check_clip(&clip, None);
    assert_eq!(checked.status, 200, "{}", checked.json);
    assert_eq!(checked.json["action"], "allow");
    let id = checked.json["id"].as_str().unwrap();

    let post = |path: &str, file: &Path, text: &[(&str, &str)]| {
        let mut form = reqwest::blocking::multipart::Form::new()
            .file("file", file)
            .unwrap();
        for (k, v) in text {
            form = form.text(k.to_string(), v.to_string());
        }
        reqwest::blocking::Client::new()
            .post(format!("{}{path}", api.base))
            .multipart(form)
            .send()
            .unwrap()
    };
    let reply = post(
        &format!("/v1/decisions/{id}/credentialed"),
        &clip,
        &[("generator", "Veo 3")],
    );
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "video/mp4");
    let length: u64 = reply.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let published = common::clips_dir().join("c2pa_http_published.mp4");
    let bytes = reply.bytes().unwrap();
    assert_eq!(bytes.len() as u64, length);
    assert!(length > std::fs::metadata(&clip).unwrap().len());
    std::fs::write(&published, bytes).unwrap();
    assert_eq!(stream_hash(&clip), stream_hash(&published));
    // Neither the upload nor the credentialed copy it was streamed from is left behind.
    let left: Vec<_> = std::fs::read_dir(data.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // Another clip's bytes are refused, naming both hashes.
    let other = pattern_clip("c2pa_http_other");
    let reply = post(&format!("/v1/decisions/{id}/credentialed"), &other, &[]);
    assert_eq!(reply.status(), 409);
    let body: serde_json::Value = reply.json().unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not the clip")),
        "{body}"
    );

    // Verification of the published clip needs no attestation: the manifest holds it.
    let v: serde_json::Value = post("/v1/attestations/verify", &published, &[])
        .json()
        .unwrap();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["credentials"]["state"], "trusted", "{v}");
    assert_eq!(v["credentials"]["software_agents"][0], "Veo 3", "{v}");

    let tampered = common::clips_dir().join("c2pa_http_tampered.mp4");
    with_media_byte_changed(&published, &tampered);
    let v: serde_json::Value = post("/v1/attestations/verify", &tampered, &[])
        .json()
        .unwrap();
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["error"]["code"], "credentials_invalid", "{v}");
    assert_eq!(v["credentials"]["state"], "invalid", "{v}");
}

/// A clip published with Content Credentials, banked afterwards (found to break the rules),
/// then uploaded again with its manifest stripped and re-encoded at CRF 35: the credentials
/// are gone, and the bank still recognises it.
#[test]
fn a_published_clip_stripped_of_its_credentials_and_re_encoded_is_recognised_by_its_bank() {
    let data = common::data_dir();
    let clip = pattern_clip("c2pa_banked");
    let published = data.join("banked-published.mp4");
    let (status, json, err) = cli(
        &[
            "check",
            "--json",
            clip.to_str().unwrap(),
            "--c2pa-out",
            published.to_str().unwrap(),
        ],
        &data,
    );
    assert_eq!(status, 0, "{err}");
    let decision: serde_json::Value = serde_json::from_str(&json).unwrap();
    let id = decision["id"].as_str().unwrap();
    for args in [
        &[
            "banks",
            "create",
            "removed",
            "--source",
            "trust and safety",
            "--action",
            "block",
        ][..],
        &["banks", "add-decision", "removed", id][..],
    ] {
        let (status, out, err) = cli(args, &data);
        assert_eq!(status, 0, "{args:?}: {out}{err}");
    }
    let reupload = common::clips_dir().join("c2pa_banked_reupload.mp4");
    common::ffmpeg(&[
        "-i",
        published.to_str().unwrap(),
        "-map_metadata",
        "-1",
        "-c:v",
        "libx264",
        "-crf",
        "35",
        "-an",
        reupload.to_str().unwrap(),
    ]);
    let (status, json, err) = cli(
        &["check", "--json", "--full", reupload.to_str().unwrap()],
        &data,
    );
    assert_eq!(status, 20, "block expected: {json}{err}");
    let d: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        d["clip"]["provenance"]["state"], "absent",
        "{}",
        d["clip"]["provenance"]
    );
    let rules: Vec<&str> = d["decision"]["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"known-content"), "{rules:?}");
    assert_eq!(d["clip"]["hash_matches"][0]["bank"], "removed");
}
