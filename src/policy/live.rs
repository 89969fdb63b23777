//! The policy in force in a long-running service, and its safe reload: a new version replaces
//! the running one only if it loads, validates, passes the policy's own fixtures
//! (`<dir>/tests/*.yaml`) and keeps every rule of the running one that it does not declare
//! under `removes:`; otherwise the reason is logged and counted and the running policy stays.
//! The file watcher applies a change only once the files have stayed the same for a whole
//! poll, so a file being written in place is never read half way. A policy carries the term lists it was versioned with, so one
//! swap replaces rules and lists together: no decision sees one without the other.

use super::{run_fixtures, Policy, PolicyError};
use crate::config::PoliciesConfig;
use crate::metrics;
use crate::text::terms::ListFiles;
use crate::vocab::SectionSchema;
use std::collections::HashSet;
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
        let old = self.current();
        let loaded = Policy::from_config(&self.cfg, &self.sections)
            .and_then(|p| p.require_signals(&self.provided).map(|()| p))
            .and_then(|p| self.prove(&old, &p).map(|()| p));
        match loaded {
            Ok(policy) => {
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
                tracing::error!(trigger, reason = e.refusal(), error = %e, "policy reload refused; the running policy stays");
                metrics::POLICY_RELOADS
                    .with_label_values(&[e.refusal()])
                    .inc();
                Err(e)
            }
        }
    }

    /// What a new version must show before it replaces `old`: every rule of `old` kept or
    /// declared under `removes:`, and the fixtures in `<dir>/tests` passed. An unchanged
    /// version has nothing to prove.
    fn prove(&self, old: &Policy, new: &Policy) -> Result<(), PolicyError> {
        if new.version == old.version {
            return Ok(());
        }
        let path = new.path.display().to_string();
        let kept: HashSet<&str> = new.rules.iter().map(|r| r.id.as_str()).collect();
        let removed: Vec<String> = old
            .rules
            .iter()
            .map(|r| r.id.as_str())
            .filter(|id| !kept.contains(id) && !new.removes.iter().any(|d| d == id))
            .map(str::to_string)
            .collect();
        if !removed.is_empty() {
            return Err(PolicyError::RulesRemoved {
                path,
                rules: removed,
            });
        }
        let fixtures = self.cfg.dir.join("tests");
        if !fixtures.is_dir() {
            tracing::warn!(dir = %fixtures.display(), "no policy fixtures to prove the new version against");
            return Ok(());
        }
        let outcomes = run_fixtures(new, &fixtures)?;
        let failed: Vec<_> = outcomes.iter().filter(|o| !o.problems.is_empty()).collect();
        match failed.first() {
            None => Ok(()),
            Some(f) => Err(PolicyError::Fixtures {
                path,
                fixtures: fixtures.display().to_string(),
                failed: failed.len(),
                cases: outcomes.len(),
                first: format!("{} {:?}: {}", f.file, f.name, f.problems.join("; ")),
            }),
        }
    }

    /// Polls the policy's files every `every` and reloads when their content has changed and
    /// then stayed the same for one more poll: a deployment tool writing the file in place is
    /// read only once it has finished. A file that stays broken is reported once per change,
    /// not at every poll.
    pub fn watch(self: &Arc<Self>, every: Duration) {
        let live = Arc::clone(self);
        std::thread::spawn(move || {
            let mut seen = live.current().version.clone();
            let mut settling: Option<String> = None;
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
                if on_disk == seen {
                    settling = None;
                } else if settling.as_ref() == Some(&on_disk) {
                    seen = on_disk;
                    settling = None;
                    let _ = live.reload("file change");
                } else {
                    settling = Some(on_disk);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The repository's policies (rules, lists, fixtures) copied into a folder of their own,
    /// served live with every signal they read provided.
    fn live_copy(with_fixtures: bool) -> (tempfile::TempDir, PoliciesConfig, LivePolicy) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let dir = tempfile::tempdir().unwrap();
        let mut folders = vec!["lists"];
        if with_fixtures {
            folders.push("tests");
        }
        for sub in folders {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            for e in std::fs::read_dir(repo.join(sub)).unwrap() {
                let p = e.unwrap().path();
                std::fs::copy(&p, dir.path().join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
        std::fs::copy(repo.join("default.yaml"), dir.path().join("default.yaml")).unwrap();
        let cfg = PoliciesConfig {
            dir: dir.path().to_path_buf(),
            name: "default".into(),
        };
        let sections = crate::analysers::schema();
        let reads: Vec<String> = Policy::from_config(&cfg, &sections)
            .unwrap()
            .rules
            .iter()
            .flat_map(|r| r.reads.clone())
            .collect();
        let live = LivePolicy::candidate(&cfg, &sections, &reads).unwrap();
        (dir, cfg, live)
    }

    fn refused_count(reason: &str) -> u64 {
        metrics::POLICY_RELOADS.with_label_values(&[reason]).get()
    }

    #[test]
    fn a_file_cut_short_or_emptied_is_refused_and_the_running_policy_stays() {
        let (_dir, cfg, live) = live_copy(true);
        let file = cfg.policy_file();
        let full = std::fs::read_to_string(&file).unwrap();
        let v0 = live.current().version.clone();
        let rules0 = live.current().rules.len();
        // Cut just before a rule: still parses, still valid CEL.
        let cut = full.find("  - id: prompt-names-person").unwrap();
        let emptied = format!("name: default\nparams: {{}}\nrules: []\n# {}\n", full.len());
        for (what, text) in [("truncated", full[..cut].to_string()), ("emptied", emptied)] {
            let before = refused_count("rules_removed");
            std::fs::write(&file, &text).unwrap();
            let err = live.reload("test").unwrap_err();
            assert!(
                matches!(err, PolicyError::RulesRemoved { .. }),
                "{what}: {err}"
            );
            assert!(err.to_string().contains("prompt-names-person"), "{err}");
            assert_eq!(live.current().version, v0, "{what}");
            assert_eq!(live.current().rules.len(), rules0, "{what}");
            assert!(refused_count("rules_removed") > before);
        }
        // Nothing at all: not even a policy.
        std::fs::write(&file, "").unwrap();
        assert!(live.reload("test").is_err());
        assert_eq!(live.current().version, v0);
        // Back to the full file: nothing to prove, nothing changed.
        std::fs::write(&file, &full).unwrap();
        assert!(!live.reload("test").unwrap().changed);
    }

    #[test]
    fn a_version_failing_its_fixtures_is_refused() {
        let (_dir, cfg, live) = live_copy(true);
        let file = cfg.policy_file();
        let full = std::fs::read_to_string(&file).unwrap();
        let v0 = live.current().version.clone();
        // Every rule kept, but explicit nudity only sent to review.
        let start = full.find("  - id: nudity-explicit").unwrap();
        let at = start + full[start..].find("action: block").unwrap();
        let weakened = format!(
            "{}action: review{}",
            &full[..at],
            &full[at + "action: block".len()..]
        );
        std::fs::write(&file, weakened).unwrap();
        let before = refused_count("fixtures_failed");
        let err = live.reload("test").unwrap_err();
        assert!(matches!(err, PolicyError::Fixtures { .. }), "{err}");
        assert!(err.to_string().contains("expected Block"), "{err}");
        assert_eq!(live.current().version, v0);
        assert!(refused_count("fixtures_failed") > before);
        // A version that passes them (a comment more) is applied.
        std::fs::write(&file, format!("{full}# reviewed\n")).unwrap();
        let r = live.reload("test").unwrap();
        assert!(r.changed);
        assert_eq!(live.current().version, r.version);
    }

    #[test]
    fn rules_dropped_on_purpose_are_declared_under_removes() {
        let (_dir, cfg, live) = live_copy(false);
        let file = cfg.policy_file();
        let full = std::fs::read_to_string(&file).unwrap();
        let start = full.find("  - id: trial-sexual-prompt").unwrap();
        let without = full[..start].to_string();
        std::fs::write(&file, &without).unwrap();
        let err = live.reload("test").unwrap_err();
        assert!(
            matches!(&err, PolicyError::RulesRemoved { rules, .. } if rules == &["trial-sexual-prompt"]),
            "{err}"
        );
        std::fs::write(
            &file,
            without.replacen("rules:\n", "removes: [trial-sexual-prompt]\nrules:\n", 1),
        )
        .unwrap();
        let r = live.reload("test").unwrap();
        assert!(r.changed);
        assert!(live
            .current()
            .rules
            .iter()
            .all(|r| r.id != "trial-sexual-prompt"));
    }

    /// A deployment tool still writing the file: the watcher, polling every 500 ms, applies
    /// nothing while the file changes between every two polls (each version valid, so only
    /// the settling holds it back), then applies the last one once it has stayed the same.
    #[test]
    fn the_watcher_applies_a_file_only_once_it_has_stopped_changing() {
        let (_dir, cfg, live) = live_copy(false);
        let live = Arc::new(live);
        let file = cfg.policy_file();
        let full = std::fs::read_to_string(&file).unwrap();
        let v0 = live.current().version.clone();
        live.watch(Duration::from_millis(500));
        let started = std::time::Instant::now();
        let mut pass = 0;
        while started.elapsed() < Duration::from_secs(3) {
            pass += 1;
            std::fs::write(&file, format!("{full}# pass {pass}\n")).unwrap();
            assert_eq!(live.current().version, v0, "applied while being written");
            std::thread::sleep(Duration::from_millis(10));
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while live.current().version == v0 {
            assert!(std::time::Instant::now() < deadline, "never applied");
            std::thread::sleep(Duration::from_millis(50));
        }
        // What was applied is the file as it was left.
        assert!(!live.reload("test").unwrap().changed);
    }
}
