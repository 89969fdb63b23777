//! Text categories defined by example phrases, as image categories are defined by example
//! images (the `categories` module): a name, a severity, phrases of what to catch in any language
//! and counter-examples of innocent text that looks alike. Prompts, text read on screen and
//! speech transcripts are scored by the same code ([`MeaningModel::score`]): each passage is
//! embedded with multilingual-e5-small (`encoder`) and given to each category's head, a
//! logistic regression trained when the set loads on its examples against the innocent
//! phrases (the set's `innocent` list and every unsafe category's counter-examples); a passage
//! counts for a category when the head's probability reaches its `threshold`. Similarity to
//! the nearest example alone was tried first and flagged a third of innocent look-alikes:
//! e5's similarities sit between 0.8 and 0.9 for almost any two prompts, and what separates
//! "a naked girl" from "a girl playing piano" is a direction, not a distance (docs/meaning.md).
//! A category may be defined by others together (`all_of`): sexual content involving minors
//! counts only where "minors" and "sexual" both do, each by its own head, never by one
//! similarity to a few phrases.
//!
//! The default set ships in `policies/meaning/categories.yaml`; word lists could not do this
//! (issue 29: nine multilingual profanity lists caught at best 9 of 32 unsafe prompts).

pub mod admin;
pub mod encoder;
mod live;
pub mod tokenizer;

pub use admin::{
    TextCategories, TextCategoriesError, TextCategory, TextCategoryDef, TextCategoryList,
    TextCategorySource,
};
pub use encoder::TextEncoder;
pub use live::{LiveMeaning, TOKENIZER_DATA};
pub use tokenizer::{Tokenizer, TokenizerError};

use crate::vision::clip::cosine;
use crate::vision::VisionError;
use crate::vocab::{MeaningMatch, Meanings, Severity, TextSource};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum MeaningError {
    #[error("text categories {path}: {reason}")]
    Definition { path: String, reason: String },
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error(transparent)]
    Vision(#[from] VisionError),
    /// The admin's categories could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl crate::vocab::Failure for MeaningError {
    fn code(&self) -> crate::vocab::ErrorCode {
        match self {
            MeaningError::Definition { .. } => crate::vocab::ErrorCode::InvalidCategory,
            MeaningError::Tokenizer(_) | MeaningError::Vision(_) => {
                crate::vocab::ErrorCode::Inference
            }
            MeaningError::Store(e) => e.code(),
        }
    }
}

/// What a category's head must give for a passage to count (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// The head's probability (0-1) at or above which a passage counts.
    pub threshold: f32,
    /// For a category of severity 1 or more, how much nearer the passage must also be to the
    /// category's nearest example than to the nearest innocent phrase (cosine; negative: may be
    /// that much farther). A head alone reads a direction and flags text far from anything it
    /// was trained on; the nearest phrases agreeing cut look-alikes flagged by a third at the
    /// same recall (docs/meaning.md).
    #[serde(default = "no_margin")]
    pub margin: f32,
}

/// A set that names no margin: the head alone decides.
fn no_margin() -> f32 {
    f32::NEG_INFINITY
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetFile {
    version: u32,
    defaults: Thresholds,
    #[serde(default)]
    innocent: Vec<String>,
    categories: Vec<CategoryFile>,
}

/// A category as an admin or the shipped file defines it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryFile {
    pub name: String,
    pub severity: Severity,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub examples: Vec<String>,
    #[serde(default)]
    pub counter_examples: Vec<String>,
    /// Other categories that must all count for this one to.
    #[serde(default)]
    pub all_of: Vec<String>,
    /// The head's probability at which a passage counts, when not the set's default.
    pub threshold: Option<f32>,
}

/// A category needs this many example phrases: one is a phrase match, not a meaning.
pub const MIN_EXAMPLES: usize = 3;

/// A set of category definitions, checked, before it is embedded.
#[derive(Debug, Clone)]
pub struct Definitions {
    pub defaults: Thresholds,
    /// Innocent text of every kind, counter-examples of every category of severity 1 or more.
    pub innocent: Vec<String>,
    pub categories: Vec<CategoryFile>,
    /// A digest of the definitions as written.
    pub digest: String,
}

