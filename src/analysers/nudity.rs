//! Nudity: NudeNet's body-part detections per frame (`frames[].nudity`), and each class's peak
//! over the clip (`signals.nudity`).

use super::{Analyser, AnalyserError, Built, Deps, Finding, Frame, Registration};
use crate::config::{Settings, SettingsSpec};
use crate::vision::Vision;
use crate::vocab::{
    widen, BBox, ClassPeak, FrameDetections, ModelInfo, ModelKind, NudityClass, NudityDetection,
    SectionSchema, Signals, StageTimings,
};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

const KEY: &str = "nudity";

/// The highest score of each class seen in the clip, and when.
type NudityPeaks = BTreeMap<NudityClass, ClassPeak>;

pub(super) const REGISTRATION: Registration = Registration {
    sections: std::slice::from_ref(&SECTION),
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NudityConfig {
    /// Run the nudity analyser.
    pub enabled: bool,
    /// Frames per inference batch.
    pub batch: usize,
}

impl Default for NudityConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            batch: 4,
        }
    }
}

impl Settings for NudityConfig {
    const NAME: &'static str = "nudity";
}

inventory::submit! { SettingsSpec::of::<NudityConfig>() }

static SECTION: SectionSchema = SectionSchema::of::<NudityPeaks>(KEY, sample);

fn build(d: &Deps<'_>) -> Built {
    Ok(d.cfg.settings::<NudityConfig>().enabled.then(|| {
        Box::new(NudityAnalyser {
            vision: d.vision.clone(),
        }) as Box<dyn Analyser>
    }))
}

pub struct NudityAnalyser {
    vision: Arc<Vision>,
}

/// A frame's detections, as the analyser wrote them.
fn in_frame(f: &FrameDetections) -> Vec<NudityDetection> {
    f.parts.get(KEY).unwrap_or_default()
}

impl Analyser for NudityAnalyser {
    fn name(&self) -> &'static str {
        KEY
    }

    fn analyse(
        &self,
        frames: &[Frame<'_>],
        timings: &mut StageTimings,
    ) -> Result<Vec<Finding>, AnalyserError> {
        let t0 = Instant::now();
        let images: Vec<&RgbImage> = frames.iter().map(|f| f.image).collect();
        let found = self.vision.nudity.detect(&images)?;
        timings.add(KEY, t0.elapsed().as_secs_f64() * 1e3);
        Ok(found
            .into_iter()
            .map(|d| Box::new(move |f: &mut FrameDetections| f.parts.set(KEY, &d)) as Finding)
            .collect())
    }

    /// The highest score of each class, where and when, and in how many frames it was seen.
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        let mut peaks = NudityPeaks::new();
        for f in &signals.frames {
            let mut seen = Vec::new();
            for d in in_frame(f) {
                let score = widen(d.score);
                let peak = peaks.entry(d.class).or_insert(ClassPeak {
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
        signals.sections.set(KEY, &peaks);
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &[KEY]
    }

    fn summary(&self, signals: &Signals) -> Vec<String> {
        let peaks: NudityPeaks = match signals.sections.get(KEY) {
            Ok(p) => p,
            Err(e) => return vec![format!("nudity: {e}")],
        };
        if peaks.is_empty() {
            return vec!["nudity: no class detected".into()];
        }
        let mut out = vec!["nudity (highest score per class):".to_string()];
        out.extend(peaks.iter().map(|(class, peak)| {
            format!(
                "  {:<26} {:.3} at {:>6.2} s  ({} frames)",
                class.name(),
                peak.max_score,
                peak.time_s,
                peak.frames
            )
        }));
        out
    }

    fn frame_summary(&self, frame: &FrameDetections) -> Option<String> {
        let found: Vec<String> = in_frame(frame)
            .iter()
            .map(|d| format!("{} {:.2}", d.class.name(), d.score))
            .collect();
        Some(format!("nudity [{}]", found.join(", ")))
    }

    fn models(&self) -> Vec<ModelInfo> {
        vec![self.vision.manifest.get(ModelKind::Nudity).0.clone()]
    }
}

/// Every class present and alarming.
fn sample() -> serde_json::Value {
    let bbox = BBox {
        x: 10.0,
        y: 20.0,
        w: 100.0,
        h: 120.0,
    };
    let peaks: NudityPeaks = NudityClass::ALL
        .iter()
        .map(|c| {
            (
                *c,
                ClassPeak {
                    max_score: 0.99,
                    time_s: 2.0,
                    frames: 3,
                    bbox,
                },
            )
        })
        .collect();
    serde_json::to_value(peaks).expect("serialises")
}
