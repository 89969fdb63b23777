//! Speech recognition with Whisper through ONNX Runtime.
//!
//! The model is OpenAI's Whisper base as faster-whisper runs it (the CTranslate2 `model.bin`),
//! converted at set-up to two graphs by `models/convert/whisper_to_onnx.py`: the encoder (log-mel
//! to every decoder layer's cross-attention keys and values) and one decoder step (tokens and
//! the self-attention cache to logits and the new cache). Decoding is greedy with the rules of
//! CTranslate2's `generate`, so on the same samples and the full 30-second context the
//! transcript equals faster-whisper's with `beam_size=1`, temperature 0
//! (`tests/speech_parity.rs`).
//!
//! Whisper pads every window to 30 s, and the encoder's cost is that of 30 s whatever the clip.
//! [`AudioContext::Trimmed`] encodes only the window's own length (plus a margin), like
//! whisper.cpp's `audio_ctx`; what that does to transcripts is measured in
//! `docs/speech.md`.

pub mod decode;
pub mod mel;
pub mod tokens;

use crate::vision::runtime::{Memory, Runtime, SessionPool};
use crate::vision::VisionError;
use decode::{choose, probability, split_segments};
use mel::{LogMel, Spectrogram, HOP, N_MELS, SAMPLE_RATE};
use ort::value::{DynValue, Tensor};
use serde::Serialize;
use std::ops::Range;
use std::path::PathBuf;
use tokens::Vocabulary;

/// Mel frames in Whisper's 30-second window.
pub const WINDOW_FRAMES: usize = 3000;
/// Decoder layers, heads and head width of Whisper base (the cache's shape).
const LAYERS: usize = 6;
const HEADS: usize = 8;
const HEAD_DIM: usize = 64;
/// Whisper's text context; CTranslate2 samples at most half of it per window.
const MAX_TEXT_CTX: usize = 448;
/// faster-whisper's defaults: a window whose `<|nospeech|>` probability is above this and whose
/// mean token log-probability is below `LOG_PROB_THRESHOLD` is silence, not text.
const NO_SPEECH_THRESHOLD: f32 = 0.6;
const LOG_PROB_THRESHOLD: f32 = -1.0;

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error(transparent)]
    Model(#[from] VisionError),
    #[error("whisper vocabulary {path}: {reason}")]
    Vocabulary { path: String, reason: String },
    #[error("{model} returned output of unexpected shape {shape:?}")]
    OutputShape { model: String, shape: Vec<i64> },
    #[error(
        "language {0:?} (speech.language) is not one Whisper knows: give an ISO 639-1 code such \
         as en, fr, de or ja, or none to detect it"
    )]
    UnknownLanguage(String),
    #[error("speech span {start}..{end} lies outside the {len} samples of audio")]
    SpanOutOfRange {
        start: usize,
        end: usize,
        len: usize,
    },
    #[error("audio contains a sample that is not a finite number")]
    NotFinite,
}

/// The files of one converted Whisper model (`models/models.toml`: `whisper-base-*`).
#[derive(Debug, Clone)]
pub struct WhisperFiles {
    pub encoder: PathBuf,
    pub decoder: PathBuf,
    /// `tokenizer.json` (byte-level BPE) and `config.json` (suppressed and language tokens).
    pub tokenizer: PathBuf,
    pub config: PathBuf,
}

/// How much audio context the encoder sees per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioContext {
    /// Whisper's 30 s: the reference behaviour, at the cost of 30 s per window.
    Full,
    /// The window's own frames plus `margin_frames` of padding (mel frames, 100 per second),
    /// rounded up to an even count.
    Trimmed { margin_frames: usize },
}

#[derive(Debug, Clone)]
pub struct TranscribeOptions {
    /// A language code (`en`) to skip detection; `None` detects it on the first window.
    pub language: Option<String>,
    pub context: AudioContext,
}

/// What was said, with times in seconds from the start of the audio given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    /// Detected (or given) language code, and the model's probability for it.
    pub language: String,
    pub language_prob: f32,
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// The segments' text joined as faster-whisper prints it.
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.as_str()).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    /// As decoded, with Whisper's leading space.
    pub text: String,
    /// Mean log-probability of the window's tokens, and the `<|nospeech|>` probability: how
    /// sure the model was (a reviewer's hint, not a decision).
    pub avg_logprob: f32,
    pub no_speech_prob: f32,
}

