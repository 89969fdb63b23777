//! Protected persons: who they are (names, aliases, kind), who may depict them (consent), and
//! their face embeddings. Faces in clips are matched here (`index`, `likeness`) and names in
//! prompts (`gazetteer`).

pub mod enrol;
pub mod gazetteer;
pub mod index;
pub mod likeness;
pub mod registry;

pub use gazetteer::{Gazetteer, GazetteerName, NameMatch, NameStrength};
pub use index::{ExactIndex, FaceIndex};
pub use likeness::{FaceMatch, PersonSighting};
pub use registry::{NameWarning, NewPerson, Person, Registry};

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub type PersonId = i64;

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PersonKind {
    #[default]
    PublicFigure,
    PrivateIndividual,
}

impl PersonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PersonKind::PublicFigure => "public_figure",
            PersonKind::PrivateIndividual => "private_individual",
        }
    }
}

impl std::str::FromStr for PersonKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public_figure" => Ok(PersonKind::PublicFigure),
            "private_individual" => Ok(PersonKind::PrivateIndividual),
            other => Err(format!(
                "unknown person kind {other:?} (public_figure or private_individual)"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PersonsError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("no person with id {0}")]
    NotFound(PersonId),
    #[error("invalid person: {0}")]
    Invalid(String),
    #[error("{path} line {line}: {reason}")]
    Import {
        path: String,
        line: usize,
        reason: String,
    },
    #[error(transparent)]
    Enrol(#[from] enrol::EnrolError),
    #[error(transparent)]
    Words(#[from] crate::text::WordFreqError),
}

impl From<rusqlite::Error> for PersonsError {
    fn from(e: rusqlite::Error) -> Self {
        PersonsError::Store(e.into())
    }
}

/// What screening needs to know about a person, beside the face index and the gazetteer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonInfo {
    pub id: PersonId,
    pub name: String,
    pub kind: PersonKind,
    pub allowed_users: Vec<String>,
}

/// An immutable snapshot of the registry for screening: rebuilt after every change.
pub struct Persons {
    pub people: HashMap<PersonId, PersonInfo>,
    pub faces: Box<dyn FaceIndex>,
    pub gazetteer: Gazetteer,
}
