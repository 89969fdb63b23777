//! Enrolment: an image must show exactly one face large enough to embed, aligned and embedded
//! the same way as faces in clips; a voice sample must hold one person speaking (`voices`).

use crate::vision::{align, Vision, VisionError};

use crate::vocab::Embedding;
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    #[error("{path}: cannot read image: {reason}")]
    Image { path: String, reason: String },
    #[error("{path}: found {found} faces ({usable} large enough to embed); an enrolment image must show exactly one")]
    FaceCount {
        path: String,
        found: usize,
        usable: usize,
    },
    #[error("{path}: cannot read the audio: {reason}")]
    Audio { path: String, reason: String },
    #[error(
        "{path}: has no audio stream; a voice sample must be a recording of the person speaking"
    )]
    NoAudio { path: String },
    #[error(
        "{path}: its audio did not decode completely ({problems}); send an undamaged recording"
    )]
    AudioIncomplete { path: String, problems: String },
    #[error("{path}: holds {tracks} audio tracks; a voice sample must hold exactly one")]
    AudioTracks { path: String, tracks: usize },
    #[error("{path}: {speech_s:.1} s of speech found; a voice sample needs at least {min_s} s of one person speaking")]
    NoSpeech {
        path: String,
        speech_s: f64,
        min_s: f64,
    },
    #[error("{path}: the sample seems to hold several speakers (its parts agree on the voice only to {agreement:.2}, below {min}); enrol one speaker per sample")]
    Speakers {
        path: String,
        agreement: f32,
        min: f32,
    },
    #[error("voices cannot be enrolled: the models manifest declares no voice activity (vad) or speaker (voice_embed) model; run `make setup`")]
    NoVoiceModels,
    #[error(transparent)]
    Vision(#[from] VisionError),
}

impl crate::vocab::Failure for EnrolError {
    fn code(&self) -> crate::vocab::ErrorCode {
        match self {
            EnrolError::Vision(_) => crate::vocab::ErrorCode::Inference,
            _ => crate::vocab::ErrorCode::Enrolment,
        }
    }
}

/// Enrolment photos are detected at this longer side: landmarks, and so alignment, are more
/// precise than at the clip default, and photos are few.
const ENROL_MAX_SIDE: u32 = 640;

pub struct Enrolment {
    pub image_sha256: String,
    pub embedding: Embedding,
}

pub fn embed_image(vision: &Vision, path: &Path) -> Result<Enrolment, EnrolError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| EnrolError::Image {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    let img = image::load_from_memory(&bytes)
        .map_err(|e| EnrolError::Image {
            path: p.clone(),
            reason: e.to_string(),
        })?
        .to_rgb8();
    let faces = vision.faces.detect_at(&img, ENROL_MAX_SIDE)?;
    let usable: Vec<_> = faces
        .iter()
        .filter(|f| f.bbox.w.min(f.bbox.h) >= vision.min_embed_px)
        .collect();
    if faces.len() != 1 || usable.len() != 1 {
        return Err(EnrolError::FaceCount {
            path: p,
            found: faces.len(),
            usable: usable.len(),
        });
    }
    let embedding = vision
        .embedder
        .embed(&[align::chip(&img, usable[0])])?
        .remove(0);
    Ok(Enrolment {
        image_sha256: hex::encode(Sha256::digest(&bytes)),
        embedding,
    })
}
