//! A snapshot that follows a generation in the database: the registry, the categories and the
//! banks each keep an immutable snapshot for screening and rebuild it when their generation
//! moves (a change through the API, the CLI or another process on the same database).

use std::sync::{Arc, Mutex, RwLock};

pub struct Snapshot<T> {
    current: RwLock<(u64, Arc<T>)>,
    /// Held while the snapshot is rebuilt, so concurrent checks build it once.
    rebuilding: Mutex<()>,
}

impl<T> Snapshot<T> {
    pub fn new(generation: u64, value: T) -> Self {
        Self {
            current: RwLock::new((generation, Arc::new(value))),
            rebuilding: Mutex::new(()),
        }
    }

    /// The snapshot in hand and its generation, without looking at the database.
    pub fn get(&self) -> (u64, Arc<T>) {
        let c = self.current.read().unwrap_or_else(|p| p.into_inner());
        (c.0, c.1.clone())
    }

    /// Rebuilds with `build` if `generation` (read from the database) moved; the new
    /// snapshot, or None if it had not moved. The generation is read again under the lock
    /// (another check may have rebuilt meanwhile) and before the build, so a change during
    /// the build is seen next time.
    pub fn refresh<E>(
        &self,
        generation: impl Fn() -> Result<u64, E>,
        build: impl FnOnce() -> Result<T, E>,
    ) -> Result<Option<Arc<T>>, E> {
        if self.get().0 == generation()? {
            return Ok(None);
        }
        let _one = self.rebuilding.lock().unwrap_or_else(|p| p.into_inner());
        let stored = generation()?;
        if self.get().0 == stored {
            return Ok(None);
        }
        let fresh = Arc::new(build()?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (stored, fresh.clone());
        Ok(Some(fresh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn rebuilds_only_when_the_generation_moves() {
        let s = Snapshot::new(1, "a".to_string());
        let generation = Cell::new(1);
        let gen = || Ok::<_, ()>(generation.get());
        assert_eq!(s.refresh(gen, || Ok("b".into())), Ok(None));
        generation.set(2);
        assert_eq!(
            s.refresh(gen, || Ok("c".into())).unwrap().as_deref(),
            Some(&"c".to_string())
        );
        assert_eq!(s.get(), (2, Arc::new("c".to_string())));
        generation.set(3);
        assert_eq!(s.refresh(gen, || Err(())), Err(()));
        assert_eq!(s.get().0, 2, "a failed build keeps the snapshot in hand");
    }
}
