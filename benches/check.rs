//! `cargo bench --bench check` (or `make bench`): the end-to-end check of a 10 s 1280x720 H.264
//! clip with every analyser, silent and with 10 s of speech, (and without the closer look for small faces at scene starts,
//! without on-screen text, with open_nsfw on, with 10 categories defined), each model on its own, and a per-stage report (medians over
//! repeated runs) with the frames analysed, and `clipguard check` run as its own process for
//! its wall time and peak RSS.
//!
//! Uses the same library calls as the CLI and the server: `Screener::screen_clip` and the
//! detectors it holds.

#[path = "../tests/common/mod.rs"]
mod common;

use clipguard::analysers::{
    ClassifiersConfig, FacesConfig, HashesConfig, SpeechConfig, TextConfig,
};
use clipguard::screen::Screener;
use clipguard::vision::align;
use common::repo;
use criterion::Criterion;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `clipguard check` on the clip as its own process, as a user would, `runs` times:
/// median wall time (model loading included) and the largest peak RSS of those processes.
fn cli_report(clip: &Path, data: &Path, runs: usize) {
    let (mut walls, mut peak_kb) = (Vec::new(), 0);
    for _ in 0..runs {
        let t = std::time::Instant::now();
        #[allow(clippy::zombie_processes)] // reaped by wait4 below
        let child = Command::new(env!("CARGO_BIN_EXE_clipguard"))
            .args(["check", "--json"])
            .arg(clip)
            .current_dir(repo())
            .env("CLIPGUARD_DATA_DIR", data)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("clipguard runs");
        // wait4 gives this child's own peak RSS (getrusage would mix in ffmpeg's).
        let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
        // SAFETY: wait4 only writes into the two values it is given.
        let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
        assert!(
            pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "clipguard check failed"
        );
        walls.push(t.elapsed().as_secs_f64() * 1e3);
        peak_kb = peak_kb.max(usage.ru_maxrss);
    }
    println!(
        "`clipguard check` as its own process, {runs} runs: median wall {:.0} ms (loading and verifying models included), peak RSS {:.0} MB",
        median(walls),
        peak_kb as f64 / 1024.0
    );
}

/// The cost of a feature (`what`) as a ratio of paired runs, one with it and one without,
/// alternating: load from other processes then falls on both alike, which two separate blocks
/// of runs (criterion's) do not ensure on a shared machine.
fn paired_report(what: &str, with: &Screener, without: &Screener, clip: &Path, pairs: usize) {
    let time = |s: &Screener| {
        let t = std::time::Instant::now();
        s.screen_clip(clip).unwrap();
        t.elapsed().as_secs_f64() * 1e3
    };
    let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..pairs {
        let (a, b) = (time(with), time(without));
        on.push(a);
        off.push(b);
        ratios.push(a / b);
    }
    println!(
        "\n{what}, {pairs} alternating pairs: median {:.0} ms with, {:.0} ms without, median ratio {:.3}",
        median(on),
        median(off),
        median(ratios)
    );
}

/// The cost of what one clip has and the other lacks (`what`), on one screener: a ratio of
/// paired runs, alternating, as `paired_report`.
fn paired_clips(what: &str, s: &Screener, with: &Path, without: &Path, pairs: usize) {
    let time = |clip: &Path| {
        let t = std::time::Instant::now();
        s.screen_clip(clip).unwrap();
        t.elapsed().as_secs_f64() * 1e3
    };
    // Once each first: the speech models load on the first clip with speech.
    time(with);
    time(without);
    let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..pairs {
        let (a, b) = (time(with), time(without));
        on.push(a);
        off.push(b);
        ratios.push(a / b);
    }
    println!(
        "\n{what}, {pairs} alternating pairs: median {:.0} ms with, {:.0} ms without, median ratio {:.3}",
        median(on),
        median(off),
        median(ratios)
    );
}

