//! Categories defined by example images and generic classifiers, end to end on the real CLIP
//! image tower and open_nsfw: categories made from a photograph and crops and flips of it find
//! that subject in a clip that shows it for one second, at that second, and not in clips
//! without it; counter-examples keep look-alikes out; the API's category routes with roles;
//! both kinds of signal in `policy explain`.

mod common;

use clipguard::analysers::{
    categories_version, category_peaks, classifier_peaks, ClassifiersConfig,
};

use clipguard::service::Context;
use common::{start_server, Api};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A photograph and three variants of it (mirrored, two crops), as example images (files of
/// their own for each call: tests run side by side).
fn examples(name: &str) -> Vec<PathBuf> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let img = common::rgb(name);
    let (w, h) = img.dimensions();
    let variants = [
        img.clone(),
        image::imageops::flip_horizontal(&img),
        image::imageops::crop_imm(&img, w / 10, h / 10, w * 8 / 10, h * 8 / 10).to_image(),
        image::imageops::crop_imm(&img, 0, 0, w * 3 / 4, h * 3 / 4).to_image(),
    ];
    variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let p = common::clips_dir().join(format!("example-{call}-{i}-{name}.png"));
            v.save(&p).unwrap();
            p
        })
        .collect()
}

fn paths(v: &[PathBuf]) -> Vec<&Path> {
    v.iter().map(PathBuf::as_path).collect()
}

/// Scenes of still images one after the other (hard cuts), 1280x720 H.264 at 25 fps.
fn scenes(name: &str, parts: &[(&str, u32)]) -> PathBuf {
    let out = common::clips_dir().join(format!("{name}.mp4"));
    let mut args: Vec<String> = Vec::new();
    let mut filter = String::new();
    for (i, (image, seconds)) in parts.iter().enumerate() {
        args.extend([
            "-loop".into(),
            "1".into(),
            "-t".into(),
            seconds.to_string(),
            "-r".into(),
            "25".into(),
            "-i".into(),
            common::testdata(image).display().to_string(),
        ]);
        filter += &format!(
            "[{i}]scale=1280:720:force_original_aspect_ratio=decrease,\
             pad=1280:720:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[v{i}];"
        );
    }
    for i in 0..parts.len() {
        filter += &format!("[v{i}]");
    }
    filter += &format!("concat=n={}:v=1:a=0[out]", parts.len());
    args.extend(
        [
            "-filter_complex",
            &filter,
            "-map",
            "[out]",
            "-c:v",
            "libx264",
            out.to_str().unwrap(),
        ]
        .map(String::from),
    );
    common::ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    out
}

/// The cat for one second, 4 s into 9 s of a launch pad; the coffee likewise around the
/// astronaut; the launch pad alone. Each made once per test process: tests run side by side,
/// and one must not read a clip another is still writing.
fn cat_clip() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        scenes(
            "cat-1s",
            &[("rocket.jpg", 4), ("chelsea.png", 1), ("rocket.jpg", 4)],
        )
    })
    .clone()
}

fn coffee_clip() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        scenes(
            "coffee-1s",
            &[
                ("astronaut.png", 3),
                ("coffee.png", 1),
                ("astronaut.png", 3),
            ],
        )
    })
    .clone()
}

fn plain_clip() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| scenes("rocket-only", &[("rocket.jpg", 9)]))
        .clone()
}

/// A data folder with two categories: `cat` (the cat photograph and variants) and `coffee`
/// (the coffee cup and variants, with the cat as a counter-example: the two photographs'
/// embeddings are closer to each other, 0.70, than to anything else in the set).
fn data_with_categories() -> PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let mut cfg = common::config();
        let dir = cfg.data_dir.clone();
        cfg.update_settings(|c: &mut ClassifiersConfig| c.enabled = vec!["open_nsfw".into()]);
        let service = Context::open(cfg).unwrap().service(1, 1).unwrap();
        let cat = examples("chelsea.png");
        let c = service
            .create_category("cat", "the cat", "test", &paths(&cat), &[])
            .unwrap();
        assert_eq!((c.examples, c.counter_examples), (4, 0));
        let coffee = examples("coffee.png");
        service
            .create_category(
                "coffee",
                "a cup of coffee",
                "test",
                &paths(&coffee),
                &[common::testdata("chelsea.png").as_path()],
            )
            .unwrap();
        dir
    })
    .clone()
}

