//! The queue of asynchronous checks: each job is a clip to screen and decide later, under the
//! decision id its caller was answered with. Kept in the database so that it survives a
//! restart and any replica can take it: a replica claims a job with a lease it renews while
//! the clip is screened; a job whose lease ran out (its replica was killed) is claimed again
//! by another. An uploaded clip is kept beside its job in chunks, since the replica that
//! screens it may not share the uploader's disk; they are removed once the job is finished.
//!
//! A job is decided at most once: its decision is logged under the job's id (the log's primary
//! key), and a claimer that finds that decision already logged only finishes the job.

use super::sql::{vals, Db};
use super::{Store, StoreError};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};

/// Bytes per stored chunk of an upload: small enough for any database row, large enough that
/// a 512 MB clip is 512 rows.
const CHUNK: usize = 1 << 20;

/// A job gives up after this many claims: a clip that kills the replica screening it every
/// time must not take the queue down with it (it fails closed: no decision).
pub const MAX_CLAIMS: i64 = 3;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting, or being screened by the replica holding its lease.
    Pending,
    /// Decided: the decision is in the log under the job's id.
    Done,
    /// Not decided: the clip could not be screened (its error is recorded).
    Failed,
}

impl JobState {
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(JobState::Pending),
            "done" => Ok(JobState::Done),
            "failed" => Ok(JobState::Failed),
            other => Err(StoreError::Corrupt(format!("check job state {other:?}"))),
        }
    }
}

/// A job as the database holds it; `spec` is the service's JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckJob {
    pub id: String,
    pub spec: String,
    pub state: JobState,
    /// Held by a replica until this time (RFC 3339 UTC); empty when nobody ever held it.
    pub lease_until: String,
    /// Times a replica claimed it.
    pub attempts: i64,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// The error code and message of a failed job.
    pub error_code: Option<String>,
    pub error: Option<String>,
}

/// A job this replica now holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: String,
    pub spec: String,
    pub attempts: i64,
}

