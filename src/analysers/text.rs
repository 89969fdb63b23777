//! On-screen text: PP-OCRv4 reads scene starts and otherwise a changed frame about once a
//! second (`text.interval_s`; the sampler has already dropped frames that barely differ from
//! the last one analysed), so a caption that stays a second is read, and the lines are merged
//! over the clip into tracks with their first and last time. Whom and what the text names is matched at decision time, with the prompt matcher and
//! the deciding policy's term lists (`Screener::screen_text`).

use super::{Analyser, AnalyserError, Deps, Finding, Frame, FrameNeed, Input, Registration};
use crate::vision::Vision;
use crate::vocab::{
    widen, FrameDetections, ModelInfo, ModelKind, Signals, StageTimings, TextTrack,
};
use std::sync::Arc;
use std::time::Instant;

pub struct TextAnalyser {
    vision: Arc<Vision>,
    interval_s: f64,
}

impl TextAnalyser {
    pub fn new(vision: Arc<Vision>, interval_s: f64) -> Self {
        Self { vision, interval_s }
    }
}

pub(super) const REGISTRATION: Registration = Registration {
    section: None,
    build,
};

fn build(d: &Deps<'_>) -> Option<Box<dyn Analyser>> {
    d.cfg.text.enabled.then(|| {
        Box::new(TextAnalyser::new(d.vision.clone(), d.cfg.text.interval_s)) as Box<dyn Analyser>
    })
}

impl Analyser for TextAnalyser {
    fn name(&self) -> &'static str {
        "text"
    }

    fn input(&self) -> Input {
        Input::Frames(FrameNeed::spaced(self.interval_s))
    }

    fn analyse(
        &self,
        frames: &[Frame<'_>],
        timings: &mut StageTimings,
    ) -> Result<Vec<Finding>, AnalyserError> {
        let reader = self
            .vision
            .text
            .as_ref()
            .expect("analysers::load adds the text analyser only with its models loaded");
        let t0 = Instant::now();
        let mut out: Vec<Finding> = Vec::with_capacity(frames.len());
        for f in frames {
            let lines = reader.read(f.image)?;
            out.push(Box::new(move |d: &mut FrameDetections| d.text = lines));
        }
        timings.add("text", t0.elapsed().as_secs_f64() * 1e3);
        Ok(out)
    }

    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        signals.text.tracks = tracks_of(&signals.frames);
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &["text"]
    }

    fn models(&self) -> Vec<ModelInfo> {
        [
            ModelKind::TextDetect,
            ModelKind::TextClassify,
            ModelKind::TextRecognize,
        ]
        .map(|k| self.vision.manifest.get(k).0.clone())
        .to_vec()
    }
}

/// Readings with the same words (up to case and spacing) over the clip's frames, near-duplicate
/// frames included, so a caption's last time is when it was last on screen.
fn tracks_of(frames: &[FrameDetections]) -> Vec<TextTrack> {
    let mut tracks: Vec<(String, TextTrack)> = Vec::new();
    for f in frames {
        for line in &f.text {
            let key = line
                .text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            let score = widen(line.score);
            match tracks.iter_mut().find(|(k, _)| *k == key) {
                Some((_, t)) => {
                    t.frames += 1;
                    t.last_s = t.last_s.max(f.time_s);
                    t.first_s = t.first_s.min(f.time_s);
                    if score > t.score {
                        t.score = score;
                        t.text = line.text.trim().to_string();
                    }
                }
                None => tracks.push((
                    key,
                    TextTrack {
                        text: line.text.trim().to_string(),
                        score,
                        frames: 1,
                        first_s: f.time_s,
                        last_s: f.time_s,
                        bbox: line.bbox,
                    },
                )),
            }
        }
    }
    tracks.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use crate::vocab::{BBox, FrameDetections, Point, TextLine};

    fn frame(time_s: f64, lines: &[(&str, f32)]) -> FrameDetections {
        FrameDetections {
            index: (time_s * 25.0) as u64,
            time_s,
            reasons: Vec::new(),
            duplicate_of: None,
            faces: Vec::new(),
            smallest_face_px: None,
            classifiers: Default::default(),
            categories: Default::default(),
            text: lines
                .iter()
                .map(|&(text, score)| TextLine {
                    text: text.into(),
                    score,
                    bbox: BBox::default(),
                    quad: [Point { x: 0.0, y: 0.0 }; 4],
                })
                .collect(),
            pdq: None,
            pdq_centre: None,
            parts: Default::default(),
        }
    }

    #[test]
    fn the_same_words_merge_into_one_track_with_first_and_last_time() {
        let frames = vec![
            frame(0.0, &[("EILEEN COLLINS LIVE", 0.9)]),
            frame(0.5, &[("Eileen  Collins live", 0.95), (" news ", 0.8)]),
            frame(1.0, &[]),
            frame(1.5, &[("EILEEN COLLINS LIVE", 0.7)]),
        ];
        let tracks = super::tracks_of(&frames);
        assert_eq!(tracks.len(), 2);
        let t = &tracks[0];
        assert_eq!((t.first_s, t.last_s, t.frames), (0.0, 1.5, 3));
        assert_eq!(t.text, "Eileen  Collins live");
        assert_eq!(tracks[1].text, "news");
        assert_eq!(t.score, 0.95);
        assert_eq!((tracks[1].text.as_str(), tracks[1].first_s), ("news", 0.5));
    }
}
