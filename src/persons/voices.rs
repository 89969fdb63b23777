//! Voices of registered persons: enrolment of voice samples (audio or video files) and matching
//! an utterance's speaker embedding against the enrolled voices.
//!
//! A sample is enrolled only if it is one speaker speaking: its audio must decode completely,
//! hold a single track with at least `MIN_SPEECH_S` of speech (Silero VAD), and its parts must
//! agree on the voice (`voice::self_agreement` at least `MIN_SELF_AGREEMENT`), so a sample of
//! two people taking turns, or of music, cannot register someone else's voice under a name.
//!
//! The thresholds were calibrated on synthetic voices (espeak-ng, Debian's voices), not on real
//! people: see docs/persons.md. Resemblyzer separates real voices better than espeak's, whose
//! voices share one synthesiser.

use super::enrol::EnrolError;
use crate::media::audio::{self, AudioLimits};
use crate::speech::vad::{speech_seconds, VadParams};
use crate::speech::voice::{cosine, self_agreement};
use crate::speech::VoiceModels;
use crate::vocab::{Embedding, PersonId};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Least speech in a sample: six 1.6 s partials, so that each side of any cut between two
/// speakers averages several (with four, one voice's halves agreed to only 0.80).
pub const MIN_SPEECH_S: f64 = 5.0;

/// Least agreement of a sample's voice with itself (`voice::self_agreement`). Calibrated on
/// espeak-ng voices (two sentences a sample, 6 voices; docs/persons.md): one voice agreed with
/// itself to 0.868 or more; two voices taking turns to 0.63 to 0.82, except two variants of one
/// synthesiser that the encoder itself scores alike (0.86). Pairs as alike as that are not told
/// apart.
pub const MIN_SELF_AGREEMENT: f32 = 0.84;

/// A match of an utterance to an enrolled voice at this cosine or more is reported. Calibrated
/// on espeak-ng voices (6 voices x 5 sentences, docs/persons.md): the same voice saying another
/// sentence scored 0.872 or more (mean 0.921; none of 60 pairs below 0.87), different voices
/// 0.917 at most (mean 0.716; 17 of 375 pairs at 0.87 or more, all between two pairs of
/// near-identical variants of one synthesiser). Synthetic voices, not real people: a voice
/// match is a weaker signal than a face.
pub const MATCH_THRESHOLD: f32 = 0.87;

/// A voice sample, embedded.
#[derive(Debug, Clone)]
pub struct VoiceEnrolment {
    pub sample_sha256: String,
    pub embedding: Embedding,
    /// Seconds of speech embedded.
    pub speech_s: f64,
    /// How well the sample's parts agree on the voice (see `MIN_SELF_AGREEMENT`).
    pub self_agreement: f32,
}