/// Now plus `ms` milliseconds, as an RFC 3339 UTC time that compares as a string.
pub(super) fn at_ms(ms: u64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::milliseconds(ms as i64);
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn job(db: &mut dyn Db, id: &str) -> Result<Option<CheckJob>, StoreError> {
    db.query_opt(
        "SELECT id, spec, state, lease_until, attempts, created_at, finished_at, error_code, error
         FROM check_jobs WHERE id = ?1",
        vals![id],
    )?
    .map(|r| {
        Ok(CheckJob {
            id: r.text(0)?,
            spec: r.text(1)?,
            state: JobState::parse(&r.text(2)?)?,
            lease_until: r.text(3)?,
            attempts: r.int(4)?,
            created_at: r.text(5)?,
            finished_at: r.opt_text(6)?,
            error_code: r.opt_text(7)?,
            error: r.opt_text(8)?,
        })
    })
    .transpose()
}

impl Store {
    /// Queues a job, with the uploaded clip read from `upload` when there is one: the job
    /// and its bytes are committed together, so no replica ever sees one without the other.
    pub fn enqueue_check(
        &self,
        id: &str,
        spec: &str,
        upload: Option<&mut dyn Read>,
    ) -> Result<(), StoreError> {
        self.transaction(|db| {
            db.execute(
                "INSERT INTO check_jobs (id, spec, state, lease_until, created_at)
                 VALUES (?1, ?2, 'pending', '', ?3)",
                vals![id, spec, at_ms(0)],
            )?;
            let Some(upload) = upload else {
                return Ok(());
            };
            let mut buf = vec![0u8; CHUNK];
            for n in 0i64.. {
                let len = fill(upload, &mut buf)
                    .map_err(|e| StoreError::Corrupt(format!("reading the upload: {e}")))?;
                if len == 0 {
                    break;
                }
                db.execute(
                    "INSERT INTO check_uploads (job_id, n, bytes) VALUES (?1, ?2, ?3)",
                    vals![id, n, &buf[..len]],
                )?;
            }
            Ok(())
        })
    }

    /// Takes the oldest job nobody holds (never claimed, or its holder's lease ran out), for
    /// `lease_ms`. Two replicas asking at once get different jobs: the lease is checked again
    /// as the row is updated. A job claimed [`MAX_CLAIMS`] times already is failed instead.
    pub fn claim_check(
        &self,
        owner: &str,
        lease_ms: u64,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        loop {
            // Every replica asks several times a second: an empty queue costs a read, never
            // a write lock.
            let waiting = self.with(|db| {
                db.query_opt(
                    "SELECT 1 FROM check_jobs WHERE state = 'pending' AND lease_until < ?1 LIMIT 1",
                    vals![at_ms(0)],
                )
            })?;
            if waiting.is_none() {
                return Ok(None);
            }
            let claimed = self.transaction(|db| {
                let now = at_ms(0);
                db.query_opt(
                    "UPDATE check_jobs SET owner = ?1, lease_until = ?2, attempts = attempts + 1
                     WHERE state = 'pending' AND lease_until < ?3 AND id = (
                         SELECT id FROM check_jobs WHERE state = 'pending' AND lease_until < ?3
                         ORDER BY created_at, id LIMIT 1)
                     RETURNING id, spec, attempts",
                    vals![owner, at_ms(lease_ms), now],
                )?
                .map(|r| {
                    Ok::<_, StoreError>(ClaimedJob {
                        id: r.text(0)?,
                        spec: r.text(1)?,
                        attempts: r.int(2)?,
                    })
                })
                .transpose()
            })?;
            match claimed {
                Some(job) if job.attempts > MAX_CLAIMS => {
                    let why =
                        format!("given up after {MAX_CLAIMS} replicas stopped while screening it");
                    self.finish_check(&job.id, owner, Some(("internal", &why)))?;
                }
                other => return Ok(other),
            }
        }
    }

    /// Extends the leases of every job `owner` holds.
    pub fn renew_checks(&self, owner: &str, lease_ms: u64) -> Result<u64, StoreError> {
        self.with(|db| {
            db.execute(
                "UPDATE check_jobs SET lease_until = ?2 WHERE owner = ?1 AND state = 'pending'",
                vals![owner, at_ms(lease_ms)],
            )
        })
    }

    /// Gives a held job back to the queue at once (this replica was busy or is stopping).
    pub fn release_check(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        self.with(|db| {
            db.execute(
                "UPDATE check_jobs SET owner = NULL, lease_until = '', attempts = attempts - 1
                 WHERE id = ?1 AND owner = ?2 AND state = 'pending'",
                vals![id, owner],
            )
        })?;
        Ok(())
    }

    /// Ends a job: done (its decision is logged) or failed with `(code, message)`. Its
    /// upload is removed. Only a job still pending is ended, by whoever holds it; false
    /// when it was not (another replica finished it first).
    pub fn finish_check(
        &self,
        id: &str,
        owner: &str,
        failure: Option<(&str, &str)>,
    ) -> Result<bool, StoreError> {
        let (state, code, message) = match failure {
            Some((code, message)) => ("failed", Some(code), Some(message)),
            None => ("done", None, None),
        };
        self.transaction(|db| {
            let n = db.execute(
                "UPDATE check_jobs SET state = ?3, finished_at = ?4, error_code = ?5, error = ?6
                 WHERE id = ?1 AND owner = ?2 AND state = 'pending'",
                vals![id, owner, state, at_ms(0), code, message],
            )?;
            if n == 1 {
                db.execute("DELETE FROM check_uploads WHERE job_id = ?1", vals![id])?;
            }
            Ok(n == 1)
        })
    }

    /// Writes a job's uploaded clip to `out`, answering its sha256 (computed as it is
    /// written, so the bytes screened are the bytes hashed), or None if it has no upload.
    pub fn read_check_upload(
        &self,
        id: &str,
        out: &mut dyn Write,
    ) -> Result<Option<String>, StoreError> {
        let chunks = self.with(|db| {
            db.query_one(
                "SELECT count(*) FROM check_uploads WHERE job_id = ?1",
                vals![id],
            )?
            .int(0)
        })?;
        if chunks == 0 {
            return Ok(None);
        }
        let mut hash = Sha256::new();
        for n in 0..chunks {
            let bytes = self.with(|db| {
                db.query_opt(
                    "SELECT bytes FROM check_uploads WHERE job_id = ?1 AND n = ?2",
                    vals![id, n],
                )?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("upload of check {id} lacks chunk {n}"))
                })?
                .blob(0)
            })?;
            hash.update(&bytes);
            out.write_all(&bytes).map_err(|e| {
                StoreError::Corrupt(format!("writing the upload of check {id}: {e}"))
            })?;
        }
        Ok(Some(hex::encode(hash.finalize())))
    }

    pub fn check_job(&self, id: &str) -> Result<Option<CheckJob>, StoreError> {
        self.with(|db| job(db, id))
    }
}

