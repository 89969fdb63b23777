//! The meaning model as the process holds it: loaded on the first text to score (the encoder,
//! the embedding of every phrase, or the cached embeddings of an earlier load, and the heads'
//! training), then shared by every decision; a check with no prompt, caption or speech never
//! loads it.

use super::{Definitions, MeaningError, MeaningModel, TextEncoder, Tokenizer};
use crate::vision::{Manifest, Runtime, VisionError};
use crate::vocab::{ModelInfo, ModelKind};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// The manifest's data entry for the encoder's vocabulary and normalisation map.
pub const TOKENIZER_DATA: &str = "e5-small-tokenizer";

pub struct LiveMeaning {
    runtime: Runtime,
    manifest: Manifest,
    definitions: PathBuf,
    /// Where the phrases' embeddings are kept between processes (none: embedded every load).
    cache: Option<PathBuf>,
    model: OnceLock<MeaningModel>,
    /// Held while the model loads, so concurrent first uses load it once.
    loading: Mutex<()>,
}

impl LiveMeaning {
    /// Reads and checks the definitions now (a broken file fails at start); embeds them on
    /// first use.
    pub fn new(
        runtime: Runtime,
        manifest: Manifest,
        definitions: PathBuf,
        cache: Option<PathBuf>,
    ) -> Result<Self, MeaningError> {
        Definitions::load(&definitions)?;
        Ok(Self {
            runtime,
            manifest,
            definitions,
            cache,
            model: OnceLock::new(),
            loading: Mutex::new(()),
        })
    }

    /// The encoder's manifest entry, when one is declared.
    pub fn encoder_model(&self) -> Option<&ModelInfo> {
        self.manifest.find(ModelKind::TextEmbed).map(|(m, _)| m)
    }

    /// The model, loaded first if this is its first use.
    pub fn get(&self) -> Result<&MeaningModel, MeaningError> {
        if let Some(m) = self.model.get() {
            return Ok(m);
        }
        let _one = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = self.model.get() {
            return Ok(m);
        }
        let Some(info) = self.encoder_model() else {
            return Err(VisionError::Manifest {
                path: "models manifest".into(),
                reason: "no model of kind text_embed (needed for text categories)".into(),
            }
            .into());
        };
        let path = self.manifest.verified(info)?;
        let Some(vocab) = self.manifest.data_file(TOKENIZER_DATA)? else {
            return Err(VisionError::Manifest {
                path: "models manifest".into(),
                reason: format!("no data entry {TOKENIZER_DATA:?} (the text encoder's tokenizer)"),
            }
            .into());
        };
        let encoder = TextEncoder::load(&self.runtime, &info.name, path, Tokenizer::load(vocab)?)?;
        let defs = Definitions::load(&self.definitions)?;
        let t0 = std::time::Instant::now();
        let model = MeaningModel::new(encoder, &defs, &info.sha256, self.cache.as_deref())?;
        tracing::info!(
            version = %model.version,
            ms = t0.elapsed().as_millis() as u64,
            "text categories embedded"
        );
        Ok(self.model.get_or_init(|| model))
    }
}
