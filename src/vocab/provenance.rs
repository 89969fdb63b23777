//! What a clip's C2PA manifest (Content Credentials) says about where it came from, and
//! whether that holds. Policies read it; nothing here decides.

use serde::{Deserialize, Serialize};

/// Whether a clip carries Content Credentials and whether they hold, in the C2PA
/// specification's validation states plus the two ways of having none.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProvenanceState {
    /// No manifest in the clip.
    #[default]
    Absent,
    /// The container is one C2PA defines no embedding for (Matroska, WebM, ...): nothing
    /// could be read, and nothing vouches for the clip.
    Unsupported,
    /// A manifest is there but does not hold: tampered media, a broken signature or
    /// certificate, or one that could not be read at all. `problems` says why.
    Invalid,
    /// Well formed and signed, and the media is what was signed, by a certificate that no
    /// configured trust anchor vouches for.
    Valid,
    /// Valid, and signed by a certificate that chains to a configured trust anchor.
    Trusted,
}

impl ProvenanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProvenanceState::Absent => "absent",
            ProvenanceState::Unsupported => "unsupported",
            ProvenanceState::Invalid => "invalid",
            ProvenanceState::Valid => "valid",
            ProvenanceState::Trusted => "trusted",
        }
    }
}

/// The active manifest of a clip, as far as it could be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Provenance {
    pub state: ProvenanceState,
    /// Why the manifest is invalid: each failed validation as `code: explanation`.
    pub problems: Vec<String>,
    /// The claim generator's name (the product that signed the manifest, e.g. "clipguard").
    pub generator: String,
    /// Its version, where it gives one.
    pub generator_version: String,
    /// The signing certificate's organisation and common name.
    pub issuer: String,
    pub common_name: String,
    /// The actions recorded (`c2pa.created`, `c2pa.edited`, ...), in order.
    pub actions: Vec<String>,
    /// The IPTC digital source types declared by the actions of the manifest and of its
    /// ingredients' manifests, e.g.
    /// `http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia`.
    pub digital_source_types: Vec<String>,
    /// The software agents those actions name (the model or tool that made the clip).
    pub software_agents: Vec<String>,
    /// The assets this one was made from.
    pub ingredients: Vec<ProvenanceIngredient>,
    /// The id of the clipguard decision recorded in the manifest (empty unless clipguard
    /// signed it).
    pub clipguard_decision: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ProvenanceIngredient {
    pub title: String,
    pub format: String,
    /// `parentOf`, `componentOf` or `inputTo`.
    pub relationship: String,
}
