//! What a policy sees: clip aggregates, prompt signals and the request.
//! Compact on purpose: rules read clip-level aggregates (peaks with their time and box, persons
//! with their best match), which keeps evaluation to microseconds and fixtures short.

use crate::vocab::TermMatch;
use crate::vocab::{
    CheckRequest, Coverage, Decision, Meanings, NameMatch, PromptSignals, Sections, Signals,
};
use serde::{Deserialize, Serialize};

/// The request being decided: who asks, and what they declare.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestContext {
    pub user: String,
    /// Person ids the requester declares consent for. Declared, not verified: the registry's
    /// allowed users are the verified consent.
    pub consents: Vec<i64>,
}

/// The clip as policies see it. (Unknown fields land in `sections`, where the policy's
/// [`super::Schema::complete`] refuses a key no analyser writes.)
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClipView {
    /// False for a prompt-only check.
    pub present: bool,
    pub duration_s: f64,
    pub frames_analysed: u64,
    /// Frames picked but left unanalysed because the per-clip budget ran out.
    pub frames_over_budget: u64,
    /// How much of the clip was seen: a clip not fully decoded cleanly must not be allowed.
    pub coverage: CoverageView,
    /// The analysers' own sections (`faces`, `persons`, `text`, `provenance`...), as their
    /// analysers wrote them; each analyser's schema says how policies see its own.
    #[serde(flatten)]
    pub sections: Sections,
}

/// The clip's coverage as policies see it (the full detail stays in the decision's signals).
/// Screening always fills it in; a fixture or saved input that leaves it out describes a clip
/// seen in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoverageView {
    /// Every declared frame and every stretch of time was decoded cleanly.
    pub complete: bool,
    /// One sentence per problem, for reviewers.
    pub problems: Vec<String>,
    /// Packets refused, errors reported and frames damaged or concealed by the decoder.
    pub decode_errors: u64,
    /// When the first of those happened (seconds; 0 when none).
    pub first_error_s: f64,
    /// Share of the declared duration that decoded frames cover (0-1).
    pub covered_share: f64,
    /// Seconds of the declared duration that no decoded frame covers.
    pub unseen_s: f64,
    /// Changes of frame size or pixel format mid-stream.
    pub format_changes: u64,
    /// The smallest face (shorter side, px) looked for in every analysed frame, and in the
    /// first frame of each scene (0 when faces are not analysed).
    pub smallest_face_px: f64,
    pub smallest_face_px_scene_starts: f64,
    /// Every audio stream was decoded and listened to (true for a clip without sound).
    pub audio_complete: bool,
    /// Audio streams the clip declares, and seconds of sound heard in all of them.
    pub audio_streams: u64,
    pub audio_heard_s: f64,
}

impl Default for CoverageView {
    fn default() -> Self {
        Self {
            complete: true,
            problems: Vec::new(),
            decode_errors: 0,
            first_error_s: 0.0,
            covered_share: 1.0,
            unseen_s: 0.0,
            format_changes: 0,
            smallest_face_px: 0.0,
            smallest_face_px_scene_starts: 0.0,
            audio_complete: true,
            audio_streams: 0,
            audio_heard_s: 0.0,
        }
    }
}

impl CoverageView {
    pub fn of(c: &Coverage) -> Self {
        Self {
            complete: c.complete,
            problems: c.problems.clone(),
            decode_errors: c.rejected_packets + c.decoder_errors + c.damaged_frames,
            first_error_s: c.error_times_s.first().copied().unwrap_or_default(),
            covered_share: c.covered_share,
            unseen_s: c.unseen_s,
            format_changes: c.changes.len() as u64,
            smallest_face_px: c.faces.map_or(0.0, |f| f64::from(f.every_frame_px)),
            smallest_face_px_scene_starts: c.faces.map_or(0.0, |f| f64::from(f.scene_starts_px)),
            // A decision logged before sound was heard says nothing of it: read as complete.
            audio_complete: c.audio.as_ref().is_none_or(|a| a.complete),
            audio_streams: c
                .audio
                .as_ref()
                .map_or(0, |a| u64::from(a.streams_declared)),
            audio_heard_s: c.audio.as_ref().map_or(0.0, |a| a.heard_s),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptView {
    pub present: bool,
    pub persons: Vec<NameMatch>,
    pub terms: Vec<TermMatch>,
    /// Term categories found, for quick tests like `"sexual" in prompt.categories`.
    pub categories: Vec<String>,
    /// The text categories the prompt means (`prompt.meaning.sexual_minors.severity`).
    pub meaning: Meanings,
}

/// Everything a rule can read besides `params`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyInput {
    pub signals: ClipView,
    pub prompt: PromptView,
    pub request: RequestContext,
}

impl RequestContext {
    pub fn of(request: &CheckRequest) -> Self {
        Self {
            user: request.user.clone().unwrap_or_default(),
            consents: request.consents.clone(),
        }
    }
}

impl PolicyInput {
    /// The input a logged decision was made from: its signals, prompt, user and declared
    /// consents (so `policy explain` reproduces the decision).
    pub fn for_decision(d: &Decision) -> Self {
        Self::new(
            d.clip.as_ref(),
            d.prompt.as_ref(),
            RequestContext {
                user: d.user.clone().unwrap_or_default(),
                consents: d.consents.clone(),
            },
        )
    }

    /// The input for a check: what screening found, and who asks.
    pub fn new(
        clip: Option<&Signals>,
        prompt: Option<&PromptSignals>,
        request: RequestContext,
    ) -> Self {
        Self {
            signals: clip.map(ClipView::from_signals).unwrap_or_default(),
            prompt: prompt.map(PromptView::from_signals).unwrap_or_default(),
            request,
        }
    }
}

impl ClipView {
    pub fn from_signals(s: &Signals) -> Self {
        Self {
            present: true,
            duration_s: s.media.duration_s,
            frames_analysed: s.sampling.analysed_frames,
            frames_over_budget: s.sampling.over_budget_frames,
            coverage: CoverageView::of(&s.sampling.coverage),
            sections: s.sections.clone(),
        }
    }
}

impl PromptView {
    pub fn from_signals(p: &PromptSignals) -> Self {
        Self {
            present: true,
            persons: p.persons.clone(),
            terms: p.terms.clone(),
            categories: categories(&p.terms),
            meaning: p.meaning.clone(),
        }
    }
}

/// The distinct categories of the terms found, sorted.
pub(crate) fn categories(terms: &[TermMatch]) -> Vec<String> {
    crate::vocab::term_categories(terms.iter().map(|t| t.category.as_str()))
}
