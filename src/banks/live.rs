//! The banks as running screeners see them: an immutable indexed snapshot, rebuilt when the
//! banks' generation in the database moves (as the persons registry is), so hashes added by
//! the API, the CLI or another process on the same database are matched from the next check.

use super::{BankSet, Banks, BanksError};
use std::sync::{Arc, Mutex, RwLock};

pub struct LiveBanks {
    banks: Banks,
    min_quality: u8,
    current: RwLock<(u64, Arc<BankSet>)>,
    /// Held while a snapshot is rebuilt, so concurrent checks build it once.
    rebuilding: Mutex<()>,
}

impl LiveBanks {
    /// Loads the banks' hashes of at least `min_quality` (the floor matching applies to clip
    /// frames too).
    pub fn load(banks: Banks, min_quality: u8) -> Result<Self, BanksError> {
        let generation = banks.generation()?;
        let set = banks.snapshot(min_quality)?;
        Ok(Self {
            banks,
            min_quality,
            current: RwLock::new((generation, Arc::new(set))),
            rebuilding: Mutex::new(()),
        })
    }

    /// The snapshot for the banks as they are now, rebuilt first if they changed.
    pub fn current(&self) -> Result<Arc<BankSet>, BanksError> {
        self.refresh()?;
        Ok(self.snapshot().1)
    }

    /// The generation of the banks as they are now (the snapshot rebuilt first if it moved).
    pub fn generation(&self) -> Result<u64, BanksError> {
        self.refresh()?;
        Ok(self.snapshot().0)
    }

    fn snapshot(&self) -> (u64, Arc<BankSet>) {
        let c = self.current.read().unwrap_or_else(|p| p.into_inner());
        (c.0, c.1.clone())
    }

    /// Rebuilds the snapshot if the generation moved; true if it did.
    pub fn refresh(&self) -> Result<bool, BanksError> {
        let stored = self.banks.generation()?;
        if self.snapshot().0 == stored {
            return Ok(false);
        }
        let _one = self.rebuilding.lock().unwrap_or_else(|p| p.into_inner());
        // Read again under the lock: another check may have rebuilt it meanwhile. The
        // generation is read before the build, so a change during the build is seen next time.
        let stored = self.banks.generation()?;
        if self.snapshot().0 == stored {
            return Ok(false);
        }
        let fresh = Arc::new(self.banks.snapshot(self.min_quality)?);
        tracing::info!(
            generation = stored,
            hashes = fresh.len(),
            "banks changed: snapshot rebuilt"
        );
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (stored, fresh);
        Ok(true)
    }

    /// Looks for bank changes every `every` in the background, so a large import by another
    /// process is indexed before a check has to wait for it.
    pub fn watch(self: &Arc<Self>, every: std::time::Duration) {
        let live = Arc::clone(self);
        std::thread::spawn(move || loop {
            std::thread::sleep(every);
            if let Err(e) = live.refresh() {
                tracing::warn!(error = %e, "cannot refresh the banks snapshot");
            }
        });
    }

    pub fn banks(&self) -> &Banks {
        &self.banks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::banks::{Banked, NewBank};
    use crate::store::Store;
    use crate::vocab::{Action, FramePdq, Pdq};

    #[test]
    fn the_snapshot_follows_changes_to_the_banks() {
        let banks = Banks::new(Arc::new(Store::in_memory().unwrap()));
        let live = LiveBanks::load(banks.clone(), 50).unwrap();
        assert!(live.current().unwrap().is_empty());
        assert!(!live.refresh().unwrap(), "nothing changed");
        banks
            .create(&NewBank {
                name: "b".into(),
                source: "tests".into(),
                action: Action::Block,
            })
            .unwrap();
        let banked = |q| Banked {
            item: "x".into(),
            pdq: FramePdq {
                hash: Pdq([7; 32]),
                quality: q,
            },
        };
        banks.add("b", &[banked(90)]).unwrap();
        assert_eq!(live.current().unwrap().len(), 1);
        banks.remove("b").unwrap();
        assert_eq!(live.current().unwrap().len(), 0);
    }
}
