//! From signals to a logged decision: the policy decides, an allowed clip is attested, and the
//! decision is committed to the log before anyone sees it. The CLI, the service and the audit
//! all decide through [`Checker`]; only how they get the signals differs.

use super::{
    now_rfc3339, CheckRequest, Decision, Origin, Review, ReviewOutcome, ScreenError, Screener,
    Signals,
};
use crate::attest::{self, Signer};
use crate::metrics;
use crate::policy::{Action, LivePolicy, PolicyInput, RequestContext};
use crate::store::StoreError;
use std::path::Path;
use std::sync::Arc;

pub struct Checker {
    pub screener: Arc<Screener>,
    pub policy: Arc<LivePolicy>,
    signer: Signer,
}

/// A clip that has been screened: its bytes' sha256 and what was seen in it.
pub struct ScreenedClip {
    pub sha256: String,
    pub signals: Signals,
}

impl Checker {
    /// The signing key is created in the data folder on first use.
    pub fn new(
        screener: Arc<Screener>,
        policy: Arc<LivePolicy>,
        data_dir: &Path,
    ) -> Result<Self, ScreenError> {
        Ok(Self {
            screener,
            policy,
            signer: Signer::load_or_create(data_dir)?,
        })
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Hashes and screens a clip on this thread (the CLI and the audit; the service screens on
    /// its pool through the cache).
    pub fn screen_file(&self, path: &Path) -> Result<ScreenedClip, ScreenError> {
        let signals = self.screener.screen_clip(path)?;
        Ok(ScreenedClip {
            sha256: attest::sha256_file(path)?,
            signals,
        })
    }

    /// Decides on a request (and its clip, if any), attests an allowed clip and commits the
    /// decision to the log. Only a logged decision is returned.
    pub fn decide(
        &self,
        origin: Origin,
        request: &CheckRequest,
        clip: Option<ScreenedClip>,
    ) -> Result<Decision, ScreenError> {
        // One snapshot for the whole decision: its term lists are the ones its version names.
        let policy = self.policy.current();
        let prompt = request
            .prompt
            .as_deref()
            .map(|p| self.screener.screen_prompt(p, &policy.terms));
        let context = RequestContext {
            user: request.user.clone().unwrap_or_default(),
            consents: request.consents.clone(),
        };
        let started = std::time::Instant::now();
        let verdict = policy.decide(&PolicyInput::new(
            clip.as_ref().map(|c| &c.signals),
            prompt.as_ref(),
            context,
            None,
        ));
        metrics::policy_time(started.elapsed().as_secs_f64());
        let (sha256, signals) = match clip {
            Some(c) => (Some(c.sha256), Some(c.signals)),
            None => (None, None),
        };
        let mut decision = Decision::new(request, sha256, signals, prompt, verdict);
        decision.origin = origin;
        // Only a pre-publish check attests: an audit publishes nothing.
        let attest = origin == Origin::Check && decision.decision.action == Action::Allow;
        if let (Some(sha), true) = (&decision.clip_sha256, attest) {
            decision.attestation = Some(self.signer.sign(attest::statement(
                sha.clone(),
                decision.id.clone(),
                decision.decision.policy.version.clone(),
            )));
        }
        self.screener.decisions().record(&decision)?;
        metrics::decided(&decision);
        Ok(decision)
    }

    /// Makes and stores the evidence thumbnails of a block or review decision on this clip.
    /// Best effort, after the decision was returned: the decision itself holds every time and
    /// box, so a failure here is logged, not raised.
    pub fn store_evidence(&self, decision: &Decision, clip: &Path) {
        let made = super::evidence::thumbnails(decision, clip, self.screener.media_config())
            .map_err(|e| e.to_string())
            .and_then(|t| {
                self.screener
                    .decisions()
                    .record_thumbnails(&decision.id, &t)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = made {
            tracing::warn!(decision = %decision.id, error = %e, "no evidence thumbnails");
        }
    }

    /// Records a reviewer's outcome for a `review` decision. Approving a clip issues its
    /// attestation, bound to the clip's sha256 and the decision id.
    pub fn review(
        &self,
        decision_id: &str,
        outcome: ReviewOutcome,
        note: String,
        reviewer: String,
    ) -> Result<Review, ScreenError> {
        let log = self.screener.decisions();
        let decision = log
            .get(decision_id)?
            .ok_or_else(|| ScreenError::NoDecision(decision_id.to_string()))?;
        if decision.decision.action != Action::Review {
            return Err(StoreError::Conflict(format!(
                "decision {decision_id} is {:?}, not awaiting review",
                decision.decision.action
            ))
            .into());
        }
        if let Some(done) = decision.review {
            return Err(StoreError::Conflict(format!(
                "decision {decision_id} was already reviewed ({}) by {} at {}",
                done.outcome.as_str(),
                done.reviewer,
                done.created_at
            ))
            .into());
        }
        let attestation = match (outcome, &decision.clip_sha256) {
            (ReviewOutcome::Approve, Some(sha)) => Some(self.signer.sign(attest::statement(
                sha.clone(),
                decision.id.clone(),
                decision.decision.policy.version.clone(),
            ))),
            _ => None,
        };
        let review = Review {
            decision_id: decision.id,
            outcome,
            note,
            reviewer,
            created_at: now_rfc3339(),
            attestation,
        };
        log.record_review(&review)?;
        metrics::REVIEWS
            .with_label_values(&[review.outcome.as_str()])
            .inc();
        Ok(review)
    }
}
