//! The soundtrack screened end to end: clips made here with espeak-ng voices (synthetic, from
//! Debian) and ffmpeg, checked by the service on the shipped models and the default policy.
//! Speech naming a registered person is not allowed, with the words and their time as evidence;
//! innocent speech is; sound that could not be decoded, or that nothing listened to, is not.

mod common;

use clipguard::analysers::SpeechConfig;
use clipguard::persons::NewPerson;
use clipguard::service::CheckService;
use clipguard::vocab::{Action, CheckRequest, Decision, PersonKind, Speech};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// A service on the default configuration with Eileen Collins registered by name and Grace
/// Hopper by name and face; neither has allowed anyone.
fn service() -> &'static Arc<CheckService> {
    static S: OnceLock<Arc<CheckService>> = OnceLock::new();
    S.get_or_init(|| {
        // One worker, and room in its queue for the thumbnails a review or block makes on the
        // pool after its answer: with one place, the next test's clip found it taken (Busy).
        let s = clipguard::service::Context::open(common::config())
            .and_then(|c| c.service(1, 4))
            .expect("models load (run `make test` to fetch them)");
        add(&s, "Eileen Collins", &[]);
        add(&s, "Grace Hopper", &[&common::testdata("grace_hopper.jpg")]);
        s
    })
}

fn add(s: &CheckService, name: &str, faces: &[&Path]) {
    let p = NewPerson {
        name: name.into(),
        aliases: vec![],
        kind: PersonKind::PublicFigure,
        allowed_users: vec![],
        always_match: vec![],
    };
    s.add_person(&p, faces).unwrap();
}

fn check_with(s: &Arc<CheckService>, clip: &Path, prompt: Option<&str>) -> Decision {
    let request = CheckRequest {
        prompt: prompt.map(str::to_string),
        user: Some("bob".into()),
        ..Default::default()
    };
    // The tests, side by side, take turns: one clip screened at a time.
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(|p| p.into_inner());
    common::check_clip(s, clip, request)
}

fn check(clip: &Path) -> Decision {
    check_with(service(), clip, None)
}

fn speech(d: &Decision) -> Speech {
    d.clip.as_ref().unwrap().sections.get("speech").unwrap()
}

fn rules(d: &Decision) -> Vec<&str> {
    d.decision.matched.iter().map(|m| m.rule.as_str()).collect()
}

/// `text` spoken by an espeak-ng voice, as a WAV file.
fn say(voice: &str, wpm: u32, text: &str, name: &str) -> PathBuf {
    let out = common::clips_dir().join(format!("{name}.wav"));
    let ok = Command::new("espeak-ng")
        .args(["-v", voice, "-s", &wpm.to_string(), "-w"])
        .arg(&out)
        .arg(text)
        .status()
        .expect("espeak-ng runs (make test installs it)");
    assert!(ok.success());
    out
}

/// A 720p H.264 clip of a still `image` with the given audio inputs and ffmpeg options for
/// them, as long as the shortest input.
fn clip(name: &str, image: &str, audio: &[&str]) -> PathBuf {
    let out = common::clips_dir().join(name);
    let img = common::testdata(image);
    let mut args: Vec<&str> = vec![
        "-loop",
        "1",
        "-framerate",
        "25",
        "-i",
        img.to_str().unwrap(),
    ];
    args.extend(audio);
    args.extend([
        "-vf",
        "scale=1280:720,format=yuv420p",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        "-shortest",
        out.to_str().unwrap(),
    ]);
    common::ffmpeg(&args);
    out
}

/// A clip of `image` whose soundtrack is `wav`.
fn spoken(name: &str, image: &str, wav: &Path) -> PathBuf {
    clip(name, image, &["-i", wav.to_str().unwrap()])
}

const COLLINS: &str = "Hello everyone, this is Eileen Collins. I am telling you that the \
                       election is cancelled, stay home.";

#[test]
fn speech_naming_a_registered_person_is_not_allowed_with_the_words_and_time() {
    let wav = say("en-gb-x-rp", 150, COLLINS, "collins");
    let d = check(&spoken("collins.mp4", "coffee.png", &wav));
    let s = speech(&d);
    println!("{:?}", s.tracks);
    assert_eq!(d.decision.action, Action::Review, "{:?}", d.decision);
    assert!(
        rules(&d).contains(&"speech-names-person"),
        "{:?}",
        rules(&d)
    );
    let m = &s.persons[0];
    assert_eq!(m.name, "Eileen Collins");
    assert!(m.segment.contains("Eileen Collins"), "{m:?}");
    assert!(m.start_s < 1.0 && m.end_s > 1.5 && m.end_s < 4.0, "{m:?}");
    let rule = d
        .decision
        .matched
        .iter()
        .find(|m| m.rule == "speech-names-person");
    let evidence = &rule.unwrap().evidence[0];
    assert_eq!(evidence["name"], "Eileen Collins");
    assert!(evidence["time_s"].as_f64().unwrap() < 1.0, "{evidence}");
    let track = &s.tracks[0];
    assert_eq!(track.language, "en");
    assert!(track.speech_s > 4.0, "{track:?}");
    let text = track.text().to_lowercase();
    assert!(text.contains("election is cancelled"), "{text}");
    // The whole clip was heard: only the speech rule holds it back.
    let cov = d.clip.as_ref().unwrap().sampling.coverage.clone();
    assert!(cov.complete, "{:?}", cov.problems);
    let audio = cov.audio.unwrap();
    assert_eq!((audio.streams_declared, audio.streams_decoded), (1, 1));
    assert!(audio.heard_s > 5.0, "{audio:?}");
}

