//! Whisper's log-mel spectrogram, as faster-whisper's `FeatureExtractor` computes it: 80 mel
//! bands (Slaney scale and norm, as librosa), 400-sample Hann window, hop 160, centred frames
//! with reflected edges, power spectrum, log10 floored 8 decades below the clip's maximum, then
//! `(x + 4) / 4`. The filters and window are computed the same way (f64, then f32), so
//! transcripts equal faster-whisper's on the same samples.

use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
pub const N_MELS: usize = 80;
const N_BINS: usize = N_FFT / 2 + 1;

/// The filter bank and FFT plan, built once per transcriber.
pub struct LogMel {
    /// Per mel band, the first bin with a non-zero weight and the weights from there.
    filters: Vec<(usize, Vec<f32>)>,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
}

/// A log-mel spectrogram, band-major: `data[band * frames + frame]`.
#[derive(Debug, Clone)]
pub struct Spectrogram {
    pub frames: usize,
    pub data: Vec<f32>,
}

impl Spectrogram {
    /// Frames `start..start + len` of every band, zero-padded to `to` frames (faster-whisper's
    /// `pad_or_trim`), as the encoder's `[1, 80, to]` input.
    pub fn window(&self, start: usize, len: usize, to: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; N_MELS * to];
        let len = len.min(to).min(self.frames.saturating_sub(start));
        for band in 0..N_MELS {
            let src = &self.data[band * self.frames + start..][..len];
            out[band * to..][..len].copy_from_slice(src);
        }
        out
    }
}

impl Default for LogMel {
    fn default() -> Self {
        Self::new()
    }
}

impl LogMel {
    pub fn new() -> Self {
        let window = (0..N_FFT)
            .map(|n| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
        Self {
            filters: mel_filters(),
            window,
            fft,
        }
    }

    /// The spectrogram of `samples` (16 kHz mono) with faster-whisper's 160 samples of trailing
    /// silence; its frame count is `samples.len() / 160 + 1`, the last frame being the
    /// padding's, which callers leave out of the content (`frames - 1`).
    pub fn compute(&self, samples: &[f32]) -> Spectrogram {
        let mut padded = Vec::with_capacity(samples.len() + HOP);
        padded.extend_from_slice(samples);
        padded.resize(samples.len() + HOP, 0.0);
        let centred = reflect_pad(&padded, N_FFT / 2);
        let n_frames = 1 + (centred.len() - N_FFT) / HOP;
        // The STFT's last frame is dropped (`stft[..., :-1]`).
        let frames = n_frames - 1;
        let mut data = vec![0.0f32; N_MELS * frames];
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut power = vec![0.0f32; N_BINS];
        for f in 0..frames {
            let chunk = &centred[f * HOP..f * HOP + N_FFT];
            for ((i, x), w) in input.iter_mut().zip(chunk).zip(&self.window) {
                *i = x * w;
            }
            self.fft
                .process(&mut input, &mut spectrum)
                .expect("buffers come from the plan");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.re * c.re + c.im * c.im;
            }
            for (band, (first, weights)) in self.filters.iter().enumerate() {
                let energy: f32 = weights
                    .iter()
                    .zip(&power[*first..])
                    .map(|(w, p)| w * p)
                    .sum();
                data[band * frames + f] = energy.max(1e-10).log10();
            }
        }
        let max = data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in &mut data {
            *v = ((*v).max(max - 8.0) + 4.0) / 4.0;
        }
        Spectrogram { frames, data }
    }
}

/// numpy's `pad(mode="reflect")`: the edge sample is not repeated.
fn reflect_pad(x: &[f32], pad: usize) -> Vec<f32> {
    let n = x.len();
    let at = |i: isize| -> f32 {
        let period = 2 * (n as isize - 1);
        if period == 0 {
            return x[0];
        }
        let mut j = i.rem_euclid(period);
        if j >= n as isize {
            j = period - j;
        }
        x[j as usize]
    };
    (-(pad as isize)..(n + pad) as isize).map(at).collect()
}

/// librosa's Slaney mel filters as faster-whisper writes them out (`get_mel_filters`).
fn mel_filters() -> Vec<(usize, Vec<f32>)> {
    let sr = SAMPLE_RATE as f64;
    let fftfreqs: Vec<f64> = (0..N_BINS).map(|k| k as f64 * sr / N_FFT as f64).collect();
    let max_mel = 45.245640471924965;
    let f_sp = 200.0 / 3.0;
    let min_log_hz = 1000.0;
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    let freqs: Vec<f64> = (0..N_MELS + 2)
        .map(|i| {
            let mel = max_mel * i as f64 / (N_MELS + 1) as f64;
            if mel >= min_log_mel {
                min_log_hz * (logstep * (mel - min_log_mel)).exp()
            } else {
                f_sp * mel
            }
        })
        .collect();
    (0..N_MELS)
        .map(|m| {
            let enorm = 2.0 / (freqs[m + 2] - freqs[m]);
            let row: Vec<f32> = fftfreqs
                .iter()
                .map(|&f| {
                    let lower = (f - freqs[m]) / (freqs[m + 1] - freqs[m]);
                    let upper = (freqs[m + 2] - f) / (freqs[m + 2] - freqs[m + 1]);
                    (0.0f64.max(lower.min(upper)) * enorm) as f32
                })
                .collect();
            let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
            let last = row.iter().rposition(|&w| w != 0.0).unwrap_or(0);
            (first, row[first..=last.max(first)].to_vec())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_follow_faster_whisper() {
        let mel = LogMel::new();
        let s = mel.compute(&vec![0.0; 16_000]);
        assert_eq!(s.frames, 101);
        assert_eq!(s.data.len(), 80 * 101);
    }

    #[test]
    fn a_tone_lights_its_band() {
        // 1 kHz (FFT bin 25) falls in bands 24 to 26 of faster-whisper's filters.
        let tone: Vec<f32> = (0..16_000)
            .map(|n| (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 16_000.0).sin() * 0.5)
            .collect();
        let s = LogMel::new().compute(&tone);
        let band_mean = |b: usize| {
            s.data[b * s.frames..(b + 1) * s.frames].iter().sum::<f32>() / s.frames as f32
        };
        let loudest = (0..N_MELS)
            .max_by(|&a, &b| band_mean(a).total_cmp(&band_mean(b)))
            .unwrap();
        assert!((24..=26).contains(&loudest), "loudest band {loudest}");
        assert!(band_mean(loudest) > band_mean(70) + 1.0);
    }

    #[test]
    fn reflect_matches_numpy() {
        assert_eq!(
            reflect_pad(&[1.0, 2.0, 3.0, 4.0], 2),
            vec![3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]
        );
    }
}