/// Decoding and sampling alone (the decoder thread's own time, `decode_ms` + `sample_ms`),
/// every frame against non-reference frames skipped, alternating.
fn decode_report(every: &Screener, skipping: &Screener, clip: &Path, pairs: usize) {
    let (mut on, mut off) = (Vec::new(), Vec::new());
    let mut frames = (0, 0, 0);
    for _ in 0..pairs {
        let a = every.screen_clip(clip).unwrap();
        let b = skipping.screen_clip(clip).unwrap();
        on.push(a.timings.decode_ms + a.timings.sample_ms);
        off.push(b.timings.decode_ms + b.timings.sample_ms);
        frames = (
            a.sampling.decoded_frames,
            b.sampling.decoded_frames,
            a.sampling.flashes,
        );
    }
    println!(
        "\ndecoding and sampling, {pairs} alternating pairs: every frame ({} decoded, {} flashes) median {:.0} ms, non-reference skipped ({} decoded) {:.0} ms",
        frames.0,
        frames.2,
        median(on),
        frames.1,
        median(off)
    );
}

/// Medians of each stage over `runs` screenings, printed as one table.
fn stage_report(screener: &Screener, clip: &Path, runs: usize) {
    let all: Vec<clipguard::Signals> = (0..runs)
        .map(|_| screener.screen_clip(clip).unwrap())
        .collect();
    let col = |stage: &str| {
        median(
            all.iter()
                .map(|s| {
                    s.timings
                        .all()
                        .iter()
                        .find(|(n, _)| *n == stage)
                        .map_or(0.0, |(_, v)| *v)
                })
                .collect(),
        )
    };
    let s = &all[0].sampling;
    let total = median(all.iter().map(|s| s.timings.total_ms).collect());
    println!("\nend-to-end check, 10 s 1280x720 H.264, medians of {runs} runs:");
    println!(
        "  frames: {} decoded, {} sampled, {} analysed, {} near-duplicates",
        s.decoded_frames, s.sampled_frames, s.analysed_frames, s.duplicate_frames
    );
    let stages: Vec<&str> = all[0].timings.all().iter().map(|(n, _)| *n).collect();
    for (name, v) in stages
        .iter()
        .map(|n| (*n, col(n)))
        .chain([("total", total)])
    {
        println!(
            "  {name:<10} {v:>8.1} ms  ({:>5.1}% of total)",
            v / total * 100.0
        );
    }
    println!("  (decoding runs beside inference, and nudity beside faces: stages overlap)");
}

/// `n` categories, each from 3 variants (whole, mirrored, cropped) of one test photograph.
fn define_categories(service: &clipguard::service::CheckService, n: usize) {
    let photos = [
        "chelsea.png",
        "coffee.png",
        "rocket.jpg",
        "camera.png",
        "grace_hopper.jpg",
        "text.png",
        "page.png",
    ];
    let dir = common::clips_dir();
    for i in 0..n {
        let img = common::rgb(photos[i % photos.len()]);
        let (w, h) = img.dimensions();
        let side = 5 + i as u32;
        let variants = [
            image::imageops::flip_horizontal(&img),
            image::imageops::crop_imm(&img, w / side, h / side, w / 2, h / 2).to_image(),
            image::imageops::crop_imm(&img, 0, 0, w * 3 / 4, h * 3 / 4).to_image(),
        ];
        let paths: Vec<std::path::PathBuf> = variants
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let p = dir.join(format!("category{i}-{j}.png"));
                v.save(&p).unwrap();
                p
            })
            .collect();
        let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        service
            .create_category(&format!("category_{i}"), "", "bench", &refs, &[])
            .unwrap();
    }
}