#[test]
fn speech_naming_the_person_whose_face_is_shown_is_blocked() {
    let wav = say(
        "en-gb-x-rp",
        150,
        "This is Grace Hopper. I use this product every single day.",
        "hopper",
    );
    let d = check(&spoken("hopper.mp4", "grace_hopper.jpg", &wav));
    assert_eq!(d.decision.action, Action::Block, "{:?}", d.decision);
    assert!(
        rules(&d).contains(&"speech-names-person-seen"),
        "{:?}",
        rules(&d)
    );
}

#[test]
fn speech_naming_the_person_the_prompt_names_is_blocked() {
    let wav = say("en-gb-x-rp", 150, COLLINS, "collins-prompt");
    let clip = spoken("collins-prompt.mp4", "coffee.png", &wav);
    let d = check_with(
        service(),
        &clip,
        Some("eileen collins speaking at a press conference"),
    );
    assert_eq!(d.decision.action, Action::Block, "{:?}", d.decision);
    assert!(
        rules(&d).contains(&"speech-names-person-seen"),
        "{:?}",
        rules(&d)
    );
}

#[test]
fn innocent_speech_is_allowed_and_its_transcript_kept() {
    let wav = say(
        "en-gb-x-rp",
        150,
        "The weather is lovely today. Let us go for a walk in the park and buy some bread.",
        "weather",
    );
    let d = check(&spoken("weather.mp4", "coffee.png", &wav));
    assert_eq!(d.decision.action, Action::Allow, "{:?}", d.decision);
    assert!(d.attestation.is_some());
    let s = speech(&d);
    assert!(s.persons.is_empty() && s.voices.is_empty(), "{s:?}");
    let text = s.tracks[0].text().to_lowercase();
    assert!(text.contains("walk in the park"), "{text}");
}

#[test]
fn a_name_said_over_noise_is_still_heard() {
    let wav = say("en-gb-x-rp", 150, COLLINS, "collins-noise");
    let d = check(&clip(
        "collins-noise.mp4",
        "coffee.png",
        &[
            "-i",
            wav.to_str().unwrap(),
            "-f",
            "lavfi",
            "-i",
            "anoisesrc=color=pink:amplitude=0.04:sample_rate=22050:seed=7",
            "-filter_complex",
            "[1:a][2:a]amix=inputs=2:duration=first[a]",
            "-map",
            "0:v",
            "-map",
            "[a]",
        ],
    ));
    println!("{:?}", speech(&d).tracks);
    assert_eq!(d.decision.action, Action::Review, "{:?}", d.decision);
    assert!(
        rules(&d).contains(&"speech-names-person"),
        "{:?}",
        rules(&d)
    );
}

#[test]
fn a_name_said_in_the_second_audio_track_is_heard() {
    let music = say(
        "en-us",
        150,
        "Welcome to the cooking show, today we bake a cake.",
        "cooking",
    );
    let wav = say("en-gb-x-rp", 150, COLLINS, "collins-second");
    let d = check(&clip(
        "two-tracks.mp4",
        "coffee.png",
        &[
            "-i",
            music.to_str().unwrap(),
            "-i",
            wav.to_str().unwrap(),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-map",
            "2:a",
        ],
    ));
    let s = speech(&d);
    assert_eq!(s.tracks.len(), 2, "{:?}", s.tracks);
    assert_eq!(d.decision.action, Action::Review, "{:?}", d.decision);
    assert_eq!(s.persons[0].stream, 2, "{:?}", s.persons);
}

