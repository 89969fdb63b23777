//! Voices: a speaker embedding of speech, by Resemblyzer's GE2E speaker encoder (converted to
//! ONNX by models/convert/resemblyzer_to_onnx.py), with Resemblyzer 0.1.4's own recipe:
//!
//! 1. `preprocess_wav`: the volume raised (never lowered) to -30 dBFS, then long silences cut.
//!    Resemblyzer cuts them with webrtcvad (30 ms windows, smoothed, dilated); clipguard keeps
//!    the speech spans its own voice activity detector (Silero VAD, `vad`) found instead, so one
//!    detector decides what is speech for transcripts and voices alike. The effect, measured
//!    on the same audio against the package with its webrtcvad trimming: tests/voices.rs and
//!    docs/persons.md.
//! 2. `wav_to_mel_spectrogram`: librosa's mel power spectrogram, 40 bands (Slaney scale and
//!    norm, 0-8 kHz) of 25 ms Hann windows every 10 ms, centred with zero padding. Not a log.
//! 3. `embed_utterance`: 160-frame partials (1.6 s), 1.3 a second (every 77 frames, about
//!    half-overlapping), the last one kept if it is at least 75% covered (the audio zero-padded
//!    to its end); each partial embedded, the embeddings averaged and L2-normalised.
//!
//! Parity with the package on identical audio (cosine >= 0.999): tests/voices.rs.

use super::vad::SpeechSpan;
use crate::vision::runtime::{Runtime, SessionPool};
use crate::vision::VisionError;
use crate::vocab::Embedding;
use ndarray::Array3;
use std::path::Path;
use std::sync::OnceLock;

pub const EMBEDDING_DIM: usize = 256;
pub const MEL_BANDS: usize = 40;
/// Frames in one partial utterance (1.6 s).
pub const PARTIAL_FRAMES: usize = 160;
const N_FFT: usize = 400;
const HOP: usize = 160;
const BINS: usize = N_FFT / 2 + 1;
const SAMPLE_RATE: f64 = 16_000.0;
/// Resemblyzer's `audio_norm_target_dBFS`.
const TARGET_DBFS: f64 = -30.0;
/// `embed_utterance`'s defaults: partials per second, and the least coverage of the last one.
const RATE: f64 = 1.3;
const MIN_COVERAGE: f64 = 0.75;
const INT16_MAX: f64 = 32767.0;

/// A voice's embedding and the partial embeddings it averages.
#[derive(Debug, Clone)]
pub struct Utterance {
    /// L2-normalised, 256 values, all >= 0 (compare by cosine: the dot product).
    pub embedding: Embedding,
    /// One per 1.6 s partial, in time order, each L2-normalised.
    pub partials: Vec<Embedding>,
    /// Seconds of audio embedded (the speech kept).
    pub seconds: f64,
}

/// The speaker encoder.
pub struct VoiceEncoder {
    pool: SessionPool,
}

impl VoiceEncoder {
    pub fn load(runtime: &Runtime, name: &str, path: &Path) -> Result<Self, VisionError> {
        Ok(Self {
            pool: runtime.pool(name, path)?,
        })
    }

    /// The voice in `pcm` (16 kHz mono): its volume normalised, only the speech in `spans`
    /// kept, then embedded. None when the spans hold no sound.
    pub fn embed_speech(
        &self,
        pcm: &[f32],
        spans: &[SpeechSpan],
    ) -> Result<Option<Utterance>, VisionError> {
        let wav = keep_spans(&normalize_volume(pcm), spans);
        if wav.is_empty() {
            return Ok(None);
        }
        self.embed_utterance(&wav).map(Some)
    }

