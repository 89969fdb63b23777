//! Speech and voices on audio made here with espeak-ng and sox: voice activity equal to the
//! silero-vad package's, speaker embeddings equal to the Resemblyzer package's (within cosine
//! 0.999), and voices of registered persons enrolled (CLI, API) and matched. espeak-ng's voices
//! are synthetic, not real people: every threshold and figure here is about them.

mod common;

use clipguard::media::audio::{self, AudioLimits};
use clipguard::persons::voices::{MATCH_THRESHOLD, MIN_SELF_AGREEMENT};
use clipguard::persons::NewPerson;
use clipguard::service::{ClipLocation, ClipSource};
use clipguard::speech::vad::{self, VadParams, WINDOW};
use clipguard::speech::voice::{cosine, self_agreement};
use clipguard::speech::VoiceModels;
use clipguard::vocab::{Action, CheckRequest, Embedding, Origin, PersonKind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// Voices the tests tell apart (espeak-ng voice + variant).
const A: &str = "en-029+m7";
const B: &str = "en-gb-x-rp+f2";
const C: &str = "en-gb-scotland+f4";

const SENTENCES: [&str; 5] = [
    "The committee will meet on Thursday to discuss the new budget proposal for the city.",
    "I have always believed that hard work and honesty are the keys to a good life.",
    "Please remember to bring your passport and a printed copy of your ticket tomorrow.",
    "Scientists have discovered a new species of frog in the rainforest of South America.",
    "Our quarterly results show strong growth in every region where we do business.",
];

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `text` spoken by espeak-ng's `voice`, as a WAV file (made once per test binary).
fn speak(voice: &str, text: &str) -> PathBuf {
    let name: String = format!("{voice}-{text}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(60)
        .collect();
    let out = common::clips_dir().join(format!("{name}.wav"));
    if !out.exists() {
        let partial = out.with_extension(format!("{}.wav", fastrand::u64(..)));
        run(Command::new("espeak-ng")
            .args(["-v", voice, "-w"])
            .arg(&partial)
            .arg(text));
        std::fs::rename(&partial, &out).unwrap();
    }
    out
}

/// Files joined end to end by sox (one speaker after another).
fn join(parts: &[PathBuf], name: &str) -> PathBuf {
    let out = common::clips_dir().join(name);
    run(Command::new("sox").args(parts).arg(&out));
    out
}

/// `wav` as the soundtrack of a 720p clip (H.264 + AAC in MP4).
fn clip_with(wav: &Path, name: &str) -> PathBuf {
    let out = common::clips_dir().join(name);
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=darkgreen:s=1280x720:r=25",
        "-i",
        wav.to_str().unwrap(),
        "-shortest",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        out.to_str().unwrap(),
    ]);
    out
}

fn pcm(path: &Path) -> Vec<f32> {
    let mut got = audio::decode(path, &AudioLimits::default()).unwrap();
    assert!(got.coverage.complete, "{:?}", got.coverage);
    got.tracks.remove(0).pcm
}

fn models() -> Arc<VoiceModels> {
    common::screener()
        .voices()
        .expect("the manifest declares the speech models (run `make setup`)")
        .clone()
}

/// The voice of the speech in `pcm`, as clipguard finds and embeds it.
fn voice_of(m: &VoiceModels, pcm: &[f32]) -> Embedding {
    let spans = m.vad.speech(pcm, &VadParams::default()).unwrap();
    m.encoder
        .embed_speech(pcm, &spans)
        .unwrap()
        .expect("speech")
        .embedding
}

