//! A decision as it is returned and logged: who asked, what was screened, what the policy
//! decided and why, and, for an allowed clip, its attestation. Reviews of `review` decisions
//! are recorded beside them, never by rewriting the decision.

use super::{Action, PolicyRef, PromptSignals, RuleFailure, RuleMatch, Signals, Verdict};
use serde::{Deserialize, Serialize};

/// What asked for a decision: the pre-publish check (CLI or API) or a batch audit.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    #[default]
    Check,
    Audit,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Check => "check",
            Origin::Audit => "audit",
        }
    }
}

impl std::str::FromStr for Origin {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [Origin::Check, Origin::Audit]
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not check or audit"))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// A UUIDv7: unique, and sorts by time.
    pub id: String,
    pub created_at: String,
    #[serde(default)]
    pub origin: Origin,
    pub user: Option<String>,
    /// The caller's own id for the clip, echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_id: Option<String>,
    /// Person ids the requester declared consent for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consents: Vec<i64>,
    pub clip_sha256: Option<String>,
    pub clip: Option<Signals>,
    pub prompt: Option<PromptSignals>,
    pub decision: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
    /// The human review of a `review` decision, once there is one. Stored apart from the
    /// decision and attached when it is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
}

/// The compact form of a decision: what a pipeline acts on, with the action at the top, the
/// rules that matched with their evidence, and the attestation. The per-frame signals are in
/// the full form (`Decision`), which the API gives with `?view=full`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecisionSummary {
    /// A UUIDv7: unique, and sorts by time.
    pub id: String,
    /// UTC, milliseconds: `2026-11-25T05:14:37.157Z`.
    pub created_at: String,
    /// What to do with the clip: the policy's action until a reviewer decides a `review`
    /// decision, then the review's outcome (`allow` when approved, `block` when rejected).
    pub action: Action,
    /// The policy's own action, as logged: it differs from `action` only once a review
    /// decided it.
    pub policy_action: Action,
    pub origin: Origin,
    pub user: Option<String>,
    /// The caller's own id for the clip, echoed back.
    pub clip_id: Option<String>,
    pub clip_sha256: Option<String>,
    pub policy: PolicyRef,
    /// Enforced rules that matched, most severe first, with their evidence (times, boxes,
    /// persons, scores).
    pub rules: Vec<RuleMatch>,
    /// Shadow rules that matched: recorded, never acted on.
    pub shadow: Vec<String>,
    /// Rules whose evaluation failed on this input: the decision fails closed to review.
    pub failures: Vec<RuleFailure>,
    /// What was seen of the clip (absent for a prompt check).
    pub clip: Option<ClipSummary>,
    /// For a clip the policy allowed or a reviewer approved: the signed statement to publish
    /// with it.
    pub attestation: Option<Attestation>,
    /// The human review of a `review` decision, once there is one.
    pub review: Option<Review>,
}

/// A clip as the compact decision describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClipSummary {
    pub duration_s: f64,
    pub width: u32,
    pub height: u32,
    pub analysed_frames: u64,
    /// Every declared frame and stretch of time was decoded cleanly.
    pub complete: bool,
}

impl Decision {
    /// What to do with the clip now: the policy's action, or the outcome of the review that
    /// decided it. The logged decision itself is never rewritten; the review is recorded
    /// beside it.
    pub fn action(&self) -> Action {
        match &self.review {
            Some(r) => r.outcome.action(),
            None => self.decision.action,
        }
    }

    /// The attestation to publish the clip with: the check's own for an allowed clip, or the
    /// one a reviewer's approval issued.
    pub fn publishable_attestation(&self) -> Option<&Attestation> {
        self.attestation.as_ref().or_else(|| {
            self.review
                .as_ref()
                .filter(|r| r.outcome == ReviewOutcome::Approve)
                .and_then(|r| r.attestation.as_ref())
        })
    }

    /// The compact form; the one mapping from the full decision, used by the API and the CLI.
    pub fn summary(&self) -> DecisionSummary {
        DecisionSummary {
            id: self.id.clone(),
            created_at: self.created_at.clone(),
            action: self.action(),
            policy_action: self.decision.action,
            origin: self.origin,
            user: self.user.clone(),
            clip_id: self.clip_id.clone(),
            clip_sha256: self.clip_sha256.clone(),
            policy: self.decision.policy.clone(),
            rules: self.decision.matched.clone(),
            shadow: self
                .decision
                .shadow
                .iter()
                .map(|m| m.rule.clone())
                .collect(),
            failures: self.decision.failures.clone(),
            clip: self.clip.as_ref().map(|s| ClipSummary {
                duration_s: s.media.duration_s,
                width: s.media.width,
                height: s.media.height,
                analysed_frames: s.sampling.analysed_frames,
                complete: s.sampling.coverage.complete,
            }),
            attestation: self.publishable_attestation().cloned(),
            review: self.review.clone(),
        }
    }
}

