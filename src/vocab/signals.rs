//! What screening saw, as plain data: per-frame detections with times and boxes, and clip-level
//! aggregates. Policies read these; nothing here decides.

use super::{
    Action, BBox, Embedding, Face, FaceMatch, FramePdq, Meanings, MediaInfo, ModelInfo, NameMatch,
    NameStrength, PersonId, PersonKind, SampleReason, SamplingStats, Scratch, Sections, TermMatch,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Signals {
    pub media: MediaInfo,
    pub sampling: SamplingStats,
    pub frames: Vec<FrameDetections>,
    pub models: Vec<ModelInfo>,
    pub timings: StageTimings,
    /// Each analyser's own section, under its key (`nudity`, `faces`, `persons`, `text`,
    /// `provenance`, ...): written by the analyser, read by policies through its schema.
    #[serde(flatten)]
    pub sections: Sections,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FrameDetections {
    pub index: u64,
    pub time_s: f64,
    pub reasons: Vec<SampleReason>,
    /// Set when this frame was a near-duplicate of an analysed frame, whose detections it carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<u64>,
    /// Each analyser's own findings in this frame, under its key (`nudity`, `faces`, `pdq`...).
    #[serde(flatten)]
    pub parts: Sections,
    /// Analysers' working data for the frame that stays in the process (face embeddings).
    #[serde(skip)]
    pub scratch: Scratch,
}

impl FrameDetections {
    /// A frame nothing has looked at yet.
    pub fn new(index: u64, time_s: f64, reasons: Vec<SampleReason>) -> Self {
        Self {
            index,
            time_s,
            reasons,
            duplicate_of: None,
            parts: Sections::default(),
            scratch: Scratch::default(),
        }
    }

    /// The frame's PDQ hashes, whole and of its central 90% (absent when it was not hashed).
    /// Read by the hashes analyser's decision-time matching and by the banks, which bank a
    /// decided clip's frames.
    pub fn pdq(&self) -> (Option<FramePdq>, Option<FramePdq>) {
        let get = |key| self.parts.get::<Option<FramePdq>>(key).ok().flatten();
        (get(PDQ_KEY), get(PDQ_CENTRE_KEY))
    }
}

/// Where the hashes analyser writes a frame's PDQ hash (`frames[].pdq`), and that of its
/// central 90% (`frames[].pdq_centre`, banked with it so that a re-upload with its borders
/// cropped off is recognised).
pub const PDQ_KEY: &str = "pdq";
pub const PDQ_CENTRE_KEY: &str = "pdq_centre";

/// A frame against a category: cosine similarity (CLIP image embeddings) to the nearest
/// example and to the nearest counter-example (0 when none are defined). The frame counts for
/// the category only where the first is higher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CategoryScore {
    pub score: f32,
    pub counter_score: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaceDetection {
    #[serde(flatten)]
    pub face: Face,
    /// Too small to embed reliably: seen, but not usable for likeness matching.
    pub too_small: bool,
    /// The registered person this face matched, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<FaceMatch>,
    /// The face's embedding (absent when too small). Kept out of JSON: it is bulky and
    /// biometric; matching happens in-process.
    #[serde(skip)]
    pub embedding: Option<Embedding>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ClassPeak {
    pub max_score: f64,
    pub time_s: f64,
    /// Sampled frames in which the class was detected.
    pub frames: u32,
    /// Where the peak was, in the frame at `time_s`.
    pub bbox: BBox,
}

/// A score's highest value over the clip, and the frame it came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ScorePeak {
    pub max_score: f64,
    pub time_s: f64,
    /// The sampled frame's index.
    pub frame: u64,
}

/// A category defined by example, at the frame most like one of its examples. A frame counts
/// only where it is nearer an example than every counter-example.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CategoryPeak {
    /// Cosine similarity (CLIP image embeddings) to the nearest example, 0 when no frame
    /// counted.
    pub score: f64,
    /// Cosine similarity of that frame to the nearest counter-example (0 when none defined).
    pub counter_score: f64,
    pub time_s: f64,
    pub frame: u64,
    /// Frames looked at that counted for the category.
    pub frames: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct FaceSummary {
    pub frames_with_faces: u32,
    pub max_faces_in_frame: u32,
    pub faces_embedded: u32,
    pub faces_too_small: u32,
}

/// On-screen text over the clip: each distinct line once with when it was on screen, and the
/// registered persons and listed terms it names (matched as prompts are).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TextSignals {
    pub tracks: Vec<TextTrack>,
    pub persons: Vec<TextNameMatch>,
    pub terms: Vec<TextTermMatch>,
}

/// The same text read in one or more analysed frames.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TextTrack {
    pub text: String,
    /// The best reading's score (0-1).
    pub score: f64,
    /// Analysed frames it was read in.
    pub frames: u32,
    pub first_s: f64,
    pub last_s: f64,
    /// Where it was first read.
    pub bbox: BBox,
}

