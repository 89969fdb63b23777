//! Screening results by clip, with single-flight: a retry storm from the pipeline costs one
//! screening, and a repeated check returns the decision already logged for it.
//!
//! Two levels, because they depend on different things. What a clip contains (its `Signals`)
//! depends on its bytes, the models and the persons registry, so that is the entry's key. The
//! decision also depends on the policy and the request, so decisions are remembered inside the
//! entry under (policy version, request): a policy reload then re-decides from the cached
//! signals in microseconds instead of screening the clip again.

use crate::vocab::{CheckRequest, Decision, Signals};
use dashmap::DashMap;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClipKey {
    pub clip_sha256: String,
    /// The models' sha256s, joined.
    pub models: String,
    /// Bumped on every change to the persons registry.
    pub persons_generation: u64,
    /// The version of the category set (empty while none is defined).
    pub categories_version: String,
}

/// How a lookup was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Signals were already there.
    Hit,
    /// Another request was screening the same clip; this one waited for its result.
    Joined,
    /// This request screened the clip.
    Miss,
}

impl CacheOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Joined => "joined",
            CacheOutcome::Miss => "miss",
        }
    }
}

/// Decisions remembered per clip.
const DECISIONS_PER_CLIP: usize = 16;

pub struct Entry {
    signals: tokio::sync::OnceCell<Arc<Signals>>,
    decisions: Mutex<HashMap<(String, CheckRequest), Decision>>,
    created: Instant,
}

impl Entry {
    /// The decision already made (and logged) for this request under this policy version.
    pub fn decision(&self, policy_version: &str, request: &CheckRequest) -> Option<Decision> {
        self.decisions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(policy_version.to_string(), request.clone()))
            .cloned()
    }

    /// Offers signals screened for this entry by a job whose requester may have given up (its
    /// deadline passed): they are kept unless a screening of the entry is under way, so the
    /// client's retry finds them instead of screening the clip again.
    pub fn offer(&self, signals: Arc<Signals>) {
        let _ = self.signals.set(signals);
    }

    pub fn remember(&self, request: &CheckRequest, decision: &Decision) {
        let mut decisions = self.decisions.lock().unwrap_or_else(|p| p.into_inner());
        // Retries repeat one request; many different requests for one clip are not retries,
        // and each decision holds the clip's signals: keep memory bounded.
        if decisions.len() >= DECISIONS_PER_CLIP {
            decisions.clear();
        }
        decisions.insert(
            (decision.decision.policy.version.clone(), request.clone()),
            decision.clone(),
        );
    }
}

pub struct SignalsCache {
    entries: DashMap<ClipKey, Arc<Entry>>,
    capacity: usize,
}

impl SignalsCache {
    /// Keeps at most `capacity` clips (0 turns caching off, but concurrent checks of one clip
    /// are still joined).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: DashMap::new(),
            capacity,
        }
    }

    /// The clip's signals: cached, joined with a screening in flight, or made by `screen`
    /// (which gets the entry, to `offer` its result even if this request gives up waiting).
    /// A failed screening is not cached: the next request tries again.
    pub async fn signals<E, F, Fut>(
        &self,
        key: ClipKey,
        screen: F,
    ) -> Result<(Arc<Entry>, Arc<Signals>, CacheOutcome), E>
    where
        F: FnOnce(Arc<Entry>) -> Fut,
        Fut: Future<Output = Result<Arc<Signals>, E>>,
    {
        let entry = self
            .entries
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Entry {
                    signals: tokio::sync::OnceCell::new(),
                    decisions: Mutex::new(HashMap::new()),
                    created: Instant::now(),
                })
            })
            .clone();
        if let Some(s) = entry.signals.get() {
            return Ok((entry.clone(), s.clone(), CacheOutcome::Hit));
        }
        let mut ran = false;
        let result = entry
            .signals
            .get_or_try_init(|| {
                ran = true;
                screen(entry.clone())
            })
            .await
            .cloned();
        match result {
            Ok(signals) => {
                self.evict(&key);
                let outcome = if ran {
                    CacheOutcome::Miss
                } else {
                    CacheOutcome::Joined
                };
                Ok((entry, signals, outcome))
            }
            Err(e) => {
                // The entry stays: a screening this request gave up on may still `offer` to it.
                self.evict(&key);
                Err(e)
            }
        }
    }

    /// Drops the oldest entries beyond capacity (never `keep`, just used, unless caching is
    /// off). Requests still holding a dropped entry finish with it.
    fn evict(&self, keep: &ClipKey) {
        let over = self.entries.len().saturating_sub(self.capacity);
        if over == 0 {
            return;
        }
        let mut by_age: Vec<(Instant, ClipKey)> = self
            .entries
            .iter()
            .filter(|e| e.key() != keep || self.capacity == 0)
            .map(|e| (e.value().created, e.key().clone()))
            .collect();
        by_age.sort_by_key(|(t, _)| *t);
        for (_, k) in by_age.into_iter().take(over) {
            self.entries.remove(&k);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