/// Loaded once and shared; `transcribe` may be called from several threads (each call takes a
/// session of each pool).
pub struct Transcriber {
    encoder: SessionPool,
    decoder: SessionPool,
    vocab: Vocabulary,
    mel: LogMel,
    options: TranscribeOptions,
}

/// One window's decoding result.
struct WindowResult {
    tokens: Vec<u32>,
    avg_logprob: f32,
    no_speech_prob: f32,
}

impl Transcriber {
    pub fn load(
        runtime: &Runtime,
        files: &WhisperFiles,
        options: TranscribeOptions,
    ) -> Result<Self, TranscribeError> {
        let encoder = runtime.pool_with("whisper-encoder", &files.encoder, Memory::Lean)?;
        let decoder = runtime.pool_with("whisper-decoder", &files.decoder, Memory::Lean)?;
        let size = decoder.with(|s| {
            let dims = s
                .outputs()
                .iter()
                .find(|o| o.name() == "logits")
                .and_then(|o| o.dtype().tensor_shape().map(|sh| sh.to_vec()));
            Ok(dims.and_then(|d| d.last().copied()).unwrap_or(-1))
        })?;
        if size <= 0 {
            return Err(TranscribeError::OutputShape {
                model: "whisper-decoder".into(),
                shape: vec![size],
            });
        }
        let vocab = Vocabulary::load(&files.tokenizer, &files.config, size as u32)?;
        if let Some(l) = &options.language {
            vocab
                .language_id(l)
                .ok_or_else(|| TranscribeError::UnknownLanguage(l.clone()))?;
        }
        Ok(Self {
            encoder,
            decoder,
            vocab,
            mel: LogMel::new(),
            options,
        })
    }

    /// Transcribes all of `pcm` (16 kHz mono, -1..1).
    pub fn transcribe(&self, pcm: &[f32]) -> Result<Transcript, TranscribeError> {
        self.transcribe_spans(pcm, std::slice::from_ref(&(0..pcm.len())))
    }

    /// Transcribes only the speech spans (sample ranges of `pcm`, in order, from voice activity
    /// detection), joined as faster-whisper's `vad_filter` does; times are mapped back to
    /// `pcm`'s. No spans: an empty transcript, language unknown.
    pub fn transcribe_spans(
        &self,
        pcm: &[f32],
        spans: &[Range<usize>],
    ) -> Result<Transcript, TranscribeError> {
        if pcm.iter().any(|x| !x.is_finite()) {
            return Err(TranscribeError::NotFinite);
        }
        let mut joined = Vec::new();
        for s in spans {
            if s.start > s.end || s.end > pcm.len() {
                return Err(TranscribeError::SpanOutOfRange {
                    start: s.start,
                    end: s.end,
                    len: pcm.len(),
                });
            }
            joined.extend_from_slice(&pcm[s.clone()]);
        }
        if joined.is_empty() {
            return Ok(Transcript {
                language: String::new(),
                language_prob: 0.0,
                segments: Vec::new(),
            });
        }
        let mut t = self.transcribe_joined(&joined)?;
        let map = SpanMap::new(spans);
        for s in &mut t.segments {
            s.start_s = map.original(s.start_s, false);
            s.end_s = map.original(s.end_s, true);
        }
        Ok(t)
    }

