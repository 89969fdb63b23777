//! The policy in force in a long-running service, and its safe reload: a new version replaces
//! the running one only if it loads and validates; otherwise the error is logged and counted
//! and the running policy stays. A policy carries the term lists it was versioned with, so one
//! swap replaces rules and lists together: no decision sees one without the other.

use super::{Policy, PolicyError};
use crate::config::PoliciesConfig;
use crate::metrics;
use crate::text::terms::ListFiles;
use crate::vocab::SectionSchema;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub struct LivePolicy {
    cfg: PoliciesConfig,
    /// The analysers' sections a policy may read.
    sections: Vec<&'static SectionSchema>,
    /// The fields of `signals` the enabled analysers fill: a policy reading others is refused.
    provided: Vec<String>,
    current: RwLock<Arc<Policy>>,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Reloaded {
    pub name: String,
    pub version: String,
    pub changed: bool,
}

impl LivePolicy {
    /// The configured policy, refused if it reads signals outside `provided`.
    pub fn load(
        cfg: &PoliciesConfig,
        sections: &[&'static SectionSchema],
        provided: &[String],
    ) -> Result<Self, PolicyError> {
        let live = Self::candidate(cfg, sections, provided)?;
        let policy = live.current();
        metrics::policy_loaded(&policy.name, &policy.version);
        Ok(live)
    }

    /// A policy that is not the one in force (say, an audit's candidate): loaded the same way,
    /// but not announced in the metrics as the policy in force.
    pub fn candidate(
        cfg: &PoliciesConfig,
        sections: &[&'static SectionSchema],
        provided: &[String],
    ) -> Result<Self, PolicyError> {
        let policy = Policy::from_config(cfg, sections)?;
        policy.require_signals(provided)?;
        Ok(Self {
            cfg: cfg.clone(),
            sections: sections.to_vec(),
            provided: provided.to_vec(),
            current: RwLock::new(Arc::new(policy)),
        })
    }

    /// The policy in another folder, held to the same sections and fields (an audit's
    /// candidate policy).
    pub fn candidate_in(&self, dir: &std::path::Path) -> Result<Self, PolicyError> {
        let mut cfg = self.cfg.clone();
        cfg.dir = dir.into();
        Self::candidate(&cfg, &self.sections, &self.provided)
    }

    /// Where the policy's files are.
    pub fn config(&self) -> &PoliciesConfig {
        &self.cfg
    }

    /// The policy to decide with; a decision keeps the one it took even if a reload happens.
    pub fn current(&self) -> Arc<Policy> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Loads the files again; `trigger` says why (for the log).
    pub fn reload(&self, trigger: &str) -> Result<Reloaded, PolicyError> {
        let loaded = Policy::from_config(&self.cfg, &self.sections)
            .and_then(|p| p.require_signals(&self.provided).map(|()| p));
        match loaded {
            Ok(policy) => {
                let old = self.current();
                let changed = policy.version != old.version;
                let out = Reloaded {
                    name: policy.name.clone(),
                    version: policy.version.clone(),
                    changed,
                };
                if changed {
                    tracing::info!(trigger, policy = %policy.name, version = %policy.version, "policy reloaded");
                    metrics::policy_loaded(&policy.name, &policy.version);
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(policy);
                }
                metrics::POLICY_RELOADS.with_label_values(&["ok"]).inc();
                Ok(out)
            }
            Err(e) => {
                tracing::error!(trigger, error = %e, "policy reload refused; the running policy stays");
                metrics::POLICY_RELOADS.with_label_values(&["error"]).inc();
                Err(e)
            }
        }
    }

    /// Polls the policy's files every `every` and reloads when their content changes. A file
    /// that stays broken is reported once per change, not at every poll.
    pub fn watch(self: &Arc<Self>, every: Duration) {
        let live = Arc::clone(self);
        std::thread::spawn(move || {
            let mut seen = live.current().version.clone();
            let mut unreadable: Option<String> = None;
            loop {
                std::thread::sleep(every);
                let file = live.cfg.policy_file();
                let read = std::fs::read(&file)
                    .map_err(|e| format!("{}: {e}", file.display()))
                    .and_then(|bytes| {
                        let lists = ListFiles::read(&live.cfg.lists_dir());
                        Ok((bytes, lists.map_err(|e| e.to_string())?))
                    });
                let (bytes, lists) = match read {
                    Ok(files) => {
                        unreadable = None;
                        files
                    }
                    Err(e) => {
                        if unreadable.as_ref() != Some(&e) {
                            tracing::error!(error = %e, "cannot read the policy files; the running policy stays");
                            unreadable = Some(e);
                        }
                        continue;
                    }
                };
                let on_disk = super::version(&bytes, &lists);
                if on_disk != seen {
                    seen = on_disk;
                    let _ = live.reload("file change");
                }
            }
        });
    }
}