/// Reads until `buf` is full or the input ends; the bytes read.
fn fill(input: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut len = 0;
    while len < buf.len() {
        match input.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_claimed_once_and_taken_over_when_its_lease_runs_out() {
        for (s, _db) in crate::store::test_stores() {
            // An upload over two chunks, kept with its job and read back whole.
            let clip: Vec<u8> = (0..CHUNK + 10).map(|i| (i % 251) as u8).collect();
            s.enqueue_check("j1", "{\"n\":1}", Some(&mut clip.as_slice()))
                .unwrap();
            s.enqueue_check("j2", "{\"n\":2}", None).unwrap();
            let mut back = Vec::new();
            let sha = s.read_check_upload("j1", &mut back).unwrap();
            assert_eq!(back, clip);
            assert_eq!(sha.unwrap(), hex::encode(Sha256::digest(clip.as_slice())));
            assert_eq!(s.read_check_upload("j2", &mut Vec::new()).unwrap(), None);

            // Oldest first, each to one replica.
            let a = s.claim_check("a", 60_000).unwrap().unwrap();
            let b = s.claim_check("b", 60_000).unwrap().unwrap();
            assert_eq!((a.id.as_str(), b.id.as_str()), ("j1", "j2"));
            assert_eq!(s.claim_check("c", 60_000).unwrap(), None);

            // a stops renewing (killed): its lease runs out and c takes the job over.
            assert_eq!(s.renew_checks("a", 0).unwrap(), 1);
            std::thread::sleep(std::time::Duration::from_millis(10));
            let taken = s.claim_check("c", 60_000).unwrap().unwrap();
            assert_eq!((taken.id.as_str(), taken.attempts), ("j1", 2));
            assert!(
                !s.finish_check("j1", "a", None).unwrap(),
                "a no longer holds it"
            );
            assert!(s.finish_check("j1", "c", None).unwrap());
            assert!(!s.finish_check("j1", "c", None).unwrap(), "finished once");
            let done = s.check_job("j1").unwrap().unwrap();
            assert_eq!(done.state, JobState::Done);
            assert!(done.finished_at.is_some());
            assert_eq!(s.read_check_upload("j1", &mut Vec::new()).unwrap(), None);

            // Given back, a job is claimable at once; failed, it records why.
            s.release_check("j2", "b").unwrap();
            let again = s.claim_check("a", 60_000).unwrap().unwrap();
            assert_eq!((again.id.as_str(), again.attempts), ("j2", 1));
            s.finish_check("j2", "a", Some(("corrupt", "not a video")))
                .unwrap();
            let failed = s.check_job("j2").unwrap().unwrap();
            assert_eq!(
                (failed.state, failed.error_code.as_deref()),
                (JobState::Failed, Some("corrupt"))
            );
            assert_eq!(s.check_job("nope").unwrap(), None);

            // A job whose every holder died is failed, not claimed forever.
            s.enqueue_check("j3", "{}", None).unwrap();
            for _ in 0..MAX_CLAIMS {
                s.claim_check("x", 0).unwrap().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            assert_eq!(s.claim_check("y", 60_000).unwrap(), None);
            assert_eq!(s.check_job("j3").unwrap().unwrap().state, JobState::Failed);
        }
    }
}
