//! What text means, by category: a prompt, a caption on screen or a spoken sentence scored
//! against text categories defined by example phrases (the `meaning` module), whatever its
//! language.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How serious a category is, as Azure AI Content Safety reports it (0/2/4/6) on four levels:
/// 0 safe (a signal others are built from, never a reason alone), 1 low, 2 medium, 3 high.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(try_from = "u8", into = "u8")]
pub struct Severity(u8);

impl Severity {
    pub const SAFE: Severity = Severity(0);
    pub const LOW: Severity = Severity(1);
    pub const MEDIUM: Severity = Severity(2);
    pub const HIGH: Severity = Severity(3);

    pub fn level(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Severity {
    type Error = String;

    fn try_from(v: u8) -> Result<Self, String> {
        if v <= 3 {
            Ok(Severity(v))
        } else {
            Err(format!(
                "severity {v}: use 0 (safe), 1 (low), 2 (medium) or 3 (high)"
            ))
        }
    }
}

impl From<Severity> for u8 {
    fn from(s: Severity) -> u8 {
        s.0
    }
}

/// Where a text that was scored came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextSource {
    #[default]
    Prompt,
    /// Text read on screen (a track of `signals.text`).
    Screen,
    /// A transcript of what is said (a segment of `signals.speech`).
    Speech,
}

/// A category a text counted for, at the passage that counted most.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MeaningMatch {
    pub severity: Severity,
    /// How sure the category's head is (0-1; it counts from its threshold, 0.5 by default);
    /// for a category defined by others together (`all_of`), the lowest of theirs.
    pub score: f64,
    /// Cosine similarity (e5 embeddings) to the nearest example phrase, and to the nearest
    /// innocent phrase: for reviewers, not decisions.
    pub similarity: f64,
    pub counter_similarity: f64,
    /// The example phrase nearest (for `all_of`, each part's joined by ` + `).
    pub example: String,
    pub source: TextSource,
    /// The passage: its text, its byte range in the prompt (prompt only), and when it was on
    /// screen or said (clip only).
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub time_s: f64,
    pub end_s: f64,
}

/// Each category a text counted for, by name: `prompt.meaning.sexual_minors.severity`.
pub type Meanings = BTreeMap<String, MeaningMatch>;

/// Keeps, for each category, the match of the higher score.
pub fn merge_meanings(into: &mut Meanings, found: Meanings) {
    for (name, m) in found {
        match into.get(&name) {
            Some(old) if old.score >= m.score => {}
            _ => {
                into.insert(name, m);
            }
        }
    }
}
