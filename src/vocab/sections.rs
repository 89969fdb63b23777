//! Analysers' own outputs. Each analyser writes one section of `Signals` under its own key
//! (`signals.provenance`) in a type it defines; the orchestrator, the policy and the printers
//! carry sections without knowing their types, so adding an analyser touches no list elsewhere.
//! A section's [`SectionSchema`] is what the policy needs to know of it without the analyser:
//! what an empty one and a complete sample look like, and how a hand-written one is read.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

    /// Writes the section under `key`, replacing what was there.
    pub fn set<T: Serialize>(&mut self, key: &str, value: &T) {
        let v = serde_json::to_value(value).expect("sections serialise to JSON");
        self.0.insert(key.to_string(), v);
    }

    pub fn value(&self, key: &str) -> Option<&serde_json::Value> {
        self.0.get(key)
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
        }
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
