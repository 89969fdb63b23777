//! The meaning model as the process holds it: loaded on the first text to score (the encoder,
//! the embedding of every phrase, or the cached embeddings of an earlier load, and the heads'
//! training), then shared by every decision; a check with no prompt, caption or speech never
//! loads it. With the admin's categories (`admin`), the model decisions use is the shipped one
//! with those added, rebuilt when their generation in the database moves.

use super::{Definitions, MeaningError, MeaningModel, TextCategories, TextEncoder, Tokenizer};
use crate::store::live::Snapshot;
use crate::vision::{Manifest, Runtime, VisionError};
use crate::vocab::{ModelInfo, ModelKind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// The manifest's data entry for the encoder's vocabulary and normalisation map.
pub const TOKENIZER_DATA: &str = "e5-small-tokenizer";

pub struct LiveMeaning {
    runtime: Runtime,
    manifest: Manifest,
    definitions: PathBuf,
    /// Where the phrases' embeddings are kept between processes (none: embedded every load).
    cache: Option<PathBuf>,
    /// The shipped set's model.
    model: OnceLock<Arc<MeaningModel>>,
    /// Held while the model loads, so concurrent first uses load it once.
    loading: Mutex<()>,
    /// The admin's categories, when they are read.
    admin: Option<TextCategories>,
    /// The shipped model with the admin's categories added, at their generation (none before
    /// the first use: generations start at 1).
    current: Snapshot<Option<Arc<MeaningModel>>>,
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
            admin: None,
            current: Snapshot::new(0, None),
        })
    }

    /// Decisions also use the admin's categories in `admin`, followed as they change.
    pub fn with_admin(mut self, admin: TextCategories) -> Self {
        self.admin = Some(admin);
        self
    }

    pub fn admin(&self) -> Option<&TextCategories> {
        self.admin.as_ref()
    }

    /// The model decisions use: the shipped set's, with the admin's categories as they are now
    /// (rebuilt first if they changed since the last use; a database that cannot be read fails
    /// the check rather than scoring without them).
    pub fn current(&self) -> Result<Arc<MeaningModel>, MeaningError> {
        self.get()?;
        let base = self.model.get().expect("loaded by get").clone();
        let Some(admin) = &self.admin else {
            return Ok(base);
        };
        let fresh = self.current.refresh(
            || admin.generation().map_err(MeaningError::from),
            || {
                let added = admin.added()?;
                let t0 = std::time::Instant::now();
                let model = base.with_added(&added)?;
                tracing::info!(
                    version = %model.version,
                    added = added.len(),
                    ms = t0.elapsed().as_millis() as u64,
                    "text categories changed: set rebuilt"
                );
                Ok(Some(Arc::new(model)))
            },
        )?;
        let model = match fresh {
            Some(m) => m,
            None => self.current.get().1,
        };
        Ok(model.as_ref().clone().unwrap_or(base))
    }

    /// The encoder's manifest entry, when one is declared.
    pub fn encoder_model(&self) -> Option<&ModelInfo> {
        self.manifest.find(ModelKind::TextEmbed).map(|(m, _)| m)
    }

    /// The shipped set's model, loaded first if this is its first use.
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
        Ok(self.model.get_or_init(|| Arc::new(model)))
    }
}
