//! English word frequencies from the `wordfreq` package's data (`large_en.msgpack.gz`, CC-BY-SA
//! 4.0), fetched at set-up and listed in `models/models.toml` as `[[data]] name = "wordfreq-en"`.
//! The name matcher uses them to tell a name that is also an ordinary word ("Stone", "Prince")
//! from one that is not ("Lorde"), and a typo of a name from a real word.
//!
//! With them, how often two words occur together: the 286,358 most frequent word pairs of
//! Google's Web 1T corpus (Peter Norvig's counts, 100,000 occurrences or more in about 10^12
//! words), as the `wordsegment` package ships them (`bigrams.txt`, `[[data]] name =
//! "wordsegment-bigrams"`). A multi-word name that is itself a common phrase ("ice cube") is
//! told from one whose words are merely frequent ("eileen collins") by these, not by each word.
//!
//! And given names: the first names of the 1990 US Census (`names` package, MIT; the data are
//! public domain), so that a frequent pair that starts with a given name ("michael jackson",
//! "will smith") is read as a name, not a phrase.
//!
//! And a dictionary: SCOWL's American English list (Debian's `wamerican`, `[[data]] name =
//! "english-dictionary"`), whose lower-case entries are the ordinary words. Frequency cannot
//! tell a one-word name that is a word ("sting", "drake") from one that is only a name but
//! written often ("rihanna", "madonna": both above "usher" on the web); a dictionary can.

use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::io::Read;
use std::path::Path;

/// The manifest entry that names the file.
pub const ENTRY: &str = "wordfreq-en";
/// The manifest entry that names the word pairs.
pub const PHRASES_ENTRY: &str = "wordsegment-bigrams";
/// The manifest entries that name the census's male and female first names.
pub const GIVEN_NAMES_ENTRIES: [&str; 2] = ["census-male-first", "census-female-first"];
/// The manifest entry that names the dictionary.
pub const DICTIONARY_ENTRY: &str = "english-dictionary";
/// A census first name counts as a given name from this share of people (percent): "Grace"
/// 0.189, "Eileen" 0.105, "Al" 0.023, "Will" 0.018 (the census counts "William" apart), against
/// "Young" 0.010 and "Major" 0.007, rarer as names than as words.
const GIVEN_NAME_MIN_PERCENT: f64 = 0.015;
/// Words in the corpus the pair counts come from (Norvig, "Natural Language Corpus Data").
const PHRASE_CORPUS_WORDS: f64 = 1.024_908_267_229e12;

#[derive(Debug, thiserror::Error)]
pub enum WordFreqError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} has no [[data]] entry named {entry:?} (run `make setup`)")]
    NoEntry { path: String, entry: &'static str },
    #[error("sha256 mismatch for {path}: expected {expected}, actual {actual} (run `make setup`)")]
    Hash {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("{path} is not a wordfreq cB table: {reason}")]
    Format { path: String, reason: String },
    #[error("{path} line {line} is not `word word<TAB>count`")]
    PhraseFormat { path: String, line: usize },
    #[error("{path} line {line} is not `NAME frequency cumulative rank`")]
    GivenFormat { path: String, line: usize },
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
    /// Zipf frequency of each listed pair of lower-case words, by the hash of "first second",
    /// sorted by hash (about 4.6 MB for the whole list).
    phrases: Vec<(u64, u16)>,
    /// Given names, lower case.
    given: rustc_hash::FxHashSet<Box<str>>,
    /// The dictionary's lower-case entries: the ordinary words.
    dictionary: rustc_hash::FxHashSet<Box<str>>,
}

