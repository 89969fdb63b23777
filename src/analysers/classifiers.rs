//! Generic image classifiers (declared in the models manifest, enabled in the config): each
//! label's score per frame, and its peak over the clip.

use super::{Analyser, AnalyserError, Deps, Finding, Frame, FrameNeed, Input, Registration};
use crate::vision::Vision;
use crate::vocab::{widen, FrameDetections, ModelInfo, ScorePeak, Signals, StageTimings};
use image::RgbImage;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub struct ClassifiersAnalyser {
    vision: Arc<Vision>,
    interval_s: f64,
}

impl ClassifiersAnalyser {
    pub fn new(vision: Arc<Vision>, interval_s: f64) -> Self {
        Self { vision, interval_s }
    }
}

pub(super) const REGISTRATION: Registration = Registration {
    section: None,
    build,
};

fn build(d: &Deps<'_>) -> Option<Box<dyn Analyser>> {
    // Always present, so policies may read its fields: with no classifier enabled it looks at
    // nothing and costs nothing.
    Some(Box::new(ClassifiersAnalyser::new(
        d.vision.clone(),
        d.cfg.classifiers.interval_s,
    )))
}

impl Analyser for ClassifiersAnalyser {
    fn name(&self) -> &'static str {
        "classifiers"
    }

    fn input(&self) -> Input {
        Input::Frames(FrameNeed::spaced(self.interval_s))
    }

    fn analyse(
        &self,
        frames: &[Frame<'_>],
        timings: &mut StageTimings,
    ) -> Result<Vec<Finding>, AnalyserError> {
        let images: Vec<&RgbImage> = frames.iter().map(|f| f.image).collect();
        let mut per_frame: Vec<BTreeMap<String, BTreeMap<String, f32>>> =
            vec![BTreeMap::new(); frames.len()];
        for c in &self.vision.classifiers {
            let t0 = Instant::now();
            let scores = c.classify(&images)?;
            timings.add(
                &format!("classifier_{}", c.name()),
                t0.elapsed().as_secs_f64() * 1e3,
            );
            for (frame, scores) in per_frame.iter_mut().zip(scores) {
                frame.insert(
                    c.name().to_string(),
                    c.labels().iter().cloned().zip(scores).collect(),
                );
            }
        }
        Ok(per_frame
            .into_iter()
            .map(|scores| {
                Box::new(move |f: &mut FrameDetections| f.classifiers = scores) as Finding
            })
            .collect())
    }

    /// Each label's highest score, and the first frame that reached it.
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        let mut peaks: BTreeMap<String, BTreeMap<String, ScorePeak>> = BTreeMap::new();
        for c in &self.vision.classifiers {
            let labels = peaks.entry(c.name().to_string()).or_default();
            for l in c.labels() {
                labels.insert(l.clone(), ScorePeak::default());
            }
        }
        for f in signals.frames.iter().filter(|f| f.duplicate_of.is_none()) {
            for (name, scores) in &f.classifiers {
                for (label, &score) in scores {
                    let Some(p) = peaks.get_mut(name).and_then(|l| l.get_mut(label)) else {
                        continue;
                    };
                    if widen(score) > p.max_score {
                        *p = ScorePeak {
                            max_score: widen(score),
                            time_s: f.time_s,
                            frame: f.index,
                        };
                    }
                }
            }
        }
        signals.classifiers = peaks;
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &["classifiers"]
    }

    fn policy_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for c in &self.vision.classifiers {
            keys.push(format!("classifiers.{}", c.name()));
            for l in c.labels() {
                keys.push(format!("classifiers.{}.{l}", c.name()));
            }
        }
        keys
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.vision
            .classifiers
            .iter()
            .filter_map(|c| {
                self.vision
                    .manifest
                    .by_name(c.name())
                    .map(|(m, _)| m.clone())
            })
            .collect()
    }
}
