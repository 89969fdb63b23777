//! Faces and likeness: faces are detected, aligned and embedded per frame; at the end of the
//! clip every embedding is matched against the registry's snapshot of that moment.
//!
//! Detection runs on frames scaled down to `faces.max_side`, which misses a person standing in
//! a wide shot; the first frame of each scene is searched instead at the scale that finds faces
//! of `faces.scene_min_face_px`, and so are the parts of any other analysed frame that changed
//! since the one before (`faces.changed_max_tiles`): a face that walks in is found without
//! waiting for a cut. Each frame records how small a face it could reveal over its whole area,
//! and the clip's coverage sums that up.
//!
//! Its sections: `signals.faces` (counts), `signals.persons` (the registered persons seen),
//! and per frame `frames[].faces` and `frames[].smallest_face_px`. The embeddings stay in the
//! process (frame scratch) until the clip's faces are matched.

use super::{Analyser, AnalyserError, Built, Deps, Finding, Frame, Registration};
use crate::config::PersonsConfig;
use crate::config::{Settings, SettingsSpec};
use crate::media::Changes;
use crate::persons::{likeness, LivePersons};
use crate::vision::faces::TILE_INPUT;
use crate::vision::{align, FaceDetector, Vision};
use crate::vocab::ModelKind;
use crate::vocab::{
    BBox, FaceDetection, FaceReach, FaceSummary, FrameDetections, ModelInfo, PersonKind,
    PersonSighting, SampleReason, SectionSchema, Signals, StageTimings,
};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

const KEY: &str = "faces";
const PERSONS: &str = "persons";
const SMALLEST: &str = "smallest_face_px";

/// The faces found in a frame (none when the analyser did not run): with their embeddings
/// in the process that screened it, as recorded otherwise.
pub fn faces_in(f: &FrameDetections) -> Vec<FaceDetection> {
    match f.scratch.get::<Vec<FaceDetection>>(KEY) {
        Some(faces) => faces.clone(),
        None => f.parts.get(KEY).unwrap_or_default(),
    }
}

/// The clip's face counts.
pub fn face_summary(s: &Signals) -> FaceSummary {
    s.sections.get(KEY).unwrap_or_default()
}

/// The registered persons whose face was matched in the clip, closest first.
pub fn sightings(s: &Signals) -> Vec<PersonSighting> {
    s.sections.get(PERSONS).unwrap_or_default()
}

pub struct FacesAnalyser {
    vision: Arc<Vision>,
    persons: Arc<LivePersons>,
    /// Match thresholds, by face size.
    matching: PersonsConfig,
    /// The face size scene starts are searched for (0: no closer look).
    scene_min_face_px: f32,
    /// Tiles of the changed parts of a frame searched as closely, at most (0: none).
    changed_max_tiles: usize,
}

impl FacesAnalyser {
    pub fn new(
        vision: Arc<Vision>,
        persons: Arc<LivePersons>,
        matching: PersonsConfig,
        scene_min_face_px: f32,
        changed_max_tiles: usize,
    ) -> Self {
        Self {
            vision,
            persons,
            matching,
            scene_min_face_px,
            changed_max_tiles,
        }
    }

