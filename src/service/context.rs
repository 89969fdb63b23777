//! The application context, built the same way by the server, the CLI and the audit: the
//! database first (enough for commands that only read it), then, on demand, the models, the
//! policy and the signing key that checking needs.

use super::cache::SignalsCache;
use super::intake::Intake;
use super::pool::Pool;
use super::CheckService;
use crate::attest::{AttestError, Signer};
use crate::categories::Categories;
use crate::config::Config;
use crate::objects::Roots;
use crate::persons::registry::Words;
use crate::persons::{PersonsError, Registry};
use crate::policy::{LivePolicy, PolicyError};
use crate::screen::{ScreenError, Screener};
use crate::store::{DecisionLog, Store, StoreError};
use crate::vocab::{ErrorCode, Failure};
use std::sync::Arc;
use std::time::Duration;

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
        let store = Arc::new(Store::open(&cfg.data_dir)?);
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

    /// Everything checking needs: the policy in force, the verified models, the registry
    /// snapshot, the signing key (created in the data folder on first use), a pool of
    /// `workers` screenings with `queue` waiting, and the clip cache.
    pub fn service(&self, workers: usize, queue: usize) -> Result<Arc<CheckService>, ContextError> {
        let cfg = &self.cfg;
        let screener = Arc::new(Screener::load(
            cfg,
            self.registry.clone(),
            self.categories(),
        )?);
        let policy = Arc::new(LivePolicy::load(&cfg.policies, &screener.policy_fields())?);
        let persons = screener.persons().clone();
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
            persons,
            screener,
            policy,
            signer: Arc::new(Signer::load_or_create(&cfg.data_dir)?),
            pool: Arc::new(Pool::new(workers, queue)),
            cache: Arc::new(SignalsCache::new(cfg.server.cache_clips)),
            intake: Intake {
                roots: Roots::new(&cfg.server.file_roots),
                tmp: cfg.data_dir.join("tmp"),
                max_file_bytes: cfg.media.max_file_bytes,
            },
            deadline: Duration::from_secs(cfg.server.deadline_s),
            model_set,
        }))
    }
}