    /// Resemblyzer's `embed_utterance` on preprocessed audio (not empty).
    pub fn embed_utterance(&self, wav: &[f32]) -> Result<Utterance, VisionError> {
        let slices = partial_slices(wav.len());
        let last = slices.last().expect("at least one partial");
        let mut padded = wav.to_vec();
        let stop = (last + PARTIAL_FRAMES) * HOP;
        if stop >= padded.len() {
            padded.resize(stop, 0.0);
        }
        let mel = mel_spectrogram(&padded);
        let mut input = Array3::<f32>::zeros((slices.len(), PARTIAL_FRAMES, MEL_BANDS));
        for (b, &start) in slices.iter().enumerate() {
            for t in 0..PARTIAL_FRAMES {
                for (m, v) in mel[start + t].iter().enumerate() {
                    input[[b, t, m]] = *v;
                }
            }
        }
        let partials = self.run(input)?;
        let mut mean = vec![0.0f32; EMBEDDING_DIM];
        for p in &partials {
            for (m, v) in mean.iter_mut().zip(&p.0) {
                *m += v / partials.len() as f32;
            }
        }
        Ok(Utterance {
            embedding: Embedding(l2_normalised(mean)),
            partials,
            seconds: wav.len() as f64 / SAMPLE_RATE,
        })
    }

    fn run(&self, input: Array3<f32>) -> Result<Vec<Embedding>, VisionError> {
        let model = self.pool.model().to_string();
        let fail = |e: ort::Error| VisionError::Inference {
            model: model.clone(),
            reason: e.to_string(),
        };
        let batch = input.shape()[0];
        let tensor = ort::value::Tensor::from_array(input).map_err(fail)?;
        self.pool.with(|session| {
            let outputs = session.run(ort::inputs![tensor]).map_err(fail)?;
            let (shape, data) = outputs[0].try_extract_tensor::<f32>().map_err(fail)?;
            if **shape != [batch as i64, EMBEDDING_DIM as i64] {
                return Err(VisionError::OutputShape {
                    model: model.clone(),
                    shape: shape.to_vec(),
                });
            }
            Ok(data
                .chunks_exact(EMBEDDING_DIM)
                .map(|c| Embedding(c.to_vec()))
                .collect())
        })
    }
}

/// Resemblyzer's `normalize_volume(wav, -30, increase_only=True)`: quiet speech is raised to
/// -30 dBFS (RMS, 16-bit full scale); louder speech is left alone. Silence stays silence.
pub fn normalize_volume(wav: &[f32]) -> Vec<f32> {
    if wav.is_empty() {
        return Vec::new();
    }
    let mean_sq = wav
        .iter()
        .map(|&v| (f64::from(v) * INT16_MAX).powi(2))
        .sum::<f64>()
        / wav.len() as f64;
    let rms = mean_sq.sqrt();
    if rms == 0.0 {
        return wav.to_vec();
    }
    let change = TARGET_DBFS - 20.0 * (rms / INT16_MAX).log10();
    if change < 0.0 {
        return wav.to_vec();
    }
    let gain = 10f64.powf(change / 20.0) as f32;
    wav.iter().map(|v| v * gain).collect()
}

/// The samples inside `spans`, joined (what replaces Resemblyzer's `trim_long_silences`).
pub fn keep_spans(wav: &[f32], spans: &[SpeechSpan]) -> Vec<f32> {
    let mut out = Vec::with_capacity(spans.iter().map(SpeechSpan::len).sum());
    for s in spans {
        let (a, b) = (s.start.min(wav.len()), s.end.min(wav.len()));
        out.extend_from_slice(&wav[a..b]);
    }
    out
}

/// The first mel frame of each partial: `VoiceEncoder.compute_partial_slices` with
/// `embed_utterance`'s defaults (every partial is `PARTIAL_FRAMES` long).
pub fn partial_slices(n_samples: usize) -> Vec<usize> {
    let n_frames = (n_samples + 1).div_ceil(HOP);
    let frame_step = ((SAMPLE_RATE / RATE) / HOP as f64).round() as usize;
    let steps = (n_frames + frame_step + 1)
        .saturating_sub(PARTIAL_FRAMES)
        .max(1);
    let mut starts: Vec<usize> = (0..steps).step_by(frame_step).collect();
    let last = *starts.last().expect("steps >= 1");
    let coverage = (n_samples as f64 - (last * HOP) as f64) / ((PARTIAL_FRAMES * HOP) as f64);
    if coverage < MIN_COVERAGE && starts.len() > 1 {
        starts.pop();
    }
    starts
}

