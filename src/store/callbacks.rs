//! Callbacks to deliver: the compact decision, pushed to the caller's URL when a check is
//! decided and again when a review decides it. Kept in the database (an outbox) so a
//! delivery survives a restart and any replica can make it: a replica claims a due callback
//! with a lease for one attempt, then records the attempt's outcome and, after a failure,
//! when to try again. Each delivery is recorded with its attempts and last status, which the
//! API shows.

use super::checks::at_ms;
use super::sql::{vals, Db, Row};
use super::{Store, StoreError};

/// What a callback tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackEvent {
    /// The check was decided.
    Decided,
    /// A reviewer decided a `review` decision.
    Reviewed,
}

impl CallbackEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackEvent::Decided => "decided",
            CallbackEvent::Reviewed => "reviewed",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "decided" => Ok(CallbackEvent::Decided),
            "reviewed" => Ok(CallbackEvent::Reviewed),
            other => Err(StoreError::Corrupt(format!("callback event {other:?}"))),
        }
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackState {
    /// Not delivered yet: waiting for its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; no more are made.
    Failed,
}

impl CallbackState {
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(CallbackState::Pending),
            "delivered" => Ok(CallbackState::Delivered),
            "failed" => Ok(CallbackState::Failed),
            other => Err(StoreError::Corrupt(format!("callback state {other:?}"))),
        }
    }
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Callback {
    pub event: CallbackEvent,
    pub url: String,
    pub state: CallbackState,
    /// Attempts made so far.
    pub attempts: i64,
    /// The HTTP status of the last attempt, when the receiver answered.
    pub last_status: Option<i64>,
    /// Why the last attempt failed (no answer, or a status other than 2xx).
    pub last_error: Option<String>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

/// A callback this replica holds for one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DueCallback {
    /// `<decision id>:<event>`: one delivery per decision and event.
    pub id: String,
    pub decision_id: String,
    pub event: CallbackEvent,
    pub url: String,
    /// The JSON sent, exactly as signed.
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i64,
}

fn callback(r: &Row) -> Result<Callback, StoreError> {
    let state = CallbackState::parse(&r.text(2)?)?;
    Ok(Callback {
        event: CallbackEvent::parse(&r.text(0)?)?,
        url: r.text(1)?,
        state,
        attempts: r.int(3)?,
        last_status: r.opt_int(4)?,
        last_error: r.opt_text(5)?,
        next_attempt_at: (state == CallbackState::Pending)
            .then(|| r.text(6))
            .transpose()?,
        created_at: r.text(7)?,
        delivered_at: r.opt_text(8)?,
    })
}

/// The URL of the decision's first callback: where its later events go too.
fn url_of(db: &mut dyn Db, decision_id: &str) -> Result<Option<String>, StoreError> {
    db.query_opt(
        "SELECT url FROM callbacks WHERE decision_id = ?1 ORDER BY created_at LIMIT 1",
        vals![decision_id],
    )?
    .map(|r| r.text(0))
    .transpose()
}

impl Store {
    /// Queues the delivery of `body` to `url` for a decision's event, due at once. An event
    /// already queued for the decision is left as it is (a retried request queues nothing
    /// twice).
    pub fn enqueue_callback(
        &self,
        decision_id: &str,
        event: CallbackEvent,
        url: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        self.with(|db| {
            db.execute(
                "INSERT INTO callbacks (id, decision_id, event, url, body, state, next_at, lease_until, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, '', ?6)
                 ON CONFLICT (id) DO NOTHING",
                vals![
                    format!("{decision_id}:{}", event.as_str()),
                    decision_id,
                    event.as_str(),
                    url,
                    body,
                    at_ms(0)
                ],
            )
        })?;
        Ok(())
    }

    /// Queues `event` for a decision to the URL its earlier callbacks went to, if it has any:
    /// a review is pushed wherever its decision was. True when one was queued.
    pub fn enqueue_followup(
        &self,
        decision_id: &str,
        event: CallbackEvent,
        body: &str,
    ) -> Result<bool, StoreError> {
        let url = self.with(|db| url_of(db, decision_id))?;
        match url {
            Some(url) => self
                .enqueue_callback(decision_id, event, &url, body)
                .map(|()| true),
            None => Ok(false),
        }
    }