impl Definitions {
    pub fn load(path: &Path) -> Result<Self, MeaningError> {
        let text = std::fs::read_to_string(path).map_err(|e| MeaningError::Definition {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text).map_err(|reason| MeaningError::Definition {
            path: path.display().to_string(),
            reason,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let file: SetFile = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        if file.version != 1 {
            return Err(format!(
                "version {}: this build reads version 1",
                file.version
            ));
        }
        let defs = Self {
            defaults: file.defaults,
            innocent: file.innocent,
            categories: file.categories,
            digest: hex::encode(&Sha256::digest(text.as_bytes())[..8]),
        };
        defs.check()?;
        Ok(defs)
    }

    /// The version of the model these definitions make with the encoder `model_sha256`.
    pub fn version(&self, model_sha256: &str) -> String {
        hex::encode(&Sha256::digest(format!("{}\0{model_sha256}", self.digest).as_bytes())[..8])
    }

    fn check(&self) -> Result<(), String> {
        let mut seen: Vec<&str> = Vec::new();
        for c in &self.categories {
            if !crate::vision::manifest::is_identifier(&c.name) || c.name.len() > 64 {
                return Err(format!(
                    "name {:?}: use 1-64 lower-case letters, digits and _, starting with a letter \
                     (policies read it as prompt.meaning.<name>)",
                    c.name
                ));
            }
            if seen.contains(&c.name.as_str()) {
                return Err(format!("{}: defined twice", c.name));
            }
            if c.all_of.is_empty() {
                if c.examples.len() < MIN_EXAMPLES {
                    return Err(format!(
                        "{}: {} example phrases; a category needs at least {MIN_EXAMPLES}",
                        c.name,
                        c.examples.len()
                    ));
                }
            } else {
                if !c.examples.is_empty() || !c.counter_examples.is_empty() {
                    return Err(format!(
                        "{}: a category defined by others (all_of) has no phrases of its own",
                        c.name
                    ));
                }
                if let Some(p) = c.all_of.iter().find(|p| !seen.contains(&p.as_str())) {
                    return Err(format!(
                        "{}: all_of names {p:?}, which is not defined above it",
                        c.name
                    ));
                }
            }
            seen.push(&c.name);
        }
        Ok(())
    }
}

/// A phrase and its embedding.
#[derive(Debug, Clone)]
struct Phrase {
    text: String,
    embedding: Vec<f32>,
}

#[derive(Debug, Clone)]
enum Rule {
    Phrases {
        examples: Vec<Phrase>,
        /// For a category of severity 1 or more, the pooled innocent phrases (shared).
        counter_examples: std::sync::Arc<Vec<Phrase>>,
        head: Head,
        threshold: f32,
        margin: f32,
    },
    /// Indices of earlier categories that must all count.
    AllOf(Vec<usize>),
}

#[derive(Debug, Clone)]
struct Compiled {
    name: String,
    severity: Severity,
    rule: Rule,
}

/// One passage against one category.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub counts: bool,
    /// The head's probability; for `all_of`, the lowest of its parts'.
    pub score: f32,
    /// Cosine to the nearest example, and to the nearest innocent phrase.
    pub similarity: f32,
    pub counter_similarity: f32,
    pub example: String,
}

/// A passage of text to score, with where it came from.
#[derive(Debug, Clone)]
pub struct Passage {
    pub text: String,
    pub source: TextSource,
    pub start: usize,
    pub end: usize,
    pub time_s: f64,
    pub end_s: f64,
}

/// The embedded category set and the encoder that scores text against it.
#[derive(Clone)]
pub struct MeaningModel {
    encoder: std::sync::Arc<TextEncoder>,
    categories: Vec<Compiled>,
    /// The innocent phrases every category of severity 1 or more is trained against (kept for
    /// the categories an admin adds, `admin`).
    pooled: std::sync::Arc<Vec<Phrase>>,
    /// The threshold of a category that names none, and the set's margin.
    threshold: f32,
    margin: f32,
    /// The mean embedding of the set's phrases, which the heads' inputs are centred on.
    centre: Vec<f32>,
    /// Digest of the definitions and the encoder's sha256.
    pub version: String,
}

impl MeaningModel {
    /// Embeds every phrase of `defs` with `encoder` (`model_sha256` names its weights in the
    /// version).
    pub fn new(
        encoder: TextEncoder,
        defs: &Definitions,
        model_sha256: &str,
        cache: Option<&Path>,
    ) -> Result<Self, MeaningError> {
        let table = embed_phrases(&encoder, defs, model_sha256, cache)?;
        let embed = |texts: &[String]| -> Result<Vec<Phrase>, MeaningError> {
            Ok(texts
                .iter()
                .map(|t| Phrase {
                    text: t.clone(),
                    embedding: table[t.as_str()].clone(),
                })
                .collect())
        };
        // What no category of severity 1 or more may count: the innocent phrases and every
        // such category's counter-examples (a chef's knife is innocent for every category).
        let mut pooled: Vec<String> = defs.innocent.clone();
        for c in defs
            .categories
            .iter()
            .filter(|c| c.severity > Severity::SAFE)
        {
            pooled.extend(c.counter_examples.iter().cloned());
        }
        let pooled = std::sync::Arc::new(embed(&pooled)?);
        let mut embedded: Vec<(Vec<Phrase>, Option<Vec<Phrase>>)> = Vec::new();
        for c in &defs.categories {
            let own = (c.severity == Severity::SAFE && c.all_of.is_empty())
                .then(|| embed(&c.counter_examples))
                .transpose()?;
            embedded.push((embed(&c.examples)?, own));
        }
        // The heads see embeddings centred on the mean of every phrase that defines the set.
        let all: Vec<&[f32]> = pooled
            .iter()
            .chain(embedded.iter().flat_map(|(e, _)| e.iter()))
            .map(|p| p.embedding.as_slice())
            .collect();
        let centre = mean(&all);
        let mut categories: Vec<Compiled> = Vec::with_capacity(defs.categories.len());
        for (c, (examples, own)) in defs.categories.iter().zip(embedded) {
            let rule = if c.all_of.is_empty() {
                let counter_examples = match own {
                    Some(own) => std::sync::Arc::new(own),
                    None => pooled.clone(),
                };
                let head = Head::train(&examples, &counter_examples, &centre);
                Rule::Phrases {
                    examples,
                    counter_examples,
                    head,
                    threshold: c.threshold.unwrap_or(defs.defaults.threshold),
                    margin: defs.defaults.margin,
                }
            } else {
                Rule::AllOf(
                    c.all_of
                        .iter()
                        .filter_map(|p| categories.iter().position(|x| &x.name == p))
                        .collect(),
                )
            };
            categories.push(Compiled {
                name: c.name.clone(),
                severity: c.severity,
                rule,
            });
        }
        Ok(Self {
            encoder: std::sync::Arc::new(encoder),
            categories,
            pooled,
            threshold: defs.defaults.threshold,
            margin: defs.defaults.margin,
            centre,
            version: defs.version(model_sha256),
        })
    }

    pub fn encoder(&self) -> &TextEncoder {
        &self.encoder
    }

    /// Each category's standing for one embedding, in the set's order.
    pub fn standings(&self, embedding: &[f32]) -> Vec<(&str, Severity, Standing)> {
        let mut out: Vec<(&str, Severity, Standing)> = Vec::with_capacity(self.categories.len());
        // Categories of severity 1 or more share one list of innocent phrases (the bulk of
        // the set): its nearest phrase is found once.
        let mut innocent: Option<(*const Vec<Phrase>, f32)> = None;
        for c in &self.categories {
            let standing = match &c.rule {
                Rule::Phrases {
                    examples,
                    counter_examples,
                    head,
                    threshold,
                    margin,
                } => {
                    let score = head.probability(embedding, &self.centre);
                    let (similarity, example) = nearest(examples, embedding);
                    let counter_similarity = match innocent {
                        Some((list, s)) if std::ptr::eq(list, counter_examples.as_ref()) => s,
                        _ => {
                            let s = nearest(counter_examples, embedding).0;
                            innocent = Some((counter_examples.as_ref(), s));
                            s
                        }
                    };
                    // A signal (severity 0) is read by its head alone: text about a teenager is
                    // always near some innocent phrase about teenagers.
                    let near =
                        c.severity == Severity::SAFE || similarity - counter_similarity >= *margin;
                    Standing {
                        counts: score >= *threshold && near,
                        score,
                        similarity,
                        counter_similarity,
                        example,
                    }
                }
                Rule::AllOf(parts) => {
                    let parts: Vec<&Standing> = parts.iter().map(|&i| &out[i].2).collect();
                    Standing {
                        counts: parts.iter().all(|p| p.counts),
                        score: parts.iter().map(|p| p.score).fold(f32::INFINITY, f32::min),
                        similarity: parts
                            .iter()
                            .map(|p| p.similarity)
                            .fold(f32::INFINITY, f32::min),
                        counter_similarity: parts
                            .iter()
                            .map(|p| p.counter_similarity)
                            .fold(0.0, f32::max),
                        example: parts
                            .iter()
                            .map(|p| p.example.as_str())
                            .collect::<Vec<_>>()
                            .join(" + "),
                    }
                }
            };
            out.push((&c.name, c.severity, standing));
        }
        out
    }

    /// Every passage scored in one call to the encoder; for each category that some passage
    /// counted for, the passage of the highest score.
    pub fn score(&self, passages: &[Passage]) -> Result<Meanings, MeaningError> {
        let texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
        if texts.is_empty() {
            return Ok(Meanings::new());
        }
        let embeddings = self.encoder.embed(&texts)?;
        let mut found = Meanings::new();
        for (p, e) in passages.iter().zip(&embeddings) {
            for (name, severity, s) in self.standings(e) {
                if !s.counts {
                    continue;
                }
                let m = MeaningMatch {
                    severity,
                    score: widen(s.score),
                    similarity: widen(s.similarity),
                    counter_similarity: widen(s.counter_similarity),
                    example: s.example,
                    source: p.source,
                    text: p.text.clone(),
                    start: p.start,
                    end: p.end,
                    time_s: p.time_s,
                    end_s: p.end_s,
                };
                crate::vocab::merge_meanings(&mut found, [(name.to_string(), m)].into());
            }
        }
        Ok(found)
    }
}

/// Every phrase of `defs` embedded, by text: read from `cache` (a folder) when an earlier load
/// of the same phrases with the same encoder wrote them there, else embedded now (about 10 ms
/// a phrase on a busy core: the bulk of the first load) and written for the next process. A
/// cache that cannot be read or written is only a slower start.
fn embed_phrases(
    encoder: &TextEncoder,
    defs: &Definitions,
    model_sha256: &str,
    cache: Option<&Path>,
) -> Result<std::collections::HashMap<String, Vec<f32>>, MeaningError> {
    let mut texts: Vec<&str> = defs.innocent.iter().map(String::as_str).collect();
    for c in &defs.categories {
        texts.extend(c.examples.iter().map(String::as_str));
        texts.extend(c.counter_examples.iter().map(String::as_str));
    }
    let mut seen = std::collections::HashSet::new();
    texts.retain(|t| seen.insert(*t));
    let mut h = Sha256::new();
    h.update(model_sha256.as_bytes());
    for t in &texts {
        h.update(b"\0");
        h.update(t.as_bytes());
    }
    let file = cache.map(|dir| dir.join(format!("{}.f32", hex::encode(&h.finalize()[..12]))));
    let dim = encoder::DIM;
    let cached = file
        .as_ref()
        .and_then(|f| std::fs::read(f).ok())
        .filter(|b| b.len() == texts.len() * dim * 4)
        .map(|b| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect::<Vec<f32>>()
                .chunks(dim)
                .map(<[f32]>::to_vec)
                .collect::<Vec<_>>()
        });
    let embeddings = match cached {
        Some(e) => e,
        None => {
            let mut e = Vec::with_capacity(texts.len());
            for chunk in texts.chunks(32) {
                e.extend(encoder.embed(chunk)?);
            }
            if let Some(f) = &file {
                let bytes: Vec<u8> = e.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
                // Named by the process: replicas (or tests) sharing the folder never write into one
                // temporary file together.
                let tmp = f.with_extension(format!("{}.tmp", std::process::id()));
                let written = f
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| std::fs::write(&tmp, bytes))
                    .and_then(|()| std::fs::rename(&tmp, f));
                if let Err(e) = written {
                    tracing::warn!(path = %f.display(), error = %e, "cannot cache the text categories' embeddings");
                }
            }
            e
        }
    };
    Ok(texts
        .into_iter()
        .map(str::to_string)
        .zip(embeddings)
        .collect())
}

