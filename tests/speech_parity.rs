//! Whisper in clipguard transcribes exactly as faster-whisper does: on the clips of
//! tests/speech/parity.tsv (espeak-ng voices, English, French, German, Spanish, one 35-second
//! clip over two windows), the same samples give the same language, segments, times and text
//! as faster-whisper 1.2.1 on CTranslate2 (float32, greedy, temperature 0), run by
//! models/parity/speech_reference.py (`make parity-reference`). clipguard runs the shipped
//! INT8 graphs with Whisper's full 30-second context here.

#[path = "speech/speak.rs"]
mod speak;

use clipguard::speech::whisper::AudioContext;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Reference {
    language: String,
    language_probability: f32,
    segments: Vec<RefSegment>,
}

#[derive(Deserialize)]
struct RefSegment {
    start: f64,
    end: f64,
    text: String,
}

fn parity_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".local/parity/speech")
}

#[test]
fn transcripts_equal_faster_whispers() {
    let path = parity_dir().join("speech.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run `make parity-reference`", path.display()));
    let reference: BTreeMap<String, Reference> = serde_json::from_str(&text).unwrap();
    assert!(reference.len() >= 10, "the reference covers every clip");
    let t = speak::transcriber(AudioContext::Full, None);
    let mut differ = Vec::new();
    for (name, r) in &reference {
        let pcm = speak::read_f32(&parity_dir().join(format!("{name}.f32")));
        let ours = t.transcribe(&pcm).unwrap();
        let same = ours.language == r.language
            && (ours.language_prob - r.language_probability).abs() < 0.02
            && ours.segments.len() == r.segments.len()
            && ours.segments.iter().zip(&r.segments).all(|(a, b)| {
                a.text == b.text
                    && (a.start_s - b.start).abs() < 1e-6
                    && (a.end_s - b.end).abs() < 1e-6
            });
        println!(
            "{name}: {} {:.3} {:?}",
            ours.language,
            ours.language_prob,
            ours.text()
        );
        if !same {
            let theirs: String = r.segments.iter().map(|s| s.text.as_str()).collect();
            differ.push(format!(
                "{name}:\n  ours   {} {:.3} {:?}\n  theirs {} {:.3} {:?}",
                ours.language,
                ours.language_prob,
                ours.text(),
                r.language,
                r.language_probability,
                theirs
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "transcripts differ:\n{}",
        differ.join("\n")
    );
}
