//! What a policy decides: the action, the rules that matched and their evidence.

use serde::{Deserialize, Serialize};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Review,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Shadow,
}

/// A rule that matched, as a decision records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleMatch {
    pub rule: String,
    pub category: String,
    pub action: Action,
    pub message: String,
    pub evidence: Vec<serde_json::Value>,
    /// How serious the match is, 0 (safe) to 3 (high), when the rule says (its `severity`):
    /// a pipeline can act per category on it without reading scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<super::Severity>,
}

/// A rule whose evaluation failed on this input: the decision fails closed to review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleFailure {
    pub rule: String,
    pub error: String,
}

/// The outcome of a policy on one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verdict {
    pub action: Action,
    /// Enforced rules that matched, most severe first.
    pub matched: Vec<RuleMatch>,
    /// Shadow rules that matched: recorded and counted, never acted on.
    pub shadow: Vec<RuleMatch>,
    pub failures: Vec<RuleFailure>,
    pub policy: PolicyRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PolicyRef {
    pub name: String,
    pub version: String,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Allow, Action::Review, Action::Block];

    /// The one spelling of an action: in JSON, the database, metrics, reports and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Review => "review",
            Action::Block => "block",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not allow, review or block"))
    }
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Shadow => "shadow",
        }
    }
}
