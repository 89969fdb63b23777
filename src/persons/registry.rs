//! The persons registry in the embedded database: add, show, list, remove, import, enrol
//! faces, and the snapshot screening uses.

use super::{ExactIndex, FaceIndex, Gazetteer, GazetteerName, PersonInfo, Persons, PersonsError};
use crate::store::Store;
use crate::text::names::{ambiguity, Ambiguity};
use crate::text::WordFrequencies;
use crate::vocab::{Embedding, PersonId, PersonKind};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::BufRead;

/// A person to add (also one line of a `persons import` JSONL file).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default = "default_kind")]
    pub kind: PersonKind,
    #[serde(default)]
    pub allowed_users: Vec<String>,
    /// Names or aliases an admin marks to match wherever they appear, without the
    /// corroboration an ambiguous name otherwise needs ("Prince" alone). Each is also stored
    /// as an alias.
    #[serde(default)]
    pub always_match: Vec<String>,
}

/// A name or alias that will be hard to match precisely, found at enrolment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NameWarning {
    /// The name or alias concerned.
    pub name: String,
    /// common_single_word, common_surname, common_phrase, short, no_letters, or
    /// registered_to_another (the same name already names another person).
    pub code: String,
    pub message: String,
}

fn default_kind() -> PersonKind {
    PersonKind::PublicFigure
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnrolledFace {
    pub id: i64,
    pub image_sha256: String,
    pub model_sha256: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Person {
    pub id: PersonId,
    pub name: String,
    pub kind: PersonKind,
    pub aliases: Vec<String>,
    /// The aliases marked to match wherever they appear.
    #[serde(default)]
    pub always_match: Vec<String>,
    pub allowed_users: Vec<String>,
    pub faces: Vec<EnrolledFace>,
    pub created_at: String,
    /// Ambiguous names and aliases, reported when the person is added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<NameWarning>,
}

#[derive(Clone)]
pub struct Registry {
    store: std::sync::Arc<Store>,
    words: std::sync::Arc<Words>,
}

/// The word frequencies that tell ambiguous names and build the gazetteer: read from the
/// models manifest when first needed, so commands that only read the registry need no data
/// files.
pub struct Words {
    manifest: std::path::PathBuf,
    dir: std::path::PathBuf,
    loaded: std::sync::Mutex<Option<std::sync::Arc<WordFrequencies>>>,
}

impl Words {
    pub fn from_manifest(manifest: &std::path::Path, dir: &std::path::Path) -> Self {
        Self {
            manifest: manifest.to_path_buf(),
            dir: dir.to_path_buf(),
            loaded: Default::default(),
        }
    }

    fn get(&self) -> Result<std::sync::Arc<WordFrequencies>, PersonsError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = loaded.as_ref() {
            return Ok(w.clone());
        }
        let w = std::sync::Arc::new(WordFrequencies::from_manifest(&self.manifest, &self.dir)?);
        *loaded = Some(w.clone());
        Ok(w)
    }
}

fn embedding_blob(e: &Embedding) -> Vec<u8> {
    e.0.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn blob_embedding(b: &[u8]) -> Embedding {
    Embedding(
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect(),
    )
}

impl NewPerson {
    fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name is empty".into());
        }
        if let Some(a) = self.aliases.iter().find(|a| a.trim().is_empty()) {
            return Err(format!("alias {a:?} is empty"));
        }
        if let Some(u) = self.allowed_users.iter().find(|u| u.trim().is_empty()) {
            return Err(format!("allowed user {u:?} is empty"));
        }
        if let Some(a) = self.always_match.iter().find(|a| a.trim().is_empty()) {
            return Err(format!("always_match entry {a:?} is empty"));
        }
        Ok(())
    }
}

/// NotFound unless a person with this id is registered.
fn must_exist(conn: &rusqlite::Connection, id: PersonId) -> Result<(), PersonsError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM persons WHERE id = ?1)",
        [id],
        |r| r.get(0),
    )?;
    if exists {
        Ok(())
    } else {
        Err(PersonsError::NotFound(id))
    }
}

fn insert(tx: &rusqlite::Transaction<'_>, p: &NewPerson) -> rusqlite::Result<PersonId> {
    tx.prepare_cached("INSERT INTO persons (name, kind) VALUES (?1, ?2)")?
        .execute(params![p.name.trim(), p.kind.as_str()])?;
    let id = tx.last_insert_rowid();
    let mut alias = tx.prepare_cached(
        "INSERT OR IGNORE INTO person_aliases (person_id, alias) VALUES (?1, ?2)",
    )?;
    for a in &p.aliases {
        alias.execute(params![id, a.trim()])?;
    }
    for a in &p.always_match {
        tx.prepare_cached(
            "INSERT INTO person_aliases (person_id, alias, always_match) VALUES (?1, ?2, 1)
             ON CONFLICT (person_id, alias) DO UPDATE SET always_match = 1",
        )?
        .execute(params![id, a.trim()])?;
    }
    let mut consent = tx.prepare_cached(
        "INSERT OR IGNORE INTO person_consents (person_id, user_id) VALUES (?1, ?2)",
    )?;
    for u in &p.allowed_users {
        consent.execute(params![id, u.trim()])?;
    }
    Ok(id)
}

