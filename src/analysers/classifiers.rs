//! Generic image classifiers (declared in the models manifest, enabled in the config): each
//! label's score per frame, and its peak over the clip.

use super::{Analyser, AnalyserError, Built, Deps, Finding, Frame, FrameNeed, Input, Registration};
use crate::config::{Settings, SettingsSpec};
use crate::vision::Vision;
use crate::vocab::{
    widen, Dotted, FrameDetections, ModelInfo, ScorePeak, SectionSchema, Sections, Signals,
    StageTimings,
};
use image::RgbImage;
use serde::{Deserialize, Serialize};
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

const KEY: &str = "classifiers";

/// Each classifier's labels at their peak over the clip: `classifiers.open_nsfw.nsfw`.
pub type Peaks = BTreeMap<String, BTreeMap<String, ScorePeak>>;

/// Each classifier's scores in a frame, by label.
type Scores = BTreeMap<String, BTreeMap<String, f32>>;

/// Each classifier's labels at their peak over the clip (none when no classifier ran), from
/// a clip's sections (its signals', or a policy input's).
pub fn classifier_peaks(s: &Sections) -> Peaks {
    s.get(KEY).unwrap_or_default()
}

pub(super) const REGISTRATION: Registration = Registration {
    sections: std::slice::from_ref(&SECTION),
    build,
};

/// Generic image classifiers declared in the models manifest (`kind = "classifier"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifiersConfig {
    /// The classifiers to run, by their manifest name; none by default (each costs inference
    /// on every frame it looks at: open_nsfw about 15 ms a frame here).
    pub enabled: Vec<String>,
    /// 0: every analysed frame. Otherwise scene starts, and a changed frame once this many
    /// seconds have passed since the last one classified.
    pub interval_s: f64,
    /// Frames per inference call.
    pub batch: usize,
}

impl Default for ClassifiersConfig {
    fn default() -> Self {
        Self {
            enabled: Vec::new(),
            interval_s: 0.0,
            batch: 4,
        }
    }
}

impl Settings for ClassifiersConfig {
    const NAME: &'static str = "classifiers";
}

inventory::submit! { SettingsSpec::of::<ClassifiersConfig>() }

/// Policies name a classifier and its label with dots; both are known at load.
static SECTION: SectionSchema =
    SectionSchema::of::<Peaks>(KEY, sample).with_dotted(Dotted::Checked(2));

fn build(d: &Deps<'_>) -> Built {
    // Always present, so policies may read its fields: with no classifier enabled it looks at
    // nothing and costs nothing.
    Ok(Some(Box::new(ClassifiersAnalyser::new(
        d.vision.clone(),
        d.cfg.settings::<ClassifiersConfig>().interval_s,
    ))))
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
        let mut per_frame: Vec<Scores> = vec![BTreeMap::new(); frames.len()];
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
                Box::new(move |f: &mut FrameDetections| {
                    f.parts.set_unless_empty(KEY, &scores, scores.is_empty())
                }) as Finding
            })
            .collect())
    }

    /// Each label's highest score, and the first frame that reached it.
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        let mut peaks = Peaks::new();
        for c in &self.vision.classifiers {
            let labels = peaks.entry(c.name().to_string()).or_default();
            for l in c.labels() {
                labels.insert(l.clone(), ScorePeak::default());
            }
        }
        for f in signals.frames.iter().filter(|f| f.duplicate_of.is_none()) {
            let scores: Scores = f.parts.get(KEY).unwrap_or_default();
            for (name, scores) in &scores {
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
        signals
            .sections
            .set_unless_empty(KEY, &peaks, peaks.is_empty());
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &[KEY]
    }

    fn summary(&self, signals: &Signals) -> Vec<String> {
        let peaks = classifier_peaks(&signals.sections);
        peaks
            .iter()
            .flat_map(|(name, labels)| {
                labels.iter().map(move |(label, p)| {
                    format!(
                        "classifier {name}.{label}: {:.3} at {:.2} s (frame {})",
                        p.max_score, p.time_s, p.frame
                    )
                })
            })
            .collect()
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
            .filter_map(|c| self.vision.manifest.by_name(c.name()).cloned())
            .collect()
    }
}

/// A classifier's unsafe label at a high score.
fn sample() -> serde_json::Value {
    let peaks: Peaks = [(
        "sample_classifier".to_string(),
        [(
            "unsafe".to_string(),
            ScorePeak {
                max_score: 0.9,
                time_s: 1.5,
                frame: 3,
            },
        )]
        .into(),
    )]
    .into();
    serde_json::to_value(peaks).expect("serialises")
}
