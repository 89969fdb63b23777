//! Voice activity: where in 16 kHz audio someone speaks, by Silero VAD v6 (the ONNX model the
//! `silero-vad` 6.2.3 wheel ships), run as the package runs it, and turned into speech spans by
//! the package's own state machine (`get_speech_timestamps`).
//!
//! The model reads 512 new samples at a time (32 ms) after the previous window's last 64
//! samples (its context; zeros before the first window), and carries a recurrent state
//! [2, 1, 128] from one window to the next; it answers the probability that the window is
//! speech. A trailing part window is padded with zeros. Spans start where the probability
//! reaches `threshold` and end where it has stayed below `neg_threshold` for
//! `min_silence_ms`; shorter spans than `min_speech_ms` are dropped, and the rest are widened by
//! `speech_pad_ms` each side (halving the silence between two spans closer than twice that).
//! Parity with the package: tests/voices.rs.

use crate::media::audio::SAMPLE_RATE;
use crate::vision::runtime::{Runtime, SessionPool};
use crate::vision::VisionError;
use ort::value::Tensor;
use std::path::Path;

/// New samples per window at 16 kHz.
pub const WINDOW: usize = 512;
/// Samples of the previous window the model reads before each window.
pub const CONTEXT: usize = 64;
const STATE: usize = 2 * 128;

/// The package's defaults for `get_speech_timestamps`.
#[derive(Debug, Clone, PartialEq)]
pub struct VadParams {
    /// A window this probable or more is speech.
    pub threshold: f32,
    /// Inside speech, a window below this is silence (default: `threshold - 0.15`, at least 0.01).
    pub neg_threshold: Option<f32>,
    /// Spans shorter than this are dropped.
    pub min_speech_ms: u32,
    /// Silence inside speech shorter than this does not end the span.
    pub min_silence_ms: u32,
    /// Spans are widened by this much each side.
    pub speech_pad_ms: u32,
}

impl Default for VadParams {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            neg_threshold: None,
            min_speech_ms: 250,
            min_silence_ms: 100,
            speech_pad_ms: 30,
        }
    }
}

impl VadParams {
    /// Speech as faster-whisper's `vad_filter` finds it for transcription: silences under 2 s
    /// do not split a sentence, and 0.4 s of sound is kept each side so first and last words
    /// are whole.
    pub const TRANSCRIPTION: VadParams = VadParams {
        threshold: 0.5,
        neg_threshold: None,
        min_speech_ms: 250,
        min_silence_ms: 2000,
        speech_pad_ms: 400,
    };
}

/// Speech from `start` to `end` (samples at 16 kHz, end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpeechSpan {
    pub start: usize,
    pub end: usize,
}

impl SpeechSpan {
    pub fn start_s(&self) -> f64 {
        self.start as f64 / f64::from(SAMPLE_RATE)
    }

    pub fn end_s(&self) -> f64 {
        self.end as f64 / f64::from(SAMPLE_RATE)
    }

    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Seconds of speech in all spans.
pub fn speech_seconds(spans: &[SpeechSpan]) -> f64 {
    spans.iter().map(|s| s.len()).sum::<usize>() as f64 / f64::from(SAMPLE_RATE)
}

/// The voice activity model.
pub struct Vad {
    pool: SessionPool,
}

impl Vad {
    pub fn load(runtime: &Runtime, name: &str, path: &Path) -> Result<Self, VisionError> {
        Ok(Self {
            pool: runtime.pool(name, path)?,
        })
    }

    /// The speech probability of each 512-sample window of 16 kHz audio.
    pub fn probabilities(&self, pcm: &[f32]) -> Result<Vec<f32>, VisionError> {
        let model = self.pool.model().to_string();
        let fail = |e: ort::Error| VisionError::Inference {
            model: model.clone(),
            reason: e.to_string(),
        };
        self.pool.with(|session| {
            let mut probs = Vec::with_capacity(pcm.len().div_ceil(WINDOW));
            let mut state = vec![0.0f32; STATE];
            let mut input = vec![0.0f32; CONTEXT + WINDOW];
            for chunk in pcm.chunks(WINDOW) {
                // The context is the last 64 samples of the previous (padded) window.
                input.copy_within(WINDOW.., 0);
                input[CONTEXT..CONTEXT + chunk.len()].copy_from_slice(chunk);
                input[CONTEXT + chunk.len()..].fill(0.0);
                let x = Tensor::from_array((vec![1i64, (CONTEXT + WINDOW) as i64], input.clone()))
                    .map_err(fail)?;
                let s = Tensor::from_array((vec![2i64, 1, 128], state.clone())).map_err(fail)?;
                let sr = Tensor::from_array((Vec::<i64>::new(), vec![i64::from(SAMPLE_RATE)]))
                    .map_err(fail)?;
                let outputs = session
                    .run(ort::inputs!["input" => x, "state" => s, "sr" => sr])
                    .map_err(fail)?;
                let (_, p) = outputs[0].try_extract_tensor::<f32>().map_err(fail)?;
                let (_, next) = outputs[1].try_extract_tensor::<f32>().map_err(fail)?;
                if p.len() != 1 || next.len() != STATE {
                    return Err(VisionError::OutputShape {
                        model: model.clone(),
                        shape: vec![p.len() as i64, next.len() as i64],
                    });
                }
                probs.push(p[0]);
                state.copy_from_slice(next);
            }
            Ok(probs)
        })
    }

