//! English word frequencies from the `wordfreq` package's data (`large_en.msgpack.gz`, CC-BY-SA
//! 4.0), fetched at set-up and listed in `models/models.toml` as `[[data]] name = "wordfreq-en"`.
//! The name matcher uses them to tell a name that is also an ordinary word ("Stone", "Prince")
//! from one that is not ("Lorde"), and a typo of a name from a real word.

use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::io::Read;
use std::path::Path;

/// The manifest entry that names the file.
pub const ENTRY: &str = "wordfreq-en";

#[derive(Debug, thiserror::Error)]
pub enum WordFreqError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} has no [[data]] entry named {ENTRY:?} (run `make setup`)")]
    NoEntry { path: String },
    #[error("sha256 mismatch for {path}: expected {expected}, actual {actual} (run `make setup`)")]
    Hash {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("{path} is not a wordfreq cB table: {reason}")]
    Format { path: String, reason: String },
}

#[derive(Deserialize)]
struct ManifestFile {
    #[serde(default)]
    data: Vec<DataEntry>,
}

#[derive(Deserialize)]
struct DataEntry {
    name: String,
    file: String,
    sha256: String,
}

/// Zipf frequency of each word (log10 of occurrences per billion words: "the" 7.7, "king"
/// 5.2, "hopper" 3.5), held as centi-Zipf to keep the table small.
#[derive(Debug, Clone, Default)]
pub struct WordFrequencies {
    zipf: FxHashMap<Box<str>, u16>,
}

impl WordFrequencies {
    /// The file named by `manifest`'s `wordfreq-en` entry under `dir`, verified by sha256.
    pub fn from_manifest(manifest: &Path, dir: &Path) -> Result<Self, WordFreqError> {
        let read_err = |path: &Path, e: &dyn std::fmt::Display| WordFreqError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let text = std::fs::read_to_string(manifest).map_err(|e| read_err(manifest, &e))?;
        let file: ManifestFile = toml::from_str(&text).map_err(|e| read_err(manifest, &e))?;
        let entry = file
            .data
            .into_iter()
            .find(|d| d.name == ENTRY)
            .ok_or_else(|| WordFreqError::NoEntry {
                path: manifest.display().to_string(),
            })?;
        let path = dir.join(&entry.file);
        let actual = crate::digest::sha256_file(&path).map_err(|e| read_err(&path, &e))?;
        if actual != entry.sha256 {
            return Err(WordFreqError::Hash {
                path: path.display().to_string(),
                expected: entry.sha256,
                actual,
            });
        }
        Self::load(&path)
    }

    /// Reads wordfreq's cB format: a header map, then one list of words per frequency bin,
    /// bin `i` holding the words of frequency `-i` centibels (Zipf `9 - i/100`).
    pub fn load(path: &Path) -> Result<Self, WordFreqError> {
        let format_err = |reason: String| WordFreqError::Format {
            path: path.display().to_string(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| WordFreqError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .map_err(|e| format_err(e.to_string()))?;
        let value = rmpv::decode::read_value(&mut bytes.as_slice())
            .map_err(|e| format_err(e.to_string()))?;
        let rmpv::Value::Array(items) = value else {
            return Err(format_err("the top level is not a list".into()));
        };
        let header_ok = items.first().and_then(|h| h.as_map()).is_some_and(|m| {
            m.iter()
                .any(|(k, v)| k.as_str() == Some("format") && v.as_str() == Some("cB"))
        });
        if !header_ok {
            return Err(format_err("no {format: cB} header".into()));
        }
        let mut zipf = FxHashMap::default();
        for (bin, words) in items[1..].iter().enumerate() {
            let Some(words) = words.as_array() else {
                return Err(format_err(format!("bin {bin} is not a list")));
            };
            let centi = 900u16.saturating_sub(bin as u16);
            for w in words {
                let Some(w) = w.as_str() else {
                    return Err(format_err(format!("bin {bin} holds a non-string")));
                };
                zipf.entry(w.into()).or_insert(centi);
            }
        }
        Ok(Self { zipf })
    }

    /// A table from explicit values (tests, tools).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, f32)>) -> Self {
        Self {
            zipf: pairs
                .into_iter()
                .map(|(w, z)| (w.into(), (z * 100.0).round() as u16))
                .collect(),
        }
    }

    /// Zipf frequency of a lower-case word; 0 for a word the table does not know.
    pub fn zipf(&self, word: &str) -> f32 {
        self.zipf.get(word).map_or(0.0, |&c| f32::from(c) / 100.0)
    }

    pub fn len(&self) -> usize {
        self.zipf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zipf.is_empty()
    }
}
