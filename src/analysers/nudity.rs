//! Nudity: NudeNet's body-part detections per frame, and each class's peak over the clip.

use super::{Analyser, AnalyserError, Finding, Frame};
use crate::vision::Vision;
use crate::vocab::ModelKind;
use crate::vocab::{widen, ClassPeak, ModelInfo, Signals, StageTimings};
use image::RgbImage;
use std::sync::Arc;
use std::time::Instant;

pub struct NudityAnalyser {
    vision: Arc<Vision>,
}

impl NudityAnalyser {
    pub fn new(vision: Arc<Vision>) -> Self {
        Self { vision }
    }
}

impl Analyser for NudityAnalyser {
    fn name(&self) -> &'static str {
        "nudity"
    }

    fn analyse(
        &self,
        frames: &[Frame<'_>],
        timings: &mut StageTimings,
    ) -> Result<Vec<Finding>, AnalyserError> {
        let t0 = Instant::now();
        let images: Vec<&RgbImage> = frames.iter().map(|f| f.image).collect();
        let found = self.vision.nudity.detect(&images)?;
        timings.add("nudity", t0.elapsed().as_secs_f64() * 1e3);
        Ok(found
            .into_iter()
            .map(|d| Box::new(move |f: &mut crate::vocab::FrameDetections| f.nudity = d) as Finding)
            .collect())
    }

    /// The highest score of each class, where and when, and in how many frames it was seen.
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        signals.nudity.clear();
        for f in &signals.frames {
            let mut seen = Vec::new();
            for d in &f.nudity {
                let score = widen(d.score);
                let peak = signals.nudity.entry(d.class).or_insert(ClassPeak {
                    max_score: score,
                    time_s: f.time_s,
                    frames: 0,
                    bbox: d.bbox,
                });
                if score > peak.max_score {
                    peak.max_score = score;
                    peak.time_s = f.time_s;
                    peak.bbox = d.bbox;
                }
                if !seen.contains(&d.class) {
                    seen.push(d.class);
                    peak.frames += 1;
                }
            }
        }
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &["nudity"]
    }

    fn models(&self) -> Vec<ModelInfo> {
        vec![self.vision.manifest.get(ModelKind::Nudity).0.clone()]
    }
}
