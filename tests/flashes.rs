//! Short flashes: one frame (33 ms at 30 fps, 17 ms at 60 fps) of a test photograph in a 4 s
//! 720p clip of a coffee cup, encoded so that frame is a B-frame nothing refers to, a P-frame or
//! an I-frame, at the start, middle or end of the clip. A flash of an enrolled person (Eileen
//! Collins, from astronaut.png) and of nudity must not be allowed; the same clips without the
//! flash keep their decisions. The recall table by flash length and frame type (the README's)
//! is printed.
//!
//! The test photographs show no explicit nudity, so the nudity flashes are judged by the
//! default policy with FACE_FEMALE (which NudeNet finds in the photograph) among its explicit
//! classes: the rule and its threshold are the default's, only what it counts differs.

mod common;

use clipguard::persons::NewPerson;
use clipguard::service::CheckService;
use clipguard::vocab::{Action, CheckRequest, PersonKind, Signals};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

const SECONDS: u32 = 4;

/// How the encoder is told to code the flash.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Coded {
    /// The options: fixed groups of three B-frames, none a reference.
    NonReferenceB,
    /// No B-frames: every frame after the first predicts from the one before.
    P,
    /// No B-frames, and a keyframe forced where the flash is.
    I,
}

impl Coded {
    fn params(self) -> &'static str {
        match self {
            Coded::NonReferenceB => "scenecut=0:b-adapt=0:bframes=3:b-pyramid=none",
            Coded::P | Coded::I => "scenecut=0:bframes=0",
        }
    }

    /// ffprobe's picture type.
    fn pict_type(self) -> &'static str {
        match self {
            Coded::NonReferenceB => "B",
            Coded::P => "P",
            Coded::I => "I",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Place {
    Start,
    Middle,
    End,
}

/// A 4 s 1280x720 H.264 clip of the coffee cup at `fps`, with `photo` filling `frames` frames
/// from `first` on (`share` of the frame's width and height, centred), coded as `coded` says.
fn clip(fps: u32, coded: Coded, flash: Option<(&str, u32, u32, f32)>, tag: &str) -> PathBuf {
    let out = common::clips_dir().join(format!("flash-{fps}-{coded:?}-{tag}.mp4"));
    if out.exists() {
        return out;
    }
    let coffee = common::testdata("coffee.png");
    let rate = fps.to_string();
    let mut args: Vec<String> = ["-framerate", &rate, "-loop", "1", "-i"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(coffee.to_str().unwrap().into());
    let background = "scale=1280:720:force_original_aspect_ratio=increase,crop=1280:720,setsar=1";
    match flash {
        None => args.extend(["-vf".into(), background.into()]),
        Some((photo, first, frames, share)) => {
            let src = common::testdata(photo);
            args.extend([
                "-framerate".into(),
                rate.clone(),
                "-loop".into(),
                "1".into(),
            ]);
            args.extend(["-i".into(), src.to_str().unwrap().into()]);
            let (w, h) = (
                (1280.0 * share) as u32 / 2 * 2,
                (720.0 * share) as u32 / 2 * 2,
            );
            // The photograph's top, where the face is, scaled to cover its box.
            let graph = format!(
                "[0]{background}[bg];[1]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}:0:0,setsar=1[fg];\
                 [bg][fg]overlay=(W-w)/2:(H-h)/2:enable='between(n\\,{first}\\,{})'",
                first + frames - 1
            );
            args.extend(["-filter_complex".into(), graph]);
            if coded == Coded::I {
                args.extend(["-force_key_frames".into(), format!("expr:eq(n,{first})")]);
            }
        }
    }
    // Tests side by side may make the same clip: each writes its own partial file, and the
    // renames leave one whole clip.
    let partial = out.with_extension(format!(
        "{}.partial.mp4",
        format!("{:?}", std::thread::current().id())
            .trim_start_matches("ThreadId(")
            .trim_end_matches(')')
    ));
    args.extend(
        [
            "-frames:v",
            &(SECONDS * fps).to_string(),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-x264-params",
            coded.params(),
            "-pix_fmt",
            "yuv420p",
            partial.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::ffmpeg(&args);
    std::fs::rename(&partial, &out).unwrap();
    out
}

/// The picture type of every frame, in display order, as ffprobe reads it.
fn pict_types(clip: &Path) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["frame=pict_type", "-of", "csv=p=0"])
        .arg(clip)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().trim_end_matches(',').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The frame at `place` that the flash clip's encoder will code as `coded`: the control
/// clip's frame types say where B- and P-frames fall (they do not depend on the content with
/// these options); an I-frame is forced wherever the flash is.
fn flash_frame(fps: u32, coded: Coded, place: Place) -> u32 {
    let types = pict_types(&clip(fps, coded, None, "none"));
    assert_eq!(types.len() as u32, SECONDS * fps);
    let wanted = if coded == Coded::I {
        "P"
    } else {
        coded.pict_type()
    };
    let candidates: Vec<u32> = (1..types.len() as u32)
        .filter(|&i| types[i as usize] == wanted)
        .collect();
    match place {
        Place::Start => candidates[0],
        Place::Middle => *candidates
            .iter()
            .find(|&&i| i >= SECONDS * fps / 2)
            .unwrap(),
        Place::End => *candidates.last().unwrap(),
    }
}

/// A service with Eileen Collins enrolled (a public figure: the default policy blocks her
/// likeness), on the default policy or on `policy` (a name in a copy of the policies folder).
fn service(policy: Option<&str>) -> Arc<CheckService> {
    let mut cfg = common::config();
    if let Some(name) = policy {
        cfg.policies.name = name.into();
    }
    if policy.is_some() {
        let dir = common::data_dir().join("policies");
        common::copy_dir(&cfg.policies.dir, &dir);
        let default = std::fs::read_to_string(dir.join("default.yaml")).unwrap();
        let counted = default.replacen(
            "  explicit_classes:\n",
            "  explicit_classes:\n    - FACE_FEMALE\n",
            1,
        );
        assert_ne!(counted, default);
        std::fs::write(
            dir.join("nudity_stand_in.yaml"),
            counted.replacen("name: default", "name: nudity_stand_in", 1),
        )
        .unwrap();
        cfg.policies.dir = dir;
    }
    let service = common::service(cfg);
    let person = NewPerson {
        name: "Eileen Collins".into(),
        aliases: Vec::new(),
        kind: PersonKind::PublicFigure,
        allowed_users: Vec::new(),
        always_match: Vec::new(),
    };
    service
        .add_person(&person, &[common::testdata("astronaut.png").as_path()])
        .unwrap();
    service
}

fn likeness_service() -> &'static Arc<CheckService> {
    static S: OnceLock<Arc<CheckService>> = OnceLock::new();
    S.get_or_init(|| service(None))
}

fn nudity_service() -> &'static Arc<CheckService> {
    static S: OnceLock<Arc<CheckService>> = OnceLock::new();
    S.get_or_init(|| service(Some("nudity_stand_in")))
}

/// The action taken on the clip, and its signals.
fn check(service: &Arc<CheckService>, clip: &Path) -> (Action, Signals) {
    let d = common::check_clip(service, clip, CheckRequest::default());
    (d.decision.action, d.clip.unwrap())
}

/// Whether the frame shown at `frame` was analysed (not merely sampled as a repeat).
fn analysed(signals: &Signals, fps: u32, frame: u32) -> bool {
    let t = frame as f64 / fps as f64;
    signals
        .frames
        .iter()
        .any(|f| f.duplicate_of.is_none() && (f.time_s - t).abs() < 0.25 / fps as f64)
}

const CODED: [Coded; 3] = [Coded::NonReferenceB, Coded::P, Coded::I];
const RATES: [u32; 2] = [30, 60];

#[test]
fn single_frame_flashes_are_not_allowed_and_clips_without_them_are() {
    let mut failures = Vec::new();
    for fps in RATES {
        for coded in CODED {
            let control = clip(fps, coded, None, "none");
            for (what, service) in [
                ("likeness", likeness_service()),
                ("nudity", nudity_service()),
            ] {
                let (action, signals) = check(service, &control);
                let c = &signals.sampling.coverage;
                if action != Action::Allow || !c.complete || c.decoded_frames != c.shown_frames {
                    failures.push(format!(
                        "{fps} fps {coded:?} without a flash ({what} policy): {action:?}, {:?}",
                        c.problems
                    ));
                }
            }
            for place in [Place::Start, Place::Middle, Place::End] {
                let n = flash_frame(fps, coded, place);
                for (what, service) in [
                    ("likeness", likeness_service()),
                    ("nudity", nudity_service()),
                ] {
                    let flash = clip(
                        fps,
                        coded,
                        Some(("astronaut.png", n, 1, 1.0)),
                        &format!("{what}-{n}"),
                    );
                    let types = pict_types(&flash);
                    assert_eq!(
                        types[n as usize],
                        coded.pict_type(),
                        "{fps} fps {coded:?}: frame {n} is {}",
                        types[n as usize]
                    );
                    let (action, signals) = check(service, &flash);
                    let c = &signals.sampling.coverage;
                    assert_eq!(c.decoded_frames, c.shown_frames, "{:?}", c.problems);
                    if action == Action::Allow || !analysed(&signals, fps, n) {
                        failures.push(format!(
                            "{what} flash at frame {n} ({place:?}, {fps} fps, {coded:?}): {action:?}, analysed {}",
                            analysed(&signals, fps, n)
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// With frames nothing refers to skipped (the old default), a flash in one of them is never
/// decoded, and coverage says so: the clip is not allowed either way.
#[test]
fn skipped_frames_leave_coverage_incomplete() {
    let cfg = clipguard::config::MediaConfig {
        skip_non_reference: true,
        ..Default::default()
    };
    let n = flash_frame(30, Coded::NonReferenceB, Place::Middle);
    let flash = clip(
        30,
        Coded::NonReferenceB,
        Some(("astronaut.png", n, 1, 1.0)),
        &format!("likeness-{n}"),
    );
    let info = clipguard::media::probe(&flash, &cfg).unwrap();
    let stats = clipguard::media::sample(&flash, &info, &cfg, |_| true).unwrap();
    let c = stats.coverage;
    assert!(!c.complete);
    assert_eq!(c.shown_frames, 120);
    assert_eq!(c.decoded_frames + c.not_decoded_frames, 120);
    assert!(c.not_decoded_frames > 60, "{c:?}");
    let t = n as f64 / 30.0;
    assert!(
        c.not_decoded_times_s.iter().any(|s| (s - t).abs() < 0.01) || c.not_decoded_frames > 32,
        "{:?}",
        c.not_decoded_times_s
    );
    assert!(
        c.problems[0].contains("frames shown were not decoded"),
        "{:?}",
        c.problems
    );
}

/// Recall by flash length (1 to 3 frames) and by how the flash's first frame is coded, at 30
/// and 60 fps, in the middle of the clip: the photograph over the whole frame, and over a
/// quarter of it (a change too small for a scene cut). Printed for the README.
#[test]
fn recall_by_flash_length_and_frame_type() {
    let service = likeness_service();
    let mut table = String::from("| flash | picture |");
    for fps in RATES {
        for coded in CODED {
            table.push_str(&format!(" {fps} fps {} |", coded.pict_type()));
        }
    }
    table.push_str("\n|---|---|---|---|---|---|---|---|\n");
    let mut missed = Vec::new();
    for frames in 1..=3u32 {
        for (picture, share) in [("whole frame", 1.0), ("quarter", 0.5)] {
            table.push_str(&format!("| {frames} frame(s) | {picture} |"));
            for fps in RATES {
                for coded in CODED {
                    let n = flash_frame(fps, coded, Place::Middle);
                    let flash = clip(
                        fps,
                        coded,
                        Some(("astronaut.png", n, frames, share)),
                        &format!("len{frames}-{share}-{n}"),
                    );
                    let (action, signals) = check(service, &flash);
                    let seen = (0..frames).any(|k| analysed(&signals, fps, n + k));
                    let caught = action != Action::Allow && seen;
                    if !caught {
                        missed.push(format!("{frames} frames, {picture}, {fps} fps, {coded:?}"));
                    }
                    table.push_str(if caught { " caught |" } else { " missed |" });
                }
            }
            table.push('\n');
        }
    }
    println!("{table}");
    assert!(missed.is_empty(), "{missed:#?}\n{table}");
}
