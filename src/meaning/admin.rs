//! Text categories an admin defines by example phrases (through the API or the CLI), kept in
//! the database and added to the set shipped with the policy (`policies/meaning/<set>.yaml`,
//! which stays the default set and is changed only in that file). Every change moves a
//! generation in the database, and each running process rebuilds its model at its next check
//! (`LiveMeaning::current`), as image categories do.
//!
//! An added category's head is trained as a shipped one is, on the shipped model's centre,
//! against the shipped innocent phrases and its own counter-examples; the shipped heads are
//! left as they are (an admin's counter-examples do not retrain them), so adding a category
//! never changes what the shipped ones find. A name the shipped set uses is refused (409), as
//! an image category's existing name is: nothing is replaced silently.

use super::{
    CategoryFile, Compiled, Definitions, Head, MeaningError, MeaningModel, Phrase, Rule,
    MIN_EXAMPLES,
};
use crate::store::{vals, Db, Store, StoreError};
use crate::vocab::{ErrorCode, Failure, Severity};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;

/// Example phrases, and counter-examples, per category: a category is a meaning, not a list.
pub const MAX_PHRASES: usize = 64;
/// Characters per phrase (e5 reads 512 tokens; a phrase is a sentence or two).
pub const MAX_PHRASE_CHARS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum TextCategoriesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Meaning(#[from] MeaningError),
    #[error("no text category named {0:?}")]
    NotFound(String),
    #[error("a text category named {0:?} exists: delete it first to redefine it")]
    Exists(String),
    #[error(
        "text category {0:?} is shipped with the policy (policies/meaning/): it is changed in \
         that file, not here"
    )]
    Shipped(String),
    #[error("text category {name:?} is part of {by:?} (its all_of): delete {by:?} first")]
    InUse { name: String, by: String },
    /// A definition refused, naming the field at fault.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl Failure for TextCategoriesError {
    fn code(&self) -> ErrorCode {
        match self {
            TextCategoriesError::Store(e) => e.code(),
            TextCategoriesError::Meaning(e) => e.code(),
            TextCategoriesError::NotFound(_) => ErrorCode::NotFound,
            TextCategoriesError::Exists(_)
            | TextCategoriesError::Shipped(_)
            | TextCategoriesError::InUse { .. } => ErrorCode::Conflict,
            TextCategoriesError::Invalid { .. } => ErrorCode::InvalidCategory,
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> TextCategoriesError {
    TextCategoriesError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// A text category as an admin defines it: what the shipped file's entries hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextCategoryDef {
    /// Lower-case letters, digits and `_`, starting with a letter: policies read
    /// `prompt.meaning.<name>` and `signals.meaning.<name>`.
    pub name: String,
    /// 0 (a signal for other categories' `all_of`, never a finding), 1 (low), 2 (medium) or 3
    /// (high): the default policy reviews 1 and above.
    pub severity: u8,
    #[serde(default)]
    pub description: String,
    /// At least 3 phrases of what the category catches, in any language (unless `all_of`).
    #[serde(default)]
    pub examples: Vec<String>,
    /// Innocent look-alikes that must not count (at least 3 for severity 0).
    #[serde(default)]
    pub counter_examples: Vec<String>,
    /// Categories (shipped or added before) that must all count for this one to; such a
    /// category has no phrases of its own.
    #[serde(default)]
    pub all_of: Vec<String>,
    /// The head's probability (0-1, exclusive) at which a passage counts; the set's default
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f32>,
}

impl TextCategoryDef {
    /// Checks the definition alone; each refusal names the field at fault.
    pub fn validate(&self) -> Result<(), TextCategoriesError> {
        if !crate::vision::manifest::is_identifier(&self.name) || self.name.len() > 64 {
            return Err(invalid(
                "name",
                format!(
                    "{:?}: use 1-64 lower-case letters, digits and _, starting with a letter \
                     (policies read it as prompt.meaning.<name>)",
                    self.name
                ),
            ));
        }
        Severity::try_from(self.severity).map_err(|e| invalid("severity", e))?;
        if self.description.chars().count() > MAX_PHRASE_CHARS {
            return Err(invalid(
                "description",
                format!("at most {MAX_PHRASE_CHARS} characters"),
            ));
        }
        for (field, phrases) in [
            ("examples", &self.examples),
            ("counter_examples", &self.counter_examples),
        ] {
            if phrases.len() > MAX_PHRASES {
                return Err(invalid(
                    field,
                    format!("{} phrases; at most {MAX_PHRASES}", phrases.len()),
                ));
            }
            if let Some(p) = phrases.iter().find(|p| {
                !p.chars().any(char::is_alphanumeric) || p.chars().count() > MAX_PHRASE_CHARS
            }) {
                return Err(invalid(
                    field,
                    format!(
                        "{p:?}: a phrase has letters or digits and at most {MAX_PHRASE_CHARS} \
                         characters"
                    ),
                ));
            }
        }
        if let Some(p) = self
            .counter_examples
            .iter()
            .find(|p| self.examples.iter().any(|e| e.trim() == p.trim()))
        {
            return Err(invalid(
                "counter_examples",
                format!("{p:?} is also an example"),
            ));
        }
        if let Some(t) = self.threshold {
            if !(t > 0.0 && t < 1.0) {
                return Err(invalid(
                    "threshold",
                    format!("{t}: a probability between 0 and 1 (exclusive)"),
                ));
            }
        }
        if self.all_of.is_empty() {
            let distinct = |v: &[String]| {
                let mut v: Vec<&str> = v.iter().map(|p| p.trim()).collect();
                v.sort();
                v.dedup();
                v.len()
            };
            let n = distinct(&self.examples);
            if n < MIN_EXAMPLES {
                return Err(invalid(
                    "examples",
                    format!("{n} distinct phrases; a category needs at least {MIN_EXAMPLES}"),
                ));
            }
            // A category of severity 0 is trained against its own counter-examples only (the
            // shipped innocent phrases may be what it is meant to find, as "minors" is).
            let n = distinct(&self.counter_examples);
            if self.severity == 0 && n < MIN_EXAMPLES {
                return Err(invalid(
                    "counter_examples",
                    format!(
                        "{n} distinct phrases; a category of severity 0 needs at least \
                         {MIN_EXAMPLES}"
                    ),
                ));
            }
        } else {
            if !self.examples.is_empty() || !self.counter_examples.is_empty() {
                return Err(invalid(
                    "all_of",
                    "a category defined by others has no phrases of its own",
                ));
            }
            if self.all_of.contains(&self.name) {
                return Err(invalid("all_of", "a category cannot be part of itself"));
            }
        }
        Ok(())
    }

    fn to_file(&self) -> CategoryFile {
        let trimmed = |v: &[String]| v.iter().map(|p| p.trim().to_string()).collect();
        CategoryFile {
            name: self.name.clone(),
            severity: Severity::try_from(self.severity).unwrap_or(Severity::HIGH),
            description: self.description.trim().to_string(),
            examples: trimmed(&self.examples),
            counter_examples: trimmed(&self.counter_examples),
            all_of: self.all_of.clone(),
            threshold: self.threshold,
        }
    }
}

/// Where a category is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextCategorySource {
    /// The policy's file: changed only there.
    Shipped,
    /// The database, by an admin: deleted through the API or the CLI.
    Admin,
}

/// A text category as listed and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TextCategory {
    pub name: String,
    pub severity: u8,
    pub description: String,
    pub examples: Vec<String>,
    pub counter_examples: Vec<String>,
    pub all_of: Vec<String>,
    /// The head's probability at which a passage counts (absent: the set's default).
    pub threshold: Option<f32>,
    pub source: TextCategorySource,
    /// Who added it and when (admin categories only).
    pub created_by: Option<String>,
    pub created_at: Option<String>,
}

