//! Speech made at test time: Debian's espeak-ng speaks, sox resamples to 16 kHz mono f32.
#![allow(dead_code)] // each test binary uses a different part

use clipguard::speech::whisper::{AudioContext, TranscribeOptions, Transcriber, WhisperFiles};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `text` in an espeak-ng `voice` at `wpm` words per minute, as 16 kHz mono samples.
pub fn speak(text: &str, voice: &str, wpm: u32) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("s.wav");
    let ok = Command::new("espeak-ng")
        .args(["-v", voice, "-s", &wpm.to_string(), "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng is installed by `make setup`");
    assert!(ok.success(), "espeak-ng failed on {text:?}");
    let raw = dir.path().join("s.f32");
    sox(&[wav.as_path()], &raw);
    read_f32(&raw)
}

/// sox joins `inputs` and writes them as 16 kHz mono little-endian f32.
pub fn sox(inputs: &[&Path], out: &Path) {
    let ok = Command::new("sox")
        .args(inputs)
        .args([
            "-r",
            "16000",
            "-c",
            "1",
            "-t",
            "raw",
            "-e",
            "floating-point",
            "-b",
            "32",
            "-L",
        ])
        .arg(out)
        .status()
        .expect("sox is installed by `make setup`");
    assert!(ok.success(), "sox failed");
}

pub fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

pub fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".local/models")
}

/// The shipped (fetched and converted) Whisper base.
pub fn files() -> WhisperFiles {
    let d = models_dir();
    WhisperFiles {
        encoder: d.join("whisper-base-encoder.onnx"),
        decoder: d.join("whisper-base-decoder.onnx"),
        tokenizer: d.join("whisper-base-tokenizer.json"),
        config: d.join("whisper-base-config.json"),
    }
}

/// Silero VAD as the manifest ships it.
pub fn vad() -> clipguard::speech::Vad {
    let mut cfg = clipguard::Config::default();
    cfg.runtime.onnxruntime = Path::new(env!("CARGO_MANIFEST_DIR")).join(&cfg.runtime.onnxruntime);
    let runtime = clipguard::vision::Runtime::init(&cfg.runtime).unwrap();
    clipguard::speech::Vad::load(
        &runtime,
        "silero-vad",
        &models_dir().join("silero_vad.onnx"),
    )
    .unwrap()
}

pub fn transcriber(context: AudioContext, language: Option<&str>) -> Transcriber {
    let mut cfg = clipguard::Config::default();
    cfg.runtime.onnxruntime = Path::new(env!("CARGO_MANIFEST_DIR")).join(&cfg.runtime.onnxruntime);
    let runtime = clipguard::vision::Runtime::init(&cfg.runtime).unwrap();
    let options = TranscribeOptions {
        language: language.map(str::to_string),
        context,
    };
    Transcriber::load(&runtime, &files(), options).unwrap()
}
