//! The check service: the one path every entry point (CLI, HTTP, audit) takes from a request
//! to a logged decision. It owns intake (one clip-source type), the signals cache with
//! single-flight, the bounded screening pool and its deadline, the policy decision, the log,
//! attestations, reviews and evidence thumbnails.

pub mod cache;
mod context;
mod evidence;
pub mod intake;
pub mod pool;
pub mod queue;
pub mod stages;

pub use cache::CacheOutcome;
pub use context::{Context, ContextError};
pub use evidence::thumbnails_of_evidence;
pub use intake::{Clip, ClipLocation, ClipSource, Intake};

use crate::attest::c2pa::{CoverageSummary, Credential, CredentialError, DecisionAssertion};
use crate::attest::{self, AttestError, Signer};
use crate::categories::{Categories, CategoriesError, Category, NewCategory};
use crate::meaning::TextCategories;
use crate::metrics;
use crate::objects::ObjectError;
use crate::persons::{enrol::Enrolment, NewPerson, PersonsError, Registry};
use crate::policy::{LivePolicy, PolicyInput, RequestContext};
use crate::screen::{Live, ScreenError, Screener};
use crate::store::{CallbackEvent, DecisionLog, Store, StoreError};
use crate::vocab::{
    now_rfc3339, Action, CheckRequest, Decision, ErrorCode, Failure, ModelInfo, Origin, PersonId,
    Review, ReviewOutcome, Signals,
};
use cache::{ClipKey, SignalsCache};
use pool::{Pool, PoolError};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::field::Empty;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Intake(#[from] ObjectError),
    /// Screening failed: nothing is decided or logged; the caller must not publish.
    #[error(transparent)]
    Screening(Box<ScreeningFailed>),
    #[error(transparent)]
    Screen(Box<ScreenError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Persons(#[from] PersonsError),
    #[error(transparent)]
    Categories(#[from] CategoriesError),
    #[error(transparent)]
    Attest(#[from] AttestError),
    #[error(transparent)]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error("decision {id} is {action} and was not approved: only an allowed or approved clip gets Content Credentials")]
    NotPublishable { id: String, action: Action },
    #[error("this is not the clip decision {id} was for: its sha256 is {actual}, the decision's {checked}")]
    OtherClip {
        id: String,
        checked: String,
        actual: String,
    },
    #[error("no result within the {seconds} s deadline")]
    Deadline { seconds: u64 },
    #[error("the worker stopped before screening the clip")]
    ShuttingDown,
    #[error("no decision with id {0}")]
    NoDecision(String),
    #[error("prompt: {chars} characters, over the limit of {limit}")]
    PromptTooLong { chars: usize, limit: usize },
    #[error("decision {id} is {action}, not awaiting review")]
    NotReviewable { id: String, action: Action },
    #[error("decision {id} was already reviewed ({outcome}) by {reviewer} at {at}")]
    AlreadyReviewed {
        id: String,
        outcome: &'static str,
        reviewer: String,
        at: String,
    },
}

/// A screening that failed, naming the clip as the client did (never a temporary path).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ScreeningFailed {
    pub error: ScreenError,
    pub message: String,
    pub clip_sha256: String,
}

impl From<ScreenError> for CheckError {
    fn from(e: ScreenError) -> Self {
        CheckError::Screen(Box::new(e))
    }
}

impl Failure for CheckError {
    fn code(&self) -> ErrorCode {
        match self {
            CheckError::Intake(e) => e.code(),
            CheckError::Screening(f) => f.error.code(),
            CheckError::Screen(e) => e.code(),
            CheckError::Store(e) => e.code(),
            CheckError::Persons(e) => e.code(),
            CheckError::Categories(e) => e.code(),
            CheckError::Attest(e) => e.code(),
            CheckError::Pool(e) => e.code(),
            CheckError::Credentials(e) => e.code(),
            CheckError::NotPublishable { .. } | CheckError::OtherClip { .. } => ErrorCode::Conflict,
            CheckError::Deadline { .. } => ErrorCode::DeadlineExceeded,
            CheckError::ShuttingDown => ErrorCode::ShuttingDown,
            CheckError::NoDecision(_) => ErrorCode::NotFound,
            CheckError::PromptTooLong { .. } => ErrorCode::TooLarge,
            CheckError::NotReviewable { .. } | CheckError::AlreadyReviewed { .. } => {
                ErrorCode::Conflict
            }
        }
    }

    fn retry_after_s(&self) -> Option<u64> {
        match self {
            CheckError::Pool(e) => e.retry_after_s(),
            CheckError::Deadline { seconds } => Some((seconds / 4).max(1)),
            CheckError::ShuttingDown => Some(5),
            _ => None,
        }
    }
}

/// A logged decision and how the clip's signals were found.
pub struct Checked {
    pub decision: Decision,
    pub cache: CacheOutcome,
}

pub struct CheckService {
    store: Arc<Store>,
    /// The snapshots the analysers and the stages read (persons, categories, banks, signer).
    live: Arc<Live>,
    screener: Arc<Screener>,
    stages: Arc<[Box<dyn stages::Stage>]>,
    policy: Arc<LivePolicy>,
    signer: Arc<Signer>,
    pool: Arc<Pool>,
    /// Evidence thumbnails' own lane (one thread, a short queue): made after the answer, they
    /// must never hold the place in `pool`'s queue that the caller's next clip needs (a
    /// one-worker server answered 503 to the clip after every review).
    evidence: Arc<Pool>,
    cache: Arc<SignalsCache>,
    intake: Intake,
    deadline: Duration,
    /// The models' sha256s: part of every cache key.
    model_set: String,
    /// The admin's text categories (managed even while meaning is off).
    text_categories: TextCategories,
}

impl CheckService {
    /// The same service deciding with another policy (an audit's candidate policy): same
    /// models, registry, pool, cache and log.
    pub fn with_policy(&self, policy: Arc<LivePolicy>) -> Arc<Self> {
        Arc::new(Self {
            store: self.store.clone(),
            live: self.live.clone(),
            screener: self.screener.clone(),
            stages: self.stages.clone(),
            policy,
            signer: self.signer.clone(),
            pool: self.pool.clone(),
            evidence: self.evidence.clone(),
            cache: self.cache.clone(),
            intake: self.intake.clone(),
            deadline: self.deadline,
            model_set: self.model_set.clone(),
            text_categories: self.text_categories.clone(),
        })
    }

    /// The database, for what is not a decision (the service's audit jobs).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn decisions(&self) -> &dyn DecisionLog {
        self.store.as_ref()
    }

    pub fn registry(&self) -> &Registry {
        self.live.persons.registry()
    }

    /// The live snapshots: persons, categories, banks and the Content Credentials signer.
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    pub fn policy(&self) -> &Arc<LivePolicy> {
        &self.policy
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// Loads what the decision-time stages would load on first use (the text categories),
    /// so the first check does not wait for it. A stage that cannot load is logged here and
    /// fails its first check as it would have.
    pub fn warm(&self) {
        for stage in self.stages.iter() {
            let t0 = Instant::now();
            match stage.warm() {
                Ok(()) => tracing::debug!(
                    stage = stage.name(),
                    ms = t0.elapsed().as_millis() as u64,
                    "warm"
                ),
                Err(e) => {
                    tracing::warn!(stage = stage.name(), error = %e, "cannot load ahead of the first check")
                }
            }
        }
    }

    /// Refuses new work, then waits for the screenings queued and running, then for the
    /// evidence thumbnails they made (a stopping server or a finished CLI loses none).
    pub fn shutdown(&self) {
        self.pool.shutdown();
        self.evidence.shutdown();
    }

    pub fn intake(&self) -> &Intake {
        &self.intake
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    pub fn models(&self) -> &[ModelInfo] {
        self.screener.models()
    }

    pub fn screener(&self) -> &Arc<Screener> {
        &self.screener
    }

    /// What a prompt says (persons named, terms of `terms`), as a decision would see it: the
    /// decision-time stages on the prompt alone, against the snapshots as they are now.
    pub fn screen_prompt(
        &self,
        prompt: &str,
        terms: &crate::text::terms::TermLists,
    ) -> Result<crate::vocab::PromptSignals, CheckError> {
        Ok(self
            .run_stages(terms, Some(prompt), None)?
            .unwrap_or_default())
    }

    /// Every decision-time stage, in order: what the prompt says, and the clip's signals
    /// completed by matching against the snapshots as they are now.
    fn run_stages(
        &self,
        terms: &crate::text::terms::TermLists,
        prompt: Option<&str>,
        clip: Option<&mut Signals>,
    ) -> Result<Option<crate::vocab::PromptSignals>, CheckError> {
        let mut subject = stages::Subject {
            terms,
            prompt,
            prompt_signals: None,
            clip,
        };
        for stage in self.stages.iter() {
            let _span =
                tracing::info_span!(target: crate::traces::TARGET, "stage", otel.name = stage.name())
                    .entered();
            stage.run(&mut subject)?;
        }
        Ok(subject.prompt_signals)
    }

    /// Checks a prompt alone (on this thread: it takes microseconds).
    pub fn check_prompt(&self, request: &CheckRequest) -> Result<Decision, CheckError> {
        let span = check_span(Origin::Check);
        let decided = span.in_scope(|| {
            within_limits(request)?;
            self.decide(Origin::Check, None, request, None)
        });
        traced(&span, decided.as_ref().map(|d| (d, None)));
        decided
    }

    /// Checks a clip (and its prompt): puts it on disk, screens it through the cache and the
    /// pool within `deadline`, decides, logs, attests an allow of a pre-publish check and
    /// makes evidence thumbnails for a review or block. A screening that fails is returned as
    /// [`CheckError::Screening`] (fail closed: no decision, so nothing to publish with).
    pub async fn check_clip(
        self: &Arc<Self>,
        source: ClipSource,
        request: CheckRequest,
        origin: Origin,
        deadline: Instant,
    ) -> Result<Checked, CheckError> {
        self.check_clip_as(source, request, origin, deadline, None)
            .await
    }

    /// As [`check_clip`](Self::check_clip), logging the decision under `id` when one is
    /// given (an asynchronous check, whose caller was answered that id): the clip is then
    /// always decided anew, never answered with an earlier decision of the same request.
    pub async fn check_clip_as(
        self: &Arc<Self>,
        source: ClipSource,
        request: CheckRequest,
        origin: Origin,
        deadline: Instant,
        id: Option<String>,
    ) -> Result<Checked, CheckError> {
        let span = check_span(origin);
        let checked = self
            .screen_and_decide(source, request, origin, deadline, id)
            .instrument(span.clone())
            .await;
        traced(
            &span,
            checked.as_ref().map(|c| (&c.decision, Some(c.cache))),
        );
        checked
    }

    /// [`check_clip_as`](Self::check_clip_as), in its `check` span.
    async fn screen_and_decide(
        self: &Arc<Self>,
        source: ClipSource,
        request: CheckRequest,
        origin: Origin,
        deadline: Instant,
        id: Option<String>,
    ) -> Result<Checked, CheckError> {
        within_limits(&request)?;
        let clip = Arc::new(
            source
                .materialise(&self.intake)
                .instrument(tracing::info_span!(target: crate::traces::TARGET, "intake"))
                .await?,
        );
        // Both are read from the store, which must not block an async thread.
        let live = self.live.clone();
        let (persons_generation, categories_version) = tokio::task::spawn_blocking(move || {
            Ok::<_, CheckError>((live.persons_generation()?, live.categories_version()?))
        })
        .await
        .map_err(|_| CheckError::ShuttingDown)??;
        let key = ClipKey {
            clip_sha256: clip.sha256.clone(),
            models: self.model_set.clone(),
            persons_generation,
            categories_version,
        };
        let screened = self
            .cache
            .signals(key, |entry| {
                let (me, clip) = (self.clone(), clip.clone());
                async move {
                    let check = tracing::Span::current();
                    let job = move || {
                        let span =
                            tracing::info_span!(target: crate::traces::TARGET, parent: &check, "screen");
                        let started = std::time::SystemTime::now();
                        let screened = span
                            .in_scope(|| me.screener.screen_clip(clip.path()))
                            .map(Arc::new);
                        if let Ok(s) = &screened {
                            crate::traces::screening(&span, started, &s.timings);
                            entry.offer(s.clone());
                        }
                        screened
                    };
                    let rx = self.pool.submit(deadline, job).inspect_err(|e| {
                        metrics::rejected(pool_reason(e));
                    })?;
                    match tokio::time::timeout_at(deadline.into(), rx).await {
                        Err(_) => {
                            metrics::rejected("deadline");
                            Err(CheckError::Deadline {
                                seconds: self.deadline.as_secs(),
                            })
                        }
                        Ok(Err(_)) => Err(CheckError::ShuttingDown),
                        Ok(Ok(Err(pool))) => {
                            metrics::rejected(pool_reason(&pool));
                            Err(pool.into())
                        }
                        Ok(Ok(Ok(screened))) => screened.map_err(CheckError::from),
                    }
                }
            })
            .await;
        let (entry, signals, outcome) = match screened {
            Ok(s) => s,
            Err(CheckError::Screen(e)) => return Err(Self::screening_failed(&clip, *e)),
            Err(e) => return Err(e),
        };
        metrics::cache_lookup(outcome.as_str());
        // A repeated pre-publish check gets the decision already logged for it; an audit
        // always logs its own.
        let version = self.policy.current().version.clone();
        // Read from the store, which must not block an async thread (the PostgreSQL client
        // would panic there).
        let live = self.live.clone();
        let banks = tokio::task::spawn_blocking(move || live.banks_generation())
            .await
            .map_err(|_| CheckError::ShuttingDown)??;
        if let Some(logged) = entry
            .decision(&version, banks, &request)
            .filter(|_| origin == Origin::Check && id.is_none())
        {
            return Ok(Checked {
                decision: logged,
                cache: CacheOutcome::Hit,
            });
        }
        let me = self.clone();
        let (req, sha) = (request.clone(), clip.sha256.clone());
        let check = tracing::Span::current();
        let decision = tokio::task::spawn_blocking(move || {
            check.in_scope(|| me.decide(origin, id, &req, Some((sha, (*signals).clone()))))
        })
        .await
        .map_err(|_| CheckError::ShuttingDown)??;
        if origin == Origin::Check {
            entry.remember(banks, &request, &decision);
        }
        self.evidence(origin, &decision, clip).await;
        Ok(Checked {
            decision,
            cache: outcome,
        })
    }

    /// A screening that failed, with the clip named as its client knows it.
    fn screening_failed(clip: &Clip, e: ScreenError) -> CheckError {
        CheckError::Screening(Box::new(ScreeningFailed {
            message: clip.naming(&e.to_string()),
            clip_sha256: clip.sha256.clone(),
            error: e,
        }))
    }

    /// Thumbnails for reviewers. A pre-publish check makes them after the answer in their own
    /// lane, skipped when that lane is full or the screening pool has clips waiting (CPU goes
    /// to answers first); an audit makes them before it moves on, since nobody waits on it.
    async fn evidence(&self, origin: Origin, decision: &Decision, clip: Arc<Clip>) {
        if decision.decision.action == Action::Allow {
            return;
        }
        let (store, media, d) = (
            self.store.clone(),
            self.screener.media_config().clone(),
            decision.clone(),
        );
        let job = move || evidence::store(store.as_ref(), &d, clip.path(), &media);
        match origin {
            Origin::Audit => {
                let _ = tokio::task::spawn_blocking(job).await;
            }
            Origin::Check if self.pool.queued() == 0 => {
                if let Err(e) = self.evidence.submit(Instant::now() + self.deadline, job) {
                    tracing::debug!(error = %e, "evidence thumbnails skipped");
                }
            }
            Origin::Check => tracing::debug!("evidence thumbnails skipped under load"),
        }
    }

    /// Screens the prompt with the term lists of the policy in force, decides with that same
    /// policy (so the decision's version names the lists it used), attests an allowed
    /// pre-publish clip and commits the decision to the log, under `id` when one is given.
    /// Only a logged decision is returned.
    fn decide(
        &self,
        origin: Origin,
        id: Option<String>,
        request: &CheckRequest,
        clip: Option<(String, Signals)>,
    ) -> Result<Decision, CheckError> {
        let policy = self.policy.current();
        let mut clip = clip;
        let prompt = self.run_stages(
            &policy.terms,
            request.prompt.as_deref(),
            clip.as_mut().map(|(_, s)| s),
        )?;
        let started = Instant::now();
        let input = PolicyInput::new(
            clip.as_ref().map(|(_, s)| s),
            prompt.as_ref(),
            RequestContext::of(request),
        );
        let verdict = tracing::info_span!(target: crate::traces::TARGET, "policy")
            .in_scope(|| policy.decide(&input));
        metrics::stage_time("policy", started.elapsed().as_secs_f64());
        let (sha256, signals) = clip.unzip();
        let mut decision = Decision::new(request, sha256, signals, prompt, verdict);
        decision.origin = origin;
        if let Some(id) = id {
            decision.id = id;
        }
        // Only a pre-publish check attests: an audit publishes nothing.
        let attest = origin == Origin::Check && decision.decision.action == Action::Allow;
        if let (Some(sha), true) = (&decision.clip_sha256, attest) {
            decision.attestation = Some(self.signer.sign(attest::statement(
                sha.clone(),
                decision.id.clone(),
                decision.decision.policy.version.clone(),
            )));
        }
        tracing::info_span!(target: crate::traces::TARGET, "log")
            .in_scope(|| self.store.record(&decision))?;
        let kind = if decision.clip_sha256.is_some() {
            "clip"
        } else {
            "prompt"
        };
        let v = &decision.decision;
        metrics::decided(kind, decision.origin.as_str(), v.action.as_str());
        for m in &v.matched {
            metrics::rule_matched(&m.rule, "enforce");
        }
        for m in &v.shadow {
            metrics::rule_matched(&m.rule, "shadow");
        }
        for f in &v.failures {
            metrics::rule_failed(&f.rule);
        }
        Ok(decision)
    }

    /// Records a reviewer's outcome for a `review` decision. Approving a clip issues its
    /// attestation, bound to the clip's sha256 and the decision id.
    pub fn review(
        &self,
        decision_id: &str,
        outcome: ReviewOutcome,
        note: String,
        reviewer: String,
    ) -> Result<Review, CheckError> {
        let decision = self
            .store
            .get(decision_id)?
            .ok_or_else(|| CheckError::NoDecision(decision_id.to_string()))?;
        if decision.decision.action != Action::Review {
            return Err(CheckError::NotReviewable {
                id: decision.id,
                action: decision.decision.action,
            });
        }
        if let Some(done) = decision.review {
            return Err(CheckError::AlreadyReviewed {
                id: decision.id,
                outcome: done.outcome.as_str(),
                reviewer: done.reviewer,
                at: done.created_at,
            });
        }
        let attestation = match (outcome, &decision.clip_sha256) {
            (ReviewOutcome::Approve, Some(sha)) => Some(self.signer.sign(attest::statement(
                sha.clone(),
                decision.id.clone(),
                decision.decision.policy.version.clone(),
            ))),
            _ => None,
        };
        let decision_read = decision.clone();
        let review = Review {
            decision_id: decision.id,
            outcome,
            note,
            reviewer,
            created_at: now_rfc3339(),
            attestation,
        };
        self.store.record_review(&review)?;
        metrics::reviewed(review.outcome.as_str());
        // The decision as it now reads goes wherever its callbacks went. The review is
        // recorded whatever happens here: a callback lost to a database error is logged.
        let mut reviewed = decision_read;
        reviewed.review = Some(review.clone());
        if let Err(e) = self.queue_callback(&reviewed, CallbackEvent::Reviewed, None) {
            tracing::error!(decision = %review.decision_id, error = %e, "cannot queue the review's callback");
        }
        Ok(review)
    }

    /// Queues a callback carrying the decision's compact form: to `url`, or, with none, to
    /// wherever the decision's earlier callbacks went (if anywhere). True if one was queued.
    pub fn queue_callback(
        &self,
        decision: &Decision,
        event: CallbackEvent,
        url: Option<&str>,
    ) -> Result<bool, StoreError> {
        let body = serde_json::to_string(&decision.summary())
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match url {
            Some(url) => self
                .store
                .enqueue_callback(&decision.id, event, url, &body)
                .map(|()| true),
            None => self.store.enqueue_followup(&decision.id, event, &body),
        }
    }

    /// Writes `clip` to `dest` with clipguard's Content Credentials embedded: a C2PA manifest
    /// recording that the clip is AI-generated (by `generator`, when named) and the decision
    /// `decision_id` with its attestation. Only for the very bytes that decision checked
    /// (`clip_sha256`), and only if it allowed the clip or a reviewer approved it.
    pub fn credential(
        &self,
        decision_id: &str,
        clip: &Path,
        clip_sha256: &str,
        generator: Option<String>,
        dest: &Path,
    ) -> Result<DecisionAssertion, CheckError> {
        let decision = self
            .store
            .get(decision_id)?
            .ok_or_else(|| CheckError::NoDecision(decision_id.to_string()))?;
        if decision.clip_sha256.is_none() {
            return Err(CheckError::OtherClip {
                id: decision.id,
                checked: "no clip (a prompt check)".into(),
                actual: clip_sha256.to_string(),
            });
        }
        let approval = decision
            .review
            .as_ref()
            .filter(|r| r.outcome == ReviewOutcome::Approve);
        let (attestation, approved_by) = match (&decision.attestation, approval) {
            (Some(a), _) => (a.clone(), None),
            (None, Some(r)) if r.attestation.is_some() => (
                r.attestation.clone().expect("checked just above"),
                Some(r.reviewer.clone()),
            ),
            _ => {
                return Err(CheckError::NotPublishable {
                    id: decision.id,
                    action: decision.decision.action,
                })
            }
        };
        if attestation.statement.clip_sha256 != clip_sha256 {
            return Err(CheckError::OtherClip {
                id: decision.id,
                checked: attestation.statement.clip_sha256,
                actual: clip_sha256.to_string(),
            });
        }
        let coverage = decision
            .clip
            .as_ref()
            .map(|s| CoverageSummary {
                complete: s.sampling.coverage.complete,
                covered_share: s.sampling.coverage.covered_share,
                analysed_frames: s.sampling.analysed_frames,
                duration_s: s.media.duration_s,
            })
            .ok_or_else(|| CheckError::NotPublishable {
                id: decision.id.clone(),
                action: decision.decision.action,
            })?;
        let assertion = DecisionAssertion {
            decision_id: decision.id.clone(),
            policy_name: decision.decision.policy.name.clone(),
            policy_version: decision.decision.policy.version.clone(),
            action: decision.decision.action.as_str().to_string(),
            approved_by,
            coverage,
            attestation,
        };
        let credential = Credential {
            decision: assertion.clone(),
            generator,
            title: decision
                .clip_id
                .clone()
                .unwrap_or_else(|| format!("clip {}", &clip_sha256[..12.min(clip_sha256.len())])),
        };
        self.live.credentials.sign_clip(clip, dest, &credential)?;
        Ok(assertion)
    }

    /// Adds a person with a face from each image, all or nothing: every image is embedded
    /// before anything is stored, and the person and faces are stored in one transaction.
    pub fn add_person(&self, person: &NewPerson, images: &[&Path]) -> Result<PersonId, CheckError> {
        let faces = self.screener.embed_faces(images)?;
        Ok(self
            .registry()
            .add_with_faces(person, &self.embed_model(), &faces)?)
    }

    /// Enrols more faces for a person; only if every image yields one are they stored.
    pub fn enrol(&self, person: PersonId, images: &[&Path]) -> Result<Vec<i64>, CheckError> {
        self.registry().get(person)?;
        let faces: Vec<Enrolment> = self.screener.embed_faces(images)?;
        let model = self.embed_model();
        Ok(faces
            .iter()
            .map(|e| {
                self.registry()
                    .add_face(person, &e.image_sha256, &model, &e.embedding)
            })
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// Enrols voice samples (audio or video files) for a person; only if every sample holds
    /// one person speaking are they stored. Answers the stored voices' ids.
    pub fn enrol_voices(
        &self,
        person: PersonId,
        samples: &[&Path],
    ) -> Result<Vec<i64>, CheckError> {
        self.registry().get(person)?;
        let voices = self.screener.embed_voices(samples)?;
        let model = self
            .screener
            .voices()
            .map(|m| m.encoder_model.sha256.clone())
            .unwrap_or_default();
        Ok(voices
            .iter()
            .map(|v| {
                self.registry().add_voice(
                    person,
                    &v.sample_sha256,
                    &model,
                    &v.embedding,
                    v.speech_s,
                )
            })
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// The categories defined by example.
    /// The text categories: the shipped set and the admin's.
    pub fn text_categories(&self) -> &TextCategories {
        &self.text_categories
    }

    pub fn categories(&self) -> &Categories {
        self.live.categories.categories()
    }

    /// Creates a category from example and counter-example images, all or nothing: every
    /// image is embedded before anything is stored.
    pub fn create_category(
        &self,
        name: &str,
        description: &str,
        created_by: &str,
        examples: &[&Path],
        counter_examples: &[&Path],
    ) -> Result<Category, CheckError> {
        let new = NewCategory {
            name: name.to_string(),
            description: description.to_string(),
            created_by: created_by.to_string(),
            examples: self.screener.embed_examples(examples)?,
            counter_examples: self.screener.embed_examples(counter_examples)?,
        };
        Ok(self
            .categories()
            .create(&new, self.live.categories.model_sha256())?)
    }

    fn embed_model(&self) -> String {
        self.screener
            .vision()
            .manifest
            .get(crate::vocab::ModelKind::Embed)
            .0
            .sha256
            .clone()
    }
}

/// Refuses a request over the limits every entry point shares (the prompt's length), before
/// anything is screened.
pub fn within_limits(request: &CheckRequest) -> Result<(), CheckError> {
    let limit = crate::vocab::MAX_PROMPT_CHARS;
    match request.prompt.as_deref().map(|p| p.chars().count()) {
        Some(chars) if chars > limit => Err(CheckError::PromptTooLong { chars, limit }),
        _ => Ok(()),
    }
}

fn pool_reason(e: &PoolError) -> &'static str {
    match e {
        PoolError::Busy { .. } => "busy",
        PoolError::Expired => "deadline",
        PoolError::Closed => "shutting_down",
    }
}

/// The span of one check in traces: the decision's id, action and cache outcome, or the
/// error's code, are recorded on it once known.
fn check_span(origin: Origin) -> tracing::Span {
    tracing::info_span!(
        target: crate::traces::TARGET,
        "check",
        origin = origin.as_str(),
        decision_id = Empty,
        action = Empty,
        cache = Empty,
        error = Empty,
        otel.status_code = Empty,
    )
}

/// Records how a check ended on its span.
fn traced(span: &tracing::Span, outcome: Result<(&Decision, Option<CacheOutcome>), &CheckError>) {
    match outcome {
        Ok((d, cache)) => {
            span.record("decision_id", d.id.as_str());
            span.record("action", d.decision.action.as_str());
            if let Some(c) = cache {
                span.record("cache", c.as_str());
            }
        }
        Err(e) => {
            span.record("error", e.code().as_str());
            span.record("otel.status_code", "ERROR");
        }
    }
}