impl TextCategory {
    fn shipped(c: &CategoryFile) -> Self {
        Self {
            name: c.name.clone(),
            severity: c.severity.level(),
            description: c.description.clone(),
            examples: c.examples.clone(),
            counter_examples: c.counter_examples.clone(),
            all_of: c.all_of.clone(),
            threshold: c.threshold,
            source: TextCategorySource::Shipped,
            created_by: None,
            created_at: None,
        }
    }

    fn added(s: Stored) -> Self {
        let c = s.definition.to_file();
        Self {
            created_by: Some(s.created_by),
            created_at: Some(s.created_at),
            source: TextCategorySource::Admin,
            ..Self::shipped(&c)
        }
    }
}

/// Every text category (the shipped ones first, then the admin's in the order they were
/// added) and the version of the set they make.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TextCategoryList {
    /// Changes with the shipped file, the encoder and every admin change; the same set gives
    /// the same version on every replica.
    pub version: String,
    pub categories: Vec<TextCategory>,
}

struct Stored {
    definition: TextCategoryDef,
    created_by: String,
    created_at: String,
}

/// The admin's text categories in the database, beside the shipped set they add to.
#[derive(Clone)]
pub struct TextCategories {
    store: Arc<Store>,
    /// The shipped set's file.
    shipped: PathBuf,
    /// The sha256 of the text encoder (part of the set's version).
    encoder_sha256: String,
}

