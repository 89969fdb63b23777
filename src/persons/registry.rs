//! The persons registry in the embedded database: add, show, list, remove, import, enrol
//! faces, and the snapshot screening uses.

use super::{
    ExactIndex, FaceIndex, Gazetteer, GazetteerName, PersonInfo, Persons, PersonsError, VoiceIndex,
};
use crate::store::{vals, Db, Store};
use crate::text::names::{ambiguity, Ambiguity};
use crate::text::WordFrequencies;
use crate::vocab::{Embedding, PersonId, PersonKind};
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

/// An enrolled voice sample (its speaker embedding is kept, not the audio).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnrolledVoice {
    pub id: i64,
    pub sample_sha256: String,
    pub model_sha256: String,
    /// Seconds of speech the embedding came from.
    pub speech_s: f64,
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
    /// Enrolled voice samples.
    #[serde(default)]
    pub voices: Vec<EnrolledVoice>,
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
    crate::store::sql::floats_blob(&e.0)
}

fn blob_embedding(b: &[u8]) -> Embedding {
    Embedding(crate::store::sql::blob_floats(b))
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
fn must_exist(db: &mut dyn Db, id: PersonId) -> Result<(), PersonsError> {
    if db
        .query_opt("SELECT 1 FROM persons WHERE id = ?1", vals![id])?
        .is_some()
    {
        Ok(())
    } else {
        Err(PersonsError::NotFound(id))
    }
}

fn insert(db: &mut dyn Db, p: &NewPerson) -> Result<PersonId, PersonsError> {
    let id = db
        .query_one(
            "INSERT INTO persons (name, kind) VALUES (?1, ?2) RETURNING id",
            vals![p.name.trim(), p.kind.as_str()],
        )?
        .int(0)?;
    for a in &p.aliases {
        db.execute(
            "INSERT INTO person_aliases (person_id, alias) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            vals![id, a.trim()],
        )?;
    }
    for a in &p.always_match {
        db.execute(
            "INSERT INTO person_aliases (person_id, alias, always_match) VALUES (?1, ?2, TRUE)
             ON CONFLICT (person_id, alias) DO UPDATE SET always_match = TRUE",
            vals![id, a.trim()],
        )?;
    }
    for u in &p.allowed_users {
        db.execute(
            "INSERT INTO person_consents (person_id, user_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            vals![id, u.trim()],
        )?;
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
            let other = self.store.with(|db| {
                db.query_opt(
                    "SELECT p.name FROM persons p WHERE lower(p.name) = lower(?1)
                     UNION SELECT p.name FROM person_aliases a JOIN persons p ON p.id = a.person_id
                     WHERE lower(a.alias) = lower(?1) LIMIT 1",
                    vals![name],
                )?
                .map(|r| r.text(0))
                .transpose()
            })?;
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
        self.store.transaction(|db| {
            must_exist(db, id)?;
            db.execute(
                "INSERT INTO person_aliases (person_id, alias, always_match) VALUES (?1, ?2, ?3)
                 ON CONFLICT (person_id, alias) DO UPDATE SET always_match = excluded.always_match",
                vals![id, alias, always],
            )?;
            Ok(())
        })
    }

    pub fn add(&self, p: &NewPerson) -> Result<PersonId, PersonsError> {
        p.validate().map_err(PersonsError::Invalid)?;
        self.store.transaction(|db| insert(db, p))
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
        self.store.transaction(|db| {
            let id = insert(db, p)?;
            for f in faces {
                db.execute(
                    "INSERT INTO person_faces (person_id, image_sha256, model_sha256, embedding) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (person_id, image_sha256) DO NOTHING",
                    vals![id, &f.image_sha256, model_sha256, embedding_blob(&f.embedding)],
                )?;
            }
            Ok(id)
        })
    }

    /// Imports one person per JSONL line in a single transaction: all or nothing.
    pub fn import(&self, source: &str, reader: impl BufRead) -> Result<usize, PersonsError> {
        self.store.transaction(|db| {
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
                insert(db, &p)?;
                n += 1;
            }
            Ok(n)
        })
    }

    pub fn get(&self, id: PersonId) -> Result<Person, PersonsError> {
        self.store.with(|db| {
            let row = db
                .query_opt(
                    "SELECT name, kind, created_at FROM persons WHERE id = ?1",
                    vals![id],
                )?
                .ok_or(PersonsError::NotFound(id))?;
            let mut strings = |sql: &str| -> Result<Vec<String>, PersonsError> {
                Ok(db
                    .query(sql, vals![id])?
                    .iter()
                    .map(|r| r.text(0))
                    .collect::<Result<_, _>>()?)
            };
            let aliases =
                strings("SELECT alias FROM person_aliases WHERE person_id = ?1 ORDER BY alias")?;
            let always_match = strings(
                "SELECT alias FROM person_aliases WHERE person_id = ?1 AND always_match ORDER BY alias",
            )?;
            let allowed_users = strings(
                "SELECT user_id FROM person_consents WHERE person_id = ?1 ORDER BY user_id",
            )?;
            let faces = db
                .query(
                    "SELECT id, image_sha256, model_sha256, created_at FROM person_faces WHERE person_id = ?1 ORDER BY id",
                    vals![id],
                )?
                .iter()
                .map(|r| {
                    Ok(EnrolledFace {
                        id: r.int(0)?,
                        image_sha256: r.text(1)?,
                        model_sha256: r.text(2)?,
                        created_at: r.text(3)?,
                    })
                })
                .collect::<Result<_, crate::store::StoreError>>()?;
            let voices = db
                .query(
                    "SELECT id, sample_sha256, model_sha256, speech_s, created_at FROM person_voices WHERE person_id = ?1 ORDER BY id",
                    vals![id],
                )?
                .iter()
                .map(|r| {
                    Ok(EnrolledVoice {
                        id: r.int(0)?,
                        sample_sha256: r.text(1)?,
                        model_sha256: r.text(2)?,
                        speech_s: r.real(3)?,
                        created_at: r.text(4)?,
                    })
                })
                .collect::<Result<_, crate::store::StoreError>>()?;
            Ok(Person {
                id,
                name: row.text(0)?,
                kind: row.text(1)?.parse().map_err(PersonsError::Invalid)?,
                aliases,
                always_match,
                allowed_users,
                faces,
                voices,
                created_at: row.text(2)?,
                warnings: Vec::new(),
            })
        })
    }

    /// Every person with alias and face counts, by id.
    pub fn list(&self) -> Result<Vec<(PersonInfo, usize, usize)>, PersonsError> {
        let (people, consents) = self.store.with(|db| {
            let people = db.query(
                "SELECT p.id, p.name, p.kind,
                        (SELECT count(*) FROM person_aliases a WHERE a.person_id = p.id),
                        (SELECT count(*) FROM person_faces f WHERE f.person_id = p.id)
                 FROM persons p ORDER BY p.id",
                &[],
            )?;
            let consents = db.query(
                "SELECT person_id, user_id FROM person_consents ORDER BY person_id, user_id",
                &[],
            )?;
            Ok::<_, crate::store::StoreError>((people, consents))
        })?;
        let mut allowed: HashMap<PersonId, Vec<String>> = HashMap::new();
        for r in consents {
            allowed.entry(r.int(0)?).or_default().push(r.text(1)?);
        }
        people
            .into_iter()
            .map(|r| {
                let id = r.int(0)?;
                let info = PersonInfo {
                    id,
                    name: r.text(1)?,
                    kind: r.text(2)?.parse().map_err(PersonsError::Invalid)?,
                    allowed_users: allowed.remove(&id).unwrap_or_default(),
                };
                Ok((info, r.int(3)? as usize, r.int(4)? as usize))
            })
            .collect()
    }

    pub fn remove(&self, id: PersonId) -> Result<(), PersonsError> {
        let n = self
            .store
            .with(|db| db.execute("DELETE FROM persons WHERE id = ?1", vals![id]))?;
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
        self.store.transaction(|db| {
            must_exist(db, id)?;
            if allowed {
                db.execute(
                    "INSERT INTO person_consents (person_id, user_id) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                    vals![id, user],
                )?;
            } else {
                db.execute(
                    "DELETE FROM person_consents WHERE person_id = ?1 AND user_id = ?2",
                    vals![id, user],
                )?;
            }
            Ok(())
        })
    }

    /// Stores one face embedding for a person (once per source image).
    pub fn add_face(
        &self,
        id: PersonId,
        image_sha256: &str,
        model_sha256: &str,
        e: &Embedding,
    ) -> Result<i64, PersonsError> {
        self.store.transaction(|db| {
            must_exist(db, id)?;
            Ok(db
                .query_one(
                    "INSERT INTO person_faces (person_id, image_sha256, model_sha256, embedding) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (person_id, image_sha256) DO UPDATE SET embedding = excluded.embedding, model_sha256 = excluded.model_sha256
                     RETURNING id",
                    vals![id, image_sha256, model_sha256, embedding_blob(e)],
                )?
                .int(0)?)
        })
    }

    /// Stores one voice embedding for a person (once per sample file: enrolling the same file
    /// again replaces it under the same id).
    pub fn add_voice(
        &self,
        id: PersonId,
        sample_sha256: &str,
        model_sha256: &str,
        e: &Embedding,
        speech_s: f64,
    ) -> Result<i64, PersonsError> {
        self.store.transaction(|db| {
            must_exist(db, id)?;
            Ok(db
                .query_one(
                    "INSERT INTO person_voices (person_id, sample_sha256, model_sha256, embedding, speech_s) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (person_id, sample_sha256) DO UPDATE SET embedding = excluded.embedding, model_sha256 = excluded.model_sha256, speech_s = excluded.speech_s
                     RETURNING id",
                    vals![id, sample_sha256, model_sha256, embedding_blob(e), speech_s],
                )?
                .int(0)?)
        })
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
        let (aliases, faces, voice_rows) = self.store.with(|db| {
            let aliases = db.query(
                "SELECT person_id, alias, always_match FROM person_aliases",
                &[],
            )?;
            let faces = db.query(
                "SELECT person_id, model_sha256, embedding FROM person_faces ORDER BY id",
                &[],
            )?;
            let voices = db.query(
                "SELECT person_id, id, model_sha256, embedding FROM person_voices ORDER BY id",
                &[],
            )?;
            Ok::<_, crate::store::StoreError>((aliases, faces, voices))
        })?;
        let mut names: Vec<(PersonId, String, bool)> = people
            .values()
            .map(|p| (p.id, p.name.clone(), false))
            .collect();
        for r in aliases {
            names.push((r.int(0)?, r.text(1)?, r.bool(2)?));
        }
        let mut index = ExactIndex::default();
        let mut stale = 0;
        for r in faces {
            if r.text(1)? != model_sha256 {
                stale += 1;
                continue;
            }
            index.add(r.int(0)?, &blob_embedding(&r.blob(2)?));
        }
        let gazetteer = Gazetteer::build(
            names.iter().map(|(id, n, always)| GazetteerName {
                person: *id,
                name: n,
                always_match: *always,
            }),
            self.words()?,
        );
        let mut voices = VoiceIndex::default();
        for r in voice_rows {
            voices.add(
                r.int(0)?,
                r.int(1)?,
                &r.text(2)?,
                blob_embedding(&r.blob(3)?),
            );
        }
        let faces: Box<dyn FaceIndex> = Box::new(index);
        Ok((
            Persons {
                people,
                faces,
                gazetteer,
                voices,
            },
            stale,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persons::enrol::Enrolment;

    fn registry(store: Store) -> Registry {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let words = Words::from_manifest(
            &root.join("models/models.toml"),
            &root.join(".local/models"),
        );
        Registry::new(std::sync::Arc::new(store), words)
    }

    fn person(name: &str) -> NewPerson {
        NewPerson {
            name: name.into(),
            aliases: vec![format!("{name} Jr"), format!("{name} Jr")],
            kind: PersonKind::PublicFigure,
            allowed_users: vec!["alice".into()],
            always_match: vec!["Prince".into()],
        }
    }

    #[test]
    fn the_registry_reads_back_what_was_written_on_either_backend() {
        for (store, _db) in crate::store::test_stores() {
            let r = registry(store);
            let face = |v: f32| Enrolment {
                image_sha256: format!("img{v}"),
                embedding: Embedding(vec![v; 4]),
            };
            let a = r
                .add_with_faces(&person("Ada"), "m1", &[face(1.0)])
                .unwrap();
            let b = r.add(&person("Bob")).unwrap();
            assert_ne!(a, b);
            let g = r.generation().unwrap();
            r.set_consent(b, "carol", true).unwrap();
            r.set_consent(b, "carol", true).unwrap();
            r.set_consent(b, "alice", false).unwrap();
            assert!(r.generation().unwrap() > g);
            let face_id = r
                .add_face(b, "img2", "m2", &Embedding(vec![2.0; 4]))
                .unwrap();
            // Enrolling the same image again replaces its embedding under the same id.
            assert_eq!(
                r.add_face(b, "img2", "m1", &Embedding(vec![3.0; 4]))
                    .unwrap(),
                face_id
            );
            r.set_always_match(b, "Bobby", true).unwrap();
            let g = r.generation().unwrap();
            let voice = r
                .add_voice(b, "wav1", "v1", &Embedding(vec![0.5; 4]), 4.25)
                .unwrap();
            assert!(r.generation().unwrap() > g, "a voice moves the generation");
            assert_eq!(
                r.add_voice(b, "wav1", "v1", &Embedding(vec![0.6; 4]), 5.0)
                    .unwrap(),
                voice
            );
            assert!(matches!(
                r.add_voice(999, "wav1", "v1", &Embedding(vec![0.6; 4]), 5.0),
                Err(PersonsError::NotFound(999))
            ));

            let got = r.get(b).unwrap();
            assert_eq!(got.name, "Bob");
            assert_eq!(got.aliases, ["Bob Jr", "Bobby", "Prince"]);
            assert_eq!(got.always_match, ["Bobby", "Prince"]);
            assert_eq!(got.allowed_users, ["carol"]);
            assert_eq!(got.faces.len(), 1);
            assert_eq!(got.faces[0].model_sha256, "m1");
            assert_eq!(got.voices.len(), 1);
            assert_eq!((got.voices[0].id, got.voices[0].speech_s), (voice, 5.0));
            assert!(got.created_at.ends_with('Z'), "{}", got.created_at);

            let list = r.list().unwrap();
            assert_eq!(list.len(), 2);
            assert_eq!((list[0].0.id, list[0].1, list[0].2), (a, 2, 1));
            assert_eq!(list[0].0.allowed_users, ["alice"]);
            assert_eq!(list[1].0.allowed_users, ["carol"]);

            let (snapshot, stale) = r.snapshot("m1").unwrap();
            assert_eq!(
                (snapshot.people.len(), snapshot.faces.len(), stale),
                (2, 2, 0)
            );
            assert_eq!(snapshot.voices.len(), 1);
            let heard = snapshot.voices.best(&Embedding(vec![0.6; 4]), "v1", 3);
            assert_eq!((heard[0].person, heard[0].voice), (b, voice));
            assert!((heard[0].score - 1.0).abs() < 1e-6);
            let (_, stale) = r.snapshot("m2").unwrap();
            assert_eq!(stale, 2);

            assert!(matches!(
                r.set_consent(999, "x", true),
                Err(PersonsError::NotFound(999))
            ));
            let bad = "{\"name\": \"Cy\"}\n{\"name\": \"\"}\n";
            assert!(r.import("bad.jsonl", bad.as_bytes()).is_err());
            assert_eq!(r.list().unwrap().len(), 2, "a failed import adds no one");
            r.remove(a).unwrap();
            assert!(matches!(r.remove(a), Err(PersonsError::NotFound(_))));
            assert!(matches!(r.get(a), Err(PersonsError::NotFound(_))));
        }
    }
}
