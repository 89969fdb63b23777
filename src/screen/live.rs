//! The live snapshots screening and deciding read: the persons registry, the categories, the
//! banks of known content and the Content Credentials signer. Built once by the application
//! context and shared by the analysers (at screening) and the decision-time stages (at
//! deciding), so neither reaches through the other to find them.

use super::ScreenError;
use crate::analysers::HashesConfig;
use crate::attest::c2pa::Credentials;
use crate::banks::{Banks, LiveBanks};
use crate::categories::{Categories, LiveCategories};
use crate::config::Config;
use crate::persons::{LivePersons, Registry};
use crate::vision::Vision;
use crate::vocab::ModelKind;
use std::sync::Arc;

pub struct Live {
    pub persons: Arc<LivePersons>,
    pub categories: Arc<LiveCategories>,
    pub banks: Arc<LiveBanks>,
    /// Reads each clip's Content Credentials against the trust anchors, and signs.
    pub credentials: Arc<Credentials>,
}

impl Live {
    /// Snapshots of the registry (faces embedded by another model than the one loaded are
    /// left out), the categories and the banks, and the signing chain (created on first use).
    pub fn load(
        cfg: &Config,
        vision: &Vision,
        registry: Registry,
        categories: Categories,
        banks: Banks,
    ) -> Result<Self, ScreenError> {
        let embed_model = vision.manifest.get(ModelKind::Embed).0.sha256.clone();
        let encoder = vision.encoder_model().map(|m| m.sha256.clone());
        Ok(Self {
            persons: Arc::new(LivePersons::load(registry, embed_model)?),
            categories: Arc::new(LiveCategories::load(
                categories,
                encoder.unwrap_or_default(),
            )?),
            banks: Arc::new(LiveBanks::load(
                banks,
                cfg.settings::<HashesConfig>().min_quality,
            )?),
            credentials: Arc::new(Credentials::load_or_create(&cfg.data_dir, &cfg.c2pa)?),
        })
    }

    /// The registry's generation as of now (refreshing the snapshot if it moved).
    pub fn persons_generation(&self) -> Result<u64, ScreenError> {
        Ok(self.persons.current()?.0)
    }

    /// The category set's version as of now (rebuilding the set if it changed); empty while
    /// none is defined.
    pub fn categories_version(&self) -> Result<String, ScreenError> {
        Ok(self.categories.current()?.version.clone())
    }

    /// The banks' generation as of now (refreshing the snapshot if it moved).
    pub fn banks_generation(&self) -> Result<u64, ScreenError> {
        Ok(self.banks.generation()?)
    }
}