#[test]
fn categories_find_their_subject_at_its_time_and_not_elsewhere() {
    let mut cfg = common::config();
    cfg.data_dir = data_with_categories();
    cfg.update_settings(|c: &mut ClassifiersConfig| c.enabled = vec!["open_nsfw".into()]);
    let service = Context::open(cfg).unwrap().service(1, 1).unwrap();
    let screener = service.screener();
    let version = service.live().categories_version().unwrap();
    assert_eq!(version.len(), 16);

    let cat = screener.screen_clip(&cat_clip()).unwrap();
    assert_eq!(categories_version(&cat).as_deref(), Some(version.as_str()));
    let cats = category_peaks(&cat.sections);
    let c = &cats["cat"];
    assert!(c.score >= 0.9, "the cat clip scores {c:?}");
    assert!(
        (4.0..5.0).contains(&c.time_s),
        "the cat is on screen 4-5 s: {c:?}"
    );
    assert!(c.frames >= 1);
    // Nearer its counter-example (the cat) than its examples: no frame counts for coffee.
    let k = &cats["coffee"];
    assert!(k.score < 0.8, "coffee in the cat clip: {k:?}");
    assert!(cat.timings.stage_ms("categories") > 0.0);

    let coffee = screener.screen_clip(&coffee_clip()).unwrap();
    let coffees = category_peaks(&coffee.sections);
    let k = &coffees["coffee"];
    assert!(k.score >= 0.9, "the coffee clip scores {k:?}");
    assert!(
        (3.0..4.0).contains(&k.time_s),
        "the coffee is on screen 3-4 s: {k:?}"
    );
    assert!(coffees["cat"].score < 0.8, "{:?}", coffees);

    let plain = screener.screen_clip(&plain_clip()).unwrap();
    let plains = category_peaks(&plain.sections);
    for (name, p) in &plains {
        assert!(p.score < 0.8, "{name} in a clip without it: {p:?}");
    }
    eprintln!(
        "cat clip: cat {:.3} at {:.2} s; coffee clip: coffee {:.3} at {:.2} s; plain clip: cat {:.3}, coffee {:.3}",
        c.score,
        c.time_s,
        k.score,
        k.time_s,
        plains["cat"].score,
        plains["coffee"].score
    );

    // open_nsfw ran on every analysed frame: both labels have a peak, and frames carry scores.
    let classifiers = classifier_peaks(&cat.sections);
    let nsfw = &classifiers["open_nsfw"];
    assert!(
        nsfw["sfw"].max_score > 0.5 && nsfw["nsfw"].max_score < 0.5,
        "{nsfw:?}"
    );
    let scored = cat.frames.iter().filter(|f| {
        f.parts
            .value("classifiers")
            .is_some_and(|c| c.get("open_nsfw").is_some())
    });
    assert_eq!(scored.count(), cat.frames.len());
    assert!(cat.timings.stage_ms("classifier_open_nsfw") > 0.0);
}