/// What the reference packages say of `pcm` (models/parity/speech.py).
fn reference(pcm: &[f32], spans: Option<&[vad::SpeechSpan]>) -> serde_json::Value {
    let file = common::clips_dir().join(format!("pcm-{}.f32", fastrand::u64(..)));
    let bytes: Vec<u8> = pcm.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&file, bytes).unwrap();
    let mut cmd = Command::new(common::repo().join(".local/venv/bin/python"));
    cmd.arg(common::repo().join("models/parity/speech.py"))
        .arg(&file)
        .arg("--models")
        .arg(common::repo().join(".local/models"));
    match spans {
        Some(s) => {
            let s: Vec<[usize; 2]> = s.iter().map(|s| [s.start, s.end]).collect();
            cmd.args(["--spans", &serde_json::to_string(&s).unwrap()]);
        }
        None => {
            cmd.arg("--no-voice");
        }
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "speech.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn voice_activity_equals_the_silero_vad_package() {
    let m = models();
    // Two sentences by two voices with a second of silence and then low noise between them.
    let mut audio = pcm(&speak(A, SENTENCES[0]));
    audio.extend(std::iter::repeat_n(0.0, 16_000));
    audio.extend((0..16_000).map(|i| 0.01 * ((i * 7919 % 201) as f32 / 100.0 - 1.0)));
    audio.extend(pcm(&speak(B, SENTENCES[1])));
    let probs = m.vad.probabilities(&audio).unwrap();
    let spans = vad::spans(&probs, audio.len(), &VadParams::default());
    let r = reference(&audio, None);
    let want_probs = floats(&r["vad"]["probs"]);
    assert_eq!(probs.len(), want_probs.len());
    let worst = probs
        .iter()
        .zip(&want_probs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "probabilities differ by up to {worst}");
    let want: Vec<(usize, usize)> = r["vad"]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s[0].as_u64().unwrap() as usize,
                s[1].as_u64().unwrap() as usize,
            )
        })
        .collect();
    println!("spans {spans:?}\npackage {want:?}");
    assert!(want.len() >= 2, "both sentences are speech: {want:?}");
    assert_eq!(spans.len(), want.len(), "{spans:?} vs {want:?}");
    for (s, w) in spans.iter().zip(&want) {
        assert!(
            s.start.abs_diff(w.0) <= WINDOW && s.end.abs_diff(w.1) <= WINDOW,
            "{s:?} vs {w:?}"
        );
    }
    // The silence and the noise between the sentences are not speech.
    let gap = (want[0].1 + 4_000, want[want.len() - 1].0 - 4_000);
    assert!(
        spans.iter().all(|s| s.end <= gap.0 || s.start >= gap.1),
        "{spans:?}"
    );
}

#[test]
fn voice_embeddings_equal_the_resemblyzer_package() {
    let m = models();
    for (voice, sentence) in [(A, SENTENCES[2]), (B, SENTENCES[3])] {
        let audio = pcm(&speak(voice, sentence));
        let spans = m.vad.speech(&audio, &VadParams::default()).unwrap();
        let ours = m.encoder.embed_speech(&audio, &spans).unwrap().unwrap();
        let r = reference(&audio, Some(&spans));
        let theirs = Embedding(floats(&r["voice"]["spans"]["embedding"]));
        let webrtc = Embedding(floats(&r["voice"]["webrtcvad"]["embedding"]));
        let parity = cosine(&ours.embedding, &theirs);
        let partials = r["voice"]["spans"]["partials"].as_array().unwrap().len();
        // Silero's spans in place of Resemblyzer's own webrtcvad trimming: the effect on the
        // same audio (docs/persons.md).
        let effect = cosine(&ours.embedding, &webrtc);
        println!(
            "{voice}: parity cosine {parity:.6} ({} partials), ours vs package with webrtcvad trimming {effect:.4}",
            ours.partials.len()
        );
        assert_eq!(ours.partials.len(), partials);
        assert!(parity >= 0.999, "{voice}: cosine {parity}");
        assert!(
            effect >= 0.97,
            "{voice}: trimming changes the voice: {effect}"
        );
    }
}