impl TextCategories {
    pub fn new(store: Arc<Store>, shipped: PathBuf, encoder_sha256: String) -> Self {
        Self {
            store,
            shipped,
            encoder_sha256,
        }
    }

    fn shipped(&self) -> Result<Definitions, MeaningError> {
        Definitions::load(&self.shipped)
    }

    /// Stores a category after checking it alone and with the whole set (its `all_of` parts
    /// must be defined, its name must be new), in one transaction.
    pub fn create(
        &self,
        def: &TextCategoryDef,
        created_by: &str,
    ) -> Result<TextCategory, TextCategoriesError> {
        def.validate()?;
        let shipped = self.shipped()?;
        if shipped.categories.iter().any(|c| c.name == def.name) {
            return Err(TextCategoriesError::Shipped(def.name.clone()));
        }
        self.store.transaction(|db| {
            let stored = read(db)?;
            if stored.iter().any(|s| s.definition.name == def.name) {
                return Err(TextCategoriesError::Exists(def.name.clone()));
            }
            let known = |n: &String| {
                shipped.categories.iter().any(|c| &c.name == n)
                    || stored.iter().any(|s| &s.definition.name == n)
            };
            if let Some(p) = def.all_of.iter().find(|p| !known(p)) {
                return Err(invalid(
                    "all_of",
                    format!("{p:?} names no text category (shipped or added)"),
                ));
            }
            let mut whole = shipped.clone();
            whole
                .categories
                .extend(stored.iter().map(|s| s.definition.to_file()));
            whole.categories.push(def.to_file());
            whole
                .check()
                .map_err(|reason| invalid("definition", reason))?;
            let json = serde_json::to_string(def)
                .map_err(|e| StoreError::Corrupt(format!("text category: {e}")))?;
            db.execute(
                "INSERT INTO text_categories (name, definition, created_by) VALUES (?1, ?2, ?3)",
                vals![&def.name, json, created_by],
            )?;
            Ok(())
        })?;
        self.get(&def.name)
    }

    /// The shipped categories, then the admin's, with the set's version.
    pub fn list(&self) -> Result<TextCategoryList, TextCategoriesError> {
        let shipped = self.shipped()?;
        let stored = self.store.with(read)?;
        let definitions: Vec<TextCategoryDef> =
            stored.iter().map(|s| s.definition.clone()).collect();
        let version = set_version(&shipped.version(&self.encoder_sha256), &definitions);
        let categories = shipped
            .categories
            .iter()
            .map(TextCategory::shipped)
            .chain(stored.into_iter().map(TextCategory::added))
            .collect();
        Ok(TextCategoryList {
            version,
            categories,
        })
    }

    pub fn get(&self, name: &str) -> Result<TextCategory, TextCategoriesError> {
        self.list()?
            .categories
            .into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| TextCategoriesError::NotFound(name.to_string()))
    }

    /// Deletes an admin's category; a shipped one, or one another category's `all_of` names,
    /// is refused.
    pub fn delete(&self, name: &str) -> Result<(), TextCategoriesError> {
        if self.shipped()?.categories.iter().any(|c| c.name == name) {
            return Err(TextCategoriesError::Shipped(name.to_string()));
        }
        self.store.transaction(|db| {
            if let Some(by) = read(db)?
                .into_iter()
                .find(|s| s.definition.all_of.iter().any(|p| p == name))
            {
                return Err(TextCategoriesError::InUse {
                    name: name.to_string(),
                    by: by.definition.name,
                });
            }
            if db.execute("DELETE FROM text_categories WHERE name = ?1", vals![name])? == 0 {
                return Err(TextCategoriesError::NotFound(name.to_string()));
            }
            Ok(())
        })
    }

    /// Moves with every change to the admin's categories, whichever process made it.
    pub fn generation(&self) -> Result<u64, StoreError> {
        let g = self.store.with(|db| {
            db.query_opt("SELECT generation FROM text_category_generation", &[])?
                .map(|r| r.int(0))
                .transpose()
        })?;
        Ok(g.unwrap_or_default() as u64)
    }

    /// The admin's categories, in the order they were added.
    pub fn added(&self) -> Result<Vec<TextCategoryDef>, StoreError> {
        Ok(self
            .store
            .with(read)?
            .into_iter()
            .map(|s| s.definition)
            .collect())
    }
}