/// The zoom clip with 10 s of speech as its soundtrack (espeak-ng's en-gb-x-rp voice, AAC).
fn speech_clip(video: &Path) -> std::path::PathBuf {
    let wav = common::clips_dir().join("speech10.wav");
    let out = common::clips_dir().join("astronaut_zoom_speech.mp4");
    let spoken = Command::new("espeak-ng")
        .args(["-v", "en-gb-x-rp", "-s", "150", "-w"])
        .arg(&wav)
        .arg(
            "Good evening. Tonight we look at the new budget for the city, the plans for the \
             river park, and what the council said about the buses and the trains next year.",
        )
        .status()
        .expect("espeak-ng runs");
    assert!(spoken.success());
    common::ffmpeg(&[
        "-i",
        video.to_str().unwrap(),
        "-i",
        wav.to_str().unwrap(),
        "-af",
        "apad",
        "-t",
        "10",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        out.to_str().unwrap(),
    ]);
    out
}

fn main() {
    let clip = common::astronaut_zoom_clip();
    let speech = speech_clip(&clip);
    // First, while this process is small: a child's peak RSS counts what it shared with its
    // parent before exec, so with the models loaded here it read ~230 MB too high.
    cli_report(&clip, &common::data_dir(), 5);
    println!("with 10 s of speech:");
    cli_report(&speech, &common::data_dir(), 5);
    let screener = common::screener();
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();

    c.bench_function("check_10s_720p_h264", |b| {
        b.iter(|| screener.screen_clip(&clip).unwrap())
    });
    c.bench_function("check_10s_720p_h264_10s_speech", |b| {
        b.iter(|| screener.screen_clip(&speech).unwrap())
    });
    paired_clips(
        "10 s of speech, against the same clip silent",
        screener,
        &speech,
        &clip,
        10,
    );
    // Whisper's full 30 s context (faster-whisper's) against the trimmed default: the cost,
    // and what each heard.
    let mut cfg = common::config();
    cfg.update_settings(|s: &mut SpeechConfig| s.full_context = true);
    let full = common::service(cfg).screener().clone();
    for (name, s) in [("trimmed", screener), ("full", &full)] {
        let heard: clipguard::vocab::Speech = s
            .screen_clip(&speech)
            .unwrap()
            .sections
            .get("speech")
            .unwrap();
        let text: Vec<String> = heard.tracks.iter().map(|t| t.text()).collect();
        println!("{name} context heard: {text:?}");
    }
    paired_report(
        "Whisper's full 30 s context, against trimmed to the speech plus 1 s",
        &full,
        screener,
        &speech,
        5,
    );
    drop(full);
    // Every frame shown decoded (non-reference frames without the loop filter) and faces
    // embedded from 24 px, against the previous defaults: non-reference frames skipped (so
    // coverage is now incomplete) and faces embedded from 40 px.
    let mut cfg = common::config();
    cfg.media.skip_non_reference = true;
    cfg.update_settings(|f: &mut FacesConfig| f.min_embed_px = 40.0);
    let previous = common::service(cfg).screener().clone();
    c.bench_function("check_10s_720p_h264_previous_defaults", |b| {
        b.iter(|| previous.screen_clip(&clip).unwrap())
    });
    paired_report(
        "every frame decoded, against non-reference frames skipped (previous defaults)",
        screener,
        &previous,
        &clip,
        15,
    );
    let mut cfg = common::config();
    cfg.media.skip_loop_filter_non_reference = false;
    let deblocked = common::service(cfg).screener().clone();
    paired_report(
        "every frame decoded with the loop filter, against without it on non-reference frames",
        &deblocked,
        screener,
        &clip,
        15,
    );
    drop(deblocked);
    decode_report(screener, &previous, &clip, 15);
    drop(previous);
    // The same check without the closer look at scene starts (small faces), for its cost.
    let mut cfg = common::config();
    cfg.update_settings(|f: &mut FacesConfig| f.scene_min_face_px = 0.0);
    let coarse = common::service(cfg).screener().clone();
    c.bench_function("check_10s_720p_h264_no_scene_start_look", |b| {
        b.iter(|| coarse.screen_clip(&clip).unwrap())
    });
    paired_report("scene-start look", screener, &coarse, &clip, 15);
    drop(coarse);
    // The look at the parts of frames that changed since the one before (faces walking in), for
    // its cost: on the zoom (the camera moving changes more than its tiles allow) and on a shot
    // that a 40 px face walks into.
    let mut cfg = common::config();
    cfg.update_settings(|f: &mut FacesConfig| f.changed_max_tiles = 0);
    let unchanged = common::service(cfg).screener().clone();
    paired_report("look at changed parts", screener, &unchanged, &clip, 15);
    let walk = common::walk_in_clip(Some("astronaut.png"), 40, (1280, 720), 4.0);
    paired_report(
        "look at changed parts, a 40 px face walking in",
        screener,
        &unchanged,
        &walk,
        15,
    );
    drop(unchanged);
    // PDQ on every analysed frame, as before `hashes.interval_s`, against about one a second.
    let mut cfg = common::config();
    cfg.update_settings(|h: &mut HashesConfig| h.interval_s = 0.0);
    let pdq_every = common::service(cfg).screener().clone();
    c.bench_function("check_10s_720p_h264_pdq_every_frame", |b| {
        b.iter(|| pdq_every.screen_clip(&clip).unwrap())
    });
    paired_report("PDQ on every frame", &pdq_every, screener, &clip, 15);
    drop(pdq_every);
    // The same check without on-screen text, for its cost. The screener alone: the default
    // policy reads on-screen text, so a service without it would refuse that policy.
    let mut cfg = common::config();
    cfg.update_settings(|t: &mut TextConfig| t.enabled = false);
    let ctx = clipguard::service::Context::open(cfg).unwrap();
    let (no_text, _) = ctx.screening().unwrap();
    c.bench_function("check_10s_720p_h264_no_text", |b| {
        b.iter(|| no_text.screen_clip(&clip).unwrap())
    });
    drop(no_text);

    // Unsafe content beyond nudity: open_nsfw on every analysed frame, and 10 categories
    // defined by example (CLIP at scene starts and every 0.9 s), each against the default.
    let mut cfg = common::config();
    cfg.update_settings(|c: &mut ClassifiersConfig| c.enabled = vec!["open_nsfw".into()]);
    let nsfw = common::service(cfg).screener().clone();
    c.bench_function("check_10s_720p_h264_open_nsfw", |b| {
        b.iter(|| nsfw.screen_clip(&clip).unwrap())
    });
    paired_report("open_nsfw on", &nsfw, screener, &clip, 10);
    drop(nsfw);
    let categories = common::service(common::config());
    define_categories(&categories, 10);
    let categories = categories.screener().clone();
    c.bench_function("check_10s_720p_h264_10_categories", |b| {
        b.iter(|| categories.screen_clip(&clip).unwrap())
    });
    paired_report("10 categories", &categories, screener, &clip, 10);
    drop(categories);

    let frame = image::open(repo().join(".local/testdata/astronaut.png"))
        .unwrap()
        .to_rgb8();
    let frame720 =
        image::imageops::resize(&frame, 1280, 720, image::imageops::FilterType::Triangle);
    let v = screener.vision();
    let mut g = c.benchmark_group("models");
    g.sample_size(30);
    g.bench_function("nudity_720p_frame", |b| {
        b.iter(|| v.nudity.detect(&[&frame720]).unwrap())
    });
    g.bench_function("faces_720p_frame", |b| {
        b.iter(|| v.faces.detect(&frame720).unwrap())
    });
    let reader = v.text.as_ref().expect("text is on by default");
    g.bench_function("text_720p_frame_without_text", |b| {
        b.iter(|| reader.read(&frame720).unwrap())
    });
    let face = v.faces.detect(&frame).unwrap().remove(0);
    let chip = align::chip(&frame, &face);
    g.bench_function("align_chip", |b| b.iter(|| align::chip(&frame, &face)));
    g.bench_function("embed_chip", |b| {
        b.iter(|| v.embedder.embed(std::slice::from_ref(&chip)).unwrap())
    });
    let chips = vec![chip; 8];
    g.bench_function("embed_8_chips", |b| {
        b.iter(|| v.embedder.embed(&chips).unwrap())
    });
    g.finish();

    stage_report(screener, &clip, 15);
    c.final_summary();
}
