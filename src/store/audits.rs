//! Audit jobs the service runs: their spec, state and report lines, kept in the database so
//! that any replica can see them and one replica runs each. A replica holds a job by a lease it
//! renews while it works; a job whose lease ran out (its replica was killed) is claimed by
//! another, which resumes it from the lines already recorded. A line is recorded once per
//! clip, and only by the job's holder.

use super::sql::{vals, Db};
use super::{Store, StoreError};

/// A job as the database holds it. `spec`, `summary` are the service's JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditJob {
    pub id: String,
    pub spec: String,
    /// `running`, `done` or `failed`.
    pub state: String,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub finished_at: Option<String>,
}

/// Now plus `s` seconds, as an RFC 3339 UTC time that compares as a string.
fn after(s: u64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::seconds(s as i64);
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn job(db: &mut dyn Db, id: &str) -> Result<Option<AuditJob>, StoreError> {
    db.query_opt(
        "SELECT id, spec, state, summary, error, finished_at FROM audit_jobs WHERE id = ?1",
        vals![id],
    )?
    .map(|r| {
        Ok(AuditJob {
            id: r.text(0)?,
            spec: r.text(1)?,
            state: r.text(2)?,
            summary: r.opt_text(3)?,
            error: r.opt_text(4)?,
            finished_at: r.opt_text(5)?,
        })
    })
    .transpose()
}

impl Store {
    /// Records a new job, held by `owner` for `lease_s` seconds.
    pub fn create_audit(
        &self,
        id: &str,
        spec: &str,
        owner: &str,
        lease_s: u64,
    ) -> Result<(), StoreError> {
        self.with(|db| {
            db.execute(
                "INSERT INTO audit_jobs (id, spec, state, owner, lease_until, created_at)
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5)",
                vals![id, spec, owner, after(lease_s), after(0)],
            )
        })?;
        Ok(())
    }

    /// Takes over the oldest running job whose lease has run out, for `lease_s` seconds.
    /// Two replicas asking at once get different jobs: the lease is checked again as the row
    /// is updated.
    pub fn claim_audit(&self, owner: &str, lease_s: u64) -> Result<Option<AuditJob>, StoreError> {
        self.transaction(|db| {
            let now = after(0);
            let claimed = db.query_opt(
                "UPDATE audit_jobs SET owner = ?1, lease_until = ?2
                 WHERE state = 'running' AND lease_until < ?3 AND id = (
                     SELECT id FROM audit_jobs WHERE state = 'running' AND lease_until < ?3
                     ORDER BY created_at, id LIMIT 1)
                 RETURNING id",
                vals![owner, after(lease_s), now],
            )?;
            match claimed {
                Some(r) => job(db, &r.text(0)?),
                None => Ok(None),
            }
        })
    }

    /// Extends `owner`'s lease on a job; false if the job is no longer theirs to run.
    pub fn renew_audit(&self, id: &str, owner: &str, lease_s: u64) -> Result<bool, StoreError> {
        let n = self.with(|db| {
            db.execute(
                "UPDATE audit_jobs SET lease_until = ?3
                 WHERE id = ?1 AND owner = ?2 AND state = 'running'",
                vals![id, owner, after(lease_s)],
            )
        })?;
        Ok(n == 1)
    }

    /// Records one clip's report line (its `key` once per job), if `owner` still holds the
    /// job; a holder that lost its lease is told so and must stop.
    pub fn record_audit_line(
        &self,
        id: &str,
        owner: &str,
        key: &str,
        line: &str,
    ) -> Result<(), StoreError> {
        self.transaction(|db| {
            let held = db.query_opt(
                "SELECT 1 FROM audit_jobs WHERE id = ?1 AND owner = ?2 AND state = 'running'",
                vals![id, owner],
            )?;
            if held.is_none() {
                return Err(StoreError::Conflict(format!(
                    "audit {id} is no longer held by this replica"
                )));
            }
            db.execute(
                "INSERT INTO audit_lines (job_id, key, line, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (job_id, key) DO NOTHING",
                vals![id, key, line, after(0)],
            )?;
            Ok(())
        })
    }

    /// A job's report lines so far, in the order they were recorded.
    pub fn audit_lines(&self, id: &str) -> Result<Vec<String>, StoreError> {
        self.with(|db| {
            db.query(
                "SELECT line FROM audit_lines WHERE job_id = ?1 ORDER BY n",
                vals![id],
            )?
            .iter()
            .map(|r| r.text(0))
            .collect()
        })
    }

    /// Ends `owner`'s job: `done` with its summary, or `failed` with the reason.
    pub fn finish_audit(
        &self,
        id: &str,
        owner: &str,
        summary: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let state = if error.is_some() { "failed" } else { "done" };
        self.with(|db| {
            db.execute(
                "UPDATE audit_jobs SET state = ?3, summary = ?4, error = ?5, finished_at = ?6
                 WHERE id = ?1 AND owner = ?2 AND state = 'running'",
                vals![id, owner, state, summary, error, after(0)],
            )
        })?;
        Ok(())
    }

    pub fn audit(&self, id: &str) -> Result<Option<AuditJob>, StoreError> {
        self.with(|db| job(db, id))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_job_is_held_by_one_replica_and_taken_over_when_its_lease_runs_out() {
        for (s, _db) in crate::store::test_stores() {
            s.create_audit("j1", "{}", "a", 60).unwrap();
            assert_eq!(s.claim_audit("b", 60).unwrap(), None, "a holds it");
            s.record_audit_line("j1", "a", "clip1", "{\"n\":1}")
                .unwrap();
            // A line already recorded is not recorded twice.
            s.record_audit_line("j1", "a", "clip1", "{\"n\":2}")
                .unwrap();
            assert!(s.record_audit_line("j1", "b", "clip2", "{}").is_err());

            // a's lease runs out (a was killed): b claims the job, a can no longer write.
            s.create_audit("j2", "{}", "a", 0).unwrap();
            assert!(s.renew_audit("j1", "a", 0).unwrap());
            std::thread::sleep(std::time::Duration::from_millis(10));
            let first = s.claim_audit("b", 60).unwrap().unwrap();
            let second = s.claim_audit("c", 60).unwrap().unwrap();
            assert_eq!((first.id.as_str(), second.id.as_str()), ("j1", "j2"));
            assert_eq!(s.claim_audit("d", 60).unwrap(), None);
            assert!(!s.renew_audit("j1", "a", 60).unwrap());
            assert!(s.record_audit_line("j1", "a", "clip2", "{}").is_err());
            s.record_audit_line("j1", "b", "clip2", "{\"n\":3}")
                .unwrap();
            assert_eq!(s.audit_lines("j1").unwrap(), ["{\"n\":1}", "{\"n\":3}"]);

            s.finish_audit("j1", "b", Some("{\"clips\":2}"), None)
                .unwrap();
            let j = s.audit("j1").unwrap().unwrap();
            assert_eq!(
                (j.state.as_str(), j.summary.as_deref()),
                ("done", Some("{\"clips\":2}"))
            );
            assert!(j.finished_at.is_some());
            assert!(
                !s.renew_audit("j1", "b", 60).unwrap(),
                "a finished job is nobody's"
            );
            assert_eq!(s.audit("nope").unwrap(), None);
        }
    }
}