/// Same voice against different voices over 6 voices x 5 sentences: the figures behind
/// `MATCH_THRESHOLD` and `MIN_SELF_AGREEMENT` (printed for docs/persons.md).
#[test]
fn thresholds_separate_espeak_voices() {
    let m = models();
    let voices = [A, B, C, "en-us+m3", "en-us+f1", "en-gb+m1"];
    let mut e = Vec::new();
    for (v, voice) in voices.iter().enumerate() {
        for (s, sentence) in SENTENCES.iter().enumerate() {
            e.push((v, s, voice_of(&m, &pcm(&speak(voice, sentence)))));
        }
    }
    let (mut same, mut diff) = (Vec::new(), Vec::new());
    for i in 0..e.len() {
        for j in i + 1..e.len() {
            let c = cosine(&e[i].2, &e[j].2);
            if e[i].0 == e[j].0 {
                same.push(c);
            } else {
                diff.push((c, voices[e[i].0], voices[e[j].0]));
            }
        }
    }
    let stats = |v: &[f32]| {
        let min = v.iter().copied().fold(f32::INFINITY, f32::min);
        let max = v.iter().copied().fold(0.0, f32::max);
        (min, v.iter().sum::<f32>() / v.len() as f32, max)
    };
    let d: Vec<f32> = diff.iter().map(|d| d.0).collect();
    let false_accepts: Vec<_> = diff.iter().filter(|d| d.0 >= MATCH_THRESHOLD).collect();
    println!(
        "same voice (min, mean, max) {:?} of {}; different voices {:?} of {}; at {MATCH_THRESHOLD}: {} same rejected, {} different accepted: {:?}",
        stats(&same),
        same.len(),
        stats(&d),
        d.len(),
        same.iter().filter(|&&c| c < MATCH_THRESHOLD).count(),
        false_accepts.len(),
        false_accepts
            .iter()
            .map(|d| (d.1, d.2))
            .collect::<std::collections::BTreeSet<_>>()
    );
    assert!(same.iter().all(|&c| c >= MATCH_THRESHOLD));
    // The test voices A, B, C are told apart.
    assert!(diff
        .iter()
        .filter(|d| [A, B, C].contains(&d.1) && [A, B, C].contains(&d.2))
        .all(|d| d.0 < MATCH_THRESHOLD));
    assert!(
        false_accepts.len() * 10 < diff.len(),
        "{}",
        false_accepts.len()
    );
    // Samples as enrolment takes them (two sentences): one voice, and two voices taking turns.
    let mut agreement = Vec::new();
    for voice in voices {
        for s in [0, 2, 4] {
            let wav = join(
                &[
                    speak(voice, SENTENCES[s]),
                    speak(voice, SENTENCES[(s + 1) % 5]),
                ],
                &format!("alone-{voice}-{s}.wav"),
            );
            let audio = pcm(&wav);
            let spans = m.vad.speech(&audio, &VadParams::default()).unwrap();
            let u = m.encoder.embed_speech(&audio, &spans).unwrap().unwrap();
            agreement.push(self_agreement(&u.partials).unwrap());
        }
    }
    println!(
        "one voice's self-agreement (min, mean, max) {:?}",
        stats(&agreement)
    );
    assert!(agreement.iter().all(|&a| a >= MIN_SELF_AGREEMENT));
    let mut turns = Vec::new();
    for (i, a) in voices.iter().enumerate() {
        for b in &voices[i + 1..] {
            let wav = join(
                &[speak(a, SENTENCES[0]), speak(b, SENTENCES[1])],
                &format!("turns-{a}-{b}.wav"),
            );
            let audio = pcm(&wav);
            let spans = m.vad.speech(&audio, &VadParams::default()).unwrap();
            let u = m.encoder.embed_speech(&audio, &spans).unwrap().unwrap();
            let whole = cosine(
                &voice_of(&m, &pcm(&speak(a, SENTENCES[2]))),
                &voice_of(&m, &pcm(&speak(b, SENTENCES[2]))),
            );
            turns.push((self_agreement(&u.partials).unwrap(), whole, *a, *b));
        }
    }
    turns.sort_by(|x, y| x.0.total_cmp(&y.0));
    let refused = turns.iter().filter(|t| t.0 < MIN_SELF_AGREEMENT).count();
    println!(
        "two voices taking turns: {refused} of {} refused; (agreement, voices' cosine): {:?}",
        turns.len(),
        turns
            .iter()
            .map(|t| (t.0, t.1, t.2, t.3))
            .collect::<Vec<_>>()
    );
    // Every pair of voices the encoder itself tells apart is refused as two speakers.
    assert!(turns
        .iter()
        .filter(|t| t.1 < 0.75)
        .all(|t| t.0 < MIN_SELF_AGREEMENT));
}

fn person(name: &str) -> NewPerson {
    NewPerson {
        name: name.into(),
        aliases: vec![],
        kind: PersonKind::PrivateIndividual,
        allowed_users: vec!["alice".into()],
        always_match: vec![],
    }
}

#[test]
fn an_enrolled_voice_is_matched_in_a_clip_and_other_voices_are_not() {
    let service = common::service(common::config());
    let id = service.registry().add(&person("Ada Voice")).unwrap();
    let sample = join(
        &[speak(A, SENTENCES[0]), speak(A, SENTENCES[1])],
        "enrol-a.wav",
    );
    let stored = service.enrol_voices(id, &[&sample]).unwrap();
    assert_eq!(stored.len(), 1);
    let p = service.registry().get(id).unwrap();
    assert_eq!(p.voices.len(), 1);
    assert!(p.voices[0].speech_s > 5.0, "{:?}", p.voices[0]);
    // Enrolling the same file again replaces it.
    assert_eq!(service.enrol_voices(id, &[&sample]).unwrap(), stored);

    let m = models();
    let (_, persons) = service.live().persons.current().unwrap();
    let model = &m.encoder_model.sha256;
    // Voice A saying other sentences, as the soundtrack of a video clip.
    let a_clip = clip_with(
        &join(
            &[speak(A, SENTENCES[3]), speak(A, SENTENCES[4])],
            "a-other.wav",
        ),
        "voice-a.mp4",
    );
    let heard = persons.voices.matches(&voice_of(&m, &pcm(&a_clip)), model);
    println!("voice A in a clip: {heard:?}");
    assert_eq!(heard.len(), 1);
    assert_eq!((heard[0].person, heard[0].voice), (id, stored[0]));
    assert!(heard[0].score >= MATCH_THRESHOLD);
    for other in [B, C] {
        let wav = join(
            &[speak(other, SENTENCES[3]), speak(other, SENTENCES[4])],
            &format!("other-{other}.wav"),
        );
        let e = voice_of(&m, &pcm(&clip_with(&wav, &format!("voice-{other}.mp4"))));
        let best = persons.voices.best(&e, model, 1);
        println!("voice {other}: {best:?}");
        assert!(best[0].score < MATCH_THRESHOLD, "{other}: {best:?}");
        assert!(persons.voices.matches(&e, model).is_empty());
    }
    // Checked by the service, the clip in voice A goes to review for the voice alone, with
    // who it sounds like and when.
    let d = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(service.check_clip(
            ClipSource::At(ClipLocation::Path(a_clip.clone())),
            CheckRequest {
                user: Some("bob".into()),
                ..Default::default()
            },
            Origin::Check,
            std::time::Instant::now() + std::time::Duration::from_secs(300),
        ))
        .unwrap()
        .decision;
    assert_eq!(d.decision.action, Action::Review, "{:?}", d.decision);
    let m = &d.decision.matched[0];
    assert_eq!(m.rule, "voice-of-person");
    assert_eq!(m.evidence[0]["name"], "Ada Voice");
    assert!(m.evidence[0]["score"].as_f64().unwrap() >= f64::from(MATCH_THRESHOLD));
    assert!(m.evidence[0]["end_s"].as_f64().unwrap() > 3.0, "{m:?}");
}