    fn transcribe_joined(&self, samples: &[f32]) -> Result<Transcript, TranscribeError> {
        let spec = self.mel.compute(samples);
        let content = spec.frames - 1;
        let mut language: Option<(u32, String, f32)> = self.options.language.as_ref().map(|l| {
            let id = self.vocab.language_id(l).expect("checked at load");
            (id, l.clone(), 1.0)
        });
        let mut segments = Vec::new();
        let mut seek = 0;
        while seek < content {
            let size = (content - seek).min(WINDOW_FRAMES);
            let (cross_k, cross_v) = self.encode(&spec, seek, size)?;
            let result = self.decode_window(&cross_k, &cross_v, &mut language)?;
            let time_offset = seek as f64 * HOP as f64 / SAMPLE_RATE as f64;
            if result.no_speech_prob > NO_SPEECH_THRESHOLD
                && result.avg_logprob < LOG_PROB_THRESHOLD
            {
                seek += size;
                continue;
            }
            let (pieces, consumed) = split_segments(&self.vocab, &result.tokens, time_offset, size);
            for p in pieces {
                let text = self.vocab.decode(&p.tokens);
                if p.start_s == p.end_s || text.trim().is_empty() {
                    continue;
                }
                segments.push(Segment {
                    start_s: p.start_s,
                    end_s: p.end_s,
                    text,
                    avg_logprob: result.avg_logprob,
                    no_speech_prob: result.no_speech_prob,
                });
            }
            seek += if consumed == 0 { size } else { consumed };
        }
        let (_, language, language_prob) = language.unwrap_or_default();
        Ok(Transcript {
            language,
            language_prob,
            segments,
        })
    }

    /// Encodes frames `seek..seek + size` (zero-padded to the context) into cross-attention
    /// keys and values.
    fn encode(
        &self,
        spec: &Spectrogram,
        seek: usize,
        size: usize,
    ) -> Result<(DynValue, DynValue), TranscribeError> {
        let frames = match self.options.context {
            AudioContext::Full => WINDOW_FRAMES,
            AudioContext::Trimmed { margin_frames } => {
                let f = (size + margin_frames).min(WINDOW_FRAMES);
                f + f % 2
            }
        };
        let mel = spec.window(seek, size, frames);
        let input = Tensor::from_array(([1usize, N_MELS, frames], mel))
            .map_err(|e| self.inference_error("whisper-encoder", e))?;
        self.encoder
            .with(|s| {
                let mut out =
                    s.run(ort::inputs!["mel" => input])
                        .map_err(|e| VisionError::Inference {
                            model: "whisper-encoder".into(),
                            reason: e.to_string(),
                        })?;
                let missing = || VisionError::Inference {
                    model: "whisper-encoder".into(),
                    reason: "no cross_k/cross_v output".into(),
                };
                let k = out.remove("cross_k").ok_or_else(missing)?;
                let v = out.remove("cross_v").ok_or_else(missing)?;
                Ok((k, v))
            })
            .map_err(Into::into)
    }

    /// Detects the language if not known yet, then decodes one window greedily.
    fn decode_window(
        &self,
        cross_k: &DynValue,
        cross_v: &DynValue,
        language: &mut Option<(u32, String, f32)>,
    ) -> Result<WindowResult, TranscribeError> {
        let v = &self.vocab;
        self.decoder
            .with(|s| {
                let mut step = Step::new(s, cross_k, cross_v);
                // <|startoftranscript|> alone: its logits give the language and <|nospeech|>.
                let sot_logits = step.run(&[v.sot])?;
                let no_speech_prob = probability(&sot_logits, v.no_speech as usize);
                if language.is_none() {
                    let lang_logits: Vec<f32> = v
                        .languages
                        .iter()
                        .map(|(id, _)| sot_logits[*id as usize])
                        .collect();
                    let best = (0..lang_logits.len())
                        .max_by(|&a, &b| lang_logits[a].total_cmp(&lang_logits[b]).then(b.cmp(&a)))
                        .expect("languages are not empty");
                    let (id, code) = v.languages[best].clone();
                    *language = Some((id, code, probability(&lang_logits, best)));
                }
                let lang = language.as_ref().expect("set above").0;
                let mut logits = step.run(&[lang, v.transcribe])?;
                let mut sampled: Vec<u32> = Vec::new();
                let mut sum_logprob = 0.0f32;
                let max_new = MAX_TEXT_CTX / 2;
                for i in 0..max_new {
                    let (token, logprob) = choose(v, &mut logits, &sampled);
                    sum_logprob += logprob;
                    if token == v.eot {
                        break;
                    }
                    sampled.push(token);
                    if i + 1 == max_new {
                        break;
                    }
                    logits = step.run(&[token])?;
                }
                let avg_logprob = sum_logprob / (sampled.len() as f32 + 1.0);
                Ok(WindowResult {
                    tokens: sampled,
                    avg_logprob,
                    no_speech_prob,
                })
            })
            .map_err(Into::into)
    }

