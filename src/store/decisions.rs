//! The decision log: every decision is committed here before it is returned. Behind a trait
//! so a shared database can serve several replicas; SQLite is the embedded default.

use super::sql::{vals, Db, Row};
use super::{Store, StoreError};
use crate::vocab::{Action, Decision, Origin, Review, Timestamp};
use std::collections::BTreeMap;

/// A small JPEG crop of a frame that made a rule match, kept for block and review decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    pub rule: String,
    pub time_s: f64,
    pub jpeg: Vec<u8>,
}

/// Decisions per minute by action, for the dashboard.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct MinuteCounts {
    /// `YYYY-MM-DDTHH:MM`, UTC.
    pub minute: String,
    pub allow: u64,
    pub review: u64,
    pub block: u64,
}

/// How often each rule matched, enforced and shadow apart.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RuleCounts {
    pub enforce: BTreeMap<String, u64>,
    pub shadow: BTreeMap<String, u64>,
}

/// Which decisions to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct DecisionQuery {
    pub action: Option<Action>,
    pub user: Option<String>,
    pub clip_sha256: Option<String>,
    /// The caller's own id for the clip.
    pub clip_id: Option<String>,
    /// A rule id: decisions where it matched, enforced or shadow.
    pub rule: Option<String>,
    /// Decisions at or after this time.
    pub since: Option<Timestamp>,
    /// Decisions before this time.
    pub until: Option<Timestamp>,
    pub origin: Option<Origin>,
    /// A page cursor: only decisions after this one in the listing's order.
    pub after: Option<String>,
    /// At most this many (0: 100).
    pub limit: usize,
}

/// Which `review` decisions awaiting a review to list, oldest first.
#[derive(Debug, Clone, Default)]
pub struct ReviewQuery {
    pub origin: Option<Origin>,
    pub clip_id: Option<String>,
    /// A page cursor: only decisions after this one in the queue's order.
    pub after: Option<String>,
    /// At most this many (0: 100).
    pub limit: usize,
}

pub trait DecisionLog: Send + Sync {
    /// Commits the decision durably; only then may it be returned.
    fn record(&self, d: &Decision) -> Result<(), StoreError>;
    /// A decision with its review, if any.
    fn get(&self, id: &str) -> Result<Option<Decision>, StoreError>;
    fn list(&self, q: &DecisionQuery) -> Result<Vec<Decision>, StoreError>;
    /// `review` decisions nobody has reviewed yet, oldest first.
    fn review_page(&self, q: &ReviewQuery) -> Result<Vec<Decision>, StoreError>;
    /// Records the one review of a decision; a second review is refused.
    fn record_review(&self, r: &Review) -> Result<(), StoreError>;
    /// The first `limit` decisions of the review queue.
    fn review_queue(&self, limit: usize) -> Result<Vec<Decision>, StoreError> {
        self.review_page(&ReviewQuery {
            limit,
            ..Default::default()
        })
    }
    fn record_thumbnails(&self, decision_id: &str, t: &[Thumbnail]) -> Result<(), StoreError>;
    /// Thumbnail `n` of a decision (JPEG).
    fn thumbnail(&self, decision_id: &str, n: usize) -> Result<Option<Vec<u8>>, StoreError>;
    /// How many thumbnails a decision has.
    fn thumbnail_count(&self, decision_id: &str) -> Result<usize, StoreError>;
    /// The rule and time of each thumbnail of a decision, in order: which evidence each shows.
    fn thumbnail_index(&self, decision_id: &str) -> Result<Vec<(String, f64)>, StoreError>;
    /// Decisions of one origin per minute since an RFC 3339 time, oldest first (minutes
    /// without any left out): live checks and audits are counted apart.
    fn per_minute(&self, since: &str, origin: Origin) -> Result<Vec<MinuteCounts>, StoreError>;
    /// Rule matches in decisions of one origin since an RFC 3339 time.
    fn rule_counts(&self, since: &str, origin: Origin) -> Result<RuleCounts, StoreError>;
}

fn parse(body: String, review: Option<String>) -> Result<Decision, StoreError> {
    let mut d: Decision = serde_json::from_str(&body)
        .map_err(|e| StoreError::Corrupt(format!("decision JSON: {e}")))?;
    d.review = review
        .map(|r| serde_json::from_str(&r))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("review JSON: {e}")))?;
    Ok(d)
}

/// Decisions from rows of (body, review body).
fn decisions(rows: Vec<Row>) -> Result<Vec<Decision>, StoreError> {
    rows.into_iter()
        .map(|r| parse(r.text(0)?, r.opt_text(1)?))
        .collect()
}

