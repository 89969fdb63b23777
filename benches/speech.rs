//! What speech recognition costs and what the cheaper settings do to transcripts.
//!
//! `cargo bench --bench speech`: the time to transcribe 10 s of speech (espeak-ng) with
//! Whisper's full 30-second context and with the context trimmed to the speech, on 1 and 2
//! threads; with `CLIPGUARD_WHISPER_FP32=DIR` (a folder with `encoder.onnx` and
//! `decoder.onnx` written by `models/convert/whisper_to_onnx.py` without `--int8`) the fp32
//! graphs too. With `CLIPGUARD_SPEECH_WER=1` it also scores each setting on the word-error set
//! of tests/speech/wer.tsv. Results: docs/speech.md.

#[path = "../tests/speech/speak.rs"]
mod speak;
#[path = "../tests/speech/wer.rs"]
mod wer;

use clipguard::speech::whisper::{AudioContext, TranscribeOptions, Transcriber, WhisperFiles};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut pcm = Vec::new();
    for (text, voice) in [
        ("Hello everyone, this is Eileen Collins. I am telling you that the election is cancelled, stay home.", "en-gb-x-rp"),
        ("Grace Hopper here. I use this product every single day, buy it now.", "en-us"),
    ] {
        pcm.extend(speak::speak(text, voice, 150));
    }
    pcm.resize(160_000, 0.0);
    let mut variants = vec![("int8", speak::files())];
    if let Some(dir) = std::env::var_os("CLIPGUARD_WHISPER_FP32").map(PathBuf::from) {
        let mut f = speak::files();
        f.encoder = dir.join("encoder.onnx");
        f.decoder = dir.join("decoder.onnx");
        variants.push(("fp32", f));
    }
    let set = std::env::var_os("CLIPGUARD_SPEECH_WER").map(|_| wer::spoken());
    println!("load average before: {}", load());
    for (name, files) in &variants {
        for context in [
            AudioContext::Full,
            AudioContext::Trimmed { margin_frames: 100 },
            AudioContext::Trimmed { margin_frames: 0 },
        ] {
            for threads in [1, 2] {
                let t = transcriber(files, context, threads);
                let mut times = Vec::new();
                let mut text = String::new();
                for _ in 0..6 {
                    let start = Instant::now();
                    text = t.transcribe(&pcm).unwrap().text();
                    times.push(start.elapsed().as_secs_f64() * 1000.0);
                }
                times.remove(0);
                times.sort_by(f64::total_cmp);
                println!(
                    "{name} {context:?} threads {threads}: median {:.0} ms (min {:.0}, max {:.0}) for 10 s; load {}; {text:?}",
                    times[times.len() / 2],
                    times[0],
                    times[times.len() - 1],
                    load()
                );
            }
            if let Some(set) = &set {
                let t = transcriber(files, context, 1);
                let (s, heard) = wer::score(|pcm| t.transcribe(pcm).unwrap().text(), set);
                println!(
                    "{name} {context:?}: WER {:.1}% ({}/{}), names {}/{}, missed {:?}",
                    100.0 * s.wer(),
                    s.errors,
                    s.words,
                    s.names_found,
                    s.names,
                    s.missed
                );
                for h in heard {
                    println!("  {h}");
                }
            }
        }
    }
}

fn transcriber(files: &WhisperFiles, context: AudioContext, threads: usize) -> Transcriber {
    let mut cfg = clipguard::Config::default();
    cfg.runtime.onnxruntime =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(&cfg.runtime.onnxruntime);
    cfg.runtime.intra_threads = threads;
    let runtime = clipguard::vision::Runtime::init(&cfg.runtime).unwrap();
    let options = TranscribeOptions {
        language: None,
        context,
    };
    Transcriber::load(&runtime, files, options).unwrap()
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