    /// Where someone speaks in 16 kHz audio.
    pub fn speech(&self, pcm: &[f32], params: &VadParams) -> Result<Vec<SpeechSpan>, VisionError> {
        let probs = self.probabilities(pcm)?;
        Ok(spans(&probs, pcm.len(), params))
    }
}

/// Speech spans from per-window probabilities: the package's `get_speech_timestamps_from_probs`
/// with no maximum span length (its default), in samples.
pub fn spans(probs: &[f32], n_samples: usize, params: &VadParams) -> Vec<SpeechSpan> {
    let sr = f64::from(SAMPLE_RATE);
    let min_speech = sr * f64::from(params.min_speech_ms) / 1000.0;
    let pad = sr * f64::from(params.speech_pad_ms) / 1000.0;
    let min_silence = sr * f64::from(params.min_silence_ms) / 1000.0;
    let neg = params
        .neg_threshold
        .unwrap_or((params.threshold - 0.15).max(0.01));
    let mut speeches: Vec<(usize, usize)> = Vec::new();
    let mut start: Option<usize> = None;
    // Where the current silence inside speech began (0: none, as in the package).
    let mut temp_end = 0usize;
    for (i, &p) in probs.iter().enumerate() {
        let cur = WINDOW * i;
        if p >= params.threshold && temp_end != 0 {
            temp_end = 0;
        }
        if p >= params.threshold && start.is_none() {
            start = Some(cur);
            continue;
        }
        if let (true, Some(s)) = (p < neg, start) {
            if temp_end == 0 {
                temp_end = cur;
            }
            if ((cur - temp_end) as f64) < min_silence {
                continue;
            }
            if (temp_end - s) as f64 > min_speech {
                speeches.push((s, temp_end));
            }
            start = None;
            temp_end = 0;
        }
    }
    if let Some(s) = start {
        if n_samples.saturating_sub(s) as f64 > min_speech {
            speeches.push((s, n_samples));
        }
    }
    // Padding, as the package does it (its float pad truncated where it converts to int).
    let n = speeches.len();
    for i in 0..n {
        if i == 0 {
            speeches[i].0 = (speeches[i].0 as f64 - pad).max(0.0) as usize;
        }
        if i + 1 < n {
            let silence = speeches[i + 1].0 as i64 - speeches[i].1 as i64;
            if (silence as f64) < 2.0 * pad {
                speeches[i].1 = (speeches[i].1 as i64 + silence.div_euclid(2)) as usize;
                speeches[i + 1].0 =
                    (speeches[i + 1].0 as i64 - silence.div_euclid(2)).max(0) as usize;
            } else {
                speeches[i].1 = (speeches[i].1 as f64 + pad).min(n_samples as f64) as usize;
                speeches[i + 1].0 = (speeches[i + 1].0 as f64 - pad).max(0.0) as usize;
            }
        } else {
            speeches[i].1 = (speeches[i].1 as f64 + pad).min(n_samples as f64) as usize;
        }
    }
    speeches
        .into_iter()
        .map(|(start, end)| SpeechSpan { start, end })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: usize, end: usize) -> SpeechSpan {
        SpeechSpan { start, end }
    }

    #[test]
    fn a_burst_of_speech_becomes_one_padded_span() {
        // 20 windows: speech in windows 5..15 (10 windows, 320 ms).
        let mut probs = vec![0.05f32; 20];
        probs[5..15].fill(0.9);
        let got = spans(&probs, 20 * WINDOW, &VadParams::default());
        // Starts at window 5 less 480 samples; ends where silence began (window 15) plus 480.
        assert_eq!(got, vec![span(5 * WINDOW - 480, 15 * WINDOW + 480)]);
    }

    #[test]
    fn hysteresis_short_dips_and_short_bursts() {
        let p = VadParams::default();
        // A dip to 0.4 is above neg_threshold (0.35): speech goes on.
        let mut probs = vec![0.9f32; 30];
        probs[10] = 0.4;
        probs[0] = 0.0;
        assert_eq!(spans(&probs, 30 * WINDOW, &p).len(), 1);
        // A silence shorter than 100 ms (3 windows = 96 ms) does not split the span.
        let mut probs = vec![0.9f32; 30];
        probs[10..13].fill(0.1);
        assert_eq!(spans(&probs, 30 * WINDOW, &p).len(), 1);
        // 5 windows (160 ms) of silence do.
        let mut probs = vec![0.9f32; 40];
        probs[10..16].fill(0.1);
        let got = spans(&probs, 40 * WINDOW, &p);
        assert_eq!(got.len(), 2, "{got:?}");
        // Two spans 6 windows apart (3072 samples > 960) are each padded by 480.
        assert_eq!(got[0].end, 10 * WINDOW + 480);
        assert_eq!(got[1].start, 16 * WINDOW - 480);
        // A burst of 7 windows (224 ms) is shorter than 250 ms: dropped.
        let mut probs = vec![0.0f32; 30];
        probs[5..12].fill(0.9);
        assert!(spans(&probs, 30 * WINDOW, &p).is_empty());
    }
}
