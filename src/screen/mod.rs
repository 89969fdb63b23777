//! The orchestrator: a clip in, `Signals` out. Decoding runs on its own thread and hands
//! sampled frames to the analysers through a small bounded channel, so the two overlap; the
//! analysers run side by side on each batch. It knows analysers only through their trait.

use crate::analysers::{self, Analyser, AnalyserError, Frame, FrameNeed};
use crate::attest::c2pa::{CredentialError, Credentials};
use crate::banks::{Banks, BanksError, LiveBanks};
use crate::categories::{self, Categories, CategoriesError, LiveCategories};
use crate::config::{Config, HashesConfig, MediaConfig};
use crate::media::{self, FrameContent, MediaError, SampledFrame};
use crate::persons::enrol::{self, Enrolment};
use crate::persons::{LivePersons, PersonsError, Registry};
use crate::text::terms::TermLists;
use crate::vision::{Vision, VisionError};
use crate::vocab::{ErrorCode, Failure, ModelKind};
use crate::vocab::{
    FrameDetections, ModelInfo, PromptSignals, SampleReason, Signals, StageTimings, TextNameMatch,
    TextSignals, TextTermMatch,
};
use image::RgbImage;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error(transparent)]
    Vision(#[from] VisionError),
    #[error(transparent)]
    Persons(#[from] PersonsError),
    #[error(transparent)]
    Enrol(#[from] enrol::EnrolError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Categories(#[from] CategoriesError),
    #[error(transparent)]
    Banks(#[from] BanksError),
}

impl From<AnalyserError> for ScreenError {
    fn from(e: AnalyserError) -> Self {
        match e {
            AnalyserError::Vision(e) => ScreenError::Vision(e),
            AnalyserError::Persons(e) => ScreenError::Persons(e),
            AnalyserError::Categories(e) => ScreenError::Categories(e),
        }
    }
}

impl Failure for ScreenError {
    fn code(&self) -> ErrorCode {
        match self {
            ScreenError::Media(e) => e.code(),
            ScreenError::Vision(_) => ErrorCode::Inference,
            ScreenError::Persons(e) => e.code(),
            ScreenError::Enrol(e) => e.code(),
            ScreenError::Credentials(e) => e.code(),
            ScreenError::Categories(e) => e.code(),
            ScreenError::Banks(e) => e.code(),
        }
    }
}

pub struct Screener {
    media: MediaConfig,
    vision: Arc<Vision>,
    analysers: Vec<Box<dyn Analyser>>,
    persons: Arc<LivePersons>,
    categories: Arc<LiveCategories>,
    banks: Arc<LiveBanks>,
    hashes: HashesConfig,
    models: Vec<ModelInfo>,
    /// Reads each clip's Content Credentials against the trust anchors, and signs.
    credentials: Arc<Credentials>,
}

/// Frames waiting between the decoder and inference: enough to batch, small enough that a
/// 4K clip cannot pile up in memory.
const QUEUE: usize = 4;

impl Screener {
    /// Loads and verifies the models, and takes a snapshot of `registry` for matching (faces
    /// embedded by another model than the one loaded are left out).
    pub fn load(
        cfg: &Config,
        registry: Registry,
        categories: Categories,
        banks: Banks,
    ) -> Result<Self, ScreenError> {
        let vision = Arc::new(Vision::load(cfg)?);
        let embed_model = vision.manifest.get(ModelKind::Embed).0.sha256.clone();
        let persons = Arc::new(LivePersons::load(registry, embed_model)?);
        let encoder = vision.encoder_model().map(|m| m.sha256.clone());
        let categories = Arc::new(LiveCategories::load(
            categories,
            encoder.unwrap_or_default(),
        )?);
        let analysers = analysers::load(cfg, &vision, &persons, &categories);
        let models = vision.manifest.models().cloned().collect();
        let banks = Arc::new(LiveBanks::load(banks, cfg.hashes.min_quality)?);
        let credentials = Arc::new(Credentials::load_or_create(&cfg.data_dir, &cfg.c2pa)?);
        Ok(Self {
            media: cfg.media.clone(),
            vision,
            analysers,
            persons,
            categories,
            banks,
            hashes: cfg.hashes.clone(),
            models,
            credentials,
        })
    }

    /// Every verified model file, whether or not its analyser is enabled.
    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }

    pub fn persons(&self) -> &Arc<LivePersons> {
        &self.persons
    }

    pub fn banks(&self) -> &Arc<LiveBanks> {
        &self.banks
    }

    pub fn media_config(&self) -> &MediaConfig {
        &self.media
    }

    pub fn vision(&self) -> &Vision {
        &self.vision
    }

    pub fn credentials(&self) -> &Arc<Credentials> {
        &self.credentials
    }

    /// The fields of the policy view that screenings fill: the core ones and the enabled
    /// analysers', with the keys below them known at load (`classifiers.open_nsfw.nsfw`).
    pub fn policy_fields(&self) -> Vec<String> {
        let mut out: Vec<String> = analysers::CORE_POLICY_FIELDS
            .iter()
            .map(|f| f.to_string())
            .collect();
        for a in &self.analysers {
            out.extend(a.policy_fields().iter().map(|f| f.to_string()));
            out.extend(a.policy_keys());
        }
        out
    }

    /// The categories defined by example, as screening sees them.
    pub fn categories(&self) -> &Arc<LiveCategories> {
        &self.categories
    }

    /// The category set's version as of now (rebuilding the set if it changed); empty while
    /// none is defined.
    pub fn categories_version(&self) -> Result<String, ScreenError> {
        Ok(self.categories.current()?.version.clone())
    }

    /// Embeds example images for a category with the image encoder (loading it if needed).
    pub fn embed_examples(
        &self,
        images: &[&Path],
    ) -> Result<Vec<categories::Example>, ScreenError> {
        let encoder = self.vision.encoder()?;
        Ok(categories::embed_examples(encoder, images)?)
    }

    /// The registry's generation as of now (refreshing the snapshot if it moved).
    pub fn persons_generation(&self) -> Result<u64, ScreenError> {
        Ok(self.persons.current()?.0)
    }

    /// Embeds each enrolment image (exactly one usable face each); nothing is stored.
    pub fn embed_faces(&self, images: &[&Path]) -> Result<Vec<Enrolment>, ScreenError> {
        Ok(images
            .iter()
            .map(|p| enrol::embed_image(&self.vision, p))
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// Persons named, and terms of `terms` (the lists of the policy deciding), in a prompt.
    pub fn screen_prompt(
        &self,
        prompt: &str,
        terms: &TermLists,
    ) -> Result<PromptSignals, ScreenError> {
        let (_, persons) = self.persons.current()?;
        Ok(crate::text::with_words(prompt, |words| PromptSignals {
            text: prompt.to_string(),
            persons: persons.gazetteer.find(words, &persons.people),
            terms: terms.find(words),
        }))
    }

    /// Registered persons and terms of `terms` named by the text read on screen, matched line by
    /// line as prompts are.
    pub fn screen_text(
        &self,
        text: &mut TextSignals,
        terms: &TermLists,
    ) -> Result<(), ScreenError> {
        let (_, persons) = self.persons.current()?;
        text.persons.clear();
        text.terms.clear();
        for track in &text.tracks {
            let named = crate::text::with_words(&title_case_capitals(&track.text), |words| {
                persons.gazetteer.find(words, &persons.people)
            });
            text.persons
                .extend(named.into_iter().map(|m| TextNameMatch::new(m, track)));
            let listed = crate::text::with_words(&track.text, |words| terms.find(words));
            text.terms
                .extend(listed.into_iter().map(|t| TextTermMatch::new(t, track)));
        }
        Ok(())
    }

    /// The banks' generation as of now (refreshing the snapshot if it moved).
    pub fn banks_generation(&self) -> Result<u64, ScreenError> {
        Ok(self.banks.generation()?)
    }

    /// The bank items the clip's frame hashes match, against the banks as they are now
    /// (`hash_matches`, with the time taken as the `hash_match` stage).
    pub fn screen_hashes(&self, signals: &mut Signals) -> Result<(), ScreenError> {
        let t0 = Instant::now();
        let set = self.banks.current()?;
        signals.hash_matches = set.match_clip(
            &signals.frames,
            self.hashes.max_distance,
            self.hashes.min_quality,
        );
        signals.timings.add("hash_match", ms(t0));
        Ok(())
    }

    /// Screens one clip. Any decode or inference error is returned: never a partial result.
    pub fn screen_clip(&self, path: &Path) -> Result<Signals, ScreenError> {
        let out = self.screen(path);
        match &out {
            Ok(s) => {
                crate::metrics::screening("ok");
                for (stage, ms) in s.timings.all() {
                    crate::metrics::stage_time(stage, ms / 1e3);
                }
                let f = &s.sampling;
                for (fate, n) in [
                    ("decoded", f.decoded_frames),
                    ("sampled", f.sampled_frames),
                    ("analysed", f.analysed_frames),
                    ("duplicate", f.duplicate_frames),
                    ("over_budget", f.over_budget_frames),
                    (
                        "not_decoded",
                        s.media.frames.saturating_sub(f.decoded_frames),
                    ),
                ] {
                    crate::metrics::frames(fate, n);
                }
            }
            Err(e) => crate::metrics::screening(e.code().as_str()),
        }
        out
    }

    fn screen(&self, path: &Path) -> Result<Signals, ScreenError> {
        let started = Instant::now();
        let info = media::probe(path, &self.media)?;
        let mut timings = StageTimings {
            probe_ms: ms(started),
            ..Default::default()
        };
        let (tx, rx) = mpsc::sync_channel::<SampledFrame>(QUEUE);
        let (sampling, frames) = std::thread::scope(|s| {
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
        let mut signals = Signals {
            media: info,
            sampling,
            frames,
            nudity: Default::default(),
            faces: Default::default(),
            persons: Vec::new(),
            text: Default::default(),
            provenance: Default::default(),
            classifiers: Default::default(),
            categories: Default::default(),
            categories_version: None,
            hash_matches: Vec::new(),
            models: self.models.clone(),
            timings,
        };
        let t0 = Instant::now();
        signals.provenance = self.credentials.read(path);
        signals.timings.add("provenance", ms(t0));
        for a in &self.analysers {
            let t0 = Instant::now();
            a.finish(&mut signals)?;
            signals.timings.add(a.name(), ms(t0));
        }
        signals.timings.total_ms = ms(started);
        Ok(signals)
    }

    /// Runs the analysers on frames as they arrive, batching whatever is already waiting.
    fn analyse(
        &self,
        rx: &mpsc::Receiver<SampledFrame>,
        t: &mut StageTimings,
    ) -> Result<Vec<FrameDetections>, ScreenError> {
        let mut out: Vec<FrameDetections> = Vec::new();
        let mut by_index: HashMap<u64, usize> = HashMap::new();
        let mut first = true;
        let mut spaced: Vec<Spacing> = self.analysers.iter().map(|_| Spacing::default()).collect();
        while let Ok(head) = rx.recv() {
            let mut batch = vec![head];
            while batch.len() < QUEUE {
                match rx.try_recv() {
                    Ok(f) => batch.push(f),
                    Err(_) => break,
                }
            }
            // The distinct frames of this batch, which of them start a scene, and when.
            let mut images: Vec<(&RgbImage, bool, f64)> = Vec::new();
            let mut stream: Vec<Sampled<'_>> = Vec::new();
            for f in &batch {
                match &f.content {
                    FrameContent::Image(img) => {
                        // A flash is looked at as a scene start: by every analyser, closely.
                        let scene = first
                            || f.reasons.contains(&SampleReason::SceneCut)
                            || f.reasons.contains(&SampleReason::Flash);
                        images.push((img, scene, f.time_s));
                        stream.push(Sampled::Distinct(f.index, img, scene, f.time_s));
                        first = false;
                    }
                    FrameContent::DuplicateOf(of) => stream.push(Sampled::Repeat(*of, f.time_s)),
                }
            }
            // Per analyser: the distinct frames it looks at, and held frames it looks at when
            // a repeat of them comes due (keyed by the repeat's position in the batch).
            let mut slots: Vec<Vec<usize>> = Vec::new();
            let mut late: Vec<Vec<(usize, RgbImage)>> = Vec::new();
            for (a, sp) in self.analysers.iter().zip(&mut spaced) {
                let (s, l) = sp.select(a.frames(), &stream);
                slots.push(s);
                late.push(l);
            }
            let mut fresh: Vec<FrameDetections> = batch
                .iter()
                .filter(|f| matches!(f.content, FrameContent::Image(_)))
                .map(|f| FrameDetections {
                    index: f.index,
                    time_s: f.time_s,
                    reasons: f.reasons.clone(),
                    duplicate_of: None,
                    nudity: Vec::new(),
                    faces: Vec::new(),
                    smallest_face_px: None,
                    text: Vec::new(),
                    classifiers: Default::default(),
                    categories: Default::default(),
                    pdq: None,
                    pdq_centre: None,
                })
                .collect();
            let results = self.run_analysers(&images, slots)?;
            for (stage_times, slots, findings) in results {
                t.merge(&stage_times);
                for (slot, finding) in slots.into_iter().zip(findings) {
                    finding(&mut fresh[slot]);
                }
            }
            drop(images);
            let mut fresh = fresh.into_iter();
            for (pos, f) in batch.into_iter().enumerate() {
                let detections = match f.content {
                    FrameContent::Image(_) => fresh.next().expect("one per distinct frame"),
                    FrameContent::DuplicateOf(of) => {
                        // A spaced analyser now due looks at the frame this one repeats, and
                        // what it finds is that frame's (and so its repeats') as well.
                        for (a, held) in self.analysers.iter().zip(&mut late) {
                            let Some(i) = held.iter().position(|(p, _)| *p == pos) else {
                                continue;
                            };
                            let (_, image) = held.swap_remove(i);
                            let mut stage = StageTimings::default();
                            let frame = Frame {
                                image: &image,
                                scene_start: false,
                            };
                            for finding in a.analyse(&[frame], &mut stage)? {
                                finding(&mut out[by_index[&of]]);
                            }
                            t.merge(&stage);
                        }
                        FrameDetections {
                            index: f.index,
                            time_s: f.time_s,
                            reasons: f.reasons,
                            duplicate_of: Some(of),
                            ..out[by_index[&of]].clone()
                        }
                    }
                };
                by_index.insert(detections.index, out.len());
                out.push(detections);
            }
        }
        Ok(out)
    }

    /// Each analyser on the frames it needs, side by side: the first on this thread, the others
    /// on scoped threads. Returns, per analyser, its stage times, the frames it saw and its
    /// findings for them.
    #[allow(clippy::type_complexity)]
    fn run_analysers(
        &self,
        images: &[(&RgbImage, bool, f64)],
        slots: Vec<Vec<usize>>,
    ) -> Result<Vec<(StageTimings, Vec<usize>, Vec<analysers::Finding>)>, ScreenError> {
        let run = |a: &dyn Analyser, slots: Vec<usize>| {
            let frames: Vec<Frame<'_>> = slots
                .iter()
                .map(|&i| Frame {
                    image: images[i].0,
                    scene_start: images[i].1,
                })
                .collect();
            let mut t = StageTimings::default();
            if frames.is_empty() {
                return Ok((t, slots, Vec::new()));
            }
            let findings = a.analyse(&frames, &mut t)?;
            Ok::<_, AnalyserError>((t, slots, findings))
        };
        let results = std::thread::scope(|s| {
            let mut slots = slots.into_iter();
            let head = slots.next();
            let others: Vec<_> = self
                .analysers
                .iter()
                .skip(1)
                .zip(slots)
                .map(|(a, sl)| s.spawn(move || run(a.as_ref(), sl)))
                .collect();
            let mut all: Vec<_> = self
                .analysers
                .first()
                .zip(head)
                .map(|(a, sl)| run(a.as_ref(), sl))
                .into_iter()
                .collect();
            all.extend(
                others
                    .into_iter()
                    .map(|h| h.join().expect("analyser threads do not panic")),
            );
            all
        });
        Ok(results.into_iter().collect::<Result<Vec<_>, _>>()?)
    }
}

/// A sampled frame in a batch, as frame selection sees it.
#[derive(Clone, Copy)]
enum Sampled<'a> {
    /// Index, image, whether it starts a scene, time.
    Distinct(u64, &'a RgbImage, bool, f64),
    /// A near-duplicate of the frame with this index, at this time.
    Repeat(u64, f64),
}

/// When a spaced analyser last looked, and the distinct frame it skipped most recently (a
/// copy: its near-duplicates may come due in a later batch).
#[derive(Default)]
struct Spacing {
    last_s: Option<f64>,
    held: Option<(u64, RgbImage)>,
}

impl Spacing {
    /// For one batch, in time order: the distinct frames (by position among them) an analyser
    /// with `need` looks at, and for a spaced one the held frames it looks at instead of a
    /// repeat of them that comes due (by the repeat's position in the batch).
    fn select(
        &mut self,
        need: FrameNeed,
        stream: &[Sampled<'_>],
    ) -> (Vec<usize>, Vec<(usize, RgbImage)>) {
        let (mut slots, mut late) = (Vec::new(), Vec::new());
        let mut distinct = 0;
        for (pos, s) in stream.iter().enumerate() {
            match (*s, need) {
                (Sampled::Distinct(..), FrameNeed::Every) => slots.push(distinct),
                (Sampled::Distinct(_, _, scene, _), FrameNeed::SceneChanges) => {
                    if scene {
                        slots.push(distinct);
                    }
                }
                (
                    Sampled::Distinct(index, image, scene, time),
                    FrameNeed::Spaced { interval_s },
                ) => {
                    if scene || self.due(time, interval_s) {
                        self.last_s = Some(time);
                        self.held = None;
                        slots.push(distinct);
                    } else {
                        self.held = Some((index, image.clone()));
                    }
                }
                (Sampled::Repeat(of, time), FrameNeed::Spaced { interval_s }) => {
                    let repeats_held = self.held.as_ref().is_some_and(|(i, _)| *i == of);
                    if repeats_held && self.due(time, interval_s) {
                        self.last_s = Some(time);
                        let (_, image) = self.held.take().expect("held");
                        late.push((pos, image));
                    }
                }
                (Sampled::Repeat(..), _) => {}
            }
            if matches!(s, Sampled::Distinct(..)) {
                distinct += 1;
            }
        }
        (slots, late)
    }

    fn due(&self, time: f64, interval_s: f64) -> bool {
        self.last_s.is_none_or(|last| time - last >= interval_s)
    }
}

/// Captions are often set in capitals, which hides the capitalisation that tells a name from
/// ordinary words ("EILEEN COLLINS" would read like "eileen collins"); a line with capitals and
/// no lower case is matched in title case.
fn title_case_capitals(line: &str) -> std::borrow::Cow<'_, str> {
    if line.chars().any(char::is_lowercase) || !line.chars().any(char::is_uppercase) {
        return line.into();
    }
    let mut out = String::with_capacity(line.len());
    let mut in_word = false;
    for c in line.chars() {
        if in_word {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        in_word = c.is_alphabetic();
    }
    out.into()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::title_case_capitals;

    #[test]
    fn lines_in_capitals_are_matched_in_title_case() {
        assert_eq!(
            title_case_capitals("EILEEN COLLINS LIVE"),
            "Eileen Collins Live"
        );
        assert_eq!(
            title_case_capitals("O'NEILL: ÉTÉ 2024"),
            "O'Neill: Été 2024"
        );
        assert_eq!(title_case_capitals("Eileen COLLINS"), "Eileen COLLINS");
        assert_eq!(title_case_capitals("2024 - 25"), "2024 - 25");
    }
}
