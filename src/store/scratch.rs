//! Throwaway PostgreSQL databases for tests and benchmarks: each gets a fresh database on the
//! server `CLIPGUARD_TEST_DATABASE_URL` names (`make test` starts one), dropped when done.

/// The server's URL. Under `make test` (`CLIPGUARD_REQUIRE_POSTGRES` set) a missing URL is a
/// failure, so PostgreSQL tests cannot pass by not running; a bare `cargo test` skips them
/// with a message.
pub fn server_url() -> Option<String> {
    match std::env::var("CLIPGUARD_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CLIPGUARD_REQUIRE_POSTGRES").is_some() => panic!(
            "CLIPGUARD_REQUIRE_POSTGRES is set but CLIPGUARD_TEST_DATABASE_URL is not: \
             start a server with `tests/pg/cluster.sh start .local/pg`"
        ),
        _ => {
            eprintln!(
                "PostgreSQL tests skipped: CLIPGUARD_TEST_DATABASE_URL is not set (`make test` sets it)"
            );
            None
        }
    }
}

/// A fresh, empty database, dropped (connections and all) when this is.
pub struct ScratchDatabase {
    server: String,
    name: String,
    /// The database's own URL.
    pub url: String,
}

impl ScratchDatabase {
    /// A new database on the test server, or None where there is none (see `server_url`).
    pub fn create() -> Option<Self> {
        let server = server_url()?;
        let name = format!("scratch_{}", uuid::Uuid::now_v7().simple());
        let mut client = connect(&server)
            .unwrap_or_else(|e| panic!("cannot connect to the test server {server}: {e}"));
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        // The server's URL with the database name replaced; its settings (TLS) kept.
        let (base, query) = match server.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (server.as_str(), String::new()),
        };
        let base = match base.rfind('/') {
            Some(slash) if slash > base.find("://").map_or(0, |s| s + 2) => &base[..slash],
            _ => base,
        };
        let url = format!("{base}/{name}{query}");
        Some(Self { server, name, url })
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = connect(&self.server) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn connect(url: &str) -> Result<postgres::Client, String> {
    super::pg::PgTarget::parse(url)?
        .connect()
        .map_err(|e| e.to_string())
}
