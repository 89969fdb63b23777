//! Provenance: the clip's Content Credentials (C2PA manifest), read from the file as a whole
//! and validated against the configured trust anchors, under `signals.provenance`.

use super::{Analyser, AnalyserError, Built, ClipFinding, ClipInput, Deps, Input, Registration};
use crate::attest::c2pa::Credentials;
use crate::vocab::{
    ModelInfo, Provenance, ProvenanceIngredient, ProvenanceState, SectionSchema, Signals,
    StageTimings,
};
use std::sync::Arc;
use std::time::Instant;

const KEY: &str = "provenance";

pub(super) const REGISTRATION: Registration = Registration {
    sections: std::slice::from_ref(&SECTION),
    build,
};

static SECTION: SectionSchema = SectionSchema::of::<Provenance>(KEY, sample);

/// Always on: reading a manifest takes about a millisecond, and a clip's claims about where it
/// came from matter to every policy.
fn build(d: &Deps<'_>) -> Built {
    Ok(Some(Box::new(ProvenanceAnalyser {
        credentials: d.credentials.clone(),
    })))
}

pub struct ProvenanceAnalyser {
    credentials: Arc<Credentials>,
}

impl Analyser for ProvenanceAnalyser {
    fn name(&self) -> &'static str {
        KEY
    }

    fn input(&self) -> Input {
        Input::Clip
    }

    fn inspect(
        &self,
        clip: &ClipInput<'_>,
        timings: &mut StageTimings,
    ) -> Result<ClipFinding, AnalyserError> {
        let t0 = Instant::now();
        let found = self.credentials.read(clip.path);
        timings.add(KEY, t0.elapsed().as_secs_f64() * 1e3);
        Ok(Box::new(move |s: &mut Signals| s.sections.set(KEY, &found)))
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &[KEY]
    }

    fn summary(&self, signals: &Signals) -> Vec<String> {
        let p = match signals.sections.get::<Provenance>(KEY) {
            Ok(p) => p,
            Err(e) => return vec![format!("provenance: {e}")],
        };
        let mut line = format!("provenance: {}", p.state.as_str());
        if !p.generator.is_empty() {
            line += &format!(
                ", signed by {} ({}) for {} {}",
                p.common_name, p.issuer, p.generator, p.generator_version
            );
        }
        if !p.clipguard_decision.is_empty() {
            line += &format!(", clipguard decision {}", p.clipguard_decision);
        }
        let mut out = vec![line];
        out.extend(p.problems.iter().map(|x| format!("  {x}")));
        out
    }

    fn models(&self) -> Vec<ModelInfo> {
        Vec::new()
    }
}

fn sample() -> serde_json::Value {
    let p = Provenance {
        state: ProvenanceState::Invalid,
        problems: vec!["assertion.dataHash.mismatch: the media was changed".into()],
        generator: "Generator".into(),
        generator_version: "1.0".into(),
        issuer: "Issuer".into(),
        common_name: "Signer".into(),
        actions: vec!["c2pa.created".into()],
        digital_source_types: vec![
            "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia".into(),
        ],
        software_agents: vec!["Model".into()],
        ingredients: vec![ProvenanceIngredient {
            title: "parent.mp4".into(),
            format: "video/mp4".into(),
            relationship: "parentOf".into(),
        }],
        clipguard_decision: "d-1".into(),
    };
    serde_json::to_value(p).expect("serialises")
}
