//! Analysers' own outputs. Each analyser writes one section of `Signals` under its own key
//! (`signals.provenance`) in a type it defines; the orchestrator, the policy and the printers
//! carry sections without knowing their types, so adding an analyser touches no list elsewhere.
//! A section's [`SectionSchema`] is what the policy needs to know of it without the analyser:
//! what an empty one and a complete sample look like, and how a hand-written one is read.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Sections by key, as serialised (flattened into their parent: `signals.<key>`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sections(BTreeMap<String, serde_json::Value>);

impl Sections {
    /// The section under `key` as its analyser's type: its empty value when absent (a clip
    /// screened before the analyser existed), an error when it does not read as that type.
    pub fn get<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T, SectionError> {
        match self.0.get(key) {
            None => Ok(T::default()),
            Some(v) => T::deserialize(v).map_err(|e| SectionError {
                key: key.to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Writes the section under `key`, replacing what was there. It goes through JSON text so
    /// that a model's f32 keeps its shortest decimal form (0.35, not 0.3499999940...), as it
    /// had when it was written into the record directly.
    pub fn set<T: Serialize>(&mut self, key: &str, value: &T) {
        let text = serde_json::to_string(value).expect("sections serialise to JSON");
        let v = serde_json::from_str(&text).expect("JSON text reads back");
        self.0.insert(key.to_string(), v);
    }

    pub fn value(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.get(key)
    }

    /// Writes the section under `key` when it holds something, and otherwise leaves the key
    /// out: for sections that were always left out of the record when empty.
    pub fn set_unless_empty<T: Serialize>(&mut self, key: &str, value: &T, empty: bool) {
        if empty {
            self.0.remove(key);
        } else {
            self.set(key, value);
        }
    }

    pub fn insert_value(&mut self, key: &str, value: serde_json::Value) {
        self.0.insert(key.to_string(), value);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl utoipa::PartialSchema for Sections {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(true),
            ))
            .into()
    }
}

impl utoipa::ToSchema for Sections {}

/// An analyser's working data for a frame that is not part of the record (face embeddings:
/// bulky and biometric, so never serialised), kept between its findings and its `finish` in
/// the same process. Shared, not copied, when a near-duplicate frame carries its original's.
#[derive(Clone, Default)]
pub struct Scratch(BTreeMap<&'static str, Arc<dyn Any + Send + Sync>>);

impl Scratch {
    pub fn set<T: Any + Send + Sync>(&mut self, key: &'static str, value: T) {
        self.0.insert(key, Arc::new(value));
    }

    /// The value under `key`, when it is there and of type `T`.
    pub fn get<T: Any + Send + Sync>(&self, key: &str) -> Option<&T> {
        self.0.get(key).and_then(|v| v.downcast_ref())
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("signals.{key} does not read as its analyser's output: {reason}")]
pub struct SectionError {
    pub key: String,
    pub reason: String,
}

/// What the policy knows of one analyser's section.
#[derive(Debug, Clone, Copy)]
pub struct SectionSchema {
    /// The key under `signals`.
    pub key: &'static str,
    /// The section with nothing found: what a check without a clip shows policies.
    pub empty: fn() -> serde_json::Value,
    /// Everything present and alarming: rules are evaluated on it at load, so a misspelt
    /// field is refused then rather than failing on every clip.
    pub sample: fn() -> serde_json::Value,
    /// Reads a section written by hand (a policy fixture) as the analyser's type, filling in
    /// what it leaves out and refusing what the type does not have.
    pub complete: fn(serde_json::Value) -> Result<serde_json::Value, String>,
    /// How policies see the section as the analyser wrote it, where that differs (a field
    /// named for reviewers, a value derived for rules); it must give back a view unchanged.
    pub view: Option<fn(&serde_json::Value) -> serde_json::Value>,
    /// How many levels of map keys below the section policies name with dots
    /// (`classifiers.open_nsfw.nsfw`: 2), and whether those keys are known at load (checked
    /// then) or only at run time (categories defined later: sampled at load, not checked).
    pub dotted: Dotted,
}

/// Keys named with dots below a section (see [`SectionSchema::dotted`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dotted {
    None,
    /// Keys known when the policy loads: a rule naming another is refused.
    Checked(usize),
    /// Keys defined at run time: a rule may name one not there yet.
    AtRunTime(usize),
}

impl Dotted {
    pub fn depth(self) -> usize {
        match self {
            Dotted::None => 0,
            Dotted::Checked(d) | Dotted::AtRunTime(d) => d,
        }
    }
}

impl SectionSchema {
    /// The schema of a section of type `T` whose sample is `sample`.
    pub const fn of<T: Serialize + DeserializeOwned + Default>(
        key: &'static str,
        sample: fn() -> serde_json::Value,
    ) -> Self {
        Self {
            key,
            empty: empty::<T>,
            sample,
            complete: complete::<T>,
            view: None,
            dotted: Dotted::None,
        }
    }

    /// The same schema, seen by policies through `view`.
    pub const fn with_view(self, view: fn(&serde_json::Value) -> serde_json::Value) -> Self {
        Self {
            view: Some(view),
            ..self
        }
    }

    /// The same schema, with keys below it named with dots.
    pub const fn with_dotted(self, dotted: Dotted) -> Self {
        Self { dotted, ..self }
    }
}

fn empty<T: Serialize + Default>() -> serde_json::Value {
    serde_json::to_value(T::default()).expect("sections serialise to JSON")
}

fn complete<T: Serialize + DeserializeOwned>(
    v: serde_json::Value,
) -> Result<serde_json::Value, String> {
    let typed: T = serde_json::from_value(v).map_err(|e| e.to_string())?;
    Ok(serde_json::to_value(typed).expect("sections serialise to JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Seen {
        state: String,
        count: u32,
    }

    #[test]
    fn sections_read_as_their_type_with_defaults_and_refuse_other_shapes() {
        let mut s = Sections::default();
        assert_eq!(s.get::<Seen>("seen").unwrap(), Seen::default());
        s.set(
            "seen",
            &Seen {
                state: "valid".into(),
                count: 2,
            },
        );
        assert_eq!(s.get::<Seen>("seen").unwrap().count, 2);
        s.insert_value("seen", serde_json::json!({"state": 3}));
        let e = s.get::<Seen>("seen").unwrap_err().to_string();
        assert!(e.starts_with("signals.seen does not read"), "{e}");

        let schema = SectionSchema::of::<Seen>("seen", || serde_json::json!({"count": 9}));
        assert_eq!(
            (schema.complete)(serde_json::json!({"state": "x"})).unwrap(),
            serde_json::json!({"state": "x", "count": 0})
        );
        assert!((schema.complete)(serde_json::json!({"typo": 1})).is_err());
        assert_eq!(
            (schema.empty)(),
            serde_json::json!({"state": "", "count": 0})
        );
    }
}
