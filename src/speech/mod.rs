//! Speech in audio: where someone speaks (`vad`), what is said (`whisper`: OpenAI's Whisper
//! base, converted at set-up from the CTranslate2 model faster-whisper uses) and whose voice it
//! is (`voice`). The models run through the process's ONNX Runtime sessions
//! (`vision::runtime`); audio comes decoded and resampled to 16 kHz mono by `media::audio`.

pub mod vad;
pub mod voice;
pub mod whisper;

pub use vad::{SpeechSpan, Vad, VadParams};
pub use voice::{Utterance, VoiceEncoder};

use crate::vision::{Manifest, Runtime, VisionError};
use crate::vocab::{ModelInfo, ModelKind};

/// The voice activity detector and the speaker encoder, with what the manifest says of them.
pub struct VoiceModels {
    pub vad: Vad,
    pub vad_model: ModelInfo,
    pub encoder: VoiceEncoder,
    pub encoder_model: ModelInfo,
}

impl VoiceModels {
    /// Loads both models, or None when the manifest declares either not.
    pub fn load(runtime: &Runtime, manifest: &Manifest) -> Result<Option<Self>, VisionError> {
        let (Some((v, v_path)), Some((e, e_path))) = (
            manifest.find(ModelKind::Vad),
            manifest.find(ModelKind::VoiceEmbed),
        ) else {
            return Ok(None);
        };
        Ok(Some(Self {
            vad: Vad::load(runtime, &v.name, v_path)?,
            vad_model: v.clone(),
            encoder: VoiceEncoder::load(runtime, &e.name, e_path)?,
            encoder_model: e.clone(),
        }))
    }
}
