//! Meaning: what the clip's words mean, by text category (the `meaning` module), under
//! `signals.meaning.<category>`. Nothing is looked at while the clip is screened: the text
//! read on screen and the transcript of the speech are scored when the decision is made (the
//! `meaning` stage, `service/stages.rs`), by the same code as the prompt, so a caption or a
//! spoken sentence counts as the same words in the prompt would. This analyser owns the
//! section, its schema, its summary lines and its configuration.

use super::{Analyser, Built, Deps, Input, Registration};
use crate::config::{Settings, SettingsSpec};
use crate::vocab::{
    Dotted, MeaningMatch, Meanings, ModelInfo, SectionSchema, Sections, Severity, Signals,
    TextSource,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const KEY: &str = "meaning";
/// The version of the text category set the clip's words were scored against (absent when it
/// had none): not for policies, for knowing which set (shipped and an admin's) decided.
const VERSION: &str = "meaning_version";

/// Text categories, by example phrases, for prompts, on-screen text and speech.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeaningConfig {
    /// Score prompts, on-screen text and transcripts against the text categories. The
    /// default policy's `meaning-` rules read `prompt.meaning` and `signals.meaning`.
    pub enabled: bool,
    /// The category set: `<policies.dir>/meaning/<set>.yaml`.
    pub set: String,
    /// Where the embeddings of the set's phrases are kept between starts (default
    /// `<data_dir>/meaning`): embedding them takes seconds of CPU, so replicas or test runs
    /// that start often can share one folder (files are named by the phrases and the model).
    pub cache_dir: Option<PathBuf>,
}

impl Default for MeaningConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            set: "categories".into(),
            cache_dir: None,
        }
    }
}

impl Settings for MeaningConfig {
    const NAME: &'static str = "meaning";
}

inventory::submit! { SettingsSpec::of::<MeaningConfig>() }

impl MeaningConfig {
    /// The category set's file under the policies folder.
    pub fn definitions(&self, policies_dir: &Path) -> PathBuf {
        policies_dir
            .join("meaning")
            .join(format!("{}.yaml", self.set))
    }

    /// The folder the phrase embeddings are cached in.
    pub fn cache(&self, data_dir: &Path) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("meaning"))
    }
}

/// Each category the clip's words counted for (none when meaning is off or the clip has no
/// words), from a clip's sections.
pub fn meaning_section(s: &Sections) -> Meanings {
    s.get(KEY).unwrap_or_default()
}

/// Written by the decision-time stage, with the version of the set that scored the words.
pub fn set_meaning_section(s: &mut Signals, found: &Meanings, version: &str) {
    s.sections.set(KEY, found);
    s.sections
        .set_unless_empty(VERSION, &version, version.is_empty());
}

pub(super) const REGISTRATION: Registration = Registration {
    sections: std::slice::from_ref(&SECTION),
    build,
};

/// Rules name a category with a dot (`signals.meaning.sexual_minors`); categories are defined
/// in a file or by an admin, so a rule may name one not defined yet.
static SECTION: SectionSchema =
    SectionSchema::of::<Meanings>(KEY, sample).with_dotted(Dotted::AtRunTime(1));

fn build(d: &Deps<'_>) -> Built {
    let cfg: MeaningConfig = d.cfg.settings();
    Ok(cfg
        .enabled
        .then(|| Box::new(MeaningAnalyser) as Box<dyn Analyser>))
}

pub struct MeaningAnalyser;

impl Analyser for MeaningAnalyser {
    fn name(&self) -> &'static str {
        KEY
    }

    /// The clip as a whole, looked at for nothing: the section is filled in at decision time.
    fn input(&self) -> Input {
        Input::Clip
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &[KEY]
    }

    fn summary(&self, signals: &Signals) -> Vec<String> {
        meaning_section(&signals.sections)
            .iter()
            .filter(|(_, m)| m.severity > Severity::SAFE)
            .map(|(name, m)| {
                let place = match m.source {
                    TextSource::Speech => format!("said at {:.1}-{:.1} s", m.time_s, m.end_s),
                    TextSource::Screen => format!("on screen {:.1}-{:.1} s", m.time_s, m.end_s),
                    TextSource::Prompt => "in the prompt".into(),
                };
                format!(
                    "meaning {name} (severity {}): \"{}\" {place}, score {:.3}, similarity {:.3} \
                     to \"{}\" (innocent phrases {:.3})",
                    m.severity.level(),
                    m.text,
                    m.score,
                    m.similarity,
                    m.example,
                    m.counter_similarity
                )
            })
            .collect()
    }

    fn models(&self) -> Vec<ModelInfo> {
        Vec::new()
    }
}

/// Sexual content involving a minor said in the soundtrack.
fn sample() -> serde_json::Value {
    let found: Meanings = [(
        "sexual_minors".to_string(),
        MeaningMatch {
            severity: Severity::HIGH,
            score: 0.9,
            similarity: 0.9,
            counter_similarity: 0.8,
            example: "a teenage girl + a naked woman".into(),
            source: TextSource::Speech,
            text: "sample".into(),
            start: 0,
            end: 6,
            time_s: 1.0,
            end_s: 2.0,
        },
    )]
    .into();
    serde_json::to_value(found).expect("serialises")
}