    /// Takes the callback due longest ago that nobody holds, for `lease_ms`.
    pub fn claim_callback(
        &self,
        owner: &str,
        lease_ms: u64,
    ) -> Result<Option<DueCallback>, StoreError> {
        // Asked several times a second: nothing due costs a read, never a write lock.
        let due = self.with(|db| {
            db.query_opt(
                "SELECT 1 FROM callbacks WHERE state = 'pending' AND next_at <= ?1 AND lease_until < ?1 LIMIT 1",
                vals![at_ms(0)],
            )
        })?;
        if due.is_none() {
            return Ok(None);
        }
        self.transaction(|db| {
            let now = at_ms(0);
            db.query_opt(
                "UPDATE callbacks SET owner = ?1, lease_until = ?2
                 WHERE state = 'pending' AND next_at <= ?3 AND lease_until < ?3 AND id = (
                     SELECT id FROM callbacks
                     WHERE state = 'pending' AND next_at <= ?3 AND lease_until < ?3
                     ORDER BY next_at, id LIMIT 1)
                 RETURNING id, decision_id, event, url, body, attempts",
                vals![owner, at_ms(lease_ms), now],
            )?
            .map(|r| {
                Ok(DueCallback {
                    id: r.text(0)?,
                    decision_id: r.text(1)?,
                    event: CallbackEvent::parse(&r.text(2)?)?,
                    url: r.text(3)?,
                    body: r.text(4)?,
                    attempts: r.int(5)?,
                })
            })
            .transpose()
        })
    }

    /// Records an attempt by `owner`: delivered, or failed with the status (if any) and why,
    /// then retried `retry_in_ms` later, or given up when that is None.
    pub fn record_callback_attempt(
        &self,
        id: &str,
        owner: &str,
        status: Option<u16>,
        failure: Option<&str>,
        retry_in_ms: Option<u64>,
    ) -> Result<(), StoreError> {
        let now = at_ms(0);
        let (state, next_at, delivered_at) = match (failure, retry_in_ms) {
            (None, _) => ("delivered", now.clone(), Some(now.clone())),
            (Some(_), Some(ms)) => ("pending", at_ms(ms), None),
            (Some(_), None) => ("failed", now.clone(), None),
        };
        self.with(|db| {
            db.execute(
                "UPDATE callbacks SET state = ?3, attempts = attempts + 1, last_status = ?4,
                     last_error = ?5, next_at = ?6, delivered_at = ?7, owner = NULL, lease_until = ''
                 WHERE id = ?1 AND owner = ?2 AND state = 'pending'",
                vals![
                    id,
                    owner,
                    state,
                    status.map(i64::from),
                    failure,
                    next_at,
                    delivered_at
                ],
            )
        })?;
        Ok(())
    }

    /// A decision's callbacks, in the order they were queued.
    pub fn callbacks(&self, decision_id: &str) -> Result<Vec<Callback>, StoreError> {
        self.with(|db| {
            db.query(
                "SELECT event, url, state, attempts, last_status, last_error, next_at, created_at, delivered_at
                 FROM callbacks WHERE decision_id = ?1 ORDER BY created_at, event",
                vals![decision_id],
            )?
            .iter()
            .map(callback)
            .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callback_is_retried_until_delivered_and_a_review_follows_it() {
        for (s, _db) in crate::store::test_stores() {
            let url = "http://127.0.0.1:9/hook";
            s.enqueue_callback("d1", CallbackEvent::Decided, url, "{\"a\":1}")
                .unwrap();
            s.enqueue_callback("d1", CallbackEvent::Decided, url, "{\"a\":2}")
                .unwrap();
            assert!(
                !s.enqueue_followup("d2", CallbackEvent::Reviewed, "{}")
                    .unwrap(),
                "d2 asked for no callback"
            );

            let due = s.claim_callback("a", 60_000).unwrap().unwrap();
            assert_eq!(
                (due.id.as_str(), due.body.as_str()),
                ("d1:decided", "{\"a\":1}")
            );
            assert_eq!(s.claim_callback("b", 60_000).unwrap(), None, "held by a");
            s.record_callback_attempt(&due.id, "a", Some(500), Some("answered 500"), Some(0))
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
            let again = s.claim_callback("b", 60_000).unwrap().unwrap();
            assert_eq!(again.attempts, 1);
            s.record_callback_attempt(&again.id, "b", Some(204), None, None)
                .unwrap();
            assert_eq!(s.claim_callback("b", 60_000).unwrap(), None);

            assert!(s
                .enqueue_followup("d1", CallbackEvent::Reviewed, "{\"r\":1}")
                .unwrap());
            let review = s.claim_callback("a", 60_000).unwrap().unwrap();
            assert_eq!(
                (review.event, review.url.as_str()),
                (CallbackEvent::Reviewed, url)
            );
            s.record_callback_attempt(&review.id, "a", None, Some("refused"), None)
                .unwrap();

            let shown = s.callbacks("d1").unwrap();
            assert_eq!(shown.len(), 2);
            let (decided, reviewed) = (&shown[0], &shown[1]);
            assert_eq!(
                (decided.state, decided.attempts, decided.last_status),
                (CallbackState::Delivered, 2, Some(204))
            );
            assert!(decided.delivered_at.is_some() && decided.next_attempt_at.is_none());
            assert_eq!(
                (
                    reviewed.state,
                    reviewed.attempts,
                    reviewed.last_error.as_deref()
                ),
                (CallbackState::Failed, 1, Some("refused"))
            );
        }
    }
}