impl Registry {
    pub fn new(store: std::sync::Arc<Store>, words: Words) -> Self {
        Self {
            store,
            words: std::sync::Arc::new(words),
        }
    }

    pub fn words(&self) -> Result<std::sync::Arc<WordFrequencies>, PersonsError> {
        self.words.get()
    }

    /// What will make a new person's names hard to match precisely: ordinary words, short
    /// names, and names already registered to someone else. Advice, not refusal: an admin
    /// may add the person anyway, and mark a name `always_match`.
    pub fn name_warnings(&self, p: &NewPerson) -> Result<Vec<NameWarning>, PersonsError> {
        let mut out = Vec::new();
        let names = std::iter::once(&p.name).chain(&p.aliases);
        let conn = self.store.conn();
        let mut taken = conn.prepare_cached(
            "SELECT p.name FROM persons p WHERE lower(p.name) = lower(?1)
             UNION SELECT p.name FROM person_aliases a JOIN persons p ON p.id = a.person_id
             WHERE lower(a.alias) = lower(?1) LIMIT 1",
        )?;
        let words = self.words()?;
        for name in names {
            let name = name.trim();
            let always = p.always_match.iter().any(|a| a.trim() == name);
            for a in ambiguity(name, &words) {
                if always && a == Ambiguity::CommonSingleWord {
                    continue;
                }
                let code = serde_json::to_value(a)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                out.push(NameWarning {
                    name: name.to_string(),
                    code,
                    message: a.message().to_string(),
                });
            }
            let other: Option<String> = taken.query_row([name], |r| r.get(0)).optional()?;
            if let Some(other) = other {
                out.push(NameWarning {
                    name: name.to_string(),
                    code: "registered_to_another".into(),
                    message: format!("already names {other}: a match will report both"),
                });
            }
        }
        Ok(out)
    }

    /// Marks (or unmarks) one of a person's names as matching wherever it appears; marking
    /// a name that is not yet an alias adds it.
    pub fn set_always_match(
        &self,
        id: PersonId,
        alias: &str,
        always: bool,
    ) -> Result<(), PersonsError> {
        let alias = alias.trim();
        if alias.is_empty() {
            return Err(PersonsError::Invalid("the alias is empty".into()));
        }
        let conn = self.store.conn();
        must_exist(&conn, id)?;
        conn.execute(
            "INSERT INTO person_aliases (person_id, alias, always_match) VALUES (?1, ?2, ?3)
             ON CONFLICT (person_id, alias) DO UPDATE SET always_match = excluded.always_match",
            params![id, alias, always],
        )?;
        Ok(())
    }

    pub fn add(&self, p: &NewPerson) -> Result<PersonId, PersonsError> {
        p.validate().map_err(PersonsError::Invalid)?;
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let id = insert(&tx, p)?;
        tx.commit()?;
        Ok(id)
    }