impl WordFrequencies {
    /// The files named by `manifest`'s `wordfreq-en` and `wordsegment-bigrams` entries under
    /// `dir`, each verified by sha256.
    pub fn from_manifest(manifest: &Path, dir: &Path) -> Result<Self, WordFreqError> {
        let read_err = |path: &Path, e: &dyn std::fmt::Display| WordFreqError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let text = std::fs::read_to_string(manifest).map_err(|e| read_err(manifest, &e))?;
        let file: ManifestFile = toml::from_str(&text).map_err(|e| read_err(manifest, &e))?;
        let verified = |entry: &'static str| -> Result<std::path::PathBuf, WordFreqError> {
            let e = file.data.iter().find(|d| d.name == entry).ok_or_else(|| {
                WordFreqError::NoEntry {
                    path: manifest.display().to_string(),
                    entry,
                }
            })?;
            let path = dir.join(&e.file);
            let actual = crate::digest::sha256_file(&path).map_err(|x| read_err(&path, &x))?;
            if actual != e.sha256 {
                return Err(WordFreqError::Hash {
                    path: path.display().to_string(),
                    expected: e.sha256.clone(),
                    actual,
                });
            }
            Ok(path)
        };
        let mut words = Self::load(&verified(ENTRY)?)?;
        words.load_phrases(&verified(PHRASES_ENTRY)?)?;
        for entry in GIVEN_NAMES_ENTRIES {
            words.load_given_names(&verified(entry)?)?;
        }
        words.load_dictionary(&verified(DICTIONARY_ENTRY)?)?;
        Ok(words)
    }

    /// Reads a word list, one word a line, keeping the entries that start in lower case (the
    /// capitalised ones are names: "Madonna", "Adele") and leaving out possessives.
    pub fn load_dictionary(&mut self, path: &Path) -> Result<(), WordFreqError> {
        let text = std::fs::read_to_string(path).map_err(|e| WordFreqError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.dictionary = text
            .lines()
            .map(str::trim)
            .filter(|w| w.chars().next().is_some_and(char::is_lowercase) && !w.contains('\''))
            .map(Box::from)
            .collect();
        Ok(())
    }

    /// Reads a census first-name list: `NAME  frequency  cumulative  rank` a line.
    pub fn load_given_names(&mut self, path: &Path) -> Result<(), WordFreqError> {
        let text = std::fs::read_to_string(path).map_err(|e| WordFreqError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        for (n, line) in text.lines().enumerate() {
            let mut fields = line.split_whitespace();
            let name = fields
                .next()
                .filter(|w| w.bytes().all(|b| b.is_ascii_alphabetic()));
            let percent = fields.next().and_then(|f| f.parse::<f64>().ok());
            let (Some(name), Some(percent)) = (name, percent) else {
                return Err(WordFreqError::GivenFormat {
                    path: path.display().to_string(),
                    line: n + 1,
                });
            };
            if percent >= GIVEN_NAME_MIN_PERCENT {
                self.given.insert(name.to_ascii_lowercase().into());
            }
        }
        Ok(())
    }

    /// Reads `bigrams.txt`: one `first second<TAB>count` a line.
    pub fn load_phrases(&mut self, path: &Path) -> Result<(), WordFreqError> {
        let text = std::fs::read_to_string(path).map_err(|e| WordFreqError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut phrases = Vec::with_capacity(text.len() / 18);
        for (n, line) in text.lines().enumerate() {
            let bad = || WordFreqError::PhraseFormat {
                path: path.display().to_string(),
                line: n + 1,
            };
            let (pair, count) = line.split_once('\t').ok_or_else(bad)?;
            let count: f64 = count.trim().parse().map_err(|_| bad())?;
            let (a, b) = pair.split_once(' ').ok_or_else(bad)?;
            let zipf = (count / PHRASE_CORPUS_WORDS * 1e9).log10().max(0.0);
            phrases.push((pair_hash(a, b), (zipf * 100.0).round() as u16));
        }
        phrases.sort_unstable();
        phrases.dedup_by_key(|p| p.0);
        self.phrases = phrases;
        Ok(())
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
        Ok(Self {
            zipf,
            ..Self::default()
        })
    }

    /// A table from explicit values (tests, tools).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, f32)>) -> Self {
        Self {
            zipf: pairs
                .into_iter()
                .map(|(w, z)| (w.into(), (z * 100.0).round() as u16))
                .collect(),
            phrases: Vec::new(),
            given: Default::default(),
            dictionary: Default::default(),
        }
    }

    /// The same table with these ordinary words, as the dictionary lists them (tests, tools).
    pub fn with_dictionary<'a>(mut self, words: impl IntoIterator<Item = &'a str>) -> Self {
        self.dictionary.extend(words.into_iter().map(Box::from));
        self
    }

    /// Whether a lower-case word is an ordinary word: a lower-case entry of the dictionary.
    pub fn is_ordinary_word(&self, word: &str) -> bool {
        self.dictionary.contains(word)
    }

    /// The same table with these given names (tests, tools).
    pub fn with_given_names<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Self {
        self.given.extend(names.into_iter().map(Box::from));
        self
    }

    /// Whether a lower-case word is a given name of the census lists.
    pub fn is_given_name(&self, word: &str) -> bool {
        self.given.contains(word)
    }

    /// The same table with explicit phrase frequencies ("ice cube", 2.2) (tests, tools).
    pub fn with_phrases<'a>(mut self, pairs: impl IntoIterator<Item = (&'a str, f32)>) -> Self {
        for (p, z) in pairs {
            let (a, b) = p.split_once(' ').unwrap_or((p, ""));
            self.phrases
                .push((pair_hash(a, b), (z * 100.0).round() as u16));
        }
        self.phrases.sort_unstable();
        self
    }

    /// Zipf frequency of the two lower-case words written together ("ice cube"); 0 for a
    /// pair the list does not hold (fewer than about 100 in a billion words).
    pub fn phrase_zipf(&self, first: &str, second: &str) -> f32 {
        let h = pair_hash(first, second);
        let at = self.phrases.partition_point(|p| p.0 < h);
        match self.phrases.get(at) {
            Some(&(x, c)) if x == h => f32::from(c) / 100.0,
            _ => 0.0,
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

fn pair_hash(first: &str, second: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    first.hash(&mut h);
    second.hash(&mut h);
    h.finish()
}