/// Embeds the one voice in an audio or video file, or says why the sample cannot be enrolled.
pub fn embed_voice(models: &VoiceModels, path: &Path) -> Result<VoiceEnrolment, EnrolError> {
    let p = path.display().to_string();
    let sample_sha256 = crate::digest::sha256_file(path).map_err(|e| EnrolError::Audio {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    let decoded = audio::decode(path, &AudioLimits::default()).map_err(|e| EnrolError::Audio {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    if decoded.coverage.no_audio {
        return Err(EnrolError::NoAudio { path: p });
    }
    if !decoded.coverage.complete {
        return Err(EnrolError::AudioIncomplete {
            path: p,
            problems: decoded.coverage.problems.join("; "),
        });
    }
    let [track] = decoded.tracks.as_slice() else {
        return Err(EnrolError::AudioTracks {
            path: p,
            tracks: decoded.tracks.len(),
        });
    };
    let spans = models.vad.speech(&track.pcm, &VadParams::default())?;
    let speech_s = speech_seconds(&spans);
    let too_little = |speech_s: f64| EnrolError::NoSpeech {
        path: p.clone(),
        speech_s,
        min_s: MIN_SPEECH_S,
    };
    if speech_s < MIN_SPEECH_S {
        return Err(too_little(speech_s));
    }
    let utterance = models
        .encoder
        .embed_speech(&track.pcm, &spans)?
        .ok_or_else(|| too_little(0.0))?;
    let agreement = self_agreement(&utterance.partials).ok_or_else(|| too_little(speech_s))?;
    if agreement < MIN_SELF_AGREEMENT {
        return Err(EnrolError::Speakers {
            path: p,
            agreement,
            min: MIN_SELF_AGREEMENT,
        });
    }
    Ok(VoiceEnrolment {
        sample_sha256,
        embedding: utterance.embedding,
        speech_s,
        self_agreement: agreement,
    })
}

/// An enrolled voice that an utterance resembles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VoiceMatch {
    pub person: PersonId,
    /// The enrolled voice sample's id.
    pub voice: i64,
    /// Cosine similarity of the speaker embeddings (1 = identical).
    pub score: f32,
}

/// Every enrolled voice, searched exhaustively (a registry holds few voices per person).
#[derive(Default)]
pub struct VoiceIndex {
    rows: Vec<VoiceRow>,
}

struct VoiceRow {
    person: PersonId,
    voice: i64,
    model_sha256: String,
    embedding: Embedding,
}

impl VoiceIndex {
    pub fn add(&mut self, person: PersonId, voice: i64, model_sha256: &str, e: Embedding) {
        self.rows.push(VoiceRow {
            person,
            voice,
            model_sha256: model_sha256.to_string(),
            embedding: e,
        });
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The persons whose enrolled voices best resemble `query`: each person's best voice, best
    /// first, at most `k`. Only voices embedded by the model `model_sha256` are compared (a
    /// score between two models' embeddings would mean nothing).
    pub fn best(&self, query: &Embedding, model_sha256: &str, k: usize) -> Vec<VoiceMatch> {
        let mut best: Vec<VoiceMatch> = Vec::new();
        for r in self.rows.iter().filter(|r| r.model_sha256 == model_sha256) {
            let score = cosine(query, &r.embedding);
            match best.iter_mut().find(|m| m.person == r.person) {
                Some(m) if m.score >= score => {}
                Some(m) => {
                    m.voice = r.voice;
                    m.score = score;
                }
                None => best.push(VoiceMatch {
                    person: r.person,
                    voice: r.voice,
                    score,
                }),
            }
        }
        best.sort_by(|a, b| b.score.total_cmp(&a.score));
        best.truncate(k);
        best
    }

    /// The persons whose voices score `MATCH_THRESHOLD` or more, best first.
    pub fn matches(&self, query: &Embedding, model_sha256: &str) -> Vec<VoiceMatch> {
        let mut m = self.best(query, model_sha256, usize::MAX);
        m.retain(|m| m.score >= MATCH_THRESHOLD);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Embedding {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        Embedding(v.iter().map(|x| x / n).collect())
    }

    #[test]
    fn best_voice_per_person_best_first_same_model_only() {
        let mut idx = VoiceIndex::default();
        idx.add(1, 10, "m", unit(&[1.0, 0.0, 0.0]));
        idx.add(1, 11, "m", unit(&[0.9, 0.1, 0.0]));
        idx.add(2, 20, "m", unit(&[0.0, 1.0, 0.0]));
        idx.add(3, 30, "other", unit(&[1.0, 0.0, 0.0]));
        let got = idx.best(&unit(&[0.9, 0.12, 0.0]), "m", 5);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].person, got[0].voice), (1, 11));
        assert!(got[0].score > 0.999 && got[1].score < 0.2, "{got:?}");
        assert_eq!(idx.best(&unit(&[0.0, 1.0, 0.0]), "m", 1)[0].person, 2);
        assert_eq!(idx.matches(&unit(&[0.0, 0.0, 1.0]), "m"), vec![]);
    }
}
