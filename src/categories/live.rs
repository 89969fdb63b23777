//! The category set as running screeners see it: a snapshot rebuilt when the generation in the
//! database moves (a change through the API, the CLI or another replica).

use super::{Categories, CategoriesError, CategorySet};
use std::sync::{Arc, Mutex, RwLock};

pub struct LiveCategories {
    categories: Categories,
    /// The sha256 of the image encoder the snapshot's embeddings must come from.
    model_sha256: String,
    current: RwLock<(u64, Arc<CategorySet>)>,
    rebuilding: Mutex<()>,
}

impl LiveCategories {
    pub fn load(categories: Categories, model_sha256: String) -> Result<Self, CategoriesError> {
        let generation = categories.generation()?;
        let set = build(&categories, &model_sha256)?;
        Ok(Self {
            categories,
            model_sha256,
            current: RwLock::new((generation, Arc::new(set))),
            rebuilding: Mutex::new(()),
        })
    }

    /// The set as it is now, rebuilt first if it changed.
    pub fn current(&self) -> Result<Arc<CategorySet>, CategoriesError> {
        let stored = self.categories.generation()?;
        if self.snapshot().0 != stored {
            let _one = self.rebuilding.lock().unwrap_or_else(|p| p.into_inner());
            let stored = self.categories.generation()?;
            if self.snapshot().0 != stored {
                let fresh = Arc::new(build(&self.categories, &self.model_sha256)?);
                tracing::info!(
                    version = %fresh.version,
                    categories = fresh.categories.len(),
                    "categories changed: set rebuilt"
                );
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = (stored, fresh);
            }
        }
        Ok(self.snapshot().1)
    }

    fn snapshot(&self) -> (u64, Arc<CategorySet>) {
        let c = self.current.read().unwrap_or_else(|p| p.into_inner());
        (c.0, c.1.clone())
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
