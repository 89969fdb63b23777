//! Whisper's vocabulary: the byte-level BPE table of `tokenizer.json` (decoding only: a token
//! is a string of GPT-2's byte-to-character map, so text is those bytes read as UTF-8), the
//! special tokens, and the model's `config.json` (suppressed tokens, language tokens).

use super::TranscribeError;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// What the decoder needs to know about token ids.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    /// Bytes of each ordinary token, indexed by id (ids below `eot`).
    bytes: Vec<Vec<u8>>,
    pub eot: u32,
    pub sot: u32,
    pub transcribe: u32,
    pub no_timestamps: u32,
    pub no_speech: u32,
    /// `<|0.00|>`; every id from here to `size - 1` is a timestamp, 0.02 s apart.
    pub timestamp_begin: u32,
    /// Number of logits the decoder returns.
    pub size: u32,
    /// Language token ids and their codes (`en`, `fr`...), in the model's order.
    pub languages: Vec<(u32, String)>,
    /// Never sampled (`suppress_ids`: speaker tags, music symbols, task tokens).
    pub suppress: Vec<u32>,
    /// Not sampled as the first token (`suppress_ids_begin`: a blank, end of text).
    pub suppress_begin: Vec<u32>,
}

#[derive(Deserialize)]
struct TokenizerFile {
    added_tokens: Vec<AddedToken>,
    model: BpeModel,
}

#[derive(Deserialize)]
struct AddedToken {
    id: u32,
    content: String,
}

#[derive(Deserialize)]
struct BpeModel {
    vocab: HashMap<String, u32>,
}

#[derive(Deserialize)]
struct ConfigFile {
    suppress_ids: Vec<u32>,
    suppress_ids_begin: Vec<u32>,
    lang_ids: Vec<u32>,
}

impl Vocabulary {
    pub fn load(tokenizer: &Path, config: &Path, size: u32) -> Result<Self, TranscribeError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| TranscribeError::Vocabulary {
                path: p.display().to_string(),
                reason: e.to_string(),
            })
        };
        let bad = |p: &Path, reason: String| TranscribeError::Vocabulary {
            path: p.display().to_string(),
            reason,
        };
        let tok: TokenizerFile =
            serde_json::from_str(&read(tokenizer)?).map_err(|e| bad(tokenizer, e.to_string()))?;
        let cfg: ConfigFile =
            serde_json::from_str(&read(config)?).map_err(|e| bad(config, e.to_string()))?;
        let special: HashMap<&str, u32> = tok
            .added_tokens
            .iter()
            .map(|t| (t.content.as_str(), t.id))
            .collect();
        let id = |name: &str| {
            special
                .get(name)
                .copied()
                .ok_or_else(|| bad(tokenizer, format!("no special token {name}")))
        };
        let eot = id("<|endoftext|>")?;
        let no_timestamps = id("<|notimestamps|>")?;
        let no_speech = id("<|nospeech|>").or_else(|_| id("<|nocaptions|>"))?;
        let unicode_to_byte = byte_decoder();
        let mut bytes = vec![Vec::new(); eot as usize];
        for (token, &i) in &tok.model.vocab {
            if i < eot {
                bytes[i as usize] = token
                    .chars()
                    .map(|c| {
                        unicode_to_byte.get(&c).copied().ok_or_else(|| {
                            bad(tokenizer, format!("token {token:?} is not byte-level"))
                        })
                    })
                    .collect::<Result<_, _>>()?;
            }
        }
        let by_id: HashMap<u32, &str> = tok
            .added_tokens
            .iter()
            .map(|t| (t.id, t.content.as_str()))
            .collect();
        let languages = cfg
            .lang_ids
            .iter()
            .map(|&l| {
                let code = by_id
                    .get(&l)
                    .and_then(|c| c.strip_prefix("<|")?.strip_suffix("|>"))
                    .ok_or_else(|| bad(config, format!("language id {l} is not a <|xx|> token")))?;
                Ok((l, code.to_string()))
            })
            .collect::<Result<_, TranscribeError>>()?;
        let vocab = Self {
            bytes,
            eot,
            sot: id("<|startoftranscript|>")?,
            transcribe: id("<|transcribe|>")?,
            no_timestamps,
            no_speech,
            timestamp_begin: no_timestamps + 1,
            size,
            languages,
            suppress: cfg.suppress_ids,
            suppress_begin: cfg.suppress_ids_begin,
        };
        if vocab.timestamp_begin >= size
            || vocab
                .suppress
                .iter()
                .chain(&vocab.suppress_begin)
                .any(|&t| t >= size)
        {
            return Err(bad(
                config,
                format!("token ids beyond the model's {size} logits"),
            ));
        }
        Ok(vocab)
    }

    /// The text of ordinary tokens; special tokens and timestamps are skipped, and invalid
    /// UTF-8 (a character cut between tokens) becomes U+FFFD, as the tokenizers library does.
    pub fn decode(&self, tokens: &[u32]) -> String {
        let bytes: Vec<u8> = tokens
            .iter()
            .filter(|&&t| t < self.eot)
            .flat_map(|&t| self.bytes[t as usize].iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    pub fn language_id(&self, code: &str) -> Option<u32> {
        self.languages
            .iter()
            .find(|(_, c)| c == code)
            .map(|(id, _)| *id)
    }
}

/// GPT-2's `bytes_to_unicode`, reversed: printable Latin-1 bytes stand for themselves, the other
/// bytes for the characters from U+0100 on, in byte order.
fn byte_decoder() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut map = HashMap::with_capacity(256);
    let mut next = 256u32;
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).expect("below the surrogates");
            next += 1;
            c
        };
        map.insert(c, b);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_map_is_gpt2s() {
        let m = byte_decoder();
        assert_eq!(m.len(), 256);
        assert_eq!(m[&'Ġ'], b' ');
        assert_eq!(m[&'Ċ'], b'\n');
        assert_eq!(m[&'A'], b'A');
        // The two gaps inside Latin-1: non-breaking space and soft hyphen.
        assert_eq!(m[&'ł'], 0xA0);
        assert_eq!(m[&'Ń'], 0xAD);
    }
}
