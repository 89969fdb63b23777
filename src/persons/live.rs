//! The registry as running screeners see it: an immutable snapshot, replaced whenever the
//! registry's generation in the database moves. The generation is bumped by triggers on every
//! change, so a change made through the API, the CLI, an import or another process on the same
//! database reaches every screener, at its next check or at the next periodic refresh.

use super::{Persons, PersonsError, Registry};
use crate::store::live::Snapshot;
use std::sync::Arc;

pub struct LivePersons {
    registry: Registry,
    /// Faces embedded by another model are left out of the snapshot.
    embed_model_sha256: String,
    current: Snapshot<Persons>,
}

impl LivePersons {
    pub fn load(registry: Registry, embed_model_sha256: String) -> Result<Self, PersonsError> {
        let generation = registry.generation()?;
        let persons = build(&registry, &embed_model_sha256)?;
        Ok(Self {
            registry,
            embed_model_sha256,
            current: Snapshot::new(generation, persons),
        })
    }

    /// The snapshot for the registry as it is now, rebuilt first if the registry changed.
    pub fn current(&self) -> Result<(u64, Arc<Persons>), PersonsError> {
        self.refresh()?;
        Ok(self.snapshot())
    }

    /// The snapshot in hand, without looking at the database.
    pub fn snapshot(&self) -> (u64, Arc<Persons>) {
        self.current.get()
    }

    /// Rebuilds the snapshot if the registry's generation moved; true if it did.
    pub fn refresh(&self) -> Result<bool, PersonsError> {
        let fresh = self.current.refresh(
            || self.registry.generation(),
            || build(&self.registry, &self.embed_model_sha256),
        )?;
        if fresh.is_some() {
            tracing::info!(
                generation = self.current.get().0,
                "persons registry changed: snapshot rebuilt"
            );
        }
        Ok(fresh.is_some())
    }

    /// Looks for registry changes every `every` in the background, so a change made by
    /// another process is picked up even when no check comes to notice it.
    pub fn watch(self: &Arc<Self>, every: std::time::Duration) {
        let live = Arc::clone(self);
        std::thread::spawn(move || loop {
            std::thread::sleep(every);
            if let Err(e) = live.refresh() {
                tracing::warn!(error = %e, "cannot refresh the persons snapshot");
            }
        });
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

fn build(registry: &Registry, embed_model_sha256: &str) -> Result<Persons, PersonsError> {
    let (persons, stale) = registry.snapshot(embed_model_sha256)?;
    if stale > 0 {
        tracing::warn!(
            stale,
            "face embeddings from another embedding model are ignored: enrol those images again"
        );
    }
    Ok(persons)
}
