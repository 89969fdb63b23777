//! End to end on the real models and real clips made here with the ffmpeg CLI from the
//! package photographs: what `clipguard check` reports, across containers and codecs, and the
//! clear errors for everything that is not a good clip.

mod common;

use clipguard::analysers::{face_summary, faces_in};

use clipguard::media::MediaError;

use clipguard::screen::ScreenError;
use clipguard::vocab::SampleReason;
use clipguard::vocab::Signals;
use clipguard::vocab::{ClassPeak, NudityClass};
use common::{clips_dir, ffmpeg, testdata};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn screen(path: &std::path::Path) -> Signals {
    common::screener()
        .screen_clip(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn media_error(path: &std::path::Path) -> MediaError {
    match common::screener().screen_clip(path) {
        Err(ScreenError::Media(e)) => e,
        Err(e) => panic!("{}: expected a media error, got {e}", path.display()),
        Ok(_) => panic!("{}: expected an error, got signals", path.display()),
    }
}

/// `testsrc2` for `before` s, the astronaut (padded to 16:9) for `shot` s, `testsrc2` again for
/// `after` s: 1280x720, 30 fps, H.264.
fn cut_clip(name: &str, before: f64, shot: f64, after: f64) -> PathBuf {
    let out = clips_dir().join(name);
    let src = testdata("astronaut.png");
    let graph = format!(
        "testsrc2=size=1280x720:rate=30:duration={before}[a];\
         [0:v]scale=-2:720,pad=1280:720:(ow-iw)/2:0,fps=30,trim=duration={shot},setpts=PTS-STARTPTS,format=yuv420p[b];\
         testsrc2=size=1280x720:rate=30:duration={after}[c];[a][b][c]concat=n=3:v=1[v]"
    );
    ffmpeg(&[
        "-loop",
        "1",
        "-i",
        src.to_str().unwrap(),
        "-filter_complex",
        &graph,
        "-map",
        "[v]",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        out.to_str().unwrap(),
    ]);
    out
}

#[test]
fn zoom_on_the_astronaut_finds_her_face_in_every_sampled_frame() {
    let s = screen(&common::astronaut_zoom_clip());
    assert_eq!((s.media.width, s.media.height), (1280, 720));
    assert!(
        (s.media.duration_s - 10.0).abs() < 0.1,
        "{}",
        s.media.duration_s
    );
    assert_eq!(s.media.codec, "h264");
    // 2 fps over 10 s, plus keyframes.
    assert!(s.frames.len() >= 20, "{} frames sampled", s.frames.len());
    let times: Vec<f64> = s.frames.iter().map(|f| f.time_s).collect();
    // Non-reference frames are not decoded, so a sample may land a frame after its time.
    assert!(
        times
            .windows(2)
            .all(|w| w[1] > w[0] && w[1] - w[0] <= 0.5 + 2.0 / 30.0 + 1e-6),
        "{times:?}"
    );
    for f in &s.frames {
        assert_eq!(
            faces_in(f).len(),
            1,
            "frame at {:.2} s: {} faces",
            f.time_s,
            faces_in(f).len()
        );
        assert!(!faces_in(f)[0].too_small && faces_in(f)[0].embedding.is_some());
    }
    assert_eq!(face_summary(&s).frames_with_faces as usize, s.frames.len());
    let nudity: BTreeMap<NudityClass, ClassPeak> = s.sections.get("nudity").unwrap();
    let face = nudity
        .get(&NudityClass::FaceFemale)
        .expect("FACE_FEMALE detected");
    assert!(face.max_score > 0.5, "{face:?}");
    // Every verified model, enabled or not: NudeNet, CenterFace, the dlib embedder, the three
    // PP-OCR models, open_nsfw, the gore classifier, CLIP's image tower, Silero VAD, the voice
    // encoder, Whisper's encoder and decoder, and the multilingual text encoder.
    assert!(
        s.models.len() == 14 && s.models.iter().all(|m| m.sha256.len() == 64),
        "{:?}",
        s.models.iter().map(|m| &m.name).collect::<Vec<_>>()
    );
    assert!(
        s.timings.total_ms > 0.0
            && s.timings.stage_ms("nudity") > 0.0
            && s.timings.stage_ms("faces") > 0.0
    );
}

#[test]
fn test_pattern_has_no_face_and_no_nudity() {
    let out = clips_dir().join("testsrc2.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x720:rate=30:duration=10",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        out.to_str().unwrap(),
    ]);
    let s = screen(&out);
    assert!(s.frames.len() >= 20);
    assert!(
        s.frames.iter().all(|f| faces_in(f).is_empty()),
        "faces in a test pattern"
    );
    assert_eq!(
        s.sections.value("nudity"),
        Some(&serde_json::json!({})),
        "nudity in a test pattern"
    );
    assert_eq!(face_summary(&s).frames_with_faces, 0);
}

#[test]
fn half_second_shot_of_the_astronaut_is_found_at_the_right_time() {
    let clip = cut_clip("cut.mp4", 4.2, 0.5, 5.3);
    let s = screen(&clip);
    let with_face: Vec<f64> = s
        .frames
        .iter()
        .filter(|f| !faces_in(f).is_empty())
        .map(|f| f.time_s)
        .collect();
    assert!(!with_face.is_empty(), "the 0.5 s shot was not sampled");
    assert!(
        with_face
            .iter()
            .all(|&t| (4.2 - 0.05..4.7 + 0.05).contains(&t)),
        "{with_face:?}"
    );
    let cut = s
        .frames
        .iter()
        .find(|f| f.reasons.contains(&SampleReason::SceneCut) && !faces_in(f).is_empty());
    assert!(
        cut.is_some_and(|f| (f.time_s - 4.2).abs() < 0.1),
        "no scene cut sampled at 4.2 s"
    );
}

#[test]
fn scene_cuts_catch_a_short_shot_between_uniform_samples() {
    // At 0.25 fps uniform samples fall at 0, 4, 8 s: only the cut detector can see 5.1-5.6 s.
    let clip = cut_clip("cut_sparse.mp4", 5.1, 0.5, 4.4);
    let mut cfg = common::config();
    cfg.media.sample_fps = 0.25;
    let s = common::service(cfg.clone())
        .screener()
        .screen_clip(&clip)
        .unwrap();
    let found: Vec<f64> = s
        .frames
        .iter()
        .filter(|f| !faces_in(f).is_empty())
        .map(|f| f.time_s)
        .collect();
    assert!(
        !found.is_empty() && found.iter().all(|&t| (5.05..5.65).contains(&t)),
        "{found:?}"
    );
    assert!(s.sampling.scene_cuts >= 2, "{:?}", s.sampling);
}

#[test]
fn still_frames_are_analysed_once_and_reuse_detections() {
    let out = clips_dir().join("still.mp4");
    let src = testdata("astronaut.png");
    ffmpeg(&[
        "-loop",
        "1",
        "-i",
        src.to_str().unwrap(),
        "-t",
        "6",
        "-r",
        "30",
        "-vf",
        "scale=640:640",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        out.to_str().unwrap(),
    ]);
    let s = screen(&out);
    assert!(s.sampling.duplicate_frames >= 8, "{:?}", s.sampling);
    assert!(s.sampling.analysed_frames < s.sampling.sampled_frames);
    for f in s.frames.iter().filter(|f| f.duplicate_of.is_some()) {
        let original = s
            .frames
            .iter()
            .find(|o| Some(o.index) == f.duplicate_of)
            .unwrap();
        assert_eq!(faces_in(f).len(), faces_in(original).len());
        assert_eq!(f.parts.value("nudity"), original.parts.value("nudity"));
        assert_eq!(faces_in(f).len(), 1);
    }
}

#[test]
fn every_container_and_codec_decodes() {
    let src = testdata("astronaut.png");
    let cases: [(&str, &[&str], &str); 6] = [
        (
            "h264.mov",
            &["-c:v", "libx264", "-pix_fmt", "yuv420p"],
            "h264",
        ),
        (
            "hevc.mkv",
            &[
                "-c:v",
                "libx265",
                "-pix_fmt",
                "yuv420p",
                "-x265-params",
                "log-level=error",
            ],
            "hevc",
        ),
        (
            "hevc10.mp4",
            &[
                "-c:v",
                "libx265",
                "-pix_fmt",
                "yuv420p10le",
                "-x265-params",
                "log-level=error",
                "-tag:v",
                "hvc1",
            ],
            "hevc",
        ),
        (
            "vp9.webm",
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-pix_fmt",
                "yuv420p",
            ],
            "vp9",
        ),
        (
            "av1.mkv",
            &["-c:v", "libsvtav1", "-preset", "12", "-pix_fmt", "yuv420p"],
            "av1",
        ),
        (
            "av1.mp4",
            &[
                "-c:v",
                "libaom-av1",
                "-cpu-used",
                "8",
                "-row-mt",
                "1",
                "-pix_fmt",
                "yuv420p",
            ],
            "av1",
        ),
    ];
    for (name, codec, want) in cases {
        let out = clips_dir().join(name);
        let mut args = vec![
            "-loop",
            "1",
            "-i",
            src.to_str().unwrap(),
            "-t",
            "2",
            "-r",
            "24",
            "-vf",
            "crop=512:288:0:0,scale=640:360",
        ];
        args.extend_from_slice(codec);
        args.push(out.to_str().unwrap());
        ffmpeg(&args);
        let s = screen(&out);
        assert_eq!(s.media.codec, want, "{name}");
        assert!(
            (s.media.duration_s - 2.0).abs() < 0.15,
            "{name}: {}",
            s.media.duration_s
        );
        assert!(s.frames.len() >= 4, "{name}: {} frames", s.frames.len());
        assert!(
            s.frames.iter().all(|f| faces_in(f).len() == 1),
            "{name}: face missing in a frame"
        );
    }
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = clips_dir();
    let empty = dir.join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(media_error(&empty), MediaError::Empty { .. }));

    let missing = dir.join("missing.mp4");
    assert!(matches!(media_error(&missing), MediaError::NotFound { .. }));

    let noise = dir.join("noise.mp4");
    std::fs::write(
        &noise,
        (0..100_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let e = media_error(&noise);
    assert!(
        matches!(e, MediaError::NotVideo { .. } | MediaError::Corrupt { .. }),
        "{e}"
    );

    let text = dir.join("notes.txt");
    std::fs::write(&text, "this is not a video\n".repeat(100)).unwrap();
    let e = media_error(&text);
    assert!(matches!(e, MediaError::NotVideo { .. }), "{e}");

    let e = media_error(&testdata("astronaut.png"));
    assert!(matches!(e, MediaError::NotVideo { .. }), "{e}");
    assert!(e.to_string().contains("not a video"), "{e}");

    // An MP4 cut in half: with its index at the end it cannot be opened at all; with the index
    // first (faststart) it opens but ends early.
    let full = std::fs::read(common::astronaut_zoom_clip()).unwrap();
    let cut = dir.join("cut_in_half.mp4");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let e = media_error(&cut);
    assert!(matches!(e, MediaError::Corrupt { .. }), "{e}");

    let fast = dir.join("faststart.mp4");
    ffmpeg(&[
        "-i",
        common::astronaut_zoom_clip().to_str().unwrap(),
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        fast.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&fast).unwrap();
    let truncated = dir.join("truncated.mp4");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let e = media_error(&truncated);
    assert!(
        matches!(e, MediaError::Truncated { .. } | MediaError::Corrupt { .. }),
        "{e}"
    );
}

#[test]
fn clips_over_the_limits_are_refused_before_decoding() {
    let clip = common::astronaut_zoom_clip();
    for (what, set) in [
        (
            "duration",
            Box::new(|c: &mut clipguard::Config| c.media.max_duration_s = 5.0)
                as Box<dyn Fn(&mut clipguard::Config)>,
        ),
        (
            "width",
            Box::new(|c: &mut clipguard::Config| c.media.max_width = 640),
        ),
        (
            "file size",
            Box::new(|c: &mut clipguard::Config| c.media.max_file_bytes = 1000),
        ),
    ] {
        let mut cfg = common::config();
        set(&mut cfg);
        let e = clipguard::media::probe(&clip, &cfg.media).unwrap_err();
        assert!(matches!(e, MediaError::OverLimit { .. }), "{what}: {e}");
        assert!(
            e.to_string().contains(what) && e.to_string().contains("limit"),
            "{e}"
        );
    }
}

#[test]
fn cli_check_prints_signals_and_fails_with_one_line_errors() {
    let clip = common::astronaut_zoom_clip();
    let (ok, out, err) = common::cli(&["check", "--json", "--full", clip.to_str().unwrap()], &[]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let clip_json = &v["clip"];
    assert!(clip_json["frames"].as_array().unwrap().len() >= 20);
    assert!(
        clip_json["nudity"]["FACE_FEMALE"]["max_score"]
            .as_f64()
            .unwrap()
            > 0.5
    );
    assert!(clip_json["timings"]["total_ms"].as_f64().unwrap() > 0.0);
    assert!(v["prompt"].is_null() && v["user"].is_null());

    let (ok, text, _) = common::cli(&["check", clip.to_str().unwrap()], &[]);
    assert!(
        ok && text.contains("FACE_FEMALE") && text.contains("timings"),
        "{text}"
    );

    let dir = clips_dir();
    let empty = dir.join("cli_empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    let text_file = dir.join("cli.txt");
    std::fs::write(&text_file, "hello").unwrap();
    for (path, expect) in [
        (dir.join("absent.mp4"), "no such file"),
        (empty, "empty"),
        (text_file, "not a video"),
    ] {
        let (ok, _, err) = common::cli(&["check", path.to_str().unwrap()], &[]);
        assert!(!ok, "{}: succeeded", path.display());
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.starts_with("error: ") && err.contains(expect), "{err}");
    }
}
