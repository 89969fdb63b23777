//! The database with versioned schema migrations: the persons registry (queries in
//! `persons::registry`), the decision log and reviews (`decisions`), categories (`categories`),
//! the text categories an admin adds (`meaning::admin`), the banks of known content (`banks`),
//! audit jobs (`audits`), asynchronous checks (`checks`) and the callbacks that push decisions
//! to callers (`callbacks`). SQLite (WAL mode) in the data folder is the embedded default;
//! PostgreSQL is shared by several replicas.
//!
//! Adding a table: append a step to both `migrations` (SQLite) and `PG_MIGRATIONS`, then write
//! its queries once through `Store::with` / `Store::transaction` (see `sql`).

mod audits;
mod callbacks;
mod checks;
mod decisions;
pub mod live;
pub mod pg;
pub mod scratch;
pub mod sql;

pub use audits::AuditJob;
pub use callbacks::{Callback, CallbackEvent, CallbackState, DueCallback};
pub use checks::{CheckJob, ClaimedJob, JobState};
pub use decisions::{DecisionLog, DecisionQuery, MinuteCounts, ReviewQuery, RuleCounts, Thumbnail};
pub(crate) use sql::vals;
pub use sql::{Db, Row, Value};

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};
use sql::{Pg, Sqlite};
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
    #[error("database error: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("no database connection: {0}")]
    Pool(#[from] r2d2::Error),
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
        // Banks of known content by PDQ hash. The generation moves with every change (the
        // bank code bumps it in the same transaction, once per import rather than per row).
        M::up(
            "CREATE TABLE hash_banks (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL UNIQUE,
                 source TEXT NOT NULL,
                 action TEXT NOT NULL CHECK (action IN ('allow', 'review', 'block')),
                 created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             );
             CREATE TABLE bank_hashes (
                 bank_id INTEGER NOT NULL REFERENCES hash_banks(id) ON DELETE CASCADE,
                 item TEXT NOT NULL,
                 pdq BLOB NOT NULL CHECK (length(pdq) = 32),
                 quality INTEGER NOT NULL CHECK (quality BETWEEN 0 AND 100),
                 PRIMARY KEY (bank_id, item, pdq)
             ) WITHOUT ROWID;
             CREATE TABLE banks_generation (generation INTEGER NOT NULL);
             INSERT INTO banks_generation VALUES (1);",
        ),
        // The service's audit jobs and their report lines (`audits`).
        M::up(
            "CREATE TABLE audit_jobs (
                 id TEXT PRIMARY KEY,
                 spec TEXT NOT NULL,
                 state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
                 owner TEXT NOT NULL,
                 lease_until TEXT NOT NULL,
                 created_at TEXT NOT NULL,
                 summary TEXT,
                 error TEXT,
                 finished_at TEXT
             );
             CREATE INDEX audit_jobs_claim ON audit_jobs(state, lease_until);
             CREATE TABLE audit_lines (
                 n INTEGER PRIMARY KEY,
                 job_id TEXT NOT NULL REFERENCES audit_jobs(id),
                 key TEXT NOT NULL,
                 line TEXT NOT NULL,
                 created_at TEXT NOT NULL,
                 UNIQUE (job_id, key)
             );",
        ),
        // Voices of registered persons: one speaker embedding per enrolled sample, by the
        // model that made it, with the seconds of speech it came from.
        M::up(
            "CREATE TABLE person_voices (
                 id INTEGER PRIMARY KEY,
                 person_id INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
                 sample_sha256 TEXT NOT NULL,
                 model_sha256 TEXT NOT NULL,
                 embedding BLOB NOT NULL,
                 speech_s REAL NOT NULL,
                 created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
                 UNIQUE (person_id, sample_sha256)
             );
             CREATE INDEX person_voices_person ON person_voices(person_id);
             CREATE TRIGGER voices_ins AFTER INSERT ON person_voices BEGIN UPDATE registry_generation SET generation = generation + 1; END;
             CREATE TRIGGER voices_upd AFTER UPDATE ON person_voices BEGIN UPDATE registry_generation SET generation = generation + 1; END;
             CREATE TRIGGER voices_del AFTER DELETE ON person_voices BEGIN UPDATE registry_generation SET generation = generation + 1; END;",
        ),
        // Asynchronous checks queued for any replica (their uploads kept in chunks beside
        // them, so a replica without the uploader's disk can screen them), and the callbacks
        // that push decisions and reviews to the callers' URLs (`checks`, `callbacks`).
        M::up(
            "CREATE TABLE check_jobs (
                 id TEXT PRIMARY KEY,
                 spec TEXT NOT NULL,
                 state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
                 owner TEXT,
                 lease_until TEXT NOT NULL,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 created_at TEXT NOT NULL,
                 finished_at TEXT,
                 error_code TEXT,
                 error TEXT
             );
             CREATE INDEX check_jobs_claim ON check_jobs(state, lease_until, created_at);
             CREATE TABLE check_uploads (
                 job_id TEXT NOT NULL REFERENCES check_jobs(id) ON DELETE CASCADE,
                 n INTEGER NOT NULL,
                 bytes BLOB NOT NULL,
                 PRIMARY KEY (job_id, n)
             );
             CREATE TABLE callbacks (
                 id TEXT PRIMARY KEY,
                 decision_id TEXT NOT NULL,
                 event TEXT NOT NULL CHECK (event IN ('decided', 'reviewed')),
                 url TEXT NOT NULL,
                 body TEXT NOT NULL,
                 state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
                 attempts INTEGER NOT NULL DEFAULT 0,
                 last_status INTEGER,
                 last_error TEXT,
                 next_at TEXT NOT NULL,
                 owner TEXT,
                 lease_until TEXT NOT NULL,
                 created_at TEXT NOT NULL,
                 delivered_at TEXT
             );
             CREATE INDEX callbacks_due ON callbacks(state, next_at);
             CREATE INDEX callbacks_decision ON callbacks(decision_id);",
        ),
        // Text categories an admin defined by example phrases (`meaning::admin`), added to the
        // set shipped with the policy, with a generation that tells screeners to rebuild.
        M::up(
            "CREATE TABLE text_categories (
                 id INTEGER PRIMARY KEY,
                 name TEXT NOT NULL UNIQUE,
                 definition TEXT NOT NULL,
                 created_by TEXT NOT NULL,
                 created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             );
             CREATE TABLE text_category_generation (generation INTEGER NOT NULL);
             INSERT INTO text_category_generation VALUES (1);
             CREATE TRIGGER text_categories_ins AFTER INSERT ON text_categories BEGIN UPDATE text_category_generation SET generation = generation + 1; END;
             CREATE TRIGGER text_categories_upd AFTER UPDATE ON text_categories BEGIN UPDATE text_category_generation SET generation = generation + 1; END;
             CREATE TRIGGER text_categories_del AFTER DELETE ON text_categories BEGIN UPDATE text_category_generation SET generation = generation + 1; END;",
        ),
    ])
}

