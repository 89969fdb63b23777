//! Faces and likeness: faces are detected, aligned and embedded per frame; at the end of the
//! clip every embedding is matched against the registry's snapshot of that moment.

use super::{Analyser, AnalyserError, Finding};
use crate::persons::{likeness, LivePersons};
use crate::vision::{align, Vision};
use crate::vocab::ModelKind;
use crate::vocab::{FaceDetection, FaceSummary, FrameDetections, ModelInfo, Signals, StageTimings};
use image::RgbImage;
use std::sync::Arc;
use std::time::Instant;

pub struct FacesAnalyser {
    vision: Arc<Vision>,
    persons: Arc<LivePersons>,
    match_threshold: f32,
}

impl FacesAnalyser {
    pub fn new(vision: Arc<Vision>, persons: Arc<LivePersons>, match_threshold: f32) -> Self {
        Self {
            vision,
            persons,
            match_threshold,
        }
    }

    /// Faces in one frame, each aligned and embedded unless too small.
    fn faces(
        &self,
        img: &RgbImage,
        t: &mut StageTimings,
    ) -> Result<Vec<FaceDetection>, AnalyserError> {
        let t0 = Instant::now();
        let faces = self.vision.faces.detect(img)?;
        t.add("faces", ms(t0));
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
        Ok(out)
    }
}

impl Analyser for FacesAnalyser {
    fn name(&self) -> &'static str {
        "faces"
    }

    fn analyse(
        &self,
        frames: &[&RgbImage],
        timings: &mut StageTimings,
    ) -> Result<Vec<Finding>, AnalyserError> {
        frames
            .iter()
            .map(|img| {
                let faces = self.faces(img, timings)?;
                Ok(Box::new(move |f: &mut FrameDetections| f.faces = faces) as Finding)
            })
            .collect()
    }

    /// Matches every embedded face against the registry as it is now, and sums up faces.
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        let (_, persons) = self.persons.current()?;
        signals.persons =
            likeness::match_faces(&mut signals.frames, &persons, self.match_threshold);
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

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
