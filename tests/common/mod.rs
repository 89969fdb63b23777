//! Shared by the integration tests: configuration pointing at the fetched models and images,
//! one loaded screener per test binary, and clips made on demand with the ffmpeg CLI.
#![allow(dead_code)] // each test binary uses a different part

use clipguard::{Config, Screener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn testdata(name: &str) -> PathBuf {
    let p = repo().join(".local/testdata").join(name);
    assert!(
        p.exists(),
        "{} is missing: run `make test` (it fetches the test images)",
        p.display()
    );
    p
}

/// The default configuration, with paths anchored at the repository root and a fresh data
/// folder (an empty registry) for each call.
pub fn config() -> Config {
    let mut cfg = Config::default();
    let root = repo();
    cfg.runtime.onnxruntime = root.join(&cfg.runtime.onnxruntime);
    cfg.models.manifest = root.join(&cfg.models.manifest);
    cfg.models.dir = root.join(&cfg.models.dir);
    cfg.policies.dir = root.join(&cfg.policies.dir);
    cfg.data_dir = data_dir();
    cfg
}

/// A new empty folder under the test binary's temporary folder.
pub fn data_dir() -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = clips_dir().join(format!("data{n}"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn screener() -> &'static Screener {
    static S: OnceLock<Screener> = OnceLock::new();
    S.get_or_init(|| {
        Screener::load(&config()).expect("models load (run `make test` to fetch them)")
    })
}

pub fn rgb(name: &str) -> image::RgbImage {
    image::open(testdata(name))
        .expect("test image decodes")
        .to_rgb8()
}

/// Runs the ffmpeg CLI (quietly) and panics with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A folder of generated clips that lives for the whole test binary.
pub fn clips_dir() -> &'static Path {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// `vf` crops the astronaut to 16:9 around her face and zooms in slowly, centred on it.
pub const ASTRONAUT_ZOOM: &str = "crop=512:288:0:0,scale=2560:1440,\
zoompan=z='1+0.0015*on':x='iw*0.44-iw/zoom/2':y='ih*0.41-ih/zoom/2':d=1:s=1280x720:fps=30";

/// The 10 s 1280x720 H.264 clip zooming on the astronaut's face (made once per test binary).
pub fn astronaut_zoom_clip() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let out = clips_dir().join("astronaut_zoom.mp4");
        let src = testdata("astronaut.png");
        ffmpeg(&[
            "-loop",
            "1",
            "-i",
            src.to_str().unwrap(),
            "-vf",
            ASTRONAUT_ZOOM,
            "-frames:v",
            "300",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            out.to_str().unwrap(),
        ]);
        out
    })
    .clone()
}
