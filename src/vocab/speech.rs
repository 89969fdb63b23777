//! What a clip's soundtrack says (`signals.speech`): where someone speaks, what they say, who
//! and what it names, and whose enrolled voice it resembles. The speech analyser writes the
//! transcript and voices when the clip is screened; names and terms are matched when the
//! decision is made, against the registry and the deciding policy's lists as they are then.

use super::{NameMatch, NameStrength, PersonId, PersonKind, TermMatch, TimeSpan};
use serde::{Deserialize, Serialize};

/// The `speech` section of a clip's signals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Speech {
    /// Seconds of speech found, all audio streams added up (0: nobody speaks).
    pub speech_s: f64,
    /// Each audio stream in which someone speaks, transcribed.
    pub tracks: Vec<SpeechTrack>,
    /// Registered persons named in what is said (matched as prompts and on-screen text are).
    pub persons: Vec<SpokenNameMatch>,
    /// Listed terms said, and their categories (distinct, sorted).
    pub terms: Vec<SpokenTermMatch>,
    pub categories: Vec<String>,
    /// Registered persons whose enrolled voice a stretch of the speech resembles, best first.
    pub voices: Vec<VoiceSighting>,
}

impl Speech {
    /// The segment of `stream` that holds the byte range `start..end` of the stream's joined
    /// transcript ([`SpeechTrack::text`]), with the range's start and end times.
    pub fn locate(
        &self,
        stream: u32,
        start: usize,
        end: usize,
    ) -> Option<(&SpeechSegment, TimeSpan)> {
        let track = self.tracks.iter().find(|t| t.stream == stream)?;
        let mut at = 0;
        let mut first: Option<&SpeechSegment> = None;
        let mut last_end = 0.0;
        for seg in &track.segments {
            let range = at..at + seg.text.len();
            at = range.end;
            if range.end <= start || range.start >= end.max(start + 1) {
                continue;
            }
            first.get_or_insert(seg);
            last_end = seg.end_s;
        }
        let seg = first?;
        Some((
            seg,
            TimeSpan {
                start_s: seg.start_s,
                end_s: last_end,
            },
        ))
    }
}

/// One audio stream's speech.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SpeechTrack {
    /// The audio stream's index in the container.
    pub stream: u32,
    /// The language the recogniser detected (ISO 639-1, `en`), and its probability.
    pub language: String,
    pub language_prob: f64,
    /// Seconds of speech voice activity detection found, and where (clip times).
    pub speech_s: f64,
    pub spans: Vec<TimeSpan>,
    /// What was said, in order, with clip times.
    pub segments: Vec<SpeechSegment>,
}

impl SpeechTrack {
    /// The segments' text joined as the recogniser prints it: name and term matches are byte
    /// ranges in it.
    pub fn text(&self) -> String {
        self.segments.iter().map(|s| s.text.as_str()).collect()
    }
}

/// A stretch of speech as transcribed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SpeechSegment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    /// How sure the recogniser was: mean token log-probability, and the probability it gave
    /// the stretch being no speech at all (a reviewer's hint, not a decision).
    pub avg_logprob: f64,
    pub no_speech_prob: f64,
}

/// A registered person named in what is said.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SpokenNameMatch {
    pub person_id: PersonId,
    pub name: String,
    pub kind: PersonKind,
    pub allowed_users: Vec<String>,
    pub alias: String,
    pub strength: NameStrength,
    /// As for prompts: how likely the words mean this person (0-1), and why.
    pub score: f64,
    pub reasons: Vec<String>,
    pub exact: bool,
    /// The words that named them, the segment they were said in, and when.
    pub text: String,
    pub segment: String,
    pub stream: u32,
    pub start_s: f64,
    pub end_s: f64,
}

impl SpokenNameMatch {
    pub fn new(m: NameMatch, stream: u32, segment: &SpeechSegment, at: TimeSpan) -> Self {
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
            segment: segment.text.trim().to_string(),
            stream,
            start_s: at.start_s,
            end_s: at.end_s,
        }
    }
}

/// A listed term said.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SpokenTermMatch {
    pub category: String,
    pub term: String,
    pub text: String,
    pub segment: String,
    pub stream: u32,
    pub start_s: f64,
    pub end_s: f64,
}

impl SpokenTermMatch {
    pub fn new(t: TermMatch, stream: u32, segment: &SpeechSegment, at: TimeSpan) -> Self {
        Self {
            category: t.category,
            term: t.term,
            text: t.text,
            segment: segment.text.trim().to_string(),
            stream,
            start_s: at.start_s,
            end_s: at.end_s,
        }
    }
}

/// Speech whose voice resembles a registered person's enrolled voice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceSighting {
    pub person_id: PersonId,
    pub name: String,
    pub kind: PersonKind,
    pub allowed_users: Vec<String>,
    /// The enrolled voice sample it resembles most, and how much (cosine of speaker
    /// embeddings, 1 = identical).
    pub voice: i64,
    pub score: f64,
    /// The stretch of speech, on the clip's timeline.
    pub stream: u32,
    pub start_s: f64,
    pub end_s: f64,
}
