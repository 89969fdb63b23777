//! The banks as running screeners see them: an immutable indexed snapshot, rebuilt when the
//! banks' generation in the database moves (as the persons registry is), so hashes added by
//! the API, the CLI or another process on the same database are matched from the next check.

use super::{BankSet, Banks, BanksError};
use crate::store::live::Snapshot;
use std::sync::Arc;

pub struct LiveBanks {
    banks: Banks,
    min_quality: u8,
    current: Snapshot<BankSet>,
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
            current: Snapshot::new(generation, set),
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
        self.current.get()
    }

    /// Rebuilds the snapshot if the generation moved; true if it did.
    pub fn refresh(&self) -> Result<bool, BanksError> {
        let fresh = self.current.refresh(
            || self.banks.generation(),
            || self.banks.snapshot(self.min_quality),
        )?;
        if let Some(fresh) = &fresh {
            tracing::info!(hashes = fresh.len(), "banks changed: snapshot rebuilt");
        }
        Ok(fresh.is_some())
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
