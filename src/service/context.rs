//! The application context, built the same way by the server, the CLI and the audit: the
//! database first (enough for commands that only read it), then, on demand, the models, the
//! policy and the signing key that checking needs.

use super::cache::SignalsCache;
use super::intake::Intake;
use super::pool::Pool;
use super::{stages, CheckService};
use crate::analysers;
use crate::attest::{AttestError, Signer};
use crate::banks::Banks;
use crate::categories::Categories;
use crate::config::Config;
use crate::meaning::TextCategories;
use crate::objects::Roots;
use crate::persons::registry::Words;
use crate::persons::{PersonsError, Registry};
use crate::policy::{LivePolicy, PolicyError};
use crate::screen::{Live, ScreenError, Screener};
use crate::store::{DecisionLog, Store, StoreError};
use crate::vision::{Manifest, Vision};
use crate::vocab::ModelKind;
use crate::vocab::{ErrorCode, Failure};
use std::sync::Arc;
use std::time::Duration;

/// Thumbnail jobs that may wait for the evidence lane; more are skipped (a burst of reviews
/// under load): the decision stands without them.
const EVIDENCE_QUEUE: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("loading models: {0}")]
    Screen(#[from] ScreenError),
    #[error(transparent)]
    Persons(#[from] PersonsError),
    #[error(transparent)]
    Attest(#[from] AttestError),
}

impl Failure for ContextError {
    fn code(&self) -> ErrorCode {
        match self {
            ContextError::Store(e) => e.code(),
            ContextError::Policy(e) => e.code(),
            ContextError::Screen(e) => e.code(),
            ContextError::Persons(e) => e.code(),
            ContextError::Attest(e) => e.code(),
        }
    }
}

pub struct Context {
    pub cfg: Config,
    store: Arc<Store>,
    registry: Registry,
}

impl Context {
    /// Opens the database (migrating it if needed). Loads no model.
    pub fn open(cfg: Config) -> Result<Self, ContextError> {
        let store = Arc::new(Store::connect(cfg.store.url.as_deref(), &cfg.data_dir)?);
        let words = Words::from_manifest(&cfg.models.manifest, &cfg.models.dir);
        let registry = Registry::new(store.clone(), words);
        Ok(Self {
            cfg,
            store,
            registry,
        })
    }

    pub fn decisions(&self) -> &dyn DecisionLog {
        self.store.as_ref()
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The categories defined by example (no model is loaded to list or delete them).
    pub fn categories(&self) -> Categories {
        Categories::new(self.store.clone())
    }

    /// The text categories an admin added beside the shipped set (no model is loaded: the
    /// manifest gives the encoder's sha256 for the set's version).
    pub fn text_categories(&self) -> Result<TextCategories, ContextError> {
        let manifest = Manifest::load(&self.cfg.models.manifest, &self.cfg.models.dir)
            .map_err(ScreenError::from)?;
        Ok(self.text_categories_with(&manifest))
    }

    fn text_categories_with(&self, manifest: &Manifest) -> TextCategories {
        let meaning_cfg: analysers::MeaningConfig = self.cfg.settings();
        TextCategories::new(
            self.store.clone(),
            meaning_cfg.definitions(&self.cfg.policies.dir),
            manifest
                .find(ModelKind::TextEmbed)
                .map(|(m, _)| m.sha256.clone())
                .unwrap_or_default(),
        )
    }

    /// The banks of known content (no model or snapshot loaded).
    pub fn banks(&self) -> Banks {
        Banks::new(self.store.clone())
    }

    /// The verified models, the live snapshots and the analysers `cfg` enables, without a
    /// policy or a service around them (for benchmarks and tools that screen only).
    pub fn screening(&self) -> Result<(Arc<Screener>, Arc<Live>), ContextError> {
        let options = crate::analysers::vision_options(&self.cfg);
        let vision = Arc::new(Vision::load(&self.cfg, &options).map_err(ScreenError::from)?);
        let live = Arc::new(Live::load(
            &self.cfg,
            &vision,
            self.registry.clone(),
            self.categories(),
            self.banks(),
        )?);
        Ok((Arc::new(Screener::new(&self.cfg, vision, &live)?), live))
    }

    /// Everything checking needs: the policy in force, the verified models, the registry
    /// snapshot, the signing key (created in the data folder on first use), a pool of
    /// `workers` screenings with `queue` waiting, and the clip cache.
    pub fn service(&self, workers: usize, queue: usize) -> Result<Arc<CheckService>, ContextError> {
        let cfg = &self.cfg;
        let (screener, live) = self.screening()?;
        let policy = Arc::new(LivePolicy::load(
            &cfg.policies,
            &analysers::schema(),
            &screener.policy_fields(),
        )?);
        let meaning_cfg: analysers::MeaningConfig = cfg.settings();
        let text_categories = self.text_categories_with(&screener.vision().manifest);
        let meaning = meaning_cfg
            .enabled
            .then(|| {
                crate::meaning::LiveMeaning::new(
                    screener.vision().runtime().clone(),
                    screener.vision().manifest.clone(),
                    meaning_cfg.definitions(&cfg.policies.dir),
                    Some(meaning_cfg.cache(&cfg.data_dir)),
                )
                .map(|m| Arc::new(m.with_admin(text_categories.clone())))
            })
            .transpose()
            .map_err(ScreenError::from)?;
        let stages = stages::load(&live, &cfg.settings(), meaning).into();
        crate::metrics::models_loaded(
            screener
                .models()
                .iter()
                .map(|m| (m.name.as_str(), m.kind.as_str(), m.sha256.as_str())),
        );
        let model_set = screener
            .models()
            .iter()
            .map(|m| m.sha256.as_str())
            .collect::<Vec<_>>()
            .join(",");
        Ok(Arc::new(CheckService {
            store: self.store.clone(),
            live,
            screener,
            stages,
            policy,
            signer: Arc::new(Signer::configured(
                cfg.attestation.key_file.as_deref(),
                &cfg.data_dir,
                cfg.store.url.is_some(),
            )?),
            pool: Arc::new(Pool::new(workers, queue)),
            evidence: Arc::new(Pool::new(1, EVIDENCE_QUEUE)),
            cache: Arc::new(SignalsCache::new(cfg.server.cache_clips)),
            intake: Intake {
                roots: Roots::new(&cfg.server.file_roots),
                tmp: cfg.data_dir.join("tmp"),
                max_file_bytes: cfg.media.max_file_bytes,
            },
            deadline: Duration::from_secs(cfg.server.deadline_s),
            model_set,
            text_categories,
        }))
    }
}
