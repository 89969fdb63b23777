//! Protected persons: who they are (names, aliases, kind), who may depict them (consent), and
//! their face and voice embeddings. Faces in clips are matched here (`index`, `likeness`) and names in
//! prompts (`gazetteer`).

pub mod enrol;
pub mod gazetteer;
pub mod index;
pub mod likeness;
mod live;
pub mod registry;
pub mod voices;

pub use gazetteer::{Gazetteer, GazetteerName};
pub use index::{ExactIndex, FaceIndex};
pub use live::LivePersons;
pub use registry::{EnrolledVoice, NameWarning, NewPerson, Person, Registry};
pub use voices::{VoiceIndex, VoiceMatch};

use crate::vocab::{ErrorCode, Failure, PersonId, PersonKind};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

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

impl Failure for PersonsError {
    fn code(&self) -> ErrorCode {
        match self {
            PersonsError::Store(e) => e.code(),
            PersonsError::NotFound(_) => ErrorCode::NotFound,
            PersonsError::Invalid(_) | PersonsError::Import { .. } => ErrorCode::InvalidPerson,
            PersonsError::Enrol(e) => e.code(),
            PersonsError::Words(_) => ErrorCode::WordFrequencies,
        }
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
    /// Enrolled voices, of every speaker model (matching compares one model's only).
    pub voices: VoiceIndex,
}
