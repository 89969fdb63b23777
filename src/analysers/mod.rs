//! Analysers: plug-ins that each look at one kind of input (sampled frames, the clip as a
//! whole, or its decoded sound) for one kind of thing and fill in their part of `Signals`. The orchestrator
//! (`screen`), the policy and the printers know them only through [`Analyser`] and their
//! section's schema: adding one is a module here and a line in [`REGISTRY`].

mod categories;
mod classifiers;
mod faces;
mod hashes;
mod meaning;
mod nudity;
mod provenance;
mod speech;
mod text;

use crate::attest::c2pa::Credentials;
use crate::categories::LiveCategories;
use crate::config::Config;
use crate::media::audio::AudioTrack;
use crate::media::Changes;
use crate::persons::LivePersons;
use crate::speech::VoiceModels;
use crate::vision::{Vision, VisionError, VisionOptions};
use crate::vocab::{
    AudioCoverage, FrameDetections, MediaInfo, ModelInfo, SectionSchema, Signals, StageTimings,
};
use image::RgbImage;
use std::path::Path;
use std::sync::Arc;

/// Typed access to the analysers' sections, for the decision-time stages, the printers and
/// the tests; the orchestrator and the policy carry sections without them.
pub use categories::{categories_version, category_peaks};
pub use classifiers::classifier_peaks;
pub use faces::{face_summary, faces_in, sightings};
pub use hashes::{hash_matches, set_hash_matches};
pub use meaning::{meaning_section, set_meaning_section};
pub use text::{set_text_section, text_section};

/// Each analyser's section of the configuration (`[faces]`, `[speech]`...), read with
/// [`Config::settings`].
pub use categories::CategoriesConfig;
pub use classifiers::ClassifiersConfig;
pub use faces::FacesConfig;
pub use hashes::HashesConfig;
pub use meaning::MeaningConfig;
pub use nudity::NudityConfig;
pub use speech::SpeechConfig;
pub use text::TextConfig;

#[derive(Debug, thiserror::Error)]
pub enum AnalyserError {
    #[error(transparent)]
    Vision(#[from] VisionError),
    #[error(transparent)]
    Persons(#[from] crate::persons::PersonsError),
    #[error(transparent)]
    Categories(#[from] crate::categories::CategoriesError),
    #[error(transparent)]
    Speech(#[from] crate::speech::whisper::TranscribeError),
}

/// Which of the sampled, distinct frames an analyser looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameNeed {
    /// Every frame analysed (near-duplicates reuse the detections of the frame they repeat).
    Every,
    /// The first frame and the first after each scene cut: for what changes only with the scene.
    SceneChanges,
    /// Scene starts, and otherwise a frame once at least `interval_s` has passed since the
    /// last one looked at: for what stays on screen a while (captions) and costs much to look
    /// for. A frame skipped as too soon is looked at when a near-duplicate of it comes due, so
    /// what it showed is still seen if it stays.
    Spaced { interval_s: f64 },
}

impl FrameNeed {
    /// `Spaced` by a configured interval, where 0 means every frame.
    pub fn spaced(interval_s: f64) -> Self {
        if interval_s > 0.0 {
            FrameNeed::Spaced { interval_s }
        } else {
            FrameNeed::Every
        }
    }
}

/// What an analyser looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input {
    /// Sampled, distinct video frames, as the need says: [`Analyser::analyse`].
    Frames(FrameNeed),
    /// The file as a whole (its path, probe and container metadata), once per clip and beside
    /// the decoding of its frames: [`Analyser::inspect`].
    Clip,
    /// Every audio stream, decoded once for all analysers that ask and resampled to mono at
    /// `sample_rate` Hz, beside the decoding of the frames: [`Analyser::listen`].
    Audio { sample_rate: u32 },
}

/// The clip as a whole, for analysers of [`Input::Clip`].
pub struct ClipInput<'a> {
    pub path: &'a Path,
    pub media: &'a MediaInfo,
}

/// A clip's sound, for analysers of [`Input::Audio`]: the streams that decoded (a stream that
/// produced no sound has no track; the coverage says why).
pub struct AudioInput<'a> {
    pub tracks: &'a [AudioTrack],
    pub coverage: &'a AudioCoverage,
}

/// What an analyser of the whole clip found, applied to the signals once the frames are in.
pub type ClipFinding = Box<dyn FnOnce(&mut Signals) + Send>;

/// A distinct sampled frame as analysers see it.
pub struct Frame<'a> {
    pub image: &'a RgbImage,
    /// The clip's first frame or the first after a scene cut: the frames that get a closer,
    /// costlier look (what is in a scene is mostly there from its start).
    pub scene_start: bool,
    /// Where it changed since the previous analysed frame (none for the clip's first frame and
    /// for a frame a spaced analyser looks at late): what walked into the scene is there.
    pub changed: Option<&'a Changes>,
}

/// What an analyser found in one frame, applied to that frame's detections once every analyser
/// has run on the batch. Analysers run side by side, so none writes to a frame directly.
pub type Finding = Box<dyn FnOnce(&mut FrameDetections) + Send>;

pub trait Analyser: Send + Sync {
    /// A short name, used for stage timings and metrics.
    fn name(&self) -> &'static str;

