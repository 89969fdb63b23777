//! The category set as running screeners see it: a snapshot rebuilt when the generation in the
//! database moves (a change through the API, the CLI or another replica).

use super::{Categories, CategoriesError, CategorySet};
use crate::store::live::Snapshot;
use std::sync::Arc;

pub struct LiveCategories {
    categories: Categories,
    /// The sha256 of the image encoder the snapshot's embeddings must come from.
    model_sha256: String,
    current: Snapshot<CategorySet>,
}

impl LiveCategories {
    pub fn load(categories: Categories, model_sha256: String) -> Result<Self, CategoriesError> {
        let generation = categories.generation()?;
        let set = build(&categories, &model_sha256)?;
        Ok(Self {
            categories,
            model_sha256,
            current: Snapshot::new(generation, set),
        })
    }

    /// The set as it is now, rebuilt first if it changed.
    pub fn current(&self) -> Result<Arc<CategorySet>, CategoriesError> {
        let fresh = self.current.refresh(
            || self.categories.generation(),
            || build(&self.categories, &self.model_sha256),
        )?;
        if let Some(fresh) = &fresh {
            tracing::info!(
                version = %fresh.version,
                categories = fresh.categories.len(),
                "categories changed: set rebuilt"
            );
        }
        Ok(self.current.get().1)
    }

    pub fn categories(&self) -> &Categories {
        &self.categories
    }

    pub fn model_sha256(&self) -> &str {
        &self.model_sha256
    }
}

fn build(categories: &Categories, model_sha256: &str) -> Result<CategorySet, CategoriesError> {
    let (set, stale) = categories.snapshot(model_sha256)?;
    if stale > 0 {
        tracing::warn!(
            stale,
            "categories embedded by another image encoder are ignored: create them again"
        );
    }
    Ok(set)
}