/// Speech in other languages is transcribed in its language and screened; no rule objects to
/// innocent speech but the meaning model, whose false review of a garbled transcript is known. (A registered English name said by a German or Spanish espeak voice is spoken with
/// that language's sounds, and Whisper base hears another name: docs/speech.md.)
#[test]
fn speech_in_other_languages_is_transcribed_and_innocent_speech_allowed() {
    for (voice, lang, word, text) in [
        (
            "de",
            "de",
            "park",
            "Guten Abend. Morgen scheint die Sonne, wir gehen im Park spazieren.",
        ),
        (
            "es",
            "es",
            "parque",
            "Buenas noches. Mañana hará sol y vamos a pasear por el parque.",
        ),
    ] {
        let wav = say(voice, 140, text, &format!("innocent-{lang}"));
        let d = check(&spoken(&format!("innocent-{lang}.mp4"), "coffee.png", &wav));
        let s = speech(&d);
        println!("{:?}", s.tracks);
        assert_eq!(s.tracks[0].language, lang, "{:?}", s.tracks);
        assert!(
            s.tracks[0].text().to_lowercase().contains(word),
            "{:?}",
            s.tracks
        );
        // Nothing but the meaning model may object: it reads Whisper's garbled German ("Morden-
        // scheinthe Zone, wir gehen im Park statt 7.") as self_harm at 0.51, just over its
        // line (a known false review of #29's heads, in the closing note of 2026-12-07).
        let others: Vec<&str> = d
            .decision
            .matched
            .iter()
            .map(|m| m.rule.as_str())
            .filter(|r| *r != "meaning-unsafe")
            .collect();
        assert!(others.is_empty(), "{:?}", d.decision);
        assert_ne!(d.decision.action, Action::Block, "{:?}", d.decision);
    }
}

#[test]
fn damaged_sound_is_not_allowed() {
    let wav = say(
        "en-us",
        150,
        "The weather is lovely today.",
        "weather-short",
    );
    let src = spoken("weather-short.mp4", "coffee.png", &wav);
    let mut bytes = std::fs::read(&src).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
        .args(["packet=pos,size", "-of", "csv=p=0"])
        .arg(&src)
        .output()
        .unwrap();
    let packets: Vec<(usize, usize)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (pos, size) = l.split_once(',')?;
            Some((pos.parse().ok()?, size.parse().ok()?))
        })
        .collect();
    // Every byte after the first few of every other packet in the middle.
    for &(pos, size) in packets[10..packets.len() - 10].iter().step_by(2) {
        for b in &mut bytes[pos + 2..pos + size] {
            *b ^= 0xA5;
        }
    }
    let damaged = common::clips_dir().join("damaged-sound.mp4");
    std::fs::write(&damaged, &bytes).unwrap();
    let d = check(&damaged);
    let cov = &d.clip.as_ref().unwrap().sampling.coverage;
    assert!(!cov.complete, "{cov:?}");
    assert!(
        cov.problems.iter().any(|p| p.contains("audio stream 1")),
        "{:?}",
        cov.problems
    );
    assert_ne!(d.decision.action, Action::Allow);
    assert!(
        rules(&d).contains(&"coverage-incomplete"),
        "{:?}",
        rules(&d)
    );
}

#[test]
fn a_clip_without_sound_says_so_and_sound_nobody_listens_to_is_not_allowed() {
    let silent = common::still_clip("coffee.png", 3, 640, 360, "no-sound");
    let d = check(&silent);
    assert_eq!(d.decision.action, Action::Allow, "{:?}", d.decision);
    let audio = d
        .clip
        .as_ref()
        .unwrap()
        .sampling
        .coverage
        .audio
        .clone()
        .unwrap();
    assert!(audio.no_audio && audio.complete, "{audio:?}");

    // With speech off, a policy must not read signals.speech (it is refused at load): this one
    // holds only the rule for clips not fully screened.
    let mut cfg = common::config();
    cfg.update_settings(|s: &mut SpeechConfig| s.enabled = false);
    let dir = common::data_dir().join("policies");
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    // The text categories the meaning stage loads at start.
    common::copy_dir(
        &common::repo().join("policies/meaning"),
        &dir.join("meaning"),
    );
    let default = std::fs::read_to_string(common::repo().join("policies/default.yaml")).unwrap();
    let rule = default
        .split("\n  - id: ")
        .find(|r| r.starts_with("coverage-incomplete"))
        .unwrap();
    std::fs::write(
        dir.join("default.yaml"),
        format!("name: coverage-only\nrules:\n  - id: {rule}\n"),
    )
    .unwrap();
    cfg.policies.dir = dir;
    let deaf = common::service(cfg);
    let wav = say("en-us", 150, "The weather is lovely today.", "weather-deaf");
    let d = check_with(&deaf, &spoken("weather-deaf.mp4", "coffee.png", &wav), None);
    let cov = &d.clip.as_ref().unwrap().sampling.coverage;
    assert!(!cov.complete, "{cov:?}");
    assert!(
        cov.problems.iter().any(|p| p.contains("not listened to")),
        "{:?}",
        cov.problems
    );
    assert_eq!(d.decision.action, Action::Review, "{:?}", d.decision);
}

/// A language Whisper does not know is refused when the service starts, naming the setting,
/// not on the first clip with speech; a known one starts.
#[test]
fn a_language_whisper_does_not_know_is_refused_at_start() {
    let start = |language: &str| {
        let mut cfg = common::config();
        cfg.update_settings(|s: &mut SpeechConfig| s.language = Some(language.into()));
        clipguard::service::Context::open(cfg).and_then(|c| c.service(1, 1))
    };
    match start("klingon") {
        Ok(_) => panic!("a language Whisper does not know was accepted"),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains("klingon") && text.contains("speech.language"),
                "{text}"
            );
        }
    }
    assert!(start("fr").is_ok());
}