/// A bank item (a banked clip's frames, or one banked image) that the clip matches, measured
/// as vPDQ does: the share of the clip's frames that match the item, and the share of the
/// item's hashes that the clip matches. A re-upload of a banked clip scores high on both; a
/// banked clip cut into a longer one scores high on `bank_share`; a banked image shown in a
/// clip has `bank_share` 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct HashMatch {
    pub bank: String,
    /// Where the bank's hashes came from (a ThreatExchange privacy group, decisions...).
    pub source: String,
    /// What the bank's owner wants done with matching content.
    pub action: Action,
    /// The item matched: `decision:<id>` for a decided clip's frames, or the item named in
    /// the imported file (its third column, else `line:<n>`).
    pub item: String,
    /// Distinct hashed frames of the clip that match one of the item's hashes (quality at
    /// least the floor), and their share of all such frames (0-1).
    pub frames: u32,
    pub query_share: f64,
    /// Share of the item's distinct hashes that one of the clip's frames matches (0-1).
    pub bank_share: f64,
    /// The smallest Hamming distance between a clip frame and the item (0-256).
    pub best_distance: u32,
    /// When the first and last matching frames are.
    pub first_s: f64,
    pub last_s: f64,
}

impl Default for HashMatch {
    fn default() -> Self {
        Self {
            bank: String::new(),
            source: String::new(),
            action: Action::Block,
            item: String::new(),
            frames: 0,
            query_share: 0.0,
            bank_share: 0.0,
            best_distance: 0,
            first_s: 0.0,
            last_s: 0.0,
        }
    }
}

/// A registered person named on screen: the name match, and the line and times it was in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TextNameMatch {
    pub person_id: PersonId,
    pub name: String,
    pub kind: PersonKind,
    pub allowed_users: Vec<String>,
    pub alias: String,
    pub strength: NameStrength,
    /// As for prompts: how likely the text means this person (0-1), and why.
    pub score: f64,
    pub reasons: Vec<String>,
    pub exact: bool,
    /// The words that named them, and the whole line.
    pub text: String,
    pub line: String,
    pub first_s: f64,
    pub last_s: f64,
    pub bbox: BBox,
}

impl TextNameMatch {
    pub fn new(m: NameMatch, track: &TextTrack) -> Self {
        Self {
            person_id: m.person_id,
            name: m.name,
            kind: m.kind,
            allowed_users: m.allowed_users,
            alias: m.alias,
            strength: m.strength,
            score: m.score,
            reasons: m.reasons,
            exact: m.exact,
            text: m.text,
            line: track.text.clone(),
            first_s: track.first_s,
            last_s: track.last_s,
            bbox: track.bbox,
        }
    }
}

/// A listed term on screen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TextTermMatch {
    pub category: String,
    pub term: String,
    pub text: String,
    pub line: String,
    pub first_s: f64,
    pub last_s: f64,
}

impl TextTermMatch {
    pub fn new(t: TermMatch, track: &TextTrack) -> Self {
        Self {
            category: t.category,
            term: t.term,
            text: t.text,
            line: track.text.clone(),
            first_s: track.first_s,
            last_s: track.last_s,
        }
    }
}

/// What a prompt says: persons named and listed terms, with spans in the original text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PromptSignals {
    /// The prompt as screened: the spans below are byte offsets into it, so a reviewer sees
    /// each match in place. (Empty in decisions logged before it was kept.)
    #[serde(default)]
    pub text: String,
    pub persons: Vec<NameMatch>,
    pub terms: Vec<TermMatch>,
    /// The text categories the prompt counted for (absent in decisions logged before).
    #[serde(default)]
    pub meaning: Meanings,
    /// The version of the text category set it was scored against (absent when meaning is
    /// off, and in decisions logged before): it moves when an admin adds or deletes one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub meaning_version: String,
}

/// Wall-clock milliseconds per stage. Decoding overlaps inference, so stages can add up to
/// more than `total_ms`. Each analyser reports its own stages (`nudity_ms`, `faces_ms`,
/// `embed_ms`...), flattened beside the fixed ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StageTimings {
    pub probe_ms: f64,
    pub decode_ms: f64,
    pub sample_ms: f64,
    pub total_ms: f64,
    #[serde(flatten)]
    pub stages: BTreeMap<String, f64>,
}

impl StageTimings {
    /// Adds `ms` to an analyser's stage.
    pub fn add(&mut self, stage: &str, ms: f64) {
        *self.stages.entry(format!("{stage}_ms")).or_default() += ms;
    }

    /// An analyser stage's total, 0 when the stage did not run.
    pub fn stage_ms(&self, stage: &str) -> f64 {
        self.stages
            .get(&format!("{stage}_ms"))
            .copied()
            .unwrap_or_default()
    }

    /// Adds every analyser stage of `other` to this one.
    pub fn merge(&mut self, other: &StageTimings) {
        for (k, v) in &other.stages {
            *self.stages.entry(k.clone()).or_default() += v;
        }
    }

    /// Every stage with its milliseconds: the fixed ones, then the analysers' in name order.
    pub fn all(&self) -> Vec<(&str, f64)> {
        let mut out = vec![
            ("probe", self.probe_ms),
            ("decode", self.decode_ms),
            ("sampling", self.sample_ms),
        ];
        out.extend(
            self.stages
                .iter()
                .map(|(k, v)| (k.strip_suffix("_ms").unwrap_or(k), *v)),
        );
        out
    }
}

/// A model's f32 as the f64 with the same shortest decimal form (0.35f32 becomes 0.35, not
/// 0.3499999940...), so thresholds written in policies compare as people expect.
pub fn widen(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(x as f64)
}
