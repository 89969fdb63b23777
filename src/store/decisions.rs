//! The decision log: every decision is committed here before it is returned. Behind a trait
//! so a shared database can serve several replicas; SQLite is the embedded default.

use super::{Store, StoreError};
use crate::policy::Action;
use crate::screen::Decision;
use rusqlite::{params, OptionalExtension};

/// Which decisions to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct DecisionQuery {
    pub action: Option<Action>,
    pub user: Option<String>,
    pub clip_sha256: Option<String>,
    /// RFC 3339 time: decisions at or after it.
    pub since: Option<String>,
    pub limit: usize,
}

pub trait DecisionLog: Send + Sync {
    /// Commits the decision durably; only then may it be returned.
    fn record(&self, d: &Decision) -> Result<(), StoreError>;
    fn get(&self, id: &str) -> Result<Option<Decision>, StoreError>;
    fn list(&self, q: &DecisionQuery) -> Result<Vec<Decision>, StoreError>;
}

fn action_str(a: Action) -> &'static str {
    match a {
        Action::Allow => "allow",
        Action::Review => "review",
        Action::Block => "block",
    }
}

fn parse(body: String) -> Result<Decision, StoreError> {
    serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("decision JSON: {e}")))
}

impl DecisionLog for Store {
    fn record(&self, d: &Decision) -> Result<(), StoreError> {
        let body = serde_json::to_string(d).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let rules: Vec<&str> = d.decision.matched.iter().map(|m| m.rule.as_str()).collect();
        self.conn().execute(
            "INSERT INTO decisions (id, created_at, user_id, clip_sha256, action, policy_name, policy_version, rules, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                d.id,
                d.created_at,
                d.user,
                d.clip_sha256,
                action_str(d.decision.action),
                d.decision.policy.name,
                d.decision.policy.version,
                rules.join(","),
                body
            ],
        )?;
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Option<Decision>, StoreError> {
        let body: Option<String> = self
            .conn()
            .query_row("SELECT body FROM decisions WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        body.map(parse).transpose()
    }

    fn list(&self, q: &DecisionQuery) -> Result<Vec<Decision>, StoreError> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT body FROM decisions
             WHERE (?1 IS NULL OR action = ?1) AND (?2 IS NULL OR user_id = ?2)
               AND (?3 IS NULL OR clip_sha256 = ?3) AND (?4 IS NULL OR created_at >= ?4)
             ORDER BY created_at DESC, id DESC LIMIT ?5",
        )?;
        let limit = if q.limit == 0 { 100 } else { q.limit } as i64;
        let rows = st.query_map(
            params![
                q.action.map(action_str),
                q.user,
                q.clip_sha256,
                q.since,
                limit
            ],
            |r| r.get::<_, String>(0),
        )?;
        rows.map(|b| parse(b?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PolicyRef, Verdict};

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
        Decision::new(Some(user.into()), Some(clip.into()), None, None, verdict)
    }

    #[test]
    fn decisions_survive_a_reopen_and_are_queryable() {
        let dir = tempfile::tempdir().unwrap();
        let (mut a, mut b, mut c) = (
            decision(Action::Allow, "alice", "c1"),
            decision(Action::Block, "bob", "c2"),
            decision(Action::Block, "alice", "c3"),
        );
        for (d, t) in [(&mut a, "00"), (&mut b, "01"), (&mut c, "02")] {
            d.created_at = format!("2026-11-24T10:00:{t}.000Z");
        }
        {
            let s = Store::open(dir.path()).unwrap();
            for d in [&a, &b, &c] {
                s.record(d).unwrap();
            }
            assert!(s.record(&a).is_err(), "an id is logged once");
        }
        let s = Store::open(dir.path()).unwrap();
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
                since: Some(c.created_at.clone()),
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
}
