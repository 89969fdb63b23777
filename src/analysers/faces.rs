//! Faces and likeness: faces are detected, aligned and embedded per frame; at the end of the
//! clip every embedding is matched against the registry's snapshot of that moment.
//!
//! Detection runs on frames scaled down to `faces.max_side`, which misses a person standing in
//! a wide shot; the first frame of each scene is searched instead at the scale that finds faces
//! of `faces.scene_min_face_px`. Each frame records how small a face it could reveal, and the
//! clip's coverage sums that up.

use super::{Analyser, AnalyserError, Deps, Finding, Frame, Registration};
use crate::config::PersonsConfig;
use crate::persons::{likeness, LivePersons};
use crate::vision::{align, FaceDetector, Vision};
use crate::vocab::ModelKind;
use crate::vocab::{
    FaceDetection, FaceReach, FaceSummary, FrameDetections, ModelInfo, SampleReason, Signals,
    StageTimings,
};
use image::RgbImage;
use std::sync::Arc;
use std::time::Instant;

pub struct FacesAnalyser {
    vision: Arc<Vision>,
    persons: Arc<LivePersons>,
    /// Match thresholds, by face size.
    matching: PersonsConfig,
    /// The face size scene starts are searched for (0: no closer look).
    scene_min_face_px: f32,
}

impl FacesAnalyser {
    pub fn new(
        vision: Arc<Vision>,
        persons: Arc<LivePersons>,
        matching: PersonsConfig,
        scene_min_face_px: f32,
    ) -> Self {
        Self {
            vision,
            persons,
            matching,
            scene_min_face_px,
        }
    }

    /// Faces in one frame, each aligned and embedded unless too small, and the smallest face
    /// the frame could reveal at the scale it was searched at.
    fn faces(
        &self,
        frame: &Frame<'_>,
        t: &mut StageTimings,
    ) -> Result<(Vec<FaceDetection>, f32), AnalyserError> {
        let img = frame.image;
        let (w, h) = img.dimensions();
        let detector = &self.vision.faces;
        let t0 = Instant::now();
        let max_side = if frame.scene_start && self.scene_min_face_px > 0.0 {
            let side = detector.max_side_for(self.scene_min_face_px, w, h);
            let faces = detector.detect_at(img, side)?;
            t.add("faces_scene_start", ms(t0));
            (faces, side)
        } else {
            let faces = detector.detect(img)?;
            t.add("faces", ms(t0));
            (faces, detector.max_side())
        };
        let (faces, max_side) = max_side;
        let smallest = FaceDetector::smallest_face_px(max_side, w, h);
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
        t.add("embed", ms(t0));
        Ok((out, smallest))
    }
}

pub(super) const REGISTRATION: Registration = Registration {
    section: None,
    build,
};

fn build(d: &Deps<'_>) -> Option<Box<dyn Analyser>> {
    d.cfg.faces.enabled.then(|| {
        Box::new(FacesAnalyser::new(
            d.vision.clone(),
            d.persons.clone(),
            d.cfg.persons.clone(),
            d.cfg.faces.scene_min_face_px,
        )) as Box<dyn Analyser>
    })
}

impl Analyser for FacesAnalyser {
    fn name(&self) -> &'static str {
        "faces"
    }

    fn analyse(
        &self,
        frames: &[Frame<'_>],
        timings: &mut StageTimings,
    ) -> Result<Vec<Finding>, AnalyserError> {
        frames
            .iter()
            .map(|frame| {
                let (faces, smallest) = self.faces(frame, timings)?;
                Ok(Box::new(move |f: &mut FrameDetections| {
                    f.faces = faces;
                    f.smallest_face_px = Some(smallest);
                }) as Finding)
            })
            .collect()
    }

    /// Matches every embedded face against the registry as it is now, and sums up faces.
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        let (_, persons) = self.persons.current()?;
        signals.persons = likeness::match_faces(&mut signals.frames, &persons, |px| {
            self.matching.threshold_for(px)
        });
        let mut summary = FaceSummary::default();
        for f in &signals.frames {
            if !f.faces.is_empty() {
                summary.frames_with_faces += 1;
                summary.max_faces_in_frame = summary.max_faces_in_frame.max(f.faces.len() as u32);
            }
            if f.duplicate_of.is_none() {
                for face in &f.faces {
                    if face.too_small {
                        summary.faces_too_small += 1;
                    } else {
                        summary.faces_embedded += 1;
                    }
                }
            }
        }
        signals.faces = summary;
        signals.sampling.coverage.faces = reach(&signals.frames);
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &["faces", "persons"]
    }

    fn models(&self) -> Vec<ModelInfo> {
        [ModelKind::Faces, ModelKind::Embed]
            .into_iter()
            .map(|k| self.vision.manifest.get(k).0.clone())
            .collect()
    }
}

/// The face sizes looked for in every analysed frame and at scene starts: the largest of the
/// per-frame figures, since a figure holds only where every frame reached it.
fn reach(frames: &[FrameDetections]) -> Option<FaceReach> {
    let mut every: Option<f32> = None;
    let mut scenes: Option<f32> = None;
    // Scene starts as the orchestrator marks them: the first distinct frame and every cut.
    let distinct = frames.iter().filter(|f| f.duplicate_of.is_none());
    for (i, f) in distinct.enumerate() {
        let Some(px) = f.smallest_face_px else {
            continue;
        };
        every = Some(every.map_or(px, |e| e.max(px)));
        if i == 0 || f.reasons.contains(&SampleReason::SceneCut) {
            scenes = Some(scenes.map_or(px, |e| e.max(px)));
        }
    }
    every.map(|every_frame_px| FaceReach {
        every_frame_px,
        scene_starts_px: scenes.unwrap_or(every_frame_px),
    })
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
