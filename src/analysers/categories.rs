//! Categories defined by example images: every frame looked at is embedded with CLIP and
//! scored against each category's examples and counter-examples. Costs nothing while no
//! category is defined (the encoder is not even loaded).

use super::{Analyser, AnalyserError, Deps, Finding, Frame, FrameNeed, Input, Registration};
use crate::categories::LiveCategories;
use crate::vision::Vision;
use crate::vocab::{
    widen, CategoryPeak, CategoryScore, FrameDetections, ModelInfo, Signals, StageTimings,
};
use image::RgbImage;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub struct CategoriesAnalyser {
    vision: Arc<Vision>,
    live: Arc<LiveCategories>,
    interval_s: f64,
}

impl CategoriesAnalyser {
    pub fn new(vision: Arc<Vision>, live: Arc<LiveCategories>, interval_s: f64) -> Self {
        Self {
            vision,
            live,
            interval_s,
        }
    }
}

pub(super) const REGISTRATION: Registration = Registration {
    section: None,
    build,
};

fn build(d: &Deps<'_>) -> Option<Box<dyn Analyser>> {
    // Always present, so policies may read its fields: with no category defined it looks at
    // nothing and costs nothing.
    Some(Box::new(CategoriesAnalyser::new(
        d.vision.clone(),
        d.categories.clone(),
        d.cfg.categories.interval_s,
    )))
}

impl Analyser for CategoriesAnalyser {
    fn name(&self) -> &'static str {
        "categories"
    }

    fn input(&self) -> Input {
        Input::Frames(FrameNeed::spaced(self.interval_s))
    }

    fn analyse(
        &self,
        frames: &[Frame<'_>],
        timings: &mut StageTimings,
    ) -> Result<Vec<Finding>, AnalyserError> {
        let set = self.live.current()?;
        if set.is_empty() {
            return Ok(frames
                .iter()
                .map(|_| Box::new(|_: &mut FrameDetections| {}) as Finding)
                .collect());
        }
        let t0 = Instant::now();
        let images: Vec<&RgbImage> = frames.iter().map(|f| f.image).collect();
        let embeddings = self.vision.encoder()?.embed(&images)?;
        let findings = embeddings
            .iter()
            .map(|e| {
                let scores: BTreeMap<String, CategoryScore> = set
                    .categories
                    .iter()
                    .zip(set.score(e))
                    .map(|(c, s)| {
                        (
                            c.name.clone(),
                            CategoryScore {
                                score: s.score,
                                counter_score: s.counter_score,
                            },
                        )
                    })
                    .collect();
                Box::new(move |f: &mut FrameDetections| f.categories = scores) as Finding
            })
            .collect();
        timings.add("categories", t0.elapsed().as_secs_f64() * 1e3);
        Ok(findings)
    }

    /// Each category's best counting frame (nearer an example than every counter-example).
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        let set = self.live.current()?;
        signals.categories_version = (!set.is_empty()).then(|| set.version.clone());
        let mut peaks: BTreeMap<String, CategoryPeak> = set
            .categories
            .iter()
            .map(|c| (c.name.clone(), CategoryPeak::default()))
            .collect();
        for f in signals.frames.iter().filter(|f| f.duplicate_of.is_none()) {
            for (name, s) in &f.categories {
                let Some(p) = peaks.get_mut(name) else {
                    continue;
                };
                if s.score <= s.counter_score {
                    continue;
                }
                p.frames += 1;
                if widen(s.score) > p.score {
                    p.score = widen(s.score);
                    p.counter_score = widen(s.counter_score);
                    p.time_s = f.time_s;
                    p.frame = f.index;
                }
            }
        }
        signals.categories = peaks;
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &["categories"]
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.vision.encoder_model().cloned().into_iter().collect()
    }
}