/// PostgreSQL's schema, in the same steps' spirit as `migrations` (which it starts level
/// with): applied in order, each once, recorded in `schema_version`. Append only; a table added
/// to one backend is added to the other in the same change.
const PG_MIGRATIONS: &[&str] = &[
    "CREATE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT strpos($1, $2)';
     CREATE TABLE persons (
         id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
         name TEXT NOT NULL,
         kind TEXT NOT NULL CHECK (kind IN ('public_figure', 'private_individual')),
         created_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
     );
     CREATE TABLE person_aliases (
         person_id BIGINT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
         alias TEXT NOT NULL,
         always_match BOOLEAN NOT NULL DEFAULT FALSE,
         PRIMARY KEY (person_id, alias)
     );
     CREATE TABLE person_consents (
         person_id BIGINT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
         user_id TEXT NOT NULL,
         PRIMARY KEY (person_id, user_id)
     );
     CREATE TABLE person_faces (
         id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
         person_id BIGINT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
         image_sha256 TEXT NOT NULL,
         model_sha256 TEXT NOT NULL,
         embedding BYTEA NOT NULL,
         created_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
         UNIQUE (person_id, image_sha256)
     );
     CREATE INDEX person_faces_person ON person_faces(person_id);
     CREATE TABLE registry_generation (generation BIGINT NOT NULL);
     INSERT INTO registry_generation VALUES (1);
     CREATE FUNCTION registry_changed() RETURNS trigger LANGUAGE plpgsql AS
         'BEGIN UPDATE registry_generation SET generation = generation + 1; RETURN NULL; END';
     CREATE TRIGGER persons_changed AFTER INSERT OR UPDATE OR DELETE ON persons
         FOR EACH STATEMENT EXECUTE FUNCTION registry_changed();
     CREATE TRIGGER aliases_changed AFTER INSERT OR UPDATE OR DELETE ON person_aliases
         FOR EACH STATEMENT EXECUTE FUNCTION registry_changed();
     CREATE TRIGGER consents_changed AFTER INSERT OR UPDATE OR DELETE ON person_consents
         FOR EACH STATEMENT EXECUTE FUNCTION registry_changed();
     CREATE TRIGGER faces_changed AFTER INSERT OR UPDATE OR DELETE ON person_faces
         FOR EACH STATEMENT EXECUTE FUNCTION registry_changed();
     CREATE TABLE decisions (
         id TEXT PRIMARY KEY,
         created_at TEXT NOT NULL,
         user_id TEXT,
         clip_sha256 TEXT,
         action TEXT NOT NULL CHECK (action IN ('allow', 'review', 'block')),
         policy_name TEXT NOT NULL,
         policy_version TEXT NOT NULL,
         rules TEXT NOT NULL,
         body TEXT NOT NULL,
         origin TEXT NOT NULL DEFAULT 'check',
         shadow_rules TEXT NOT NULL DEFAULT '',
         clip_id TEXT
     );
     CREATE INDEX decisions_created ON decisions(created_at);
     CREATE INDEX decisions_action ON decisions(action, created_at);
     CREATE INDEX decisions_user ON decisions(user_id, created_at);
     CREATE INDEX decisions_clip ON decisions(clip_sha256);
     CREATE INDEX decisions_clip_id ON decisions(clip_id, created_at);
     CREATE INDEX decisions_origin ON decisions(origin, created_at);
     CREATE TABLE reviews (
         decision_id TEXT PRIMARY KEY REFERENCES decisions(id),
         outcome TEXT NOT NULL CHECK (outcome IN ('approve', 'reject')),
         reviewer TEXT NOT NULL,
         created_at TEXT NOT NULL,
         body TEXT NOT NULL
     );
     CREATE TABLE evidence_thumbnails (
         decision_id TEXT NOT NULL REFERENCES decisions(id),
         n BIGINT NOT NULL,
         rule TEXT NOT NULL,
         time_s DOUBLE PRECISION NOT NULL,
         jpeg BYTEA NOT NULL,
         PRIMARY KEY (decision_id, n)
     );",
    "CREATE TABLE categories (
         name TEXT PRIMARY KEY,
         description TEXT NOT NULL,
         created_by TEXT NOT NULL,
         created_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
     );
     CREATE TABLE category_examples (
         category TEXT NOT NULL REFERENCES categories(name) ON DELETE CASCADE,
         counter BIGINT NOT NULL CHECK (counter IN (0, 1)),
         image_sha256 TEXT NOT NULL,
         model_sha256 TEXT NOT NULL,
         embedding BYTEA NOT NULL,
         PRIMARY KEY (category, counter, image_sha256)
     );
     CREATE TABLE category_generation (generation BIGINT NOT NULL);
     INSERT INTO category_generation VALUES (1);
     CREATE FUNCTION categories_changed() RETURNS trigger LANGUAGE plpgsql AS
         'BEGIN UPDATE category_generation SET generation = generation + 1; RETURN NULL; END';
     CREATE TRIGGER categories_changed AFTER INSERT OR UPDATE OR DELETE ON categories
         FOR EACH STATEMENT EXECUTE FUNCTION categories_changed();
     CREATE TRIGGER category_examples_changed AFTER INSERT OR UPDATE OR DELETE ON category_examples
         FOR EACH STATEMENT EXECUTE FUNCTION categories_changed();",
    "CREATE TABLE hash_banks (
         id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         source TEXT NOT NULL,
         action TEXT NOT NULL CHECK (action IN ('allow', 'review', 'block')),
         created_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
     );
     CREATE TABLE bank_hashes (
         bank_id BIGINT NOT NULL REFERENCES hash_banks(id) ON DELETE CASCADE,
         item TEXT NOT NULL,
         pdq BYTEA NOT NULL CHECK (length(pdq) = 32),
         quality BIGINT NOT NULL CHECK (quality BETWEEN 0 AND 100),
         PRIMARY KEY (bank_id, item, pdq)
     );
     CREATE TABLE banks_generation (generation BIGINT NOT NULL);
     INSERT INTO banks_generation VALUES (1);",
    "CREATE TABLE audit_jobs (
         id TEXT PRIMARY KEY,
         spec TEXT NOT NULL,
         state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
         owner TEXT NOT NULL,
         lease_until TEXT NOT NULL,
         created_at TEXT NOT NULL,
         summary TEXT,
         error TEXT,
         finished_at TEXT
     );
     CREATE INDEX audit_jobs_claim ON audit_jobs(state, lease_until);
     CREATE TABLE audit_lines (
         n BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
         job_id TEXT NOT NULL REFERENCES audit_jobs(id),
         key TEXT NOT NULL,
         line TEXT NOT NULL,
         created_at TEXT NOT NULL,
         UNIQUE (job_id, key)
     );",
    "CREATE TABLE person_voices (
         id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
         person_id BIGINT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
         sample_sha256 TEXT NOT NULL,
         model_sha256 TEXT NOT NULL,
         embedding BYTEA NOT NULL,
         speech_s DOUBLE PRECISION NOT NULL,
         created_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
         UNIQUE (person_id, sample_sha256)
     );
     CREATE INDEX person_voices_person ON person_voices(person_id);
     CREATE TRIGGER voices_changed AFTER INSERT OR UPDATE OR DELETE ON person_voices
         FOR EACH STATEMENT EXECUTE FUNCTION registry_changed();",
    "CREATE TABLE check_jobs (
         id TEXT PRIMARY KEY,
         spec TEXT NOT NULL,
         state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
         owner TEXT,
         lease_until TEXT NOT NULL,
         attempts BIGINT NOT NULL DEFAULT 0,
         created_at TEXT NOT NULL,
         finished_at TEXT,
         error_code TEXT,
         error TEXT
     );
     CREATE INDEX check_jobs_claim ON check_jobs(state, lease_until, created_at);
     CREATE TABLE check_uploads (
         job_id TEXT NOT NULL REFERENCES check_jobs(id) ON DELETE CASCADE,
         n BIGINT NOT NULL,
         bytes BYTEA NOT NULL,
         PRIMARY KEY (job_id, n)
     );
     CREATE TABLE callbacks (
         id TEXT PRIMARY KEY,
         decision_id TEXT NOT NULL,
         event TEXT NOT NULL CHECK (event IN ('decided', 'reviewed')),
         url TEXT NOT NULL,
         body TEXT NOT NULL,
         state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
         attempts BIGINT NOT NULL DEFAULT 0,
         last_status BIGINT,
         last_error TEXT,
         next_at TEXT NOT NULL,
         owner TEXT,
         lease_until TEXT NOT NULL,
         created_at TEXT NOT NULL,
         delivered_at TEXT
     );
     CREATE INDEX callbacks_due ON callbacks(state, next_at);
     CREATE INDEX callbacks_decision ON callbacks(decision_id);",
    "CREATE TABLE text_categories (
         id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
         name TEXT NOT NULL UNIQUE,
         definition TEXT NOT NULL,
         created_by TEXT NOT NULL,
         created_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
     );
     CREATE TABLE text_category_generation (generation BIGINT NOT NULL);
     INSERT INTO text_category_generation VALUES (1);
     CREATE FUNCTION text_categories_changed() RETURNS trigger LANGUAGE plpgsql AS
         'BEGIN UPDATE text_category_generation SET generation = generation + 1; RETURN NULL; END';
     CREATE TRIGGER text_categories_changed AFTER INSERT OR UPDATE OR DELETE ON text_categories
         FOR EACH STATEMENT EXECUTE FUNCTION text_categories_changed();",
];

