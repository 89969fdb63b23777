//! PDQ hashes of analysed frames, for matching against the banks of known content.
//! Only frames the pipeline already decoded and sampled are hashed, and of those the scene
//! starts and about one a second (vPDQ hashes one frame a second too): a full-size PDQ costs
//! about 11 ms a 720p frame, and neighbouring frames of a shot hash alike. Near-duplicates
//! carry the hash of the frame they repeat. The clip is matched against the banks when it is
//! decided (the check service's bank stage, which writes [`set_hash_matches`]), not here: the
//! cached signals of a clip then meet the banks as they are at each decision, and a hash
//! banked a second ago is matched.
//!
//! Its sections: `signals.hash_matches` (left out when nothing matched) and per frame
//! `frames[].pdq` and `frames[].pdq_centre` (the keys are in the vocabulary, since the banks
//! read them to bank a decided clip).

use super::{Analyser, AnalyserError, Built, Deps, Finding, Frame, FrameNeed, Input, Registration};
use crate::config::{Settings, SettingsSpec};
use crate::vision::pdq;
use crate::vocab::{
    Action, FrameDetections, HashMatch, ModelInfo, SectionSchema, Signals, StageTimings,
    PDQ_CENTRE_KEY, PDQ_KEY,
};
use serde::{Deserialize, Serialize};
use std::time::Instant;

const KEY: &str = "hash_matches";

/// The bank items the clip matched when it was decided.
pub fn hash_matches(s: &Signals) -> Vec<HashMatch> {
    s.sections.get(KEY).unwrap_or_default()
}

/// Writes the bank items the clip matches, one entry per item (left out when none).
pub fn set_hash_matches(s: &mut Signals, matches: &[HashMatch]) {
    s.sections
        .set_unless_empty(KEY, &matches, matches.is_empty());
}

pub struct HashesAnalyser {
    interval_s: f64,
}

impl HashesAnalyser {
    pub fn new(interval_s: f64) -> Self {
        Self { interval_s }
    }
}

pub(super) const REGISTRATION: Registration = Registration {
    sections: std::slice::from_ref(&SECTION),
    build,
};

/// PDQ hashes of analysed frames, matched against the banks of known content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashesConfig {
    /// Hash analysed frames (about 11 ms per 720p frame) and match the banks.
    pub enabled: bool,
    /// Scene starts are hashed, and otherwise a changed frame once this many seconds have
    /// passed since the last one hashed (0: every analysed frame). Below two sampling
    /// intervals (media.sample_fps 2: 1 s), so about one hash a second, as vPDQ takes.
    pub interval_s: f64,
    /// A frame matches a banked hash at this Hamming distance (of 256 bits) or less: 31 is
    /// the threshold Meta's PDQ and vPDQ tools use.
    pub max_distance: u32,
    /// Hashes of lower quality (0-100), from flat or featureless frames, are not matched, on
    /// either side: they match unrelated pictures. 50 is vPDQ's default.
    pub min_quality: u8,
}

impl Default for HashesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_s: 0.9,
            max_distance: 31,
            min_quality: 50,
        }
    }
}

impl Settings for HashesConfig {
    const NAME: &'static str = "hashes";
}

inventory::submit! { SettingsSpec::of::<HashesConfig>() }

static SECTION: SectionSchema = SectionSchema::of::<Vec<HashMatch>>(KEY, sample);

fn build(d: &Deps<'_>) -> Built {
    let cfg: HashesConfig = d.cfg.settings();
    Ok(cfg
        .enabled
        .then(|| Box::new(HashesAnalyser::new(cfg.interval_s)) as Box<dyn Analyser>))
}

impl Analyser for HashesAnalyser {
    fn name(&self) -> &'static str {
        "pdq"
    }

    fn input(&self) -> Input {
        Input::Frames(FrameNeed::spaced(self.interval_s))
    }

    fn analyse(
        &self,
        frames: &[Frame<'_>],
        timings: &mut StageTimings,
    ) -> Result<Vec<Finding>, AnalyserError> {
        let t0 = Instant::now();
        let out = frames
            .iter()
            .map(|f| {
                let (h, c) = (pdq::hash(f.image), pdq::hash_centre(f.image));
                Box::new(move |d: &mut FrameDetections| {
                    d.parts.set(PDQ_KEY, &h);
                    d.parts.set(PDQ_CENTRE_KEY, &c);
                }) as Finding
            })
            .collect();
        timings.add("pdq", t0.elapsed().as_secs_f64() * 1e3);
        Ok(out)
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &[KEY]
    }

    fn summary(&self, signals: &Signals) -> Vec<String> {
        let hashed = signals
            .frames
            .iter()
            .filter(|f| f.duplicate_of.is_none() && f.pdq().0.is_some())
            .count();
        vec![format!(
            "pdq: {hashed} frames hashed (matched against the banks when decided)"
        )]
    }

    /// PDQ needs no model file.
    fn models(&self) -> Vec<ModelInfo> {
        Vec::new()
    }
}

/// A banked clip re-uploaded, in a bank that blocks and in one that reviews.
fn sample() -> serde_json::Value {
    let matches: Vec<HashMatch> = [Action::Block, Action::Review]
        .into_iter()
        .map(|action| HashMatch {
            bank: format!("{}-bank", action.as_str()),
            source: "ThreatExchange".into(),
            action,
            item: "decision:0190".into(),
            frames: 12,
            query_share: 0.6,
            bank_share: 0.9,
            best_distance: 4,
            first_s: 0.5,
            last_s: 9.5,
        })
        .collect();
    serde_json::to_value(matches).expect("serialises")
}
