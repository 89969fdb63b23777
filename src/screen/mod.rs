//! The orchestrator: a clip in, `Signals` out. Decoding runs on its own thread and hands
//! sampled frames to the analysers through a small bounded channel, so the two overlap; the
//! analysers run side by side on each batch. It knows analysers only through their trait.

mod live;

pub use live::Live;

use crate::analysers::{
    self, Analyser, AnalyserError, AudioInput, ClipFinding, ClipInput, Frame, FrameNeed, Input,
};
use crate::attest::c2pa::CredentialError;
use crate::banks::BanksError;
use crate::categories::{self, CategoriesError};
use crate::config::{Config, MediaConfig};
use crate::media::audio::AudioLimits;
use crate::media::{self, Changes, FrameContent, MediaError, SampledFrame};
use crate::persons::enrol::{self, Enrolment};
use crate::persons::voices::{self, VoiceEnrolment};
use crate::persons::PersonsError;
use crate::speech::whisper::TranscribeError;
use crate::speech::VoiceModels;
use crate::vision::{Vision, VisionError};
use crate::vocab::{AudioCoverage, ErrorCode, Failure, SectionError};
use crate::vocab::{FrameDetections, ModelInfo, SampleReason, Signals, StageTimings};
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
    #[error(transparent)]
    Speech(#[from] TranscribeError),
    #[error(transparent)]
    Section(#[from] SectionError),
    #[error(transparent)]
    Meaning(#[from] crate::meaning::MeaningError),
}

impl From<AnalyserError> for ScreenError {
    fn from(e: AnalyserError) -> Self {
        match e {
            AnalyserError::Vision(e) => ScreenError::Vision(e),
            AnalyserError::Persons(e) => ScreenError::Persons(e),
            AnalyserError::Categories(e) => ScreenError::Categories(e),
            AnalyserError::Speech(e) => ScreenError::Speech(e),
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
            ScreenError::Speech(_) => ErrorCode::Inference,
            ScreenError::Section(_) => ErrorCode::Internal,
            ScreenError::Meaning(e) => e.code(),
        }
    }
}

pub struct Screener {
    media: MediaConfig,
    vision: Arc<Vision>,
    analysers: Vec<Box<dyn Analyser>>,
    models: Vec<ModelInfo>,
    /// Voice activity and speaker models, when the manifest declares them.
    voices: Option<Arc<VoiceModels>>,
}

/// Frames waiting between the decoder and inference: enough to batch, small enough that a
/// 4K clip cannot pile up in memory.
const QUEUE: usize = 4;

impl Screener {
    /// The analysers `cfg` enables, on the verified models and the live snapshots.
    pub fn new(cfg: &Config, vision: Arc<Vision>, live: &Live) -> Result<Self, ScreenError> {
        let voices = VoiceModels::load(vision.runtime(), &vision.manifest)?.map(Arc::new);
        let analysers = analysers::load(&analysers::Deps {
            cfg,
            vision: &vision,
            persons: &live.persons,
            categories: &live.categories,
            credentials: &live.credentials,
            voices: voices.as_ref(),
        })?;
        let models = vision.manifest.models().cloned().collect();
        Ok(Self {
            media: cfg.media.clone(),
            vision,
            analysers,
            models,
            voices,
        })
    }

    /// The voice activity and speaker models (None when the manifest declares them not).
    pub fn voices(&self) -> Option<&Arc<VoiceModels>> {
        self.voices.as_ref()
    }

    /// Embeds each voice sample (one person speaking in each); nothing is stored.
    pub fn embed_voices(&self, samples: &[&Path]) -> Result<Vec<VoiceEnrolment>, ScreenError> {
        let models = self
            .voices
            .as_ref()
            .ok_or(enrol::EnrolError::NoVoiceModels)?;
        Ok(samples
            .iter()
            .map(|p| voices::embed_voice(models, p))
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// Every verified model file, whether or not its analyser is enabled.
    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }

    pub fn media_config(&self) -> &MediaConfig {
        &self.media
    }

    pub fn vision(&self) -> &Vision {
        &self.vision
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

    /// The enabled analysers' lines for a human summary of `signals`, in their order.
    pub fn summary(&self, signals: &Signals) -> Vec<String> {
        self.analysers
            .iter()
            .flat_map(|a| a.summary(signals))
            .collect()
    }

    /// The enabled analysers' words on one sampled frame, in their order.
    pub fn frame_summary(&self, frame: &FrameDetections) -> Vec<String> {
        self.analysers
            .iter()
            .filter_map(|a| a.frame_summary(frame))
            .collect()
    }

    /// Embeds example images for a category with the image encoder (loading it if needed).
    pub fn embed_examples(
        &self,
        images: &[&Path],
    ) -> Result<Vec<categories::Example>, ScreenError> {
        let encoder = self.vision.encoder()?;
        Ok(categories::embed_examples(encoder, images)?)
    }

    /// Embeds each enrolment image (exactly one usable face each); nothing is stored.
    pub fn embed_faces(&self, images: &[&Path]) -> Result<Vec<Enrolment>, ScreenError> {
        Ok(images
            .iter()
            .map(|p| enrol::embed_image(&self.vision, p))
            .collect::<Result<Vec<_>, _>>()?)
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
        let clip = ClipInput { path, media: &info };
        let (sampling, frames, clip_findings) = std::thread::scope(|s| {
            let (info, media) = (&info, &self.media);
            // The sender moves into the decoder thread, so the channel closes when it ends.
            let decoder = s.spawn(move || media::sample(path, info, media, |f| tx.send(f).is_ok()));
            let whole = s.spawn(|| self.whole_clip(&clip));
            let analysed = self.analyse(&rx, &mut timings);
            // On an inference error, closing the channel stops the decoder at its next frame.
            drop(rx);
            let sampled = decoder.join().expect("decoder thread does not panic");
            let inspected = whole.join().expect("clip analysers do not panic");
            let (findings, clip_timings, audio) = inspected?;
            timings.merge(&clip_timings);
            let mut sampled = sampled?;
            sampled.coverage.add_audio(audio);
            Ok::<_, ScreenError>((sampled, analysed?, findings))
        })?;
        timings.decode_ms = sampling.decode_ms;
        timings.sample_ms = sampling.sample_ms;
        let mut signals = Signals {
            media: info,
            sampling,
            frames,
            models: self.models.clone(),
            timings,
            sections: Default::default(),
        };
        for finding in clip_findings {
            finding(&mut signals);
        }
        for a in &self.analysers {
            let t0 = Instant::now();
            a.finish(&mut signals)?;
            signals.timings.add(a.name(), ms(t0));
        }
        signals.timings.total_ms = ms(started);
        Ok(signals)
    }

    /// The analysers of the clip as a whole, one after the other (each takes milliseconds),
    /// then the soundtrack, decoded once per rate asked for and handed to the analysers that
    /// listen: their findings, their stage times and the soundtrack's coverage.
    fn whole_clip(
        &self,
        clip: &ClipInput<'_>,
    ) -> Result<(Vec<ClipFinding>, StageTimings, AudioCoverage), ScreenError> {
        let mut t = StageTimings::default();
        let mut out = Vec::new();
        for a in &self.analysers {
            if a.input() == Input::Clip {
                out.push(a.inspect(clip, &mut t)?);
            }
        }
        let mut rates: Vec<u32> = Vec::new();
        for a in &self.analysers {
            if let Input::Audio { sample_rate } = a.input() {
                if !rates.contains(&sample_rate) {
                    rates.push(sample_rate);
                }
            }
        }
        let streams = clip.media.audio_streams;
        // No sound, or nobody to listen: the file is not opened again.
        if rates.is_empty() || streams == 0 {
            let why = "no analyser listens to sound (speech.enabled is off, or its models are not declared)";
            return Ok((out, t, AudioCoverage::unscreened(streams, why)));
        }
        let mut coverage = None;
        for rate in rates {
            let t0 = Instant::now();
            let limits = AudioLimits {
                sample_rate: rate,
                // As long as the longest clip accepted, with room for a soundtrack that
                // overruns its pictures a little.
                max_duration_s: self.media.max_duration_s + 10.0,
                ..AudioLimits::default()
            };
            let decoded = media::audio::decode(clip.path, &limits)?;
            t.add("audio_decode", ms(t0));
            let input = AudioInput {
                tracks: &decoded.tracks,
                coverage: &decoded.coverage,
            };
            for a in &self.analysers {
                if a.input() == (Input::Audio { sample_rate: rate }) {
                    out.push(a.listen(&input, &mut t)?);
                }
            }
            coverage.get_or_insert(decoded.coverage);
        }
        Ok((out, t, coverage.expect("at least one rate")))
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
            let mut images: Vec<(&RgbImage, bool, f64, Option<&Changes>)> = Vec::new();
            let mut stream: Vec<Sampled<'_>> = Vec::new();
            for f in &batch {
                match &f.content {
                    FrameContent::Image(img) => {
                        // A flash is looked at as a scene start: by every analyser, closely.
                        let scene = first
                            || f.reasons.contains(&SampleReason::SceneCut)
                            || f.reasons.contains(&SampleReason::Flash);
                        images.push((img, scene, f.time_s, f.changed.as_ref()));
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
                let (s, l) = match a.input() {
                    Input::Frames(need) => sp.select(need, &stream),
                    Input::Clip | Input::Audio { .. } => Default::default(),
                };
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
                    parts: Default::default(),
                    scratch: Default::default(),
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
                                changed: None,
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
        images: &[(&RgbImage, bool, f64, Option<&Changes>)],
        slots: Vec<Vec<usize>>,
    ) -> Result<Vec<(StageTimings, Vec<usize>, Vec<analysers::Finding>)>, ScreenError> {
        let run = |a: &dyn Analyser, slots: Vec<usize>| {
            let frames: Vec<Frame<'_>> = slots
                .iter()
                .map(|&i| Frame {
                    image: images[i].0,
                    scene_start: images[i].1,
                    changed: images[i].3,
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
            // An analyser with no frame in this batch gets no thread.
            let others: Vec<_> = self
                .analysers
                .iter()
                .skip(1)
                .zip(slots)
                .map(|(a, sl)| {
                    if sl.is_empty() {
                        Err(sl)
                    } else {
                        Ok(s.spawn(move || run(a.as_ref(), sl)))
                    }
                })
                .collect();
            let mut all: Vec<_> = self
                .analysers
                .first()
                .zip(head)
                .map(|(a, sl)| run(a.as_ref(), sl))
                .into_iter()
                .collect();
            all.extend(others.into_iter().map(|h| match h {
                Ok(h) => h.join().expect("analyser threads do not panic"),
                Err(sl) => Ok((StageTimings::default(), sl, Vec::new())),
            }));
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

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