fn read(db: &mut dyn Db) -> Result<Vec<Stored>, StoreError> {
    db.query(
        "SELECT definition, created_by, created_at FROM text_categories ORDER BY id",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(Stored {
            definition: serde_json::from_str(&r.text(0)?)
                .map_err(|e| StoreError::Corrupt(format!("text category: {e}")))?,
            created_by: r.text(1)?,
            created_at: r.text(2)?,
        })
    })
    .collect()
}

/// The version of the shipped set (`base`) with the admin's categories added: the base's own
/// while none is, so a deployment without admin categories keeps its version.
pub fn set_version(base: &str, added: &[TextCategoryDef]) -> String {
    if added.is_empty() {
        return base.to_string();
    }
    let mut h = Sha256::new();
    h.update(base.as_bytes());
    for d in added {
        h.update(b"\0");
        h.update(serde_json::to_string(d).unwrap_or_default().as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

impl MeaningModel {
    /// This model with the admin's categories after its own: their phrases embedded by the
    /// same encoder and a head trained for each (see the module's documentation). A category
    /// that cannot join the set as it now is (a name the shipped file took since, an `all_of`
    /// part no longer defined) is left out and logged; the version still names it.
    pub fn with_added(&self, added: &[TextCategoryDef]) -> Result<MeaningModel, MeaningError> {
        let mut texts: Vec<&str> = added
            .iter()
            .flat_map(|d| d.examples.iter().chain(&d.counter_examples))
            .map(|p| p.trim())
            .collect();
        texts.sort_unstable();
        texts.dedup();
        let mut table = std::collections::HashMap::with_capacity(texts.len());
        for chunk in texts.chunks(32) {
            for (t, e) in chunk.iter().zip(self.encoder.embed(chunk)?) {
                table.insert(t.to_string(), e);
            }
        }
        let phrases = |v: &[String]| -> Vec<Phrase> {
            v.iter()
                .filter_map(|t| {
                    table.get(t.as_str()).map(|e| Phrase {
                        text: t.clone(),
                        embedding: e.clone(),
                    })
                })
                .collect()
        };
        let mut model = self.clone();
        for d in added {
            let c = d.to_file();
            if model.categories.iter().any(|x| x.name == c.name) {
                tracing::warn!(category = %c.name, "an added text category has a shipped category's name: left out");
                continue;
            }
            let rule = if c.all_of.is_empty() {
                let examples = phrases(&c.examples);
                let own = phrases(&c.counter_examples);
                let negatives = if c.severity > Severity::SAFE {
                    self.pooled.iter().cloned().chain(own).collect()
                } else {
                    own
                };
                Rule::Phrases {
                    head: Head::train(&examples, &negatives, &self.centre),
                    examples,
                    counter_examples: Arc::new(negatives),
                    threshold: c.threshold.unwrap_or(self.threshold),
                    margin: self.margin,
                }
            } else {
                let parts: Vec<usize> = c
                    .all_of
                    .iter()
                    .filter_map(|p| model.categories.iter().position(|x| &x.name == p))
                    .collect();
                if parts.len() != c.all_of.len() {
                    tracing::warn!(category = %c.name, "an added text category's all_of names a category no longer defined: left out");
                    continue;
                }
                Rule::AllOf(parts)
            };
            model.categories.push(Compiled {
                name: c.name,
                severity: c.severity,
                rule,
            });
        }
        model.version = set_version(&self.version, added);
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(name: &str) -> TextCategoryDef {
        TextCategoryDef {
            name: name.into(),
            severity: 1,
            description: "betting".into(),
            examples: vec!["bet on the game".into(), "apuesta".into(), "casino".into()],
            counter_examples: vec!["a board game".into()],
            all_of: vec![],
            threshold: None,
        }
    }

    fn shipped_file(dir: &std::path::Path) -> PathBuf {
        let p = dir.join("categories.yaml");
        std::fs::write(
            &p,
            "version: 1\ndefaults: {threshold: 0.5}\ncategories:\n\
             - {name: sexual, severity: 2, examples: [a, b, c]}\n",
        )
        .unwrap();
        p
    }

    #[test]
    fn refusals_name_the_field() {
        assert!(def("gambling").validate().is_ok());
        let field = |d: TextCategoryDef| match d.validate() {
            Err(TextCategoriesError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(def("Gambling")), "name");
        assert_eq!(
            field(TextCategoryDef {
                severity: 4,
                ..def("g")
            }),
            "severity"
        );
        assert_eq!(
            field(TextCategoryDef {
                examples: vec!["a".into(), "a ".into(), "b".into()],
                ..def("g")
            }),
            "examples"
        );
        assert_eq!(
            field(TextCategoryDef {
                counter_examples: vec!["casino".into()],
                ..def("g")
            }),
            "counter_examples"
        );
        assert_eq!(
            field(TextCategoryDef {
                severity: 0,
                ..def("g")
            }),
            "counter_examples"
        );
        assert_eq!(
            field(TextCategoryDef {
                threshold: Some(1.0),
                ..def("g")
            }),
            "threshold"
        );
        assert_eq!(
            field(TextCategoryDef {
                all_of: vec!["sexual".into()],
                ..def("g")
            }),
            "all_of"
        );
        assert_eq!(
            field(TextCategoryDef {
                examples: vec!["  ".into(); 3],
                ..def("g")
            }),
            "examples"
        );
    }

    #[test]
    fn create_list_delete_with_the_shipped_set() {
        for (store, _db) in crate::store::test_stores() {
            let dir = tempfile::tempdir().unwrap();
            let cats = TextCategories::new(Arc::new(store), shipped_file(dir.path()), "e5".into());
            let base = cats.list().unwrap();
            assert_eq!(base.categories.len(), 1);
            assert_eq!(base.categories[0].source, TextCategorySource::Shipped);
            let g0 = cats.generation().unwrap();

            let c = cats.create(&def("gambling"), "ops").unwrap();
            assert_eq!(
                (c.source, c.created_by.as_deref()),
                (TextCategorySource::Admin, Some("ops"))
            );
            assert!(cats.generation().unwrap() > g0);
            let list = cats.list().unwrap();
            assert_eq!(list.categories.len(), 2);
            assert_ne!(list.version, base.version);
            assert_eq!(list.version.len(), 16);
            assert_eq!(cats.added().unwrap(), vec![def("gambling")]);

            assert!(matches!(
                cats.create(&def("gambling"), "ops"),
                Err(TextCategoriesError::Exists(_))
            ));
            assert!(matches!(
                cats.create(&def("sexual"), "ops"),
                Err(TextCategoriesError::Shipped(_))
            ));
            let both = TextCategoryDef {
                examples: vec![],
                counter_examples: vec![],
                all_of: vec!["sexual".into(), "gambling".into()],
                ..def("sexual_gambling")
            };
            let unknown = TextCategoryDef {
                all_of: vec!["sexual".into(), "fishing".into()],
                ..both.clone()
            };
            match cats.create(&unknown, "ops") {
                Err(TextCategoriesError::Invalid { field, .. }) => assert_eq!(field, "all_of"),
                other => panic!("{other:?}"),
            }
            cats.create(&both, "ops").unwrap();
            assert!(matches!(
                cats.delete("gambling"),
                Err(TextCategoriesError::InUse { .. })
            ));
            assert!(matches!(
                cats.delete("sexual"),
                Err(TextCategoriesError::Shipped(_))
            ));
            cats.delete("sexual_gambling").unwrap();
            cats.delete("gambling").unwrap();
            assert!(matches!(
                cats.delete("gambling"),
                Err(TextCategoriesError::NotFound(_))
            ));
            assert_eq!(cats.list().unwrap().version, base.version);
            assert!(cats.added().unwrap().is_empty());
        }
    }
}