/// The longest prompt checked, in characters (Unicode scalar values, as JSON Schema's
/// `maxLength` counts them), by every route and the CLI alike: a longer one is refused (413
/// `too_large`, naming `prompt`), never truncated. Generators' own limits are far below it.
pub const MAX_PROMPT_CHARS: usize = 16_384;

/// Who asked, and about what, beside the media itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CheckRequest {
    /// The prompt the clip was generated from (at most 16,384 characters).
    #[schema(max_length = 16384)]
    pub prompt: Option<String>,
    /// The requesting user: checked against each matched person's consent.
    pub user: Option<String>,
    /// Person ids the requester declares consent for.
    pub consents: Vec<i64>,
    /// The caller's own id for the clip, echoed back in the decision.
    pub clip_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// The clip may be published: an approval of a clip issues its attestation.
    Approve,
    Reject,
}

impl ReviewOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewOutcome::Approve => "approve",
            ReviewOutcome::Reject => "reject",
        }
    }

    /// The action a decision takes once a review with this outcome decided it.
    pub fn action(self) -> Action {
        match self {
            ReviewOutcome::Approve => Action::Allow,
            ReviewOutcome::Reject => Action::Block,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Review {
    pub decision_id: String,
    pub outcome: ReviewOutcome,
    pub note: String,
    /// The API key's name, or "local" where no keys are configured.
    pub reviewer: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<Attestation>,
}

pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl Decision {
    pub fn new(
        request: &CheckRequest,
        clip_sha256: Option<String>,
        clip: Option<Signals>,
        prompt: Option<PromptSignals>,
        decision: Verdict,
    ) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            created_at: now_rfc3339(),
            origin: Origin::Check,
            user: request.user.clone(),
            clip_id: request.clip_id.clone(),
            consents: request.consents.clone(),
            clip_sha256,
            clip,
            prompt,
            decision,
            attestation: None,
            review: None,
        }
    }
}

/// What is signed. Fields are in alphabetical order and all strings, so serde_json's compact
/// output is canonical JSON (RFC 8785) without a canonicaliser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    pub action: Action,
    pub clip_sha256: String,
    pub decision_id: String,
    pub issued_at: String,
    pub policy_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub statement: Statement,
    /// Always "ed25519".
    pub algorithm: String,
    /// Hex of the first 8 bytes of the public key's sha256.
    pub key_id: String,
    /// Hex signature over the canonical statement.
    pub signature: String,
}

impl Statement {
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a statement always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reviewed(outcome: Option<ReviewOutcome>) -> Decision {
        let verdict = Verdict {
            action: Action::Review,
            matched: vec![],
            shadow: vec![],
            failures: vec![],
            policy: PolicyRef {
                name: "p".into(),
                version: "v".into(),
            },
        };
        let mut d = Decision::new(
            &CheckRequest::default(),
            Some("ab".repeat(32)),
            None,
            None,
            verdict,
        );
        d.review = outcome.map(|outcome| Review {
            decision_id: d.id.clone(),
            outcome,
            note: String::new(),
            reviewer: "ops".into(),
            created_at: now_rfc3339(),
            attestation: (outcome == ReviewOutcome::Approve).then(|| Attestation {
                statement: Statement {
                    action: Action::Allow,
                    clip_sha256: "ab".repeat(32),
                    decision_id: d.id.clone(),
                    issued_at: "2026-12-07T20:00:00Z".into(),
                    policy_version: "v".into(),
                },
                algorithm: "ed25519".into(),
                key_id: "k".into(),
                signature: "s".into(),
            }),
        });
        d
    }

    /// A review decides the action the pipeline reads, with the approval's attestation at
    /// the top; the policy's own action stays beside it.
    #[test]
    fn a_review_decides_the_compact_action() {
        let waiting = reviewed(None).summary();
        assert_eq!(
            (waiting.action, waiting.policy_action),
            (Action::Review, Action::Review)
        );
        assert!(waiting.attestation.is_none());

        let approved = reviewed(Some(ReviewOutcome::Approve));
        let s = approved.summary();
        assert_eq!((s.action, s.policy_action), (Action::Allow, Action::Review));
        assert_eq!(
            s.attestation.as_ref(),
            approved.review.as_ref().unwrap().attestation.as_ref()
        );
        assert_eq!(
            approved.decision.action,
            Action::Review,
            "the log keeps the verdict"
        );

        let rejected = reviewed(Some(ReviewOutcome::Reject)).summary();
        assert_eq!(
            (rejected.action, rejected.policy_action),
            (Action::Block, Action::Review)
        );
        assert!(rejected.attestation.is_none());
    }
}