type PgPool =
    r2d2::Pool<r2d2_postgres::PostgresConnectionManager<tokio_postgres_rustls::MakeRustlsConnect>>;

enum Backend {
    /// One connection: SQLite writes one at a time anyway.
    Sqlite(Mutex<Connection>),
    Postgres(PgPool),
}

/// The database: SQLite in the data folder (the embedded default), or a PostgreSQL server
/// shared by several replicas. Queries are written once (`sql`) and run on either.
pub struct Store {
    backend: Backend,
}

impl Store {
    /// The database `url` names (`postgres://…`), or, with none, SQLite in `data_dir`.
    pub fn connect(url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        match url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Self::postgres(url)
            }
            Some(url) => Err(StoreError::Open {
                path: redact(url),
                reason:
                    "not a postgres:// URL (leave store.url unset for SQLite in the data folder)"
                        .into(),
            }),
            None => Self::open(data_dir),
        }
    }

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
            backend: Backend::Sqlite(Mutex::new(conn)),
        })
    }

    /// Connects to PostgreSQL and brings its schema up to date. Replicas starting together
    /// migrate one after the other (an advisory lock held for the migration's transaction).
    pub fn postgres(url: &str) -> Result<Self, StoreError> {
        let shown = redact(url);
        let open = |reason: String| StoreError::Open {
            path: shown.clone(),
            reason,
        };
        let mut target = pg::PgTarget::parse(url).map_err(open)?;
        if target.config.get_connect_timeout().is_none() {
            target
                .config
                .connect_timeout(std::time::Duration::from_secs(10));
        }
        // One connection first, for the migration, and so a refused connection (address,
        // password, certificate) is reported at once with its cause, not after the pool's wait.
        let mut client = target
            .config
            .connect(target.tls.clone())
            .map_err(|e| open(connect_hint(&e)))?;
        let manager = r2d2_postgres::PostgresConnectionManager::new(target.config, target.tls);
        // Connections are opened as concurrent work needs them, up to 16.
        let pool = r2d2::Pool::builder()
            .max_size(16)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(10))
            .build(manager)
            .map_err(|e| open(e.to_string()))?;
        let migrate = |e: postgres::Error| StoreError::Migrate {
            path: shown.clone(),
            reason: e.to_string(),
        };
        let mut tx = client.transaction().map_err(migrate)?;
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(7436591);
             CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);",
        )
        .map_err(migrate)?;
        let done: i64 = tx
            .query_one("SELECT count(*) FROM schema_version", &[])
            .map_err(migrate)?
            .get(0);
        for (n, step) in PG_MIGRATIONS.iter().enumerate().skip(done as usize) {
            tx.batch_execute(step).map_err(migrate)?;
            tx.execute("INSERT INTO schema_version VALUES ($1)", &[&(n as i64 + 1)])
                .map_err(migrate)?;
        }
        tx.commit().map_err(migrate)?;
        Ok(Self {
            backend: Backend::Postgres(pool),
        })
    }

    /// Runs `f` on a connection, outside any transaction.
    pub fn with<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.backend {
            Backend::Sqlite(conn) => f(&mut Sqlite(&lock(conn))),
            Backend::Postgres(pool) => f(&mut Pg(&mut *pool.get().map_err(StoreError::from)?)),
        }
    }

    /// Runs `f` in one transaction: committed if it returns Ok, rolled back otherwise.
    pub fn transaction<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.backend {
            Backend::Sqlite(conn) => {
                let mut conn = lock(conn);
                let tx = conn.transaction().map_err(StoreError::from)?;
                let out = f(&mut Sqlite(&tx))?;
                tx.commit().map_err(StoreError::from)?;
                Ok(out)
            }
            Backend::Postgres(pool) => {
                let mut client = pool.get().map_err(StoreError::from)?;
                let mut tx = client.transaction().map_err(StoreError::from)?;
                let out = f(&mut Pg(&mut tx))?;
                tx.commit().map_err(StoreError::from)?;
                Ok(out)
            }
        }
    }

    /// The registry's generation: it moves with every change to persons, aliases, consents or
    /// faces, whichever process (or replica) made it.
    pub fn registry_generation(&self) -> Result<u64, StoreError> {
        let g = self.with(|db| {
            db.query_one("SELECT generation FROM registry_generation", &[])?
                .int(0)
        })?;
        Ok(g as u64)
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

/// A database URL without its password, for messages.
/// A failed connection's message with its causes ("error performing TLS handshake" alone does
/// not say why), and what to change where it is the server's certificate.
fn connect_hint(e: &postgres::Error) -> String {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        reason = format!("{reason}: {cause}");
        source = cause.source();
    }
    if reason.contains("not valid for name") {
        reason.push_str(
            " (connect by a name the certificate carries, or use sslmode=verify-ca to check \
             only that it comes from a trusted CA)",
        );
    } else if reason.contains("certificate") {
        reason.push_str(
            " (the server's TLS certificate: name its CA with sslrootcert=FILE in the URL, or \
             use sslmode=require to encrypt without checking it)",
        );
    }
    reason
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Each backend the tests run on: SQLite in memory, and a scratch PostgreSQL database where
/// there is a server (see `scratch`); the guard drops the database.
#[cfg(test)]
pub(crate) fn test_stores() -> Vec<(Store, Option<scratch::ScratchDatabase>)> {
    let mut out = vec![(Store::in_memory().unwrap(), None)];
    if let Some(db) = scratch::ScratchDatabase::create() {
        out.push((Store::postgres(&db.url).unwrap(), Some(db)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_persons(s: &Store) -> i64 {
        s.with(|db| db.query_one("SELECT count(*) FROM persons", &[])?.int(0))
            .unwrap()
    }

    fn add_person(s: &Store) {
        s.with(|db| {
            db.execute(
                "INSERT INTO persons (name, kind) VALUES (?1, 'public_figure')",
                sql::vals!["A"],
            )
        })
        .unwrap();
    }

    #[test]
    fn migrations_are_valid_and_reopening_keeps_data() {
        migrations().validate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        add_person(&Store::open(dir.path()).unwrap());
        assert_eq!(count_persons(&Store::open(dir.path()).unwrap()), 1);
        let Some(db) = scratch::ScratchDatabase::create() else {
            return;
        };
        let s = Store::postgres(&db.url).unwrap();
        add_person(&s);
        let g = s.registry_generation().unwrap();
        drop(s);
        // Reconnecting migrates nothing again and keeps the data.
        let s = Store::postgres(&db.url).unwrap();
        assert_eq!(count_persons(&s), 1);
        assert_eq!(s.registry_generation().unwrap(), g);
    }

    /// The test server (`tests/pg/cluster.sh`) has TLS on with a test CA, and its URL asks
    /// for verify-full against it: the store's connections are encrypted and checked.
    #[test]
    fn postgres_connections_use_tls_as_the_url_asks() {
        let Some(db) = scratch::ScratchDatabase::create() else {
            return;
        };
        assert!(
            db.url.contains("sslmode=verify-full") && db.url.contains("sslrootcert="),
            "the test server's URL asks for no TLS ({}): restart it with `make pg-stop pg`",
            db.url
        );
        let encrypted = |s: &Store| {
            s.with(|db| {
                db.query_one(
                    "SELECT count(*) FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl",
                    &[],
                )?
                .int(0)
            })
            .unwrap()
        };
        assert_eq!(encrypted(&Store::postgres(&db.url).unwrap()), 1);
        let (base, _) = db.url.split_once('?').unwrap();
        for mode in ["prefer", "require"] {
            let s = Store::postgres(&format!("{base}?sslmode={mode}")).unwrap();
            assert_eq!(encrypted(&s), 1, "{mode}");
        }
        let plain = Store::postgres(&format!("{base}?sslmode=disable")).unwrap();
        assert_eq!(encrypted(&plain), 0);
        // Reached by a name its certificate does not carry: verify-ca checks only the chain,
        // verify-full the name too.
        let misnamed = db.url.replace("@127.0.0.1:", "@db.invalid:") + "&hostaddr=127.0.0.1";
        let verify_ca = misnamed.replace("sslmode=verify-full", "sslmode=verify-ca");
        assert_eq!(encrypted(&Store::postgres(&verify_ca).unwrap()), 1);
        let err = Store::postgres(&misnamed).err().unwrap().to_string();
        assert!(
            err.contains("not valid for name \"db.invalid\"") && err.contains("verify-ca"),
            "{err}"
        );
        // Checked against the system's roots, the test CA's certificate is refused, and the
        // error says what to do.
        let err = Store::postgres(&format!("{base}?sslmode=verify-full"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("certificate") && err.contains("sslrootcert=FILE"),
            "{err}"
        );
    }

    #[test]
    fn a_failed_transaction_leaves_nothing() {
        for (s, _db) in test_stores() {
            let r: Result<(), StoreError> = s.transaction(|db| {
                db.execute(
                    "INSERT INTO persons (name, kind) VALUES ('A', 'public_figure')",
                    &[],
                )?;
                db.execute(
                    "INSERT INTO persons (name, kind) VALUES ('B', 'no such kind')",
                    &[],
                )?;
                Ok(())
            });
            assert!(r.is_err());
            assert_eq!(count_persons(&s), 0);
        }
    }

    #[test]
    fn every_registry_change_moves_the_generation() {
        for (s, _db) in test_stores() {
            let g0 = s.registry_generation().unwrap();
            add_person(&s);
            let g1 = s.registry_generation().unwrap();
            assert!(g1 > g0);
            s.with(|db| {
                db.execute(
                    "INSERT INTO person_consents (person_id, user_id)
                     SELECT id, 'alice' FROM persons",
                    &[],
                )
            })
            .unwrap();
            assert!(s.registry_generation().unwrap() > g1);
        }
    }

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            redact("postgres://cg:s3cret@db:5432/clipguard"),
            "postgres://cg@db:5432/clipguard"
        );
        assert_eq!(redact("postgres://db/clipguard"), "postgres://db/clipguard");
    }
}
