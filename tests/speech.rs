//! Speech recognition on speech made at test time with espeak-ng (synthetic voices, not real
//! people): the name in an incendiary statement comes out right, languages are told apart,
//! only the speech spans are transcribed and their times map back, bad input is refused.

#[path = "speech/speak.rs"]
mod speak;

use clipguard::speech::whisper::{AudioContext, TranscribeError, Transcriber};
use std::sync::OnceLock;

/// The shipped graphs with Whisper's full context (the setting that equals faster-whisper).
fn transcriber() -> &'static Transcriber {
    static T: OnceLock<Transcriber> = OnceLock::new();
    T.get_or_init(|| speak::transcriber(AudioContext::Full, None))
}

const STATEMENT: &str = "Hello everyone, this is Eileen Collins. I am telling you that the \
                         election is cancelled, stay home";

#[test]
fn an_incendiary_statement_names_its_speaker() {
    let pcm = speak::speak(STATEMENT, "en-gb-x-rp", 150);
    let t = transcriber().transcribe(&pcm).unwrap();
    let text = t.text();
    assert_eq!(t.language, "en");
    assert!(t.language_prob > 0.5, "{t:?}");
    assert!(text.contains("Eileen Collins"), "{text:?}");
    assert!(
        text.to_lowercase().contains("election is cancelled"),
        "{text:?}"
    );
    let duration = pcm.len() as f64 / 16_000.0;
    for s in &t.segments {
        assert!(
            0.0 <= s.start_s && s.start_s < s.end_s && s.end_s <= duration + 0.5,
            "{s:?}"
        );
    }
}

#[test]
fn only_speech_spans_are_heard_and_times_map_back() {
    // 3 s of noise, the statement, 4 s of noise, a second sentence; the spans say where the
    // speech is, as voice activity detection would.
    let first = speak::speak(STATEMENT, "en-gb-x-rp", 150);
    let second = speak::speak(
        "Grace Hopper explains why she keeps a length of wire on her desk.",
        "en-gb-x-rp",
        150,
    );
    let mut rng = 12345u32;
    let mut noise = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (rng >> 8) as f32 / (1u32 << 24) as f32 * 0.02 - 0.01
            })
            .collect()
    };
    let mut pcm = noise(48_000);
    let a = pcm.len()..pcm.len() + first.len();
    pcm.extend_from_slice(&first);
    pcm.extend(noise(64_000));
    let b = pcm.len()..pcm.len() + second.len();
    pcm.extend_from_slice(&second);
    let t = transcriber()
        .transcribe_spans(&pcm, &[a.clone(), b.clone()])
        .unwrap();
    let text = t.text();
    assert!(text.contains("Eileen Collins"), "{text:?}");
    // The second sentence's name is heard as "Grace Hopper", "Praise Hopper" or "Race hopper"
    // depending on the graphs: its surname is what places it in the second span.
    assert!(text.to_lowercase().contains("hopper"), "{text:?}");
    let secs = |r: &std::ops::Range<usize>| (r.start as f64 / 16_000.0, r.end as f64 / 16_000.0);
    let (a0, a1) = secs(&a);
    let (b0, b1) = secs(&b);
    for s in &t.segments {
        let inside = |lo: f64, hi: f64| s.start_s >= lo - 0.05 && s.end_s <= hi + 0.5;
        assert!(
            inside(a0, a1) || inside(b0, b1),
            "{s:?} outside {a:?} and {b:?}"
        );
    }
    let hopper = t
        .segments
        .iter()
        .find(|s| s.text.to_lowercase().contains("hopper"))
        .unwrap();
    assert!(
        hopper.start_s >= b0 - 0.05,
        "{hopper:?} starts before its span at {b0}"
    );
    // Nothing to hear: nothing said, and no language claimed.
    let none = transcriber().transcribe_spans(&pcm, &[]).unwrap();
    assert!(none.segments.is_empty() && none.language.is_empty());
}

#[test]
fn languages_are_told_apart() {
    let de = speak::speak(
        "Guten Morgen, heute sprechen wir über das Wetter in Berlin.",
        "de",
        150,
    );
    let es = speak::speak(
        "Buenos días a todos, hoy vamos a hablar del tiempo en Madrid.",
        "es",
        150,
    );
    let t = transcriber();
    let de = t.transcribe(&de).unwrap();
    let es = t.transcribe(&es).unwrap();
    assert_eq!(de.language, "de", "{de:?}");
    assert!(de.text().contains("Berlin"), "{de:?}");
    assert_eq!(es.language, "es", "{es:?}");
    assert!(es.text().contains("Madrid"), "{es:?}");
}

#[test]
fn a_given_language_is_not_detected_again() {
    let pcm = speak::speak("Buy one, get one free on all summer sandals.", "en-us", 160);
    let t = speak::transcriber(AudioContext::Full, Some("en"));
    let out = t.transcribe(&pcm).unwrap();
    assert_eq!((out.language.as_str(), out.language_prob), ("en", 1.0));
    assert!(out.text().to_lowercase().contains("sandals"), "{out:?}");
}

#[test]
fn bad_input_is_refused() {
    let t = transcriber();
    let pcm = vec![0.0f32; 16_000];
    assert!(matches!(
        t.transcribe_spans(&pcm, std::slice::from_ref(&(0..20_000))),
        Err(TranscribeError::SpanOutOfRange { .. })
    ));
    let mut nan = pcm.clone();
    nan[5] = f32::NAN;
    assert!(matches!(
        t.transcribe(&nan),
        Err(TranscribeError::NotFinite)
    ));
}
