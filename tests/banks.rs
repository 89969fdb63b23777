//! Known-content banks: PDQ hashes against Meta's reference, and a banked clip recognised
//! after re-encoding, resizing and cropping (and unrelated clips not), through the CLI.

mod common;

use common::{cli, cli_status, clips_dir, ffmpeg, repo};
use std::path::{Path, PathBuf};

/// Meta's hashes and qualities of the PNGs, by tests/banks/pdq_reference.py.
fn reference(pngs: &[PathBuf]) -> Vec<(String, u8)> {
    let out = std::process::Command::new(repo().join(".local/venv/bin/python"))
        .arg(repo().join("tests/banks/pdq_reference.py"))
        .args(pngs)
        .output()
        .expect("the set-up's Python runs (make test installs pdqhash into .local/venv)");
    assert!(
        out.status.success(),
        "pdq_reference.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["hash"].as_str().unwrap().to_string(),
                v["quality"].as_u64().unwrap() as u8,
            )
        })
        .collect()
}

#[test]
fn pdq_hashes_equal_the_reference_on_identical_frames() {
    let dir = clips_dir().join("pdq");
    std::fs::create_dir_all(&dir).unwrap();
    let mut frames: Vec<(String, image::RgbImage)> = Vec::new();
    for name in [
        "astronaut.png",
        "camera.png",
        "chelsea.png",
        "coffee.png",
        "page.png",
    ] {
        let img = common::rgb(name);
        let hd = image::imageops::resize(&img, 1280, 720, image::imageops::FilterType::Triangle);
        frames.push((name.to_string(), img));
        frames.push((format!("{name}@720p"), hd));
    }
    // Frames of a real clip as a decoder gives them, 480p and 720p.
    let clip = common::astronaut_zoom_clip();
    let pattern = dir.join("zoom%02d.png");
    ffmpeg(&[
        "-i",
        clip.to_str().unwrap(),
        "-vf",
        "fps=1",
        "-frames:v",
        "4",
        pattern.to_str().unwrap(),
    ]);
    for i in 1..=4 {
        let img = image::open(dir.join(format!("zoom{i:02}.png")))
            .unwrap()
            .to_rgb8();
        frames.push((format!("zoom frame {i}"), img));
    }
    // Featureless frames: a gentle gradient and a flat grey have low quality.
    frames.push((
        "gradient".into(),
        image::RgbImage::from_fn(640, 360, |x, _| image::Rgb([(x / 8) as u8 + 60; 3])),
    ));
    frames.push((
        "grey".into(),
        image::RgbImage::from_pixel(320, 180, image::Rgb([128; 3])),
    ));
    let pngs: Vec<PathBuf> = frames
        .iter()
        .enumerate()
        .map(|(i, (_, img))| {
            let p = dir.join(format!("frame{i}.png"));
            img.save(&p).unwrap();
            p
        })
        .collect();
    let want = reference(&pngs);
    assert_eq!(want.len(), frames.len());
    // Pictures: the same hash and quality. Featureless frames (a flat grey, a gentle
    // gradient): quality under the floor on both sides, so neither side ever matches their
    // hashes, which are noise (the median of near-zero coefficients decides each bit).
    let floor = clipguard::Config::default()
        .settings::<clipguard::analysers::HashesConfig>()
        .min_quality;
    let mut low = Vec::new();
    for (((name, img), png), (hash, quality)) in frames.iter().zip(&pngs).zip(&want) {
        // The PNG the reference read holds exactly these pixels.
        assert_eq!(&image::open(png).unwrap().to_rgb8(), img);
        let got = clipguard::vision::pdq::hash(img);
        if *quality < floor {
            assert!(
                got.quality < floor,
                "{name}: quality {} vs {quality}",
                got.quality
            );
            low.push(name.as_str());
            continue;
        }
        let theirs: clipguard::vocab::Pdq = hash.parse().unwrap();
        assert_eq!(
            got.hash.distance(&theirs),
            0,
            "{name}: {} vs {hash}",
            got.hash
        );
        assert_eq!(got.quality, *quality, "{name}: quality");
    }
    assert_eq!(low, ["gradient", "grey"]);
}

