//! Analysers: plug-ins that each look at sampled frames for one kind of thing and fill in their
//! part of `Signals`. The orchestrator (`screen`) knows them only through [`Analyser`]: adding
//! one is a module here and a line in [`load`].

mod categories;
mod classifiers;
mod faces;
mod hashes;
mod nudity;
mod text;

pub use categories::CategoriesAnalyser;
pub use classifiers::ClassifiersAnalyser;
pub use faces::FacesAnalyser;
pub use hashes::HashesAnalyser;
pub use nudity::NudityAnalyser;
pub use text::TextAnalyser;

use crate::categories::LiveCategories;
use crate::config::Config;
use crate::persons::LivePersons;
use crate::vision::{Vision, VisionError};
use crate::vocab::{FrameDetections, ModelInfo, Signals, StageTimings};
use image::RgbImage;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AnalyserError {
    #[error(transparent)]
    Vision(#[from] VisionError),
    #[error(transparent)]
    Persons(#[from] crate::persons::PersonsError),
    #[error(transparent)]
    Categories(#[from] crate::categories::CategoriesError),
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

/// A distinct sampled frame as analysers see it.
pub struct Frame<'a> {
    pub image: &'a RgbImage,
    /// The clip's first frame or the first after a scene cut: the frames that get a closer,
    /// costlier look (what is in a scene is mostly there from its start).
    pub scene_start: bool,
}

/// What an analyser found in one frame, applied to that frame's detections once every analyser
/// has run on the batch. Analysers run side by side, so none writes to a frame directly.
pub type Finding = Box<dyn FnOnce(&mut FrameDetections) + Send>;

pub trait Analyser: Send + Sync {
    /// A short name, used for stage timings and metrics.
    fn name(&self) -> &'static str;

    fn frames(&self) -> FrameNeed {
        FrameNeed::Every
    }

    /// Batched inference: one finding per frame, in order. Stage times go into `timings`.
    fn analyse(
        &self,
        frames: &[Frame<'_>],
        timings: &mut StageTimings,
    ) -> Result<Vec<Finding>, AnalyserError>;

    /// Clip-level work once every frame is in (aggregates, matching against the registry).
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError>;

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
pub const CORE_POLICY_FIELDS: [&str; 6] = [
    "present",
    "duration_s",
    "frames_analysed",
    "frames_over_budget",
    "coverage",
    "provenance",
];

/// The analysers enabled in `cfg`, in the order their results are applied.
pub fn load(
    cfg: &Config,
    vision: &Arc<Vision>,
    persons: &Arc<LivePersons>,
    categories: &Arc<LiveCategories>,
) -> Vec<Box<dyn Analyser>> {
    let mut out: Vec<Box<dyn Analyser>> = Vec::new();
    if cfg.nudity.enabled {
        out.push(Box::new(NudityAnalyser::new(vision.clone())));
    }
    if cfg.faces.enabled {
        out.push(Box::new(FacesAnalyser::new(
            vision.clone(),
            persons.clone(),
            cfg.persons.clone(),
            cfg.faces.scene_min_face_px,
        )));
    }
    if cfg.text.enabled {
        out.push(Box::new(TextAnalyser::new(
            vision.clone(),
            cfg.text.interval_s,
        )));
    }
    // Always present, so policies may read their fields: with no classifier enabled and no
    // category defined they look at nothing and cost nothing.
    out.push(Box::new(ClassifiersAnalyser::new(
        vision.clone(),
        cfg.classifiers.interval_s,
    )));
    out.push(Box::new(CategoriesAnalyser::new(
        vision.clone(),
        categories.clone(),
        cfg.categories.interval_s,
    )));
    if cfg.hashes.enabled {
        out.push(Box::new(HashesAnalyser::new(cfg.hashes.interval_s)));
    }
    out
}