/// librosa's `melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40)`: power
/// spectra of periodic-Hann windows centred on every 160th sample (the signal padded with 200
/// zeros each side), through Slaney-normalised mel filters. One row of 40 per frame.
pub fn mel_spectrogram(wav: &[f32]) -> Vec<[f32; MEL_BANDS]> {
    let t = tables();
    let pad = N_FFT / 2;
    let n_frames = 1 + wav.len() / HOP;
    let sample = |i: isize| -> f64 {
        if i < 0 || i as usize >= wav.len() {
            0.0
        } else {
            f64::from(wav[i as usize])
        }
    };
    let mut frame = [0.0f64; N_FFT];
    let mut power = [0.0f64; BINS];
    let mut out = Vec::with_capacity(n_frames);
    for f in 0..n_frames {
        let origin = (f * HOP) as isize - pad as isize;
        for (n, x) in frame.iter_mut().enumerate() {
            *x = sample(origin + n as isize) * t.window[n];
        }
        for (k, p) in power.iter_mut().enumerate() {
            let (cos, sin) = (&t.cos[k * N_FFT..][..N_FFT], &t.sin[k * N_FFT..][..N_FFT]);
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for n in 0..N_FFT {
                re += frame[n] * cos[n];
                im += frame[n] * sin[n];
            }
            *p = re * re + im * im;
        }
        let mut row = [0.0f32; MEL_BANDS];
        for (m, r) in row.iter_mut().enumerate() {
            let w = &t.mel[m * BINS..][..BINS];
            *r = w.iter().zip(&power).map(|(a, b)| a * b).sum::<f64>() as f32;
        }
        out.push(row);
    }
    out
}

struct Tables {
    window: Vec<f64>,
    /// cos and sin of 2 pi k n / N, row k.
    cos: Vec<f64>,
    sin: Vec<f64>,
    /// The mel filters, row per band (f32 weights, as librosa builds them, held as f64).
    mel: Vec<f64>,
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        use std::f64::consts::PI;
        let window = (0..N_FFT)
            .map(|n| 0.5 - 0.5 * (2.0 * PI * n as f64 / N_FFT as f64).cos())
            .collect();
        let mut cos = vec![0.0; BINS * N_FFT];
        let mut sin = vec![0.0; BINS * N_FFT];
        for k in 0..BINS {
            for n in 0..N_FFT {
                // k * n mod N keeps the angle exact for large k * n.
                let a = 2.0 * PI * ((k * n) % N_FFT) as f64 / N_FFT as f64;
                cos[k * N_FFT + n] = a.cos();
                sin[k * N_FFT + n] = -a.sin();
            }
        }
        Tables {
            window,
            cos,
            sin,
            mel: mel_filters(),
        }
    })
}

/// librosa's `filters.mel(sr=16000, n_fft=400, n_mels=40)` (htk=False, norm="slaney").
fn mel_filters() -> Vec<f64> {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    let hz_to_mel = |f: f64| {
        if f >= MIN_LOG_HZ {
            min_log_mel + (f / MIN_LOG_HZ).ln() / logstep
        } else {
            f / F_SP
        }
    };
    let mel_to_hz = |m: f64| {
        if m >= min_log_mel {
            MIN_LOG_HZ * (logstep * (m - min_log_mel)).exp()
        } else {
            F_SP * m
        }
    };
    let fmax = SAMPLE_RATE / 2.0;
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(fmax));
    let n = MEL_BANDS + 2;
    let mel_f: Vec<f64> = (0..n)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (n - 1) as f64))
        .collect();
    let fft_f: Vec<f64> = (0..BINS)
        .map(|k| fmax * k as f64 / (BINS - 1) as f64)
        .collect();
    let mut w = vec![0.0; MEL_BANDS * BINS];
    for m in 0..MEL_BANDS {
        let (d0, d1) = (mel_f[m + 1] - mel_f[m], mel_f[m + 2] - mel_f[m + 1]);
        let enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
        for (k, &f) in fft_f.iter().enumerate() {
            let lower = -(mel_f[m] - f) / d0;
            let upper = (mel_f[m + 2] - f) / d1;
            // Built in f64 and stored as f32, as librosa does.
            w[m * BINS + k] = f64::from((lower.min(upper).max(0.0) * enorm) as f32);
        }
    }
    w
}