#[test]
fn samples_without_speech_or_with_two_speakers_are_refused_and_nothing_is_stored() {
    let service = common::service(common::config());
    let id = service.registry().add(&person("Bea Voice")).unwrap();
    let refused = |path: &Path| service.enrol_voices(id, &[path]).unwrap_err().to_string();

    let noise = common::clips_dir().join("noise.wav");
    run(Command::new("sox")
        .args(["-n", "-r", "16000", "-c", "1"])
        .arg(&noise)
        .args(["synth", "6", "brownnoise", "vol", "0.3"]));
    let err = refused(&noise);
    assert!(err.contains("0.0 s of speech found"), "{err}");

    let short = speak(A, "Hello there.");
    let err = refused(&short);
    assert!(
        err.contains("s of speech found") && err.contains("at least 5 s"),
        "{err}"
    );

    let two = join(
        &[speak(A, SENTENCES[0]), speak(B, SENTENCES[1])],
        "two-speakers.wav",
    );
    let err = refused(&two);
    assert!(err.contains("several speakers"), "{err}");

    let silent_video = common::still_clip("coffee.png", 2, 320, 240, "silent");
    let err = refused(&silent_video);
    assert!(err.contains("has no audio stream"), "{err}");

    // One bad sample among good ones: none is stored.
    let good = join(
        &[speak(B, SENTENCES[2]), speak(B, SENTENCES[3])],
        "enrol-b.wav",
    );
    let err = service
        .enrol_voices(id, &[&good, &two])
        .unwrap_err()
        .to_string();
    assert!(err.contains("two-speakers.wav"), "{err}");
    assert!(service.registry().get(id).unwrap().voices.is_empty());
    assert!(service.enrol_voices(9999, &[&good]).is_err());
}

#[test]
fn voices_are_enrolled_from_the_command_line_and_the_api() {
    let data = common::data_dir();
    let env = [("CLIPGUARD_DATA_DIR", data.as_path())];
    let (ok, out, err) = common::cli(&["persons", "add", "--name", "Cy Voice"], &env);
    assert!(ok, "{out} {err}");
    let sample = join(
        &[speak(C, SENTENCES[0]), speak(C, SENTENCES[1])],
        "enrol-c.wav",
    );
    let (ok, out, err) = common::cli(
        &["persons", "voices", "add", "1", sample.to_str().unwrap()],
        &env,
    );
    assert!(ok, "{out} {err}");
    assert!(
        out.contains("enrolled 1 voice sample(s) for person 1"),
        "{out}"
    );
    let two = join(
        &[speak(A, SENTENCES[0]), speak(B, SENTENCES[1])],
        "two-speakers-cli.wav",
    );
    let (ok, _, err) = common::cli(
        &["persons", "voices", "add", "1", two.to_str().unwrap()],
        &env,
    );
    assert!(!ok && err.contains("several speakers"), "{err}");

    let (_server, port) = common::start_server(&[("CLIPGUARD_DATA_DIR", data.as_os_str())]);
    let api = common::Api::new(port);
    let r = api.post_form("/v1/persons/1/voices", &[("file", &sample)], &[]);
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["voices"].as_array().unwrap().len(), 1);
    let r = api.post_form("/v1/persons/1/voices", &[("file", &two)], &[]);
    assert_eq!((r.status, r.code()), (422, "enrolment"), "{}", r.json);
    assert!(r.json["error"]["message"]
        .as_str()
        .unwrap()
        .contains("several speakers"));
    let r = api.get("/v1/persons/1");
    assert_eq!(r.json["voices"].as_array().unwrap().len(), 1, "{}", r.json);
}