    fn input(&self) -> Input {
        Input::Frames(FrameNeed::Every)
    }

    /// Batched inference on frames ([`Input::Frames`]): one finding per frame, in order.
    /// Stage times go into `timings`.
    fn analyse(
        &self,
        frames: &[Frame<'_>],
        timings: &mut StageTimings,
    ) -> Result<Vec<Finding>, AnalyserError> {
        let _ = (frames, timings);
        Ok(Vec::new())
    }

    /// The clip as a whole ([`Input::Clip`]), on its own thread while frames are decoded.
    fn inspect(
        &self,
        clip: &ClipInput<'_>,
        timings: &mut StageTimings,
    ) -> Result<ClipFinding, AnalyserError> {
        let _ = (clip, timings);
        Ok(Box::new(|_| {}))
    }

    /// The clip's sound ([`Input::Audio`]), on the clip's own thread while frames are decoded
    /// and analysed.
    fn listen(
        &self,
        audio: &AudioInput<'_>,
        timings: &mut StageTimings,
    ) -> Result<ClipFinding, AnalyserError> {
        let _ = (audio, timings);
        Ok(Box::new(|_| {}))
    }

    /// Clip-level work once every frame is in (aggregates, matching against the registry).
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        let _ = signals;
        Ok(())
    }

    /// Its lines in `check`'s human summary of a clip.
    fn summary(&self, signals: &Signals) -> Vec<String> {
        let _ = signals;
        Vec::new()
    }

    /// Its words on a sampled frame's line of that summary.
    fn frame_summary(&self, frame: &FrameDetections) -> Option<String> {
        let _ = frame;
        None
    }

    /// Its part of the policy view: the fields under `signals` that it provides. A policy
    /// whose rules read a field no enabled analyser provides is refused at load.
    fn policy_fields(&self) -> &'static [&'static str];

    /// Keys below its fields that policies may name with dots (`classifiers.open_nsfw.nsfw`),
    /// when they are known at load: a rule naming another is refused, as a typo would
    /// otherwise never match.
    fn policy_keys(&self) -> Vec<String> {
        Vec::new()
    }

    /// The model files behind this analyser, for the decision record and cache keys.
    fn models(&self) -> Vec<ModelInfo>;
}

/// The policy view's fields that every screened clip has, whatever analysers run.
pub const CORE_POLICY_FIELDS: [&str; 5] = [
    "present",
    "duration_s",
    "frames_analysed",
    "frames_over_budget",
    "coverage",
];

/// What analysers are built from: the configuration, the models and the live snapshots.
pub struct Deps<'a> {
    pub cfg: &'a Config,
    pub vision: &'a Arc<Vision>,
    pub persons: &'a Arc<LivePersons>,
    pub categories: &'a Arc<LiveCategories>,
    pub credentials: &'a Arc<Credentials>,
    /// Voice activity and speaker models, when the manifest declares them.
    pub voices: Option<&'a Arc<VoiceModels>>,
}

/// What a registration builds: the analyser, or None when the configuration turns it off.
pub type Built = Result<Option<Box<dyn Analyser>>, AnalyserError>;

/// An analyser this build has: its sections' schemas (known to policies whether or not it is
/// enabled), and how it is built (None when the configuration turns it off; an error when the
/// configuration asks for what it cannot do).
pub struct Registration {
    pub sections: &'static [SectionSchema],
    pub build: fn(&Deps<'_>) -> Built,
}

/// Every analyser of this build, in the order their results are applied.
pub const REGISTRY: &[Registration] = &[
    nudity::REGISTRATION,
    faces::REGISTRATION,
    text::REGISTRATION,
    classifiers::REGISTRATION,
    categories::REGISTRATION,
    hashes::REGISTRATION,
    provenance::REGISTRATION,
    speech::REGISTRATION,
    meaning::REGISTRATION,
];

/// What the analysers' settings in `cfg` ask of the shared models.
pub fn vision_options(cfg: &Config) -> VisionOptions {
    let nudity: NudityConfig = cfg.settings();
    let faces: FacesConfig = cfg.settings();
    let text: TextConfig = cfg.settings();
    let classifiers: ClassifiersConfig = cfg.settings();
    let categories: CategoriesConfig = cfg.settings();
    VisionOptions {
        nudity_batch: nudity.batch,
        face_max_side: faces.max_side,
        face_threshold: faces.threshold,
        min_embed_px: faces.min_embed_px,
        text_det_max_side: text.enabled.then_some(text.det_max_side),
        classifiers: classifiers.enabled,
        classifier_batch: classifiers.batch,
        encoder_batch: categories.batch,
    }
}

/// The sections every analyser of this build may write, for the policy.
pub fn schema() -> Vec<&'static SectionSchema> {
    REGISTRY.iter().flat_map(|r| r.sections).collect()
}

/// The analysers enabled in `cfg`, in the order their results are applied.
/// A setting only an analyser can judge (a language its model does not know) fails here, at
/// start.
pub fn load(deps: &Deps<'_>) -> Result<Vec<Box<dyn Analyser>>, AnalyserError> {
    REGISTRY
        .iter()
        .filter_map(|r| (r.build)(deps).transpose())
        .collect()
}