    /// Tiles (x, y, side; frame pixels) over the parts of a `w`x`h` frame that changed, for a
    /// look at the scene starts' scale: each part widened by the largest face the whole-frame
    /// look can miss, so such a face touching the change lies whole in a tile. None where the
    /// whole-frame look reaches as far, or where the change needs more than
    /// `changed_max_tiles`: change all over the frame is the camera moving (a zoom changes a
    /// quarter to half of the blocks), not someone walking in, and what it shows was mostly
    /// looked at already.
    fn changed_tiles(&self, (w, h): (u32, u32), changed: &Changes) -> Vec<(u32, u32, u32)> {
        let detector = &self.vision.faces;
        let close = detector.max_side_for(self.scene_min_face_px, w, h);
        if self.changed_max_tiles == 0
            || self.scene_min_face_px <= 0.0
            || close <= detector.max_side()
        {
            return Vec::new();
        }
        let scale = close as f32 / w.max(h) as f32;
        let side = ((TILE_INPUT as f32 / scale).round() as u32).min(w).min(h);
        let margin = FaceDetector::smallest_face_px(detector.max_side(), w, h);
        let (cols, rows) = Changes::GRID;
        let reach = |len: u32, n: usize| (margin * n as f32 / len as f32).ceil() as usize;
        let parts: Vec<[f32; 4]> = changed
            .regions(reach(w, cols), reach(h, rows))
            .into_iter()
            .map(|r| {
                [
                    r[0] * w as f32 - margin,
                    r[1] * h as f32 - margin,
                    r[2] * w as f32 + margin,
                    r[3] * h as f32 + margin,
                ]
            })
            .collect();
        let mut tiles = Vec::new();
        for p in parts {
            let xs = spans(p[0], p[2], side, w, margin);
            let ys = spans(p[1], p[3], side, h, margin);
            if tiles.len() + xs.len() * ys.len() > self.changed_max_tiles {
                return Vec::new();
            }
            for &y in &ys {
                tiles.extend(xs.iter().map(|&x| (x, y, side)));
            }
        }
        tiles
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
        let (mut faces, max_side) = max_side;
        let smallest = FaceDetector::smallest_face_px(max_side, w, h);
        if let Some(changed) = frame.changed.filter(|_| !frame.scene_start) {
            let tiles = self.changed_tiles((w, h), changed);
            if !tiles.is_empty() {
                let t0 = Instant::now();
                // A face much larger than the whole-frame look can miss is that look's to find;
                // in a tile it is a part of one cut by the tile's edge.
                let largest = 2.0 * FaceDetector::smallest_face_px(detector.max_side(), w, h);
                for (x, y, side) in tiles {
                    let found = detector.detect_tile(img, x, y, side)?;
                    faces.extend(
                        found
                            .into_iter()
                            .filter(|f| f.bbox.w.min(f.bbox.h) < largest),
                    );
                }
                faces = FaceDetector::dedupe(faces);
                t.add("faces_changed", ms(t0));
            }
        }
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
    sections: &SECTIONS,
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FacesConfig {
    /// Run the faces and likeness analyser.
    pub enabled: bool,
    /// Frames are downscaled so their longer side is at most this before face detection: the
    /// detector's cost grows with its input area.
    pub max_side: u32,
    /// Heatmap threshold for a face.
    pub threshold: f32,
    /// Faces whose shorter box side (in frame pixels) is below this are reported as too small
    /// to embed reliably instead of being embedded.
    pub min_embed_px: f32,
    /// The first frame of each scene is searched again at the scale that finds faces this
    /// small (shorter side, frame pixels): a person standing in a wide shot, not a close-up.
    /// 0 turns the closer look off; then every frame is searched at `max_side` only.
    pub scene_min_face_px: f32,
    /// The parts of a frame that changed since the last analysed frame (someone walked in)
    /// are searched at the scene starts' scale too, in tiles (192 px at the detector: 384
    /// frame pixels for 40 px faces), when they need at most this many. A moving camera
    /// changes more than that, and what it brings in waits for the next scene start. 0 turns
    /// this off.
    pub changed_max_tiles: usize,
}

impl Default for FacesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_side: 320,
            threshold: 0.5,
            min_embed_px: 24.0,
            scene_min_face_px: 40.0,
            changed_max_tiles: 4,
        }
    }
}

impl Settings for FacesConfig {
    const NAME: &'static str = "faces";
}

inventory::submit! { SettingsSpec::of::<FacesConfig>() }

static SECTIONS: [SectionSchema; 2] = [
    SectionSchema::of::<FaceSummary>(KEY, sample_summary),
    SectionSchema::of::<Vec<PersonSighting>>(PERSONS, sample_persons),
];

