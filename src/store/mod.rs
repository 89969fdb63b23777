//! The embedded database (SQLite, WAL mode) with versioned schema migrations: the persons
//! registry (queries in `persons::registry`), the decision log and reviews (`decisions`).

mod decisions;

pub use decisions::{DecisionLog, DecisionQuery, MinuteCounts, ReviewQuery, RuleCounts, Thumbnail};

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("cannot migrate database {path}: {reason}")]
    Migrate { path: String, reason: String },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database holds unreadable data: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
    /// A page cursor that names no decision (a query error, not a database one).
    #[error("cursor {0:?} names no decision: pass the `next_cursor` of the previous page")]
    BadCursor(String),
}

impl crate::vocab::Failure for StoreError {
    fn code(&self) -> crate::vocab::ErrorCode {
        match self {
            StoreError::Conflict(_) => crate::vocab::ErrorCode::Conflict,
            StoreError::BadCursor(_) => crate::vocab::ErrorCode::InvalidQuery,
            _ => crate::vocab::ErrorCode::Store,
        }
    }
}

/// Schema versions, applied in order and recorded in SQLite's `user_version`. Append only.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE persons (
             id INTEGER PRIMARY KEY,
             name TEXT NOT NULL,
             kind TEXT NOT NULL CHECK (kind IN ('public_figure', 'private_individual')),
             created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
         );
         CREATE TABLE person_aliases (
             person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
             alias TEXT NOT NULL,
             PRIMARY KEY (person_id, alias)
         );
         CREATE TABLE person_consents (
             person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
             user_id TEXT NOT NULL,
             PRIMARY KEY (person_id, user_id)
         );
         CREATE TABLE person_faces (
             id INTEGER PRIMARY KEY,
             person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
             image_sha256 TEXT NOT NULL,
             model_sha256 TEXT NOT NULL,
             embedding BLOB NOT NULL,
             created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
             UNIQUE (person_id, image_sha256)
         );
         CREATE INDEX person_faces_person ON person_faces(person_id);",
        ),
        M::up(
            "CREATE TABLE decisions (
                 id TEXT PRIMARY KEY,
                 created_at TEXT NOT NULL,
                 user_id TEXT,
                 clip_sha256 TEXT,
                 action TEXT NOT NULL CHECK (action IN ('allow', 'review', 'block')),
                 policy_name TEXT NOT NULL,
                 policy_version TEXT NOT NULL,
                 rules TEXT NOT NULL,
                 body TEXT NOT NULL
             );
             CREATE INDEX decisions_created ON decisions(created_at);
             CREATE INDEX decisions_action ON decisions(action, created_at);
             CREATE INDEX decisions_user ON decisions(user_id, created_at);
             CREATE INDEX decisions_clip ON decisions(clip_sha256);",
        ),
        M::up(
            "ALTER TABLE decisions ADD COLUMN origin TEXT NOT NULL DEFAULT 'check';
             CREATE TABLE reviews (
                 decision_id TEXT PRIMARY KEY REFERENCES decisions(id),
                 outcome TEXT NOT NULL CHECK (outcome IN ('approve', 'reject')),
                 reviewer TEXT NOT NULL,
                 created_at TEXT NOT NULL,
                 body TEXT NOT NULL
             );",
        ),
        M::up(
            "ALTER TABLE decisions ADD COLUMN shadow_rules TEXT NOT NULL DEFAULT '';
             CREATE TABLE evidence_thumbnails (
                 decision_id TEXT NOT NULL REFERENCES decisions(id),
                 n INTEGER NOT NULL,
                 rule TEXT NOT NULL,
                 time_s REAL NOT NULL,
                 jpeg BLOB NOT NULL,
                 PRIMARY KEY (decision_id, n)
             );",
        ),
        // Every change to the registry, by any process on this database, moves the generation:
        // running screeners compare it to refresh their snapshot.
        M::up(
            "CREATE TABLE registry_generation (generation INTEGER NOT NULL);
             INSERT INTO registry_generation VALUES (1);
             CREATE TRIGGER persons_ins AFTER INSERT ON persons BEGIN UPDATE registry_generation SET generation = generation + 1; END;
             CREATE TRIGGER persons_upd AFTER UPDATE ON persons BEGIN UPDATE registry_generation SET generation = generation + 1; END;
             CREATE TRIGGER persons_del AFTER DELETE ON persons BEGIN UPDATE registry_generation SET generation = generation + 1; END;
             CREATE TRIGGER aliases_ins AFTER INSERT ON person_aliases BEGIN UPDATE registry_generation SET generation = generation + 1; END;
             CREATE TRIGGER aliases_del AFTER DELETE ON person_aliases BEGIN UPDATE registry_generation SET generation = generation + 1; END;
             CREATE TRIGGER consents_ins AFTER INSERT ON person_consents BEGIN UPDATE registry_generation SET generation = generation + 1; END;
             CREATE TRIGGER consents_del AFTER DELETE ON person_consents BEGIN UPDATE registry_generation SET generation = generation + 1; END;
             CREATE TRIGGER faces_ins AFTER INSERT ON person_faces BEGIN UPDATE registry_generation SET generation = generation + 1; END;
             CREATE TRIGGER faces_del AFTER DELETE ON person_faces BEGIN UPDATE registry_generation SET generation = generation + 1; END;",
        ),
        // An alias an admin marked to match wherever it appears, without corroboration.
        M::up(
            "ALTER TABLE person_aliases ADD COLUMN always_match INTEGER NOT NULL DEFAULT 0;
             CREATE TRIGGER aliases_upd AFTER UPDATE ON person_aliases BEGIN UPDATE registry_generation SET generation = generation + 1; END;",
        ),
        // The caller's own clip id, to find a clip's decisions by it; filled in for the
        // decisions logged before.
        M::up(
            "ALTER TABLE decisions ADD COLUMN clip_id TEXT;
             UPDATE decisions SET clip_id = json_extract(body, '$.clip_id');
             CREATE INDEX decisions_clip_id ON decisions(clip_id, created_at);
             CREATE INDEX decisions_origin ON decisions(origin, created_at);",
        ),
        // Categories defined by example images (their CLIP embeddings), with a generation
        // moved by every change, as for the registry.
        M::up(
            "CREATE TABLE categories (
                 name TEXT PRIMARY KEY,
                 description TEXT NOT NULL,
                 created_by TEXT NOT NULL,
                 created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             );
             CREATE TABLE category_examples (
                 category TEXT NOT NULL REFERENCES categories(name) ON DELETE CASCADE,
                 counter INTEGER NOT NULL CHECK (counter IN (0, 1)),
                 image_sha256 TEXT NOT NULL,
                 model_sha256 TEXT NOT NULL,
                 embedding BLOB NOT NULL,
                 PRIMARY KEY (category, counter, image_sha256)
             );
             CREATE TABLE category_generation (generation INTEGER NOT NULL);
             INSERT INTO category_generation VALUES (1);
             CREATE TRIGGER categories_ins AFTER INSERT ON categories BEGIN UPDATE category_generation SET generation = generation + 1; END;
             CREATE TRIGGER categories_del AFTER DELETE ON categories BEGIN UPDATE category_generation SET generation = generation + 1; END;
             CREATE TRIGGER category_examples_ins AFTER INSERT ON category_examples BEGIN UPDATE category_generation SET generation = generation + 1; END;
             CREATE TRIGGER category_examples_del AFTER DELETE ON category_examples BEGIN UPDATE category_generation SET generation = generation + 1; END;",
        ),
    ])
}

pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) `data_dir/clipguard.db` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join("clipguard.db");
        let err = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(data_dir).map_err(|e| err(e.to_string()))?;
        let conn = Connection::open(&path).map_err(|e| err(e.to_string()))?;
        Self::setup(conn, &path.display().to_string())
    }

    /// A private in-memory database (tests, one-off tools).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::setup(Connection::open_in_memory()?, ":memory:")
    }

    fn setup(mut conn: Connection, path: &str) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| StoreError::Migrate {
                path: path.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The registry's generation: it moves with every change to persons, aliases, consents or
    /// faces, whichever process made it.
    pub fn registry_generation(&self) -> Result<u64, StoreError> {
        // Read at every check: the statement is prepared once per connection.
        let g: i64 = self
            .conn()
            .prepare_cached("SELECT generation FROM registry_generation")?
            .query_row([], |r| r.get(0))?;
        Ok(g as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid_and_reopening_keeps_data() {
        migrations().validate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.conn()
                .execute(
                    "INSERT INTO persons (name, kind) VALUES ('A', 'public_figure')",
                    [],
                )
                .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let n: i64 = s
            .conn()
            .query_row("SELECT count(*) FROM persons", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
