//! On-screen text: PP-OCRv4 reads scene starts and otherwise a changed frame about once a
//! second (`text.interval_s`; the sampler has already dropped frames that barely differ from
//! the last one analysed), so a caption that stays a second is read, and the lines are merged
//! over the clip into tracks with their first and last time. Whom and what the text names is
//! matched at decision time, with the prompt matcher and the deciding policy's term lists (the
//! check service's text stage).
//!
//! Its sections: `signals.text` ([`TextSignals`]: the tracks, and the persons and terms the
//! stage found in them) and per frame `frames[].text` (the lines read, when any). Policies see
//! `signals.text` as [`TextView`].

use super::{Analyser, AnalyserError, Built, Deps, Finding, Frame, FrameNeed, Input, Registration};
use crate::config::{Settings, SettingsSpec};
use crate::vision::Vision;
use crate::vocab::{
    term_categories, widen, BBox, FrameDetections, ModelInfo, ModelKind, NameStrength, PersonKind,
    SectionSchema, Signals, StageTimings, TextLine, TextNameMatch, TextSignals, TextTermMatch,
    TextTrack,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

const KEY: &str = "text";

/// The clip's text section: None when the text analyser did not run.
pub fn text_section(s: &Signals) -> Option<TextSignals> {
    s.sections.value(KEY)?;
    s.sections.get(KEY).ok()
}

/// Writes the clip's text section (the decision-time stage adds whom and what it names).
pub fn set_text_section(s: &mut Signals, text: &TextSignals) {
    s.sections.set(KEY, text);
}

/// The lines read in a frame (none when it was not read).
fn text_in(f: &FrameDetections) -> Vec<TextLine> {
    f.parts.get(KEY).unwrap_or_default()
}

/// On-screen text as policies see it: each distinct line with when it was on screen, and the
/// persons and terms it names (as for prompts, with the line and times), and the categories
/// of those terms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TextView {
    lines: Vec<TextTrack>,
    persons: Vec<TextNameMatch>,
    terms: Vec<TextTermMatch>,
    /// Term categories found on screen.
    categories: Vec<String>,
}

/// The section as written ([`TextSignals`]: `tracks`) or already as a view (`lines`, from a
/// fixture), read either way: what [`view`] turns into a [`TextView`].
#[derive(Default, Deserialize)]
#[serde(default)]
struct EitherForm {
    #[serde(alias = "tracks")]
    lines: Vec<TextTrack>,
    persons: Vec<TextNameMatch>,
    terms: Vec<TextTermMatch>,
    /// Given in a view; derived from the terms for a section as written.
    categories: Option<Vec<String>>,
}

/// How policies see `signals.text`: the tracks as `lines`, and the terms' categories.
fn view(v: &serde_json::Value) -> serde_json::Value {
    let Ok(t) = EitherForm::deserialize(v) else {
        // Not a text section: left as it is, for the rules reading it to fail on.
        return v.clone();
    };
    let categories = t
        .categories
        .unwrap_or_else(|| term_categories(t.terms.iter().map(|t| t.category.as_str())));
    serde_json::to_value(TextView {
        lines: t.lines,
        persons: t.persons,
        terms: t.terms,
        categories,
    })
    .expect("serialises")
}

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
    sections: std::slice::from_ref(&SECTION),
    build,
};

/// On-screen text (PP-OCRv4): read in every analysed frame, screened like prompts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextConfig {
    /// Run the on-screen text analyser.
    pub enabled: bool,
    /// Frames are scaled down so their longer side is at most this for text detection (then
    /// rounded to multiples of 32); lines are then read at full resolution. Measured on
    /// captions in DejaVu Sans Bold: at 384, capitals 24 px tall (and 17 px) are read in 720p
    /// and 1080p frames; at 320, 17 px capitals are lost. Detection time grows with the area.
    pub det_max_side: u32,
    /// Text is read in scene starts and otherwise in a changed frame once this many seconds
    /// have passed since the last one read. Below two sampling intervals (media.sample_fps
    /// 2: 1 s), so any text on screen for a second is read.
    pub interval_s: f64,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            det_max_side: 384,
            interval_s: 0.9,
        }
    }
}