/// `check` reviews the cat clip by the default policy's category rule; `policy explain` on the
/// saved decision shows the category and the classifier scores.
#[test]
fn check_and_policy_explain_show_both_kinds_of_signal() {
    let data = data_with_categories();
    let clip = cat_clip();
    let env: [(&str, &Path); 2] = [
        ("CLIPGUARD_DATA_DIR", data.as_path()),
        ("CLIPGUARD_CLASSIFIERS__ENABLED", Path::new("open_nsfw")),
    ];
    let (status, out, err) =
        common::cli_status(&["check", "--json", "--full", clip.to_str().unwrap()], &env);
    assert_eq!(status, 10, "review expected: {out}{err}");
    let decision: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rules: Vec<&str> = decision["decision"]["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["category-match"], "{decision}");
    let saved = common::clips_dir().join("cat-decision.json");
    std::fs::write(&saved, &out).unwrap();
    let (ok, out, err) = common::cli(
        &["policy", "explain", "--signals", saved.to_str().unwrap()],
        &env,
    );
    assert!(ok, "{err}");
    assert!(out.contains("category cat: similarity 0.9"), "{out}");
    assert!(out.contains("classifier open_nsfw.nsfw:"), "{out}");
    assert!(
        out.contains("MATCH  category-match -> review: looks like category cat"),
        "{out}"
    );
}

#[test]
fn category_routes_with_roles() {
    let dir = tempfile::tempdir().unwrap();
    let (checker, c1) = common::new_key("checker", "pipeline");
    let (auditor, c2) = common::new_key("auditor", "trust-and-safety");
    let (admin, c3) = common::new_key("admin", "ops");
    let config = dir.path().join("clipguard.toml");
    std::fs::write(&config, format!("{c1}{c2}{c3}")).unwrap();
    let (_server, port) = start_server(&[("CLIPGUARD_CONFIG", config.as_os_str())]);
    let (checker, auditor, admin) = (
        Api::with_key(port, &checker),
        Api::with_key(port, &auditor),
        Api::with_key(port, &admin),
    );
    let cat = examples("chelsea.png");
    let form: Vec<(&str, &Path)> = cat.iter().map(|p| ("example", p.as_path())).collect();

    let r = checker.post_form("/v1/categories", &form, &[("name", "cat")]);
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(auditor.get("/v1/categories").json["version"], "");
    let r = admin.post_form("/v1/categories", &form[..2], &[("name", "cat")]);
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid_category"),
        "{}",
        r.json
    );
    let r = admin.post_form("/v1/categories", &form, &[("name", "Cat Photos")]);
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid_category"),
        "{}",
        r.json
    );
    let r = admin.post_form("/v1/categories", &form, &[]);
    assert_eq!((r.status, r.code()), (400, "missing_field"), "{}", r.json);
    let not_image = common::clips_dir().join("not-an-image.png");
    std::fs::write(&not_image, b"plain text, not a picture").unwrap();
    let mut bad = form.clone();
    bad.push(("counter_example", not_image.as_path()));
    let r = admin.post_form("/v1/categories", &bad, &[("name", "cat")]);
    assert_eq!((r.status, r.code()), (415, "not_image"), "{}", r.json);

    let r = admin.post_form(
        "/v1/categories",
        &form,
        &[("name", "cat"), ("description", "the cat")],
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["examples"], 4);
    assert_eq!(r.json["created_by"], "ops");
    let r = admin.post_form("/v1/categories", &form, &[("name", "cat")]);
    assert_eq!((r.status, r.code()), (409, "conflict"));

    let list = auditor.get("/v1/categories").json;
    let version = list["version"].as_str().unwrap().to_string();
    assert_eq!(version.len(), 16, "{list}");
    assert_eq!(list["categories"][0]["name"], "cat");
    assert_eq!(checker.get("/v1/categories").status, 403);
    assert_eq!(
        auditor.get("/v1/categories/cat").json["description"],
        "the cat"
    );
    assert_eq!(auditor.get("/v1/categories/dog").status, 404);

    // A check names the category set it was scored against.
    let r = checker.check_clip(&cat_clip(), None);
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["action"], "review", "{}", r.json);
    let id = r.json["id"].as_str().unwrap();
    let full = auditor.get(&format!("/v1/decisions/{id}?view=full")).json;
    assert_eq!(
        full["clip"]["categories_version"],
        version.as_str(),
        "{full}"
    );

    assert_eq!(auditor.delete("/v1/categories/cat").status, 403);
    assert_eq!(admin.delete("/v1/categories/cat").status, 204);
    assert_eq!(admin.delete("/v1/categories/cat").status, 404);
    assert_eq!(auditor.get("/v1/categories").json["version"], "");
}