#[test]
fn the_centre_hash_is_the_hash_of_the_central_90_percent() {
    for name in ["astronaut.png", "chelsea.png", "coffee.png"] {
        let frame = image::imageops::resize(
            &common::rgb(name),
            1280,
            720,
            image::imageops::FilterType::Triangle,
        );
        let crop = image::imageops::crop_imm(&frame, 64, 36, 1152, 648).to_image();
        let centre = clipguard::vision::pdq::hash_centre(&frame);
        let d = centre
            .hash
            .distance(&clipguard::vision::pdq::hash(&crop).hash);
        eprintln!("{name}: centre hash {d} bits from the crop's");
        assert!(d <= 8, "{name}: {d}");
        assert!(centre.quality >= 50, "{name}: {}", centre.quality);
    }
}

fn env(data: &Path) -> [(&'static str, &Path); 1] {
    [("CLIPGUARD_DATA_DIR", data)]
}

/// `check --json --full` of one clip: the decision.
fn check(clip: &Path, data: &Path) -> serde_json::Value {
    let (status, out, err) = cli_status(
        &["check", "--json", "--full", clip.to_str().unwrap()],
        &env(data),
    );
    assert!([0, 10, 20].contains(&status), "{status}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn variant(src: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = clips_dir().join(format!("{name}.mp4"));
    let mut all = vec!["-i", src.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-an", out.to_str().unwrap()]);
    ffmpeg(&all);
    out
}

#[test]
fn a_banked_clip_is_recognised_re_encoded_resized_and_cropped_and_unrelated_clips_are_not() {
    let data = common::data_dir();
    let (ok, _, err) = cli(
        &[
            "banks",
            "create",
            "blocked",
            "--source",
            "decisions",
            "--action",
            "block",
        ],
        &env(&data),
    );
    assert!(ok, "{err}");
    let original = common::astronaut_zoom_clip();
    let first = check(&original, &data);
    assert_eq!(first["decision"]["action"], "allow", "nothing banked yet");
    let frames = first["clip"]["frames"].as_array().unwrap();
    // Scene starts and about one changed frame a second are hashed (`hashes.interval_s` 0.9
    // at 2 sampled frames a second), and what a frame repeats is hashed with it.
    let hashed = |f: &serde_json::Value| f["pdq"]["hash"].as_str().is_some_and(|h| h.len() == 64);
    let distinct: Vec<&serde_json::Value> = frames
        .iter()
        .filter(|f| f["duplicate_of"].is_null())
        .collect();
    let times: Vec<f64> = distinct
        .iter()
        .filter(|f| hashed(f))
        .map(|f| f["time_s"].as_f64().unwrap())
        .collect();
    eprintln!("hashed at {times:?} of {} distinct frames", distinct.len());
    assert!(hashed(distinct[0]), "the first frame is hashed");
    assert!(
        times.len() < distinct.len() && times.windows(2).all(|w| w[1] - w[0] >= 0.9 - 1e-6),
        "about one frame a second is hashed: {times:?}"
    );
    assert!(frames
        .iter()
        .filter(|f| !f["duplicate_of"].is_null())
        .all(|f| {
            let of = frames
                .iter()
                .find(|o| o["index"] == f["duplicate_of"])
                .unwrap();
            hashed(f) == hashed(of)
        }));
    assert!(first["clip"]["timings"]["pdq_ms"].as_f64().unwrap() > 0.0);
    let id = first["id"].as_str().unwrap();
    let (ok, out, err) = cli(&["banks", "add-decision", "blocked", id], &env(&data));
    assert!(ok && out.contains("to bank blocked"), "{out}{err}");

    let x264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        extra.iter().copied().chain(x264).collect()
    };
    let variants = [
        (
            "crf35",
            variant(&original, "zoom-crf35", &with(&["-crf", "35"])),
        ),
        (
            "480p",
            variant(&original, "zoom-480p", &with(&["-vf", "scale=-2:480"])),
        ),
        (
            "crop10",
            variant(
                &original,
                "zoom-crop10",
                &with(&["-vf", "crop=iw*0.9:ih*0.9"]),
            ),
        ),
        (
            "all three",
            variant(
                &original,
                "zoom-all",
                &with(&["-vf", "crop=iw*0.9:ih*0.9,scale=-2:480", "-crf", "35"]),
            ),
        ),
    ];
    let item = format!("decision:{id}");
    for (what, clip) in &variants {
        let d = check(clip, &data);
        let matches = d["clip"]["hash_matches"].as_array().unwrap();
        // The frames' own hashes, or their centres' for a cropped re-upload.
        let m = matches
            .iter()
            .filter(|m| m["item"].as_str().is_some_and(|i| i.starts_with(&item)))
            .max_by(|a, b| {
                a["query_share"]
                    .as_f64()
                    .partial_cmp(&b["query_share"].as_f64())
                    .unwrap()
            })
            .unwrap_or_else(|| panic!("{what}: no match in {matches:?}"));
        eprintln!(
            "{what}: {} query_share {} bank_share {} best_distance {}",
            m["item"], m["query_share"], m["bank_share"], m["best_distance"]
        );
        assert_eq!(
            (m["bank"].as_str(), m["action"].as_str()),
            (Some("blocked"), Some("block"))
        );
        assert_eq!(
            d["decision"]["action"], "block",
            "{what}: {}",
            d["decision"]
        );
        assert_eq!(
            d["decision"]["matched"][0]["rule"], "known-content",
            "{what}"
        );
    }

    for (name, w, h) in [
        ("coffee.png", 1280, 720),
        ("chelsea.png", 1280, 720),
        ("camera.png", 854, 480),
    ] {
        let clip = common::still_clip(name, 3, w, h, "unrelated");
        let d = check(&clip, &data);
        assert_eq!(
            d["clip"]["hash_matches"].as_array().map_or(0, Vec::len),
            0,
            "{name}: {}",
            d["clip"]["hash_matches"]
        );
        assert_ne!(d["decision"]["action"], "block", "{name}");
    }
}

#[test]
fn hash_files_are_imported_by_the_cli_and_malformed_lines_are_named() {
    let data = common::data_dir();
    let (ok, _, err) = cli(
        &[
            "banks",
            "create",
            "te",
            "--source",
            "ThreatExchange group 1",
            "--action",
            "review",
        ],
        &env(&data),
    );
    assert!(ok, "{err}");
    let dir = clips_dir().join("hashfiles");
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.txt");
    std::fs::write(
        &good,
        "# hash,quality,item\n\
         f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22,100,bridge.jpg\n\
         30a10efd71cc3d429013d48d0ffffc52e34e0e17ada952a9d29685211ea9e5af,100,bridge-90.jpg\n",
    )
    .unwrap();
    let (ok, out, err) = cli(
        &["banks", "import", "te", good.to_str().unwrap()],
        &env(&data),
    );
    assert!(
        ok && out.contains("read 2 hashes, 2 new to bank te"),
        "{out}{err}"
    );
    let bad = dir.join("bad.txt");
    std::fs::write(
        &bad,
        "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22\nnot-a-hash,100\n",
    )
    .unwrap();
    let (status, _, err) = cli_status(
        &["banks", "import", "te", bad.to_str().unwrap()],
        &env(&data),
    );
    assert_ne!(status, 0);
    assert!(
        err.contains("line 2") && err.contains("64 hex digits"),
        "{err}"
    );
    let (ok, out, _) = cli(&["banks", "list", "--json"], &env(&data));
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["hashes"], 2, "the bad file added nothing: {list}");
    assert_eq!(list[0]["action"], "review");
    // A decision that does not exist is refused by name.
    let (status, _, err) = cli_status(&["banks", "add-decision", "te", "nope"], &env(&data));
    assert_ne!(status, 0);
    assert!(err.contains("no decision with id nope"), "{err}");
}

#[test]
fn a_clip_banked_through_a_running_server_is_blocked_at_its_next_check_without_screening_again() {
    let data = common::data_dir();
    let (_server, port) = common::start_server(&[("CLIPGUARD_DATA_DIR", data.as_os_str())]);
    let api = common::Api::new(port);
    let clip = common::astronaut_zoom_clip();
    let first = api.check_clip(&clip, None);
    assert_eq!(
        (first.status, first.json["action"].as_str()),
        (200, Some("allow"))
    );

    let bank = serde_json::json!({"name": "blocked", "source": "decisions", "action": "block"});
    assert_eq!(api.post_json("/v1/banks", &bank).status, 201);
    let added = api.post_json(
        "/v1/banks/blocked/decisions",
        &serde_json::json!({"decision_id": first.json["id"]}),
    );
    assert_eq!(added.status, 200, "{}", added.json);
    assert!(added.json["added"].as_u64().unwrap() > 0);

    // The same bytes again: the signals come from the cache, the banks as they are now.
    let again = api.check_clip(&clip, None);
    assert_eq!(again.status, 200);
    assert_eq!(again.json["action"], "block", "{}", again.json);
    assert_eq!(again.json["rules"][0]["rule"], "known-content");
    assert_eq!(again.headers["x-clipguard-cache"], "hit");
    assert_ne!(again.json["id"], first.json["id"]);

    // Removing the bank allows it again.
    assert_eq!(api.delete("/v1/banks/blocked").status, 204);
    assert_eq!(api.check_clip(&clip, None).json["action"], "allow");
}
