//! A decision as it is returned and logged: who asked, what was screened, what the policy
//! decided and why, and, for an allowed clip, its attestation.

use super::{PromptSignals, Signals};
use crate::attest::Attestation;
use crate::policy::Verdict;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    /// A UUIDv7: unique, and sorts by time.
    pub id: String,
    pub created_at: String,
    pub user: Option<String>,
    pub clip_sha256: Option<String>,
    pub clip: Option<Signals>,
    pub prompt: Option<PromptSignals>,
    pub decision: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
}

impl Decision {
    pub fn new(
        user: Option<String>,
        clip_sha256: Option<String>,
        clip: Option<Signals>,
        prompt: Option<PromptSignals>,
        decision: Verdict,
    ) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            created_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            user,
            clip_sha256,
            clip,
            prompt,
            decision,
            attestation: None,
        }
    }
}