impl Settings for TextConfig {
    const NAME: &'static str = "text";
}

inventory::submit! { SettingsSpec::of::<TextConfig>() }

static SECTION: SectionSchema = SectionSchema::of::<TextView>(KEY, sample).with_view(view);

fn build(d: &Deps<'_>) -> Built {
    Ok(d.cfg.settings::<TextConfig>().enabled.then(|| {
        Box::new(TextAnalyser::new(
            d.vision.clone(),
            d.cfg.settings::<TextConfig>().interval_s,
        )) as Box<dyn Analyser>
    }))
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
            out.push(Box::new(move |d: &mut FrameDetections| {
                d.parts.set_unless_empty(KEY, &lines, lines.is_empty())
            }));
        }
        timings.add("text", t0.elapsed().as_secs_f64() * 1e3);
        Ok(out)
    }

    fn finish(&self, signals: &mut Signals) -> Result<(), AnalyserError> {
        let text = TextSignals {
            tracks: tracks_of(&signals.frames),
            ..Default::default()
        };
        set_text_section(signals, &text);
        Ok(())
    }

    fn policy_fields(&self) -> &'static [&'static str] {
        &[KEY]
    }

    fn summary(&self, signals: &Signals) -> Vec<String> {
        let t = text_section(signals).unwrap_or_default();
        if t.tracks.is_empty() {
            return vec!["text: none read".into()];
        }
        let mut out = vec!["text read on screen:".to_string()];
        out.extend(t.tracks.iter().map(|l| {
            format!(
                "  {:?} from {:.2} s to {:.2} s ({} frames, score {:.2})",
                l.text, l.first_s, l.last_s, l.frames, l.score
            )
        }));
        out
    }

    fn frame_summary(&self, frame: &FrameDetections) -> Option<String> {
        let lines = text_in(frame);
        (!lines.is_empty()).then(|| {
            let read: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
            format!("text {read:?}")
        })
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
        for line in &text_in(f) {
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

/// A line naming person 1 and showing listed terms.
fn sample() -> serde_json::Value {
    use crate::vocab::{NameMatch, TermMatch};
    let line = TextTrack {
        text: "Person 1 minors sexual".into(),
        score: 0.95,
        frames: 4,
        first_s: 1.0,
        last_s: 3.0,
        bbox: BBox {
            x: 10.0,
            y: 20.0,
            w: 100.0,
            h: 120.0,
        },
    };
    let name = NameMatch {
        person_id: 1,
        name: "Person 1".into(),
        kind: PersonKind::PublicFigure,
        allowed_users: vec![],
        alias: "Person 1".into(),
        strength: NameStrength::Full,
        score: 0.9,
        reasons: vec!["full_name".into(), "capitalised".into()],
        exact: false,
        start: 0,
        end: 8,
        text: "Person 1".into(),
    };
    let term = |c: &str| TermMatch {
        category: c.into(),
        term: "term".into(),
        start: 0,
        end: 4,
        text: "term".into(),
    };
    serde_json::to_value(TextView {
        persons: vec![TextNameMatch::new(name, &line)],
        terms: ["minors", "sexual"]
            .iter()
            .map(|c| TextTermMatch::new(term(c), &line))
            .collect(),
        categories: vec!["minors".into(), "sexual".into()],
        lines: vec![line],
    })
    .expect("serialises")
}

#[cfg(test)]
mod tests {
    use crate::vocab::{BBox, FrameDetections, Point, TextLine};

    fn frame(time_s: f64, lines: &[(&str, f32)]) -> FrameDetections {
        let mut f = FrameDetections::new((time_s * 25.0) as u64, time_s, Vec::new());
        let lines: Vec<TextLine> = lines
            .iter()
            .map(|&(text, score)| TextLine {
                text: text.into(),
                score,
                bbox: BBox::default(),
                quad: [Point { x: 0.0, y: 0.0 }; 4],
            })
            .collect();
        f.parts.set(super::KEY, &lines);
        f
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
