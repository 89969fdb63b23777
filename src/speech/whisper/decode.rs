//! Greedy decoding rules of CTranslate2's Whisper `generate` (as faster-whisper calls it with
//! `beam_size=1`, temperature 0), and the split of a window's tokens into timed segments
//! (faster-whisper's `_split_segments_by_timestamps`). Pure functions over logits and tokens.

use super::tokens::Vocabulary;

/// Seconds per timestamp token.
pub const TIME_PRECISION: f64 = 0.02;
/// `max_initial_timestamp` (1 s) in timestamp steps: the first timestamp is at most `<|1.00|>`.
pub const MAX_INITIAL_TIMESTAMP: u32 = 50;

/// Applies, in CTranslate2's order, the suppressed tokens, the tokens suppressed at the start,
/// and the timestamp rules to one step's logits, given the tokens sampled so far in this
/// window (prompt excluded); then returns the chosen token and its log-probability.
pub fn choose(v: &Vocabulary, logits: &mut [f32], sampled: &[u32]) -> (u32, f32) {
    let off = f32::NEG_INFINITY;
    let disable = |logits: &mut [f32], range: std::ops::Range<usize>| {
        for l in &mut logits[range] {
            *l = off;
        }
    };
    for &t in &v.suppress {
        logits[t as usize] = off;
    }
    if sampled.is_empty() {
        for &t in &v.suppress_begin {
            logits[t as usize] = off;
        }
    }
    let ts = v.timestamp_begin as usize;
    let end = v.size as usize;
    logits[v.no_timestamps as usize] = off;
    if let Some(&last) = sampled.last() {
        let mut check = true;
        if last >= v.timestamp_begin {
            let penultimate = if sampled.len() >= 2 {
                sampled[sampled.len() - 2]
            } else {
                last
            };
            if penultimate >= v.timestamp_begin {
                // A pair closed a segment: text (or the end) comes next.
                disable(logits, ts..end);
                check = false;
            } else {
                // A segment's end: its pair (or the end of text) comes next.
                disable(logits, 0..v.eot as usize);
            }
        }
        // Timestamps do not go back.
        if let Some(&t) = sampled.iter().rev().find(|&&t| t >= v.timestamp_begin) {
            disable(logits, ts..t as usize);
        }
        if check {
            // When the timestamps together are likelier than any text token, take a timestamp.
            let lse = log_sum_exp(logits);
            let text_max = logits[..ts].iter().copied().fold(off, f32::max) - lse;
            let stamps = log_sum_exp(&logits[ts..end]) - lse;
            if stamps > text_max {
                disable(logits, 0..ts);
            }
        }
    } else {
        // The first token is a timestamp, at most MAX_INITIAL_TIMESTAMP.
        disable(logits, 0..ts);
        disable(
            logits,
            (ts + MAX_INITIAL_TIMESTAMP as usize + 1).min(end)..end,
        );
    }
    let (best, &value) = logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
        .expect("logits are not empty");
    (best as u32, value - log_sum_exp(logits))
}

pub fn log_sum_exp(x: &[f32]) -> f32 {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    max + x.iter().map(|&v| (v - max).exp()).sum::<f32>().ln()
}

/// Softmax probability of `index` among `logits`.
pub fn probability(logits: &[f32], index: usize) -> f32 {
    (logits[index] - log_sum_exp(logits)).exp()
}

/// One timed piece of a window's tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedTokens {
    pub start_s: f64,
    pub end_s: f64,
    pub tokens: Vec<u32>,
}

/// Splits a window's tokens at consecutive timestamp pairs. Returns the pieces and how many
/// mel frames of the window were consumed (the next window starts there).
pub fn split_segments(
    v: &Vocabulary,
    tokens: &[u32],
    time_offset: f64,
    window_frames: usize,
) -> (Vec<TimedTokens>, usize) {
    let is_ts = |t: u32| t >= v.timestamp_begin;
    let stamp = |t: u32| f64::from(t - v.timestamp_begin) * TIME_PRECISION;
    let n = tokens.len();
    let single_timestamp_ending = n >= 2 && !is_ts(tokens[n - 2]) && is_ts(tokens[n - 1]);
    let consecutive: Vec<usize> = (1..n)
        .filter(|&i| is_ts(tokens[i]) && is_ts(tokens[i - 1]))
        .collect();
    if consecutive.is_empty() {
        let mut duration = window_frames as f64 * 0.01;
        if let Some(&last) = tokens.iter().rev().find(|&&t| is_ts(t)) {
            if last != v.timestamp_begin {
                duration = stamp(last);
            }
        }
        let piece = TimedTokens {
            start_s: time_offset,
            end_s: time_offset + duration,
            tokens: tokens.to_vec(),
        };
        return (vec![piece], window_frames);
    }
    let mut slices = consecutive;
    if single_timestamp_ending {
        slices.push(n);
    }
    let mut pieces = Vec::new();
    let mut last_slice = 0;
    for &cut in &slices {
        let piece = &tokens[last_slice..cut];
        pieces.push(TimedTokens {
            start_s: time_offset + stamp(piece[0]),
            end_s: time_offset + stamp(piece[piece.len() - 1]),
            tokens: piece.to_vec(),
        });
        last_slice = cut;
    }
    let consumed = if single_timestamp_ending {
        window_frames
    } else {
        // The unfinished segment after the last pair is decoded again in the next window;
        // a timestamp step is two mel frames.
        (tokens[last_slice - 1] - v.timestamp_begin) as usize * 2
    };
    (pieces, consumed)
}