fn build(d: &Deps<'_>) -> Built {
    let cfg: FacesConfig = d.cfg.settings();
    Ok(cfg.enabled.then(|| {
        Box::new(FacesAnalyser::new(
            d.vision.clone(),
            d.persons.clone(),
            d.cfg.persons.clone(),
            cfg.scene_min_face_px,
            cfg.changed_max_tiles,
        )) as Box<dyn Analyser>
    }))
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
                    // Written out (without embeddings) once matched, in `finish`.
                    f.scratch.set(KEY, faces);
                    f.parts.set(SMALLEST, &smallest);
                }) as Finding)
            })
            .collect()
    }

    /// Matches every embedded face against the registry as it is now, and sums up faces.
    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        let (_, persons) = self.persons.current()?;
        let mut faces: Vec<Vec<FaceDetection>> = signals
            .frames
            .iter()
            .map(|f| {
                f.scratch
                    .get::<Vec<FaceDetection>>(KEY)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        let frames = signals.frames.iter().zip(faces.iter_mut());
        let sightings = likeness::match_faces(
            frames.map(|(f, faces)| (f.time_s, faces.as_mut_slice())),
            &persons,
            |px| self.matching.threshold_for(px),
        );
        signals.sections.set(PERSONS, &sightings);
        let mut summary = FaceSummary::default();
        for (f, faces) in signals.frames.iter_mut().zip(faces) {
            if !faces.is_empty() {
                summary.frames_with_faces += 1;
                summary.max_faces_in_frame = summary.max_faces_in_frame.max(faces.len() as u32);
            }
            if f.duplicate_of.is_none() {
                for face in &faces {
                    if face.too_small {
                        summary.faces_too_small += 1;
                    } else {
                        summary.faces_embedded += 1;
                    }
                }
            }
            // Every frame it looked at carries its faces, none found included, and keeps them
            // matched, with their embeddings, for the rest of the process.
            if f.parts.value(SMALLEST).is_some() {
                f.parts.set(KEY, &faces);
                f.scratch.set(KEY, faces);
            }
        }
        signals.sections.set(KEY, &summary);
        signals.sampling.coverage.faces = reach(&signals.frames);
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &[KEY, PERSONS]
    }

    fn summary(&self, signals: &Signals) -> Vec<String> {
        let f: FaceSummary = match signals.sections.get(KEY) {
            Ok(f) => f,
            Err(e) => return vec![format!("faces: {e}")],
        };
        let mut out = vec![format!(
            "faces: in {} of {} sampled frames (at most {} in one); {} embedded, {} too small to embed",
            f.frames_with_faces,
            signals.frames.len(),
            f.max_faces_in_frame,
            f.faces_embedded,
            f.faces_too_small
        )];
        out.extend(sightings(signals).iter().map(|p| {
            format!(
                "person {} ({}, {}): best distance {:.3} at {:.2} s, in {} frames from {:.2} s to {:.2} s; allowed for: {}",
                p.person_id,
                p.name,
                p.kind.as_str(),
                p.best_distance,
                p.best_time_s,
                p.frames,
                p.first_s,
                p.last_s,
                if p.allowed_users.is_empty() {
                    "nobody".to_string()
                } else {
                    p.allowed_users.join(", ")
                }
            )
        }));
        out
    }

    fn frame_summary(&self, frame: &FrameDetections) -> Option<String> {
        let scores: Vec<String> = faces_in(frame)
            .iter()
            .map(|f| format!("{:.2}", f.face.score))
            .collect();
        Some(format!("faces [{}]", scores.join(", ")))
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
        let Ok(Some(px)) = f.parts.get::<Option<f32>>(SMALLEST) else {
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

/// Faces in every frame, two of them registered persons: one public figure, one private.
fn sample_summary() -> serde_json::Value {
    serde_json::to_value(FaceSummary {
        frames_with_faces: 20,
        max_faces_in_frame: 3,
        faces_embedded: 40,
        faces_too_small: 2,
    })
    .expect("serialises")
}

fn sample_persons() -> serde_json::Value {
    let sighting = |id, kind| PersonSighting {
        person_id: id,
        name: format!("Person {id}"),
        kind,
        allowed_users: vec!["someone-else".into()],
        best_distance: 0.3,
        best_time_s: 1.5,
        best_box: BBox {
            x: 10.0,
            y: 20.0,
            w: 100.0,
            h: 120.0,
        },
        frames: 4,
        first_s: 1.0,
        last_s: 3.0,
    };
    serde_json::to_value(vec![
        sighting(1, PersonKind::PublicFigure),
        sighting(2, PersonKind::PrivateIndividual),
    ])
    .expect("serialises")
}

/// Starts of tiles of `side` covering `from..to` on an axis of `len` (clamped into it), evenly
/// spread and overlapping by at least `overlap`, so a thing that long lies whole in one.
fn spans(from: f32, to: f32, side: u32, len: u32, overlap: f32) -> Vec<u32> {
    let (from, to, s) = (from.max(0.0), to.min(len as f32), side as f32);
    let last = (len - side) as f32;
    if to - from <= s {
        return vec![((from + to - s) / 2.0).clamp(0.0, last).round() as u32];
    }
    let n = (((to - from - overlap) / (s - overlap).max(1.0)).ceil() as usize).max(2);
    let step = (to - from - s) / (n - 1) as f32;
    (0..n)
        .map(|k| (from + k as f32 * step).clamp(0.0, last).round() as u32)
        .collect()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::spans;

    #[test]
    fn spans_cover_with_overlap_and_stay_inside() {
        // Shorter than a tile: one, centred, moved inside at the edges.
        assert_eq!(spans(500.0, 600.0, 384, 1280, 80.0), vec![358]);
        assert_eq!(spans(-80.0, 100.0, 384, 1280, 80.0), vec![0]);
        assert_eq!(spans(1200.0, 1360.0, 384, 1280, 80.0), vec![896]);
        // 700 px: three tiles of 384 overlapping by at least 80.
        let s = spans(100.0, 800.0, 384, 1280, 80.0);
        assert_eq!(s, vec![100, 258, 416]);
        assert!(s.windows(2).all(|p| p[0] + 384 - p[1] >= 80));
        assert_eq!(s.last().unwrap() + 384, 800);
    }
}