fn limit(n: usize) -> i64 {
    if n == 0 {
        100
    } else {
        n as i64
    }
}

/// Where a page cursor (a decision id) sits in the order: its time and id.
fn cursor(
    db: &mut dyn Db,
    after: Option<&str>,
) -> Result<(Option<String>, Option<String>), StoreError> {
    let Some(id) = after else {
        return Ok((None, None));
    };
    match db.query_opt("SELECT created_at FROM decisions WHERE id = ?1", vals![id])? {
        Some(at) => Ok((Some(at.text(0)?), Some(id.to_string()))),
        None => Err(StoreError::BadCursor(id.to_string())),
    }
}

impl DecisionLog for Store {
    fn record(&self, d: &Decision) -> Result<(), StoreError> {
        let mut stored = d.clone();
        stored.review = None;
        let body =
            serde_json::to_string(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rules: Vec<&str> = d.decision.matched.iter().map(|m| m.rule.as_str()).collect();
        let shadow: Vec<&str> = d.decision.shadow.iter().map(|m| m.rule.as_str()).collect();
        self.with(|db| {
            db.execute(
                "INSERT INTO decisions (id, created_at, origin, user_id, clip_sha256, action, policy_name, policy_version, rules, body, shadow_rules, clip_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                vals![
                    &d.id,
                    &d.created_at,
                    d.origin.as_str(),
                    &d.user,
                    &d.clip_sha256,
                    d.decision.action.as_str(),
                    &d.decision.policy.name,
                    &d.decision.policy.version,
                    rules.join(","),
                    body,
                    shadow.join(","),
                    &d.clip_id
                ],
            )
        })?;
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Option<Decision>, StoreError> {
        let row = self.with(|db| {
            db.query_opt(
                "SELECT d.body, r.body FROM decisions d LEFT JOIN reviews r ON r.decision_id = d.id
                 WHERE d.id = ?1",
                vals![id],
            )
        })?;
        row.map(|r| parse(r.text(0)?, r.opt_text(1)?)).transpose()
    }

    fn list(&self, q: &DecisionQuery) -> Result<Vec<Decision>, StoreError> {
        let rows = self.with(|db| {
            let (after_at, after_id) = cursor(db, q.after.as_deref())?;
            // Times compare as strings: the log and `Timestamp::log_key` write them alike.
            db.query(
                "SELECT d.body, r.body FROM decisions d LEFT JOIN reviews r ON r.decision_id = d.id
                 WHERE (CAST(?1 AS TEXT) IS NULL OR d.action = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR d.user_id = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR d.clip_sha256 = ?3)
                   AND (CAST(?4 AS TEXT) IS NULL OR d.created_at >= ?4)
                   AND (CAST(?5 AS TEXT) IS NULL OR d.origin = ?5)
                   AND (CAST(?6 AS TEXT) IS NULL OR d.created_at < ?6)
                   AND (CAST(?7 AS TEXT) IS NULL OR d.clip_id = ?7)
                   AND (CAST(?8 AS TEXT) IS NULL OR d.created_at < ?8
                        OR (d.created_at = ?8 AND d.id < CAST(?9 AS TEXT)))
                   AND (CAST(?11 AS TEXT) IS NULL
                        OR instr(',' || d.rules || ',' || d.shadow_rules || ',', ',' || ?11 || ',') > 0)
                 ORDER BY d.created_at DESC, d.id DESC LIMIT ?10",
                vals![
                    q.action.map(Action::as_str),
                    &q.user,
                    &q.clip_sha256,
                    q.since.map(|t| t.log_key()),
                    q.origin.map(Origin::as_str),
                    q.until.map(|t| t.log_key()),
                    &q.clip_id,
                    after_at,
                    after_id,
                    limit(q.limit),
                    &q.rule
                ],
            )
        })?;
        decisions(rows)
    }

    fn review_page(&self, q: &ReviewQuery) -> Result<Vec<Decision>, StoreError> {
        let rows = self.with(|db| {
            let (after_at, after_id) = cursor(db, q.after.as_deref())?;
            db.query(
                "SELECT d.body, NULL FROM decisions d LEFT JOIN reviews r ON r.decision_id = d.id
                 WHERE d.action = 'review' AND r.decision_id IS NULL
                   AND (CAST(?1 AS TEXT) IS NULL OR d.origin = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR d.clip_id = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR d.created_at > ?3
                        OR (d.created_at = ?3 AND d.id > CAST(?4 AS TEXT)))
                 ORDER BY d.created_at, d.id LIMIT ?5",
                vals![
                    q.origin.map(Origin::as_str),
                    &q.clip_id,
                    after_at,
                    after_id,
                    limit(q.limit)
                ],
            )
        })?;
        decisions(rows)
    }

    fn record_review(&self, r: &Review) -> Result<(), StoreError> {
        let body = serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inserted = self.with(|db| {
            db.execute(
                "INSERT INTO reviews (decision_id, outcome, reviewer, created_at, body)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (decision_id) DO NOTHING",
                vals![
                    &r.decision_id,
                    r.outcome.as_str(),
                    &r.reviewer,
                    &r.created_at,
                    body
                ],
            )
        })?;
        if inserted == 0 {
            return Err(StoreError::Conflict(format!(
                "decision {} has already been reviewed",
                r.decision_id
            )));
        }
        Ok(())
    }

    fn record_thumbnails(&self, decision_id: &str, t: &[Thumbnail]) -> Result<(), StoreError> {
        self.transaction(|db| {
            for (n, th) in t.iter().enumerate() {
                db.execute(
                    "INSERT INTO evidence_thumbnails (decision_id, n, rule, time_s, jpeg)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (decision_id, n) DO UPDATE
                     SET rule = excluded.rule, time_s = excluded.time_s, jpeg = excluded.jpeg",
                    vals![
                        decision_id,
                        n as i64,
                        &th.rule,
                        th.time_s,
                        th.jpeg.as_slice()
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn thumbnail(&self, decision_id: &str, n: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|db| {
            db.query_opt(
                "SELECT jpeg FROM evidence_thumbnails WHERE decision_id = ?1 AND n = ?2",
                vals![decision_id, n as i64],
            )?
            .map(|r| r.blob(0))
            .transpose()
        })
    }

    fn thumbnail_count(&self, decision_id: &str) -> Result<usize, StoreError> {
        let n = self.with(|db| {
            db.query_one(
                "SELECT count(*) FROM evidence_thumbnails WHERE decision_id = ?1",
                vals![decision_id],
            )?
            .int(0)
        })?;
        Ok(n as usize)
    }

    fn thumbnail_index(&self, decision_id: &str) -> Result<Vec<(String, f64)>, StoreError> {
        self.with(|db| {
            db.query(
                "SELECT rule, time_s FROM evidence_thumbnails WHERE decision_id = ?1 ORDER BY n",
                vals![decision_id],
            )?
            .into_iter()
            .map(|r| Ok((r.text(0)?, r.real(1)?)))
            .collect()
        })
    }

    fn per_minute(&self, since: &str, origin: Origin) -> Result<Vec<MinuteCounts>, StoreError> {
        let rows = self.with(|db| {
            db.query(
                "SELECT substr(created_at, 1, 16) AS m, action, count(*) FROM decisions
                 WHERE created_at >= ?1 AND origin = ?2 GROUP BY m, action ORDER BY m",
                vals![since, origin.as_str()],
            )
        })?;
        let mut out: Vec<MinuteCounts> = Vec::new();
        for row in rows {
            let (minute, action, n) = (row.text(0)?, row.text(1)?, row.int(2)?);
            if out.last().is_none_or(|m| m.minute != minute) {
                out.push(MinuteCounts {
                    minute,
                    ..Default::default()
                });
            }
            let m = out.last_mut().expect("pushed above");
            match action.as_str() {
                "allow" => m.allow = n as u64,
                "review" => m.review = n as u64,
                _ => m.block = n as u64,
            }
        }
        Ok(out)
    }

    fn rule_counts(&self, since: &str, origin: Origin) -> Result<RuleCounts, StoreError> {
        let rows = self.with(|db| {
            db.query(
                "SELECT rules, shadow_rules FROM decisions
                 WHERE created_at >= ?1 AND origin = ?2 AND (rules != '' OR shadow_rules != '')",
                vals![since, origin.as_str()],
            )
        })?;
        let mut out = RuleCounts::default();
        for row in rows {
            for (list, into) in [
                (row.text(0)?, &mut out.enforce),
                (row.text(1)?, &mut out.shadow),
            ] {
                for r in list.split(',').filter(|r| !r.is_empty()) {
                    *into.entry(r.to_string()).or_default() += 1;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{PolicyRef, Verdict};

    fn decision(action: Action, user: &str, clip: &str) -> Decision {
        let verdict = Verdict {
            action,
            matched: vec![],
            shadow: vec![],
            failures: vec![],
            policy: PolicyRef {
                name: "p".into(),
                version: "v".into(),
            },
        };
        let request = crate::vocab::CheckRequest {
            user: Some(user.into()),
            ..Default::default()
        };
        Decision::new(&request, Some(clip.into()), None, None, verdict)
    }

    #[test]
    fn decisions_survive_a_reopen_and_are_queryable() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = crate::store::scratch::ScratchDatabase::create();
        let mut openers: Vec<Box<dyn Fn() -> Store>> =
            vec![Box::new(|| Store::open(dir.path()).unwrap())];
        if let Some(db) = &scratch {
            openers.push(Box::new(|| Store::postgres(&db.url).unwrap()));
        }
        for open in openers {
            queryable_after_a_reopen(open);
        }
    }

    fn queryable_after_a_reopen(open: impl Fn() -> Store) {
        let (mut a, mut b, mut c) = (
            decision(Action::Allow, "alice", "c1"),
            decision(Action::Block, "bob", "c2"),
            decision(Action::Block, "alice", "c3"),
        );
        for (d, t) in [(&mut a, "00"), (&mut b, "01"), (&mut c, "02")] {
            d.created_at = format!("2026-11-24T10:00:{t}.000Z");
        }
        {
            let s = open();
            for d in [&a, &b, &c] {
                s.record(d).unwrap();
            }
            assert!(s.record(&a).is_err(), "an id is logged once");
        }
        let s = open();
        assert_eq!(s.get(&b.id).unwrap().unwrap().user.as_deref(), Some("bob"));
        assert!(s.get("nope").unwrap().is_none());
        let ids = |q: DecisionQuery| {
            s.list(&q)
                .unwrap()
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(DecisionQuery::default()),
            vec![c.id.clone(), b.id.clone(), a.id.clone()]
        );
        assert_eq!(
            ids(DecisionQuery {
                action: Some(Action::Block),
                ..Default::default()
            }),
            vec![c.id.clone(), b.id.clone()]
        );
        assert_eq!(
            ids(DecisionQuery {
                user: Some("alice".into()),
                ..Default::default()
            }),
            vec![c.id.clone(), a.id.clone()]
        );
        assert_eq!(
            ids(DecisionQuery {
                clip_sha256: Some("c2".into()),
                ..Default::default()
            }),
            vec![b.id.clone()]
        );
        assert_eq!(
            ids(DecisionQuery {
                since: Some(c.created_at.parse().unwrap()),
                ..Default::default()
            }),
            vec![c.id.clone()]
        );
        assert_eq!(
            ids(DecisionQuery {
                limit: 1,
                ..Default::default()
            }),
            vec![c.id.clone()]
        );
    }

    #[test]
    fn times_compare_exactly_and_pages_cover_the_log_once() {
        for (s, _db) in crate::store::test_stores() {
            times_compare_exactly_and_pages_cover_the_log_once_on(&s);
        }
    }

    fn times_compare_exactly_and_pages_cover_the_log_once_on(s: &Store) {
        let mut all = Vec::new();
        for (n, at) in [
            "05:14:36.900",
            "05:14:37.157",
            "05:14:37.157",
            "05:14:38.000",
        ]
        .iter()
        .enumerate()
        {
            let mut d = decision(Action::Allow, "alice", &format!("c{n}"));
            d.created_at = format!("2026-11-25T{at}Z");
            let matched = |rule: &str| crate::vocab::RuleMatch {
                rule: rule.into(),
                category: "c".into(),
                action: Action::Review,
                message: "m".into(),
                evidence: vec![],
                severity: None,
            };
            match n {
                0 => d.decision.shadow = vec![matched("trial")],
                2 => d.decision.matched = vec![matched("nudity"), matched("likeness")],
                _ => {}
            }
            d.clip_id = Some(format!("gen-{}", n % 2));
            s.record(&d).unwrap();
            all.push(d.id);
        }
        let ids = |q: DecisionQuery| -> Vec<String> {
            s.list(&q).unwrap().into_iter().map(|d| d.id).collect()
        };
        let since = |t: &str| DecisionQuery {
            since: Some(t.parse().unwrap()),
            ..Default::default()
        };
        // A whole-second bound takes the decisions within that second.
        assert_eq!(ids(since("2026-11-25T05:14:37Z")).len(), 3);
        assert_eq!(ids(since("2026-11-25T06:14:37.157+01:00")).len(), 3);
        assert_eq!(ids(since("2026-11-25T05:14:37.1571Z")).len(), 1);
        let until = DecisionQuery {
            until: Some("2026-11-25T05:14:37.1571Z".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(ids(until).len(), 3);
        let by_clip = DecisionQuery {
            clip_id: Some("gen-1".into()),
            ..Default::default()
        };
        assert_eq!(ids(by_clip), vec![all[3].clone(), all[1].clone()]);
        let by_rule = |rule: &str| DecisionQuery {
            rule: Some(rule.into()),
            ..Default::default()
        };
        assert_eq!(ids(by_rule("likeness")), vec![all[2].clone()]);
        assert_eq!(ids(by_rule("trial")), vec![all[0].clone()]);
        assert!(ids(by_rule("like")).is_empty(), "whole rule ids only");
        // Pages of one, ties in time included, newest first, each decision once.
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = ids(DecisionQuery {
                after: after.clone(),
                limit: 1,
                ..Default::default()
            });
            let Some(last) = page.last() else { break };
            after = Some(last.clone());
            paged.extend(page);
        }
        let mut newest_first = all.clone();
        newest_first.reverse();
        if all[1] > all[2] {
            newest_first.swap(1, 2);
        }
        assert_eq!(paged, newest_first);
        let err = s
            .list(&DecisionQuery {
                after: Some("nope".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::BadCursor(_)), "{err}");
    }

    #[test]
    fn reviews_clear_the_queue_once() {
        for (s, _db) in crate::store::test_stores() {
            reviews_clear_the_queue_once_on(&s);
        }
    }

    fn reviews_clear_the_queue_once_on(s: &Store) {
        let (mut a, mut b) = (
            decision(Action::Review, "alice", "c1"),
            decision(Action::Review, "bob", "c2"),
        );
        a.created_at = "2026-11-24T10:00:00.000Z".into();
        b.created_at = "2026-11-24T10:00:01.000Z".into();
        let allowed = decision(Action::Allow, "carol", "c3");
        for d in [&a, &b, &allowed] {
            s.record(d).unwrap();
        }
        let queue = |s: &Store| {
            s.review_queue(10)
                .unwrap()
                .into_iter()
                .map(|d| d.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(queue(s), vec![a.id.clone(), b.id.clone()]);
        let review = Review {
            decision_id: a.id.clone(),
            outcome: crate::vocab::ReviewOutcome::Reject,
            note: "synthetic likeness".into(),
            reviewer: "ops".into(),
            created_at: "2026-11-24T11:00:00.000Z".into(),
            attestation: None,
        };
        s.record_review(&review).unwrap();
        assert_eq!(queue(s), vec![b.id.clone()]);
        let err = s.record_review(&review).unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        let got = s.get(&a.id).unwrap().unwrap();
        assert_eq!(got.review.unwrap().note, "synthetic likeness");
        assert!(s.get(&b.id).unwrap().unwrap().review.is_none());
    }

    #[test]
    fn live_checks_and_audits_are_counted_apart() {
        use crate::vocab::RuleMatch;
        let s = Store::in_memory().unwrap();
        let matched = |rule: &str| RuleMatch {
            rule: rule.into(),
            category: "c".into(),
            action: Action::Block,
            message: "m".into(),
            evidence: vec![],
            severity: None,
        };
        let mut live = decision(Action::Block, "alice", "c1");
        live.decision.matched = vec![matched("live-rule")];
        let mut audit = decision(Action::Block, "alice", "c2");
        audit.origin = Origin::Audit;
        audit.decision.matched = vec![matched("audit-rule")];
        let mut audit_allow = decision(Action::Allow, "alice", "c3");
        audit_allow.origin = Origin::Audit;
        for d in [&live, &audit, &audit_allow] {
            s.record(d).unwrap();
        }
        let since = "2000-01-01T00:00:00.000Z";
        let sum = |m: Vec<MinuteCounts>| {
            m.iter().fold((0, 0, 0), |(a, r, b), m| {
                (a + m.allow, r + m.review, b + m.block)
            })
        };
        assert_eq!(sum(s.per_minute(since, Origin::Check).unwrap()), (0, 0, 1));
        assert_eq!(sum(s.per_minute(since, Origin::Audit).unwrap()), (1, 0, 1));
        let live_rules = s.rule_counts(since, Origin::Check).unwrap();
        assert_eq!(live_rules.enforce.keys().collect::<Vec<_>>(), ["live-rule"]);
        let audit_rules = s.rule_counts(since, Origin::Audit).unwrap();
        assert_eq!(
            audit_rules.enforce.keys().collect::<Vec<_>>(),
            ["audit-rule"]
        );

        let thumb = |rule: &str, time_s: f64| Thumbnail {
            rule: rule.into(),
            time_s,
            jpeg: vec![0xff],
        };
        s.record_thumbnails(&live.id, &[thumb("b", 2.0), thumb("a", 0.5)])
            .unwrap();
        assert_eq!(
            s.thumbnail_index(&live.id).unwrap(),
            vec![("b".to_string(), 2.0), ("a".to_string(), 0.5)]
        );
        assert!(s.thumbnail_index(&audit.id).unwrap().is_empty());
    }
}