fn l2_normalised(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    v
}

/// Cosine similarity of two embeddings.
pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    let dot: f32 = a.0.iter().zip(&b.0).map(|(x, y)| x * y).sum();
    let na = a.0.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.0.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// How well the voice agrees with itself through an utterance: its partials cut in two at
/// every point that leaves at least two on each side, and the least cosine between the two
/// sides' mean embeddings. Two speakers who take turns disagree at the cut between them; one
/// speaker agrees at every cut. None with fewer than 4 partials (too little speech to tell).
pub fn self_agreement(partials: &[Embedding]) -> Option<f32> {
    if partials.len() < 4 {
        return None;
    }
    let mean = |ps: &[Embedding]| {
        let mut m = vec![0.0f32; EMBEDDING_DIM];
        for p in ps {
            for (s, v) in m.iter_mut().zip(&p.0) {
                *s += v;
            }
        }
        Embedding(m)
    };
    (2..=partials.len() - 2)
        .map(|k| cosine(&mean(&partials[..k]), &mean(&partials[k..])))
        .min_by(f32::total_cmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_slices_follow_resemblyzer() {
        // Values from VoiceEncoder.compute_partial_slices(n, 1.3, 0.75).
        assert_eq!(partial_slices(16_000), vec![0]);
        assert_eq!(partial_slices(40_000), vec![0, 77]);
        // 3 s: 301 frames; steps = 301 - 160 + 77 + 1 = 219 -> 0, 77, 154; the last covers
        // (48000 - 24640) / 25600 = 0.91.
        assert_eq!(partial_slices(48_000), vec![0, 77, 154]);
        // 2.56 s: 257 frames; steps 175 -> 0, 77, 154; the last covers 0.64: dropped.
        assert_eq!(partial_slices(41_000), vec![0, 77]);
    }

    #[test]
    fn volume_is_raised_to_minus_30_dbfs_never_lowered() {
        let quiet: Vec<f32> = (0..16_000)
            .map(|i| 0.001 * ((i as f32) * 0.05).sin())
            .collect();
        let raised = normalize_volume(&quiet);
        let rms = (raised.iter().map(|v| (v * 32767.0).powi(2)).sum::<f32>() / 16_000.0).sqrt();
        assert!((20.0 * (rms / 32767.0).log10() + 30.0).abs() < 0.01);
        let loud: Vec<f32> = quiet.iter().map(|v| v * 500.0).collect();
        assert_eq!(normalize_volume(&loud), loud);
        assert_eq!(normalize_volume(&[0.0; 10]), vec![0.0; 10]);
    }

    #[test]
    fn agreement_is_the_worst_cut_between_turns() {
        let a = Embedding(vec![1.0, 0.0]);
        let b = Embedding(vec![0.0, 1.0]);
        assert_eq!(self_agreement(&[a.clone(), a.clone(), a.clone()]), None);
        assert_eq!(self_agreement(&vec![a.clone(); 6]), Some(1.0));
        let turns = [a.clone(), a.clone(), a.clone(), b.clone(), b.clone(), b];
        assert!(self_agreement(&turns).unwrap() < 1e-6);
    }

    #[test]
    fn a_pure_tone_lands_in_its_mel_band() {
        // 1 kHz: Slaney mel 15, band 40 * 15 / 42.6 ~ 13 (of 0..40 over 0-8 kHz).
        let tone: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let mel = mel_spectrogram(&tone);
        assert_eq!(mel.len(), 101);
        let row = &mel[50];
        let best = (0..MEL_BANDS)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap();
        assert!((12..=14).contains(&best), "band {best}");
    }
}