    fn inference_error(&self, model: &str, e: impl std::fmt::Display) -> TranscribeError {
        TranscribeError::Model(VisionError::Inference {
            model: model.into(),
            reason: e.to_string(),
        })
    }
}

/// The decoder with its self-attention cache for one window.
struct Step<'a> {
    session: &'a mut ort::session::Session,
    cross_k: &'a DynValue,
    cross_v: &'a DynValue,
    past_k: DynValue,
    past_v: DynValue,
}

impl<'a> Step<'a> {
    fn new(
        session: &'a mut ort::session::Session,
        cross_k: &'a DynValue,
        cross_v: &'a DynValue,
    ) -> Self {
        let empty = || {
            Tensor::from_array(([LAYERS, 1, HEADS, 0, HEAD_DIM], Vec::<f32>::new()))
                .expect("an empty tensor")
                .into_dyn()
        };
        Self {
            session,
            cross_k,
            cross_v,
            past_k: empty(),
            past_v: empty(),
        }
    }

    /// Feeds `tokens` after the cached ones; returns the logits of the last one.
    fn run(&mut self, tokens: &[u32]) -> Result<Vec<f32>, VisionError> {
        let err = |e: &dyn std::fmt::Display| VisionError::Inference {
            model: "whisper-decoder".into(),
            reason: e.to_string(),
        };
        let ids: Vec<i64> = tokens.iter().map(|&t| i64::from(t)).collect();
        let input = Tensor::from_array(([1usize, ids.len()], ids)).map_err(|e| err(&e))?;
        let mut out = self
            .session
            .run(ort::inputs![
                "tokens" => input,
                "past_k" => &self.past_k,
                "past_v" => &self.past_v,
                "cross_k" => self.cross_k,
                "cross_v" => self.cross_v,
            ])
            .map_err(|e| err(&e))?;
        let (shape, data) = out["logits"]
            .try_extract_tensor::<f32>()
            .map_err(|e| err(&e))?;
        let vocab = *shape.last().unwrap_or(&0) as usize;
        if vocab == 0 || data.len() != tokens.len() * vocab {
            return Err(VisionError::OutputShape {
                model: "whisper-decoder".into(),
                shape: shape.to_vec(),
            });
        }
        let logits = data[data.len() - vocab..].to_vec();
        let missing = || err(&"no present_k/present_v output");
        let k = out.remove("present_k").ok_or_else(missing)?;
        let v = out.remove("present_v").ok_or_else(missing)?;
        drop(out);
        self.past_k = k;
        self.past_v = v;
        Ok(logits)
    }
}

/// Maps times in the joined speech back to the original audio (faster-whisper's
/// `SpeechTimestampsMap`).
struct SpanMap {
    /// Per span: start in the joined audio and in the original, in seconds.
    spans: Vec<(f64, f64, f64)>,
}

impl SpanMap {
    fn new(spans: &[Range<usize>]) -> Self {
        let rate = SAMPLE_RATE as f64;
        let mut joined = 0usize;
        let spans = spans
            .iter()
            .map(|s| {
                let m = (
                    joined as f64 / rate,
                    s.start as f64 / rate,
                    s.len() as f64 / rate,
                );
                joined += s.len();
                m
            })
            .collect();
        Self { spans }
    }

    /// A time in the joined audio as a time in the original. An end time that falls exactly on
    /// a join belongs to the span before it.
    fn original(&self, t: f64, is_end: bool) -> f64 {
        let idx = self
            .spans
            .iter()
            .rposition(|&(j, _, len)| {
                if is_end {
                    t > j || (t == j && len == 0.0)
                } else {
                    t >= j
                }
            })
            .unwrap_or(0);
        let (j, o, _) = self.spans[idx];
        o + (t - j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_map_back_through_the_spans() {
        let m = SpanMap::new(&[16_000..32_000, 80_000..96_000]);
        assert!((m.original(0.5, false) - 1.5).abs() < 1e-9);
        // The join: a segment starting there starts in the second span...
        assert!((m.original(1.0, false) - 5.0).abs() < 1e-9);
        // ...and one ending there ends in the first.
        assert!((m.original(1.0, true) - 2.0).abs() < 1e-9);
        assert!((m.original(1.25, true) - 5.25).abs() < 1e-9);
    }
}
