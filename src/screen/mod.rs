//! The orchestrator: a clip in, `Signals` out. Decoding runs on its own thread and hands
//! sampled frames to inference through a small bounded channel, so the two overlap.

pub mod cache;
mod check;
mod decision;
pub mod evidence;
pub mod pool;
mod signals;

pub use check::{Checker, ScreenedClip};
pub(crate) use decision::now_rfc3339;
pub use decision::{CheckRequest, Decision, Origin, Review, ReviewOutcome};

pub use signals::{
    widen, ClassPeak, FaceDetection, FaceSummary, FrameDetections, PromptSignals, Signals,
    StageTimings,
};

use crate::config::{Config, MediaConfig};
use crate::media::{self, FrameContent, MediaError, SampledFrame};
use crate::persons::{enrol, likeness, PersonId, Persons, PersonsError, Registry};
use crate::store::{DecisionLog, Store, StoreError};
use crate::text::normalize;
use crate::text::terms::{TermLists, TermsError};
use crate::vision::{align, ModelInfo, ModelKind, Vision, VisionError};
use image::RgbImage;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Vision(#[from] VisionError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Persons(#[from] PersonsError),
    #[error(transparent)]
    Terms(#[from] TermsError),
    #[error(transparent)]
    Attest(#[from] crate::attest::AttestError),
    #[error("no decision with id {0}")]
    NoDecision(String),
}

impl ScreenError {
    /// A short, stable name for metrics and API error codes.
    pub fn code(&self) -> &'static str {
        match self {
            ScreenError::Media(e) => e.code(),
            ScreenError::Vision(_) => "inference",
            ScreenError::Config(_) => "config",
            ScreenError::Store(_) => "store",
            ScreenError::Persons(_) => "persons",
            ScreenError::Terms(_) => "terms",
            ScreenError::Attest(_) => "attestation",
            ScreenError::NoDecision(_) => "not_found",
        }
    }
}

pub struct Screener {
    media: MediaConfig,
    vision: Vision,
    store: Arc<Store>,
    registry: Registry,
    /// Swapped whole after every registry change; screenings in flight keep the one they took.
    persons: RwLock<Arc<Persons>>,
    terms: TermLists,
    match_threshold: f32,
    /// Bumped whenever the persons snapshot is replaced: cached screenings from before no
    /// longer apply.
    persons_generation: AtomicU64,
}

/// Frames waiting between the decoder and inference: enough to batch, small enough that a
/// 4K clip cannot pile up in memory.
const QUEUE: usize = 4;

impl Screener {
    pub fn load(cfg: &Config) -> Result<Self, ScreenError> {
        let vision = Vision::load(cfg)?;
        let store = Arc::new(Store::open(&cfg.data_dir)?);
        let words =
            crate::text::WordFrequencies::from_manifest(&cfg.models.manifest, &cfg.models.dir)
                .map_err(PersonsError::from)?;
        let registry = Registry::new(store.clone(), Arc::new(words));
        let persons = Self::snapshot(&registry, &vision)?;
        crate::metrics::models_loaded(&vision.manifest.models().cloned().collect::<Vec<_>>());
        Ok(Self {
            media: cfg.media.clone(),
            vision,
            store,
            registry,
            persons: RwLock::new(Arc::new(persons)),
            terms: TermLists::load(&cfg.policies.dir.join("lists"))?,
            match_threshold: cfg.persons.match_threshold,
            persons_generation: AtomicU64::new(0),
        })
    }

    fn snapshot(registry: &Registry, vision: &Vision) -> Result<Persons, PersonsError> {
        let (model, _) = vision.manifest.get(ModelKind::Embed);
        let (persons, stale) = registry.snapshot(&model.sha256)?;
        if stale > 0 {
            tracing::warn!(stale, "face embeddings from another embedding model are ignored: enrol those images again");
        }
        Ok(persons)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Where every decision is committed before it is returned.
    pub fn decisions(&self) -> &dyn DecisionLog {
        self.store.as_ref()
    }

    /// Rebuilds the in-memory persons snapshot after the registry changed.
    pub fn reload_persons(&self) -> Result<(), ScreenError> {
        let fresh = Arc::new(Self::snapshot(&self.registry, &self.vision)?);
        *self.persons.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.persons_generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Changes whenever the persons registry does, so caches can tell stale screenings.
    pub fn persons_generation(&self) -> u64 {
        self.persons_generation.load(Ordering::SeqCst)
    }

    fn persons(&self) -> Arc<Persons> {
        self.persons
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Embeds each image (exactly one usable face each) and, only if all succeed, stores them
    /// for the person. Returns the stored face ids.
    pub fn enrol(&self, person: PersonId, images: &[&Path]) -> Result<Vec<i64>, ScreenError> {
        self.registry.get(person)?;
        let (model, _) = self.vision.manifest.get(ModelKind::Embed);
        let embedded = images
            .iter()
            .map(|p| enrol::embed_image(&self.vision, p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(PersonsError::from)?;
        let ids = embedded
            .iter()
            .map(|e| {
                self.registry
                    .add_face(person, &e.image_sha256, &model.sha256, &e.embedding)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.reload_persons()?;
        Ok(ids)
    }

    /// Persons named and listed terms in a prompt.
    pub fn screen_prompt(&self, prompt: &str) -> PromptSignals {
        let normalized = normalize(prompt);
        let persons = self.persons();
        PromptSignals {
            persons: persons.gazetteer.find(prompt, &persons.people),
            terms: self.terms.find(prompt, &normalized),
        }
    }

    pub fn models(&self) -> Vec<ModelInfo> {
        self.vision.manifest.models().cloned().collect()
    }

    pub fn media_config(&self) -> &MediaConfig {
        &self.media
    }

    pub fn vision(&self) -> &Vision {
        &self.vision
    }

    /// Screens one clip. Any decode or inference error is returned: never a partial result.
    pub fn screen_clip(&self, path: &Path) -> Result<Signals, ScreenError> {
        let out = self.screen(path);
        match &out {
            Ok(s) => crate::metrics::screened(s),
            Err(e) => crate::metrics::SCREENINGS
                .with_label_values(&[e.code()])
                .inc(),
        }
        out
    }

    fn screen(&self, path: &Path) -> Result<Signals, ScreenError> {
        let started = Instant::now();
        let info = media::probe(path, &self.media)?;
        let probe_ms = ms(started);
        let (tx, rx) = mpsc::sync_channel::<SampledFrame>(QUEUE);
        let mut timings = StageTimings {
            probe_ms,
            ..Default::default()
        };
        let (sampling, mut frames) = std::thread::scope(|s| {
            let (info, media) = (&info, &self.media);
            // The sender moves into the decoder thread, so the channel closes when it ends.
            let decoder = s.spawn(move || media::sample(path, info, media, |f| tx.send(f).is_ok()));
            let analysed = self.analyse(&rx, &mut timings);
            // On an inference error, closing the channel stops the decoder at its next frame.
            drop(rx);
            let sampled = decoder.join().expect("decoder thread does not panic");
            match analysed {
                Ok(frames) => Ok((sampled?, frames)),
                Err(e) => Err(e),
            }
        })?;
        timings.decode_ms = sampling.decode_ms;
        timings.sample_ms = sampling.sample_ms;
        let persons = likeness::match_faces(&mut frames, &self.persons(), self.match_threshold);
        timings.total_ms = ms(started);
        let mut signals = Signals {
            media: info,
            sampling,
            frames,
            nudity: Default::default(),
            faces: Default::default(),
            persons,
            models: self.models(),
            timings,
        };
        signals.aggregate();
        Ok(signals)
    }

    /// Runs the models on frames as they arrive, batching whatever is already waiting.
    fn analyse(
        &self,
        rx: &mpsc::Receiver<SampledFrame>,
        t: &mut StageTimings,
    ) -> Result<Vec<FrameDetections>, ScreenError> {
        let mut out: Vec<FrameDetections> = Vec::new();
        let mut by_index: HashMap<u64, usize> = HashMap::new();
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < QUEUE {
                match rx.try_recv() {
                    Ok(f) => batch.push(f),
                    Err(_) => break,
                }
            }
            let images: Vec<&RgbImage> = batch
                .iter()
                .filter_map(|f| match &f.content {
                    FrameContent::Image(img) => Some(img),
                    FrameContent::DuplicateOf(_) => None,
                })
                .collect();
            // Nudity and faces are independent: run them side by side.
            let (nudity, faces) = std::thread::scope(|s| {
                let nudity = s.spawn(|| {
                    let t0 = Instant::now();
                    self.vision.nudity.detect(&images).map(|d| (d, ms(t0)))
                });
                let faces: Result<Vec<_>, ScreenError> =
                    images.iter().map(|img| self.faces(img, t)).collect();
                (nudity.join().expect("nudity thread does not panic"), faces)
            });
            let (nudity, nudity_ms) = nudity?;
            t.nudity_ms += nudity_ms;
            let mut nudity = nudity.into_iter();
            let mut faces = faces?.into_iter();
            for f in batch {
                let detections = match &f.content {
                    FrameContent::Image(_) => FrameDetections {
                        index: f.index,
                        time_s: f.time_s,
                        reasons: f.reasons,
                        duplicate_of: None,
                        nudity: nudity.next().expect("one result per image"),
                        faces: faces.next().expect("one result per image"),
                    },
                    FrameContent::DuplicateOf(of) => {
                        let original = &out[by_index[of]];
                        FrameDetections {
                            index: f.index,
                            time_s: f.time_s,
                            reasons: f.reasons,
                            duplicate_of: Some(*of),
                            nudity: original.nudity.clone(),
                            faces: original.faces.clone(),
                        }
                    }
                };
                by_index.insert(detections.index, out.len());
                out.push(detections);
            }
        }
        Ok(out)
    }

    /// Faces in one frame, each aligned and embedded unless too small.
    fn faces(
        &self,
        img: &RgbImage,
        t: &mut StageTimings,
    ) -> Result<Vec<FaceDetection>, ScreenError> {
        let t0 = Instant::now();
        let faces = self.vision.faces.detect(img)?;
        t.faces_ms += ms(t0);
        let t0 = Instant::now();
        let min = self.vision.min_embed_px;
        let usable: Vec<usize> = (0..faces.len())
            .filter(|&i| faces[i].bbox.w.min(faces[i].bbox.h) >= min)
            .collect();
        let chips: Vec<RgbImage> = usable
            .iter()
            .map(|&i| align::chip(img, &faces[i]))
            .collect();
        let mut embeddings = self.vision.embedder.embed(&chips)?.into_iter();
        let out = faces
            .into_iter()
            .enumerate()
            .map(|(i, face)| {
                let embedding = usable
                    .contains(&i)
                    .then(|| embeddings.next().expect("one per chip"));
                FaceDetection {
                    too_small: embedding.is_none(),
                    face,
                    person: None,
                    embedding,
                }
            })
            .collect();
        t.embed_ms += ms(t0);
        Ok(out)
    }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