/// The training of a head: full-batch gradient descent on the logistic loss with a little L2,
/// examples weighted up to the innocent phrases' number (measured on the shipped set and
/// 61 prompts written beside it: 300 steps give the probabilities 3,000 do, within 0.02).
const STEPS: usize = 300;
const RATE: f64 = 2.0;
const L2: f64 = 1e-3;
/// Centred embeddings differ by a few hundredths per dimension: scaled so the steps move.
const SCALE: f32 = 8.0;

/// A logistic regression on a centred, scaled embedding: deterministic, trained in a fraction
/// of a second when the set loads.
#[derive(Debug, Clone)]
struct Head {
    weights: Vec<f64>,
    bias: f64,
}

impl Head {
    fn train(examples: &[Phrase], innocent: &[Phrase], centre: &[f32]) -> Self {
        let rows: Vec<(Vec<f64>, f64, f64)> = examples
            .iter()
            .map(|p| (p, 1.0, innocent.len() as f64 / examples.len().max(1) as f64))
            .chain(innocent.iter().map(|p| (p, 0.0, 1.0)))
            .map(|(p, y, weight)| (features(&p.embedding, centre), y, weight))
            .collect();
        let n = rows.len().max(1) as f64;
        let dim = centre.len();
        let (mut weights, mut bias) = (vec![0.0f64; dim], 0.0f64);
        for _ in 0..STEPS {
            let mut grad = vec![0.0f64; dim];
            let mut grad_bias = 0.0;
            for (x, y, weight) in &rows {
                let z: f64 = x.iter().zip(&weights).map(|(a, b)| a * b).sum::<f64>() + bias;
                let g = (sigmoid(z) - y) * weight;
                grad.iter_mut().zip(x).for_each(|(d, v)| *d += g * v);
                grad_bias += g;
            }
            for (w, d) in weights.iter_mut().zip(&grad) {
                *w -= RATE * (d / n + L2 * *w);
            }
            bias -= RATE * grad_bias / n;
        }
        Self { weights, bias }
    }

