//! Publish attestations through the CLI: an allowed clip gets one that verifies offline; a
//! changed byte of the clip or of the attestation fails; a blocked clip gets none.

mod common;

use std::path::Path;

fn cli(args: &[&str], data: &Path) -> (bool, String, String) {
    common::cli(args, &[("CLIPGUARD_DATA_DIR", data)])
}

#[test]
fn allowed_clips_are_attested_and_any_change_breaks_verification() {
    let data = common::data_dir();
    let clip = common::clips_dir().join("attest_pattern.mp4");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        clip.to_str().unwrap(),
    ]);
    let att = data.join("att.json");
    let (ok, json, err) = cli(
        &[
            "check",
            "--json",
            clip.to_str().unwrap(),
            "--attestation-out",
            att.to_str().unwrap(),
        ],
        &data,
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["action"], "allow");
    assert_eq!(v["attestation"]["statement"]["decision_id"], v["id"]);
    assert_eq!(
        v["attestation"]["statement"]["policy_version"],
        v["policy"]["version"]
    );

    let (ok, out, err) = cli(
        &[
            "verify",
            "--attestation",
            att.to_str().unwrap(),
            clip.to_str().unwrap(),
        ],
        &data,
    );
    assert!(ok && out.starts_with("ok: "), "{out}{err}");

    let mut bytes = std::fs::read(&clip).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    let changed = data.join("changed.mp4");
    std::fs::write(&changed, bytes).unwrap();
    let (ok, _, err) = cli(
        &[
            "verify",
            "--attestation",
            att.to_str().unwrap(),
            changed.to_str().unwrap(),
        ],
        &data,
    );
    assert!(!ok && err.contains("the clip does not match"), "{err}");

    let text = std::fs::read_to_string(&att).unwrap();
    let forged = data.join("forged.json");
    std::fs::write(&forged, text.replace("\"allow\"", "\"review\"")).unwrap();
    let (ok, _, err) = cli(
        &[
            "verify",
            "--attestation",
            forged.to_str().unwrap(),
            clip.to_str().unwrap(),
        ],
        &data,
    );
    assert!(!ok && err.contains("signature does not verify"), "{err}");

    let other = common::data_dir();
    let (ok, _, err) = cli(&["check", clip.to_str().unwrap()], &other);
    assert!(ok, "{err}");
    let (ok, _, err) = cli(
        &[
            "verify",
            "--attestation",
            att.to_str().unwrap(),
            clip.to_str().unwrap(),
        ],
        &other,
    );
    assert!(
        !ok && err.contains("signature does not verify"),
        "another service's key: {err}"
    );
}

#[test]
fn blocked_clips_get_no_attestation() {
    let data = common::data_dir();
    let astronaut = common::testdata("astronaut.png");
    let (ok, _, err) = cli(
        &[
            "persons",
            "add",
            "--name",
            "Eileen Collins",
            "--image",
            astronaut.to_str().unwrap(),
        ],
        &data,
    );
    assert!(ok, "{err}");
    let att = data.join("att.json");
    let clip = common::astronaut_zoom_clip();
    let (status, json, err) = common::cli_status(
        &[
            "check",
            "--json",
            clip.to_str().unwrap(),
            "--user",
            "bob",
            "--attestation-out",
            att.to_str().unwrap(),
        ],
        &[("CLIPGUARD_DATA_DIR", &data)],
    );
    assert_eq!(status, 20, "{err}");
    assert!(
        err.contains("no attestation written") && err.contains("the decision is block"),
        "the notice on stderr: {err}"
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["action"], "block");
    assert!(v["attestation"].is_null() && !att.exists());
}
