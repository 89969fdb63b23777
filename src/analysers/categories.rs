//! Categories defined by example images: every frame looked at is embedded with CLIP and
//! scored against each category's examples and counter-examples. Costs nothing while no
//! category is defined (the encoder is not even loaded).

use super::{Analyser, AnalyserError, Built, Deps, Finding, Frame, FrameNeed, Input, Registration};
use crate::categories::LiveCategories;
use crate::config::{Settings, SettingsSpec};
use crate::vision::Vision;
use crate::vocab::{
    widen, CategoryPeak, CategoryScore, Dotted, FrameDetections, ModelInfo, SectionSchema,
    Sections, Signals, StageTimings,
};
use image::RgbImage;
use serde::{Deserialize, Serialize};
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

const KEY: &str = "categories";
/// The version of the category set the clip was scored against (absent when none was
/// defined): not for policies, for knowing when cached scores are stale.
const VERSION: &str = "categories_version";

/// Each category at its best frame: `categories.weapons.score`.
pub type Peaks = BTreeMap<String, CategoryPeak>;

/// Each category's scores in a frame.
type Scores = BTreeMap<String, CategoryScore>;

/// Each category at its best frame (none when no category was defined), from a clip's
/// sections (its signals', or a policy input's).
pub fn category_peaks(s: &Sections) -> Peaks {
    s.get(KEY).unwrap_or_default()
}

/// The version of the category set the clip was scored against, if any was defined.
pub fn categories_version(s: &Signals) -> Option<String> {
    s.sections.get(VERSION).unwrap_or_default()
}

pub(super) const REGISTRATION: Registration = Registration {
    sections: std::slice::from_ref(&SECTION),
    build,
};

/// Categories defined by example images, scored with the CLIP image encoder. The encoder is
/// loaded, and frames embedded, only while at least one category is defined.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CategoriesConfig {
    /// Scene starts, and a changed frame once this many seconds have passed since the last one
    /// embedded (CLIP costs about 50 ms a frame here). Below two sampling intervals, so what
    /// is on screen for a second is seen.
    pub interval_s: f64,
    /// Frames per inference call.
    pub batch: usize,
}

impl Default for CategoriesConfig {
    fn default() -> Self {
        Self {
            interval_s: 0.9,
            batch: 4,
        }
    }
}

impl Settings for CategoriesConfig {
    const NAME: &'static str = "categories";
}

inventory::submit! { SettingsSpec::of::<CategoriesConfig>() }

/// Policies name a category with a dot; categories are defined at run time, so a rule may
/// name one that does not exist yet.
static SECTION: SectionSchema =
    SectionSchema::of::<Peaks>(KEY, sample).with_dotted(Dotted::AtRunTime(1));

fn build(d: &Deps<'_>) -> Built {
    // Always present, so policies may read its fields: with no category defined it looks at
    // nothing and costs nothing.
    Ok(Some(Box::new(CategoriesAnalyser::new(
        d.vision.clone(),
        d.categories.clone(),
        d.cfg.settings::<CategoriesConfig>().interval_s,
    ))))
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
                let scores: Scores = set
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
                Box::new(move |f: &mut FrameDetections| {
                    f.parts.set_unless_empty(KEY, &scores, scores.is_empty())
                }) as Finding
            })
            .collect();
        timings.add("categories", t0.elapsed().as_secs_f64() * 1e3);
        Ok(findings)
    }

    /// Each category's best counting frame (nearer an example than every counter-example).
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        let set = self.live.current()?;
        signals
            .sections
            .set_unless_empty(VERSION, &set.version, set.is_empty());
        let mut peaks: Peaks = set
            .categories
            .iter()
            .map(|c| (c.name.clone(), CategoryPeak::default()))
            .collect();
        for f in signals.frames.iter().filter(|f| f.duplicate_of.is_none()) {
            let scores: Scores = f.parts.get(KEY).unwrap_or_default();
            for (name, s) in &scores {
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
        signals
            .sections
            .set_unless_empty(KEY, &peaks, peaks.is_empty());
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &[KEY]
    }

    fn summary(&self, signals: &Signals) -> Vec<String> {
        let peaks = category_peaks(&signals.sections);
        peaks
            .iter()
            .map(|(name, c)| {
                format!(
                    "category {name}: similarity {:.3} (counter-examples {:.3}) at {:.2} s (frame {}), {} frame(s)",
                    c.score, c.counter_score, c.time_s, c.frame, c.frames
                )
            })
            .collect()
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.vision.encoder_model().cloned().into_iter().collect()
    }
}

/// A category matched closely in a few frames.
fn sample() -> serde_json::Value {
    let peaks: Peaks = [(
        "sample_category".to_string(),
        CategoryPeak {
            score: 0.95,
            counter_score: 0.4,
            time_s: 4.0,
            frame: 8,
            frames: 3,
        },
    )]
    .into();
    serde_json::to_value(peaks).expect("serialises")
}