    fn probability(&self, embedding: &[f32], centre: &[f32]) -> f32 {
        let x = features(embedding, centre);
        let z: f64 = x.iter().zip(&self.weights).map(|(a, b)| a * b).sum::<f64>() + self.bias;
        sigmoid(z) as f32
    }
}

fn features(embedding: &[f32], centre: &[f32]) -> Vec<f64> {
    embedding
        .iter()
        .zip(centre)
        .map(|(v, c)| f64::from((v - c) * SCALE))
        .collect()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn mean(rows: &[&[f32]]) -> Vec<f32> {
    let dim = rows.first().map_or(0, |r| r.len());
    let mut out = vec![0.0f32; dim];
    for r in rows {
        out.iter_mut().zip(*r).for_each(|(o, v)| *o += v);
    }
    out.iter_mut().for_each(|o| *o /= rows.len().max(1) as f32);
    out
}

/// The cosine to the nearest phrase and that phrase (0 and none for an empty list).
fn nearest(phrases: &[Phrase], embedding: &[f32]) -> (f32, String) {
    phrases
        .iter()
        .map(|p| (cosine(&p.embedding, embedding), p))
        .fold(None, |best: Option<(f32, &Phrase)>, (s, p)| match best {
            Some((b, _)) if b >= s => best,
            _ => Some((s, p)),
        })
        .map_or((0.0, String::new()), |(s, p)| (s, p.text.clone()))
}

/// An f32 score as the f64 its shortest decimal reads as (0.85, not 0.8500000238...).
fn widen(v: f32) -> f64 {
    crate::vocab::widen(v)
}

/// The passages of a prompt: the whole of it, and each of its sentences when it has several
/// (a harmless sentence beside an unsafe one must not dilute it), with their byte ranges.
pub fn prompt_passages(prompt: &str) -> Vec<Passage> {
    let whole = Passage {
        text: prompt.to_string(),
        source: TextSource::Prompt,
        start: 0,
        end: prompt.len(),
        time_s: 0.0,
        end_s: 0.0,
    };
    let mut out = vec![whole];
    let sentences = sentences(prompt);
    if sentences.len() > 1 {
        out.extend(sentences.into_iter().map(|(start, end)| Passage {
            text: prompt[start..end].to_string(),
            source: TextSource::Prompt,
            start,
            end,
            time_s: 0.0,
            end_s: 0.0,
        }));
    }
    out
}

/// Byte ranges of the sentences of `text` (split after . ! ? ; and their full-width and
/// Devanagari forms, and at line breaks), trimmed, empty ones left out.
pub fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let push = |s: usize, e: usize, out: &mut Vec<(usize, usize)>| {
        let piece = &text[s..e];
        let lead = piece.len() - piece.trim_start().len();
        let trimmed = piece.trim();
        if trimmed.chars().any(char::is_alphanumeric) {
            out.push((s + lead, s + lead + trimmed.len()));
        }
    };
    for (i, c) in text.char_indices() {
        if matches!(
            c,
            '.' | '!' | '?' | ';' | '\n' | '。' | '！' | '？' | '；' | '।' | '؟'
        ) {
            let end = i + c.len_utf8();
            push(start, end, &mut out);
            start = end;
        }
    }
    push(start, text.len(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_checked() {
        let ok = "version: 1\ndefaults: {threshold: 0.5, margin: -0.01}\ncategories:\n\
                  - {name: minors, severity: 0, examples: [a, b, c]}\n\
                  - {name: sexual, severity: 2, examples: [a, b, c], counter_examples: [d]}\n\
                  - {name: both, severity: 3, all_of: [minors, sexual]}\n";
        let d = Definitions::parse(ok).unwrap();
        assert_eq!(d.categories.len(), 3);
        assert_eq!(d.digest.len(), 16);
        for (bad, why) in [
            (ok.replace("severity: 3", "severity: 4"), "severity 4"),
            (ok.replace("name: both", "name: Both"), "lower-case"),
            (
                ok.replace("[minors, sexual]", "[minors, later]"),
                "not defined",
            ),
            (
                ok.replace("examples: [a, b, c]}", "examples: [a, b]}"),
                "at least 3",
            ),
            (ok.replace("name: sexual", "name: minors"), "twice"),
        ] {
            let e = Definitions::parse(&bad).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
    }

    #[test]
    fn the_shipped_set_reads() {
        let d = Definitions::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/meaning/categories.yaml"),
        )
        .unwrap();
        for name in [
            "sexual",
            "sexual_minors",
            "violence_gore",
            "self_harm",
            "hate",
            "weapons",
            "drugs",
        ] {
            let c = d.categories.iter().find(|c| c.name == name).unwrap();
            assert!(c.severity > Severity::SAFE, "{name}");
        }
    }

    #[test]
    fn sentences_split_at_stops_in_several_scripts() {
        let t = "A cat on a sofa. Then, she is naked! 猫在沙发上。 ok";
        let s: Vec<&str> = sentences(t).iter().map(|&(a, b)| &t[a..b]).collect();
        assert_eq!(
            s,
            [
                "A cat on a sofa.",
                "Then, she is naked!",
                "猫在沙发上。",
                "ok"
            ]
        );
        assert_eq!(prompt_passages("one sentence").len(), 1);
        assert_eq!(prompt_passages("One. Two.").len(), 3);
    }
}