    /// Adds a person together with their enrolled faces in one transaction: a failure leaves
    /// no trace of either.
    pub fn add_with_faces(
        &self,
        p: &NewPerson,
        model_sha256: &str,
        faces: &[super::enrol::Enrolment],
    ) -> Result<PersonId, PersonsError> {
        p.validate().map_err(PersonsError::Invalid)?;
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let id = insert(&tx, p)?;
        for f in faces {
            tx.execute(
                "INSERT INTO person_faces (person_id, image_sha256, model_sha256, embedding) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (person_id, image_sha256) DO NOTHING",
                params![id, f.image_sha256, model_sha256, embedding_blob(&f.embedding)],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Imports one person per JSONL line in a single transaction: all or nothing.
    pub fn import(&self, source: &str, reader: impl BufRead) -> Result<usize, PersonsError> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let mut n = 0;
        for (i, line) in reader.lines().enumerate() {
            let err = |reason: String| PersonsError::Import {
                path: source.to_string(),
                line: i + 1,
                reason,
            };
            let line = line.map_err(|e| err(e.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            let p: NewPerson = serde_json::from_str(&line).map_err(|e| err(e.to_string()))?;
            p.validate().map_err(err)?;
            insert(&tx, &p)?;
            n += 1;
        }
        tx.commit()?;
        Ok(n)
    }

    pub fn get(&self, id: PersonId) -> Result<Person, PersonsError> {
        let conn = self.store.conn();
        let row = conn
            .query_row(
                "SELECT name, kind, created_at FROM persons WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()?
            .ok_or(PersonsError::NotFound(id))?;
        let strings = |sql: &str| -> Result<Vec<String>, PersonsError> {
            let mut st = conn.prepare(sql)?;
            let v = st
                .query_map([id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(v)
        };
        let aliases =
            strings("SELECT alias FROM person_aliases WHERE person_id = ?1 ORDER BY alias")?;
        let always_match = strings(
            "SELECT alias FROM person_aliases WHERE person_id = ?1 AND always_match ORDER BY alias",
        )?;
        let allowed_users =
            strings("SELECT user_id FROM person_consents WHERE person_id = ?1 ORDER BY user_id")?;
        let mut st = conn.prepare(
            "SELECT id, image_sha256, model_sha256, created_at FROM person_faces WHERE person_id = ?1 ORDER BY id",
        )?;
        let faces = st
            .query_map([id], |r| {
                Ok(EnrolledFace {
                    id: r.get(0)?,
                    image_sha256: r.get(1)?,
                    model_sha256: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(Person {
            id,
            name: row.0,
            kind: row.1.parse().map_err(PersonsError::Invalid)?,
            aliases,
            always_match,
            allowed_users,
            faces,
            created_at: row.2,
            warnings: Vec::new(),
        })
    }

    /// Every person with alias and face counts, by id.
    pub fn list(&self) -> Result<Vec<(PersonInfo, usize, usize)>, PersonsError> {
        let conn = self.store.conn();
        let mut st = conn.prepare(
            "SELECT p.id, p.name, p.kind,
                    (SELECT count(*) FROM person_aliases a WHERE a.person_id = p.id),
                    (SELECT count(*) FROM person_faces f WHERE f.person_id = p.id),
                    (SELECT group_concat(user_id, char(31)) FROM person_consents c WHERE c.person_id = p.id)
             FROM persons p ORDER BY p.id",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, name, kind, aliases, faces, users)| {
                let info = PersonInfo {
                    id,
                    name,
                    kind: kind.parse().map_err(PersonsError::Invalid)?,
                    allowed_users: users
                        .map(|u| u.split('\u{1f}').map(str::to_string).collect())
                        .unwrap_or_default(),
                };
                Ok((info, aliases as usize, faces as usize))
            })
            .collect()
    }

    pub fn remove(&self, id: PersonId) -> Result<(), PersonsError> {
        let n = self
            .store
            .conn()
            .execute("DELETE FROM persons WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(PersonsError::NotFound(id));
        }
        Ok(())
    }

    /// Allows (`true`) or stops allowing (`false`) a user to depict a person. Idempotent.
    pub fn set_consent(&self, id: PersonId, user: &str, allowed: bool) -> Result<(), PersonsError> {
        let user = user.trim();
        if user.is_empty() {
            return Err(PersonsError::Invalid("the user is empty".into()));
        }
        let conn = self.store.conn();
        must_exist(&conn, id)?;
        if allowed {
            conn.execute(
                "INSERT OR IGNORE INTO person_consents (person_id, user_id) VALUES (?1, ?2)",
                params![id, user],
            )?;
        } else {
            conn.execute(
                "DELETE FROM person_consents WHERE person_id = ?1 AND user_id = ?2",
                params![id, user],
            )?;
        }
        Ok(())
    }

    /// Stores one face embedding for a person (once per source image).
    pub fn add_face(
        &self,
        id: PersonId,
        image_sha256: &str,
        model_sha256: &str,
        e: &Embedding,
    ) -> Result<i64, PersonsError> {
        let conn = self.store.conn();
        must_exist(&conn, id)?;
        conn.execute(
            "INSERT INTO person_faces (person_id, image_sha256, model_sha256, embedding) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (person_id, image_sha256) DO UPDATE SET embedding = excluded.embedding, model_sha256 = excluded.model_sha256",
            params![id, image_sha256, model_sha256, embedding_blob(e)],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Moves with every change to the registry (see `store`'s triggers).
    pub fn generation(&self) -> Result<u64, PersonsError> {
        Ok(self.store.registry_generation()?)
    }

    /// Everything screening needs, in memory. Faces embedded by another model than
    /// `model_sha256` are left out (their distances would mean nothing) and counted.
    pub fn snapshot(&self, model_sha256: &str) -> Result<(Persons, usize), PersonsError> {
        let people: HashMap<PersonId, PersonInfo> = self
            .list()?
            .into_iter()
            .map(|(p, _, _)| (p.id, p))
            .collect();
        let conn = self.store.conn();
        let mut names: Vec<(PersonId, String, bool)> = people
            .values()
            .map(|p| (p.id, p.name.clone(), false))
            .collect();
        let mut st = conn.prepare("SELECT person_id, alias, always_match FROM person_aliases")?;
        for row in st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
            names.push(row?);
        }
        let mut index = ExactIndex::default();
        let mut stale = 0;
        let mut st = conn
            .prepare("SELECT person_id, model_sha256, embedding FROM person_faces ORDER BY id")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let model: String = r.get(1)?;
            if model != model_sha256 {
                stale += 1;
                continue;
            }
            let blob: Vec<u8> = r.get(2)?;
            index.add(r.get(0)?, &blob_embedding(&blob));
        }
        let gazetteer = Gazetteer::build(
            names.iter().map(|(id, n, always)| GazetteerName {
                person: *id,
                name: n,
                always_match: *always,
            }),
            self.words()?,
        );
        let faces: Box<dyn FaceIndex> = Box::new(index);
        Ok((
            Persons {
                people,
                faces,
                gazetteer,
            },
            stale,
        ))
    }
}
