//! PDQ hashes of analysed frames, for matching against the banks of known content.
//! Only frames the pipeline already decoded and sampled are hashed, and of those the scene
//! starts and about one a second (vPDQ hashes one frame a second too): a full-size PDQ costs
//! about 11 ms a 720p frame, and neighbouring frames of a shot hash alike. Near-duplicates
//! carry the hash of the frame they repeat. The clip is matched against the banks when it is decided
//! (`Screener::screen_hashes`), not here: the cached signals of a clip then meet the banks
//! as they are at each decision, and a hash banked a second ago is matched.

use super::{Analyser, AnalyserError, Deps, Finding, Frame, FrameNeed, Input, Registration};
use crate::vision::pdq;
use crate::vocab::{FrameDetections, ModelInfo, Signals, StageTimings};
use std::time::Instant;

pub struct HashesAnalyser {
    interval_s: f64,
}

impl HashesAnalyser {
    pub fn new(interval_s: f64) -> Self {
        Self { interval_s }
    }
}

pub(super) const REGISTRATION: Registration = Registration {
    section: None,
    build,
};

fn build(d: &Deps<'_>) -> Option<Box<dyn Analyser>> {
    d.cfg
        .hashes
        .enabled
        .then(|| Box::new(HashesAnalyser::new(d.cfg.hashes.interval_s)) as Box<dyn Analyser>)
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
                    d.pdq = Some(h);
                    d.pdq_centre = Some(c);
                }) as Finding
            })
            .collect();
        timings.add("pdq", t0.elapsed().as_secs_f64() * 1e3);
        Ok(out)
    }

    fn finish(&self, _signals: &mut Signals) -> Result<(), AnalyserError> {
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &["hash_matches"]
    }

    /// PDQ needs no model file.
    fn models(&self) -> Vec<ModelInfo> {
        Vec::new()
    }
}
