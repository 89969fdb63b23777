//! Decision-time stages: matching done when the decision is made rather than when the clip is
//! screened, so that it follows the live snapshots (a person registered, a bank item added)
//! and the term lists of the policy deciding, while the screened signals stay cached. The
//! check service runs every stage on every decision; each reads the snapshots it was built
//! with, and none knows the others.

use crate::analysers::HashesConfig;
use crate::banks::LiveBanks;
use crate::meaning::{LiveMeaning, Passage};
use crate::persons::LivePersons;
use crate::screen::{Live, ScreenError};
use crate::text::terms::TermLists;
use crate::vocab::{
    PromptSignals, Signals, Speech, SpokenNameMatch, SpokenTermMatch, TextNameMatch, TextSource,
    TextTermMatch,
};
use std::sync::Arc;
use std::time::Instant;

/// What a decision is made from, as the stages fill it in.
pub struct Subject<'a> {
    /// The term lists of the policy deciding.
    pub terms: &'a TermLists,
    /// The request's prompt, and what it says once the prompt stage has read it.
    pub prompt: Option<&'a str>,
    pub prompt_signals: Option<PromptSignals>,
    /// The clip's screened signals (a copy of the cached ones), if a clip is checked.
    pub clip: Option<&'a mut Signals>,
}

pub trait Stage: Send + Sync {
    fn name(&self) -> &'static str;
    fn run(&self, subject: &mut Subject<'_>) -> Result<(), ScreenError>;
    /// Loads now what the first decision would otherwise wait for (a server calls it once at
    /// start, in the background).
    fn warm(&self) -> Result<(), ScreenError> {
        Ok(())
    }
}

/// The stages every decision runs, in order, on the context's snapshots (and the text
/// categories, when meaning is scored).
pub fn load(
    live: &Live,
    hashes: &HashesConfig,
    meaning: Option<Arc<LiveMeaning>>,
) -> Vec<Box<dyn Stage>> {
    let mut stages: Vec<Box<dyn Stage>> = vec![
        Box::new(PromptNames {
            persons: live.persons.clone(),
        }),
        Box::new(ScreenText {
            persons: live.persons.clone(),
        }),
        Box::new(SpokenWords {
            persons: live.persons.clone(),
        }),
        Box::new(BankMatches {
            banks: live.banks.clone(),
            max_distance: hashes.max_distance,
            min_quality: hashes.min_quality,
        }),
    ];
    if let Some(meaning) = meaning {
        stages.push(Box::new(Meaning { meaning }));
    }
    stages
}

/// Persons named, and listed terms, in the prompt.
struct PromptNames {
    persons: Arc<LivePersons>,
}

impl Stage for PromptNames {
    fn name(&self) -> &'static str {
        "prompt"
    }

    fn run(&self, x: &mut Subject<'_>) -> Result<(), ScreenError> {
        let Some(prompt) = x.prompt else {
            return Ok(());
        };
        let (_, persons) = self.persons.current()?;
        x.prompt_signals = Some(crate::text::with_words(prompt, |words| PromptSignals {
            text: prompt.to_string(),
            persons: persons.gazetteer.find(words, &persons.people),
            terms: x.terms.find(words),
            meaning: Default::default(),
            meaning_version: String::new(),
        }));
        Ok(())
    }
}

/// Registered persons and listed terms named by the text read on screen, matched line by line
/// as prompts are.
struct ScreenText {
    persons: Arc<LivePersons>,
}

impl Stage for ScreenText {
    fn name(&self) -> &'static str {
        "text_match"
    }

    fn run(&self, x: &mut Subject<'_>) -> Result<(), ScreenError> {
        let Some(signals) = x.clip.as_deref_mut() else {
            return Ok(());
        };
        // Nothing to match when the text analyser did not run.
        let Some(mut text) = crate::analysers::text_section(signals) else {
            return Ok(());
        };
        let (_, persons) = self.persons.current()?;
        text.persons.clear();
        text.terms.clear();
        for track in &text.tracks {
            let named = persons.gazetteer.find_in(&track.text, &persons.people);
            text.persons
                .extend(named.into_iter().map(|m| TextNameMatch::new(m, track)));
            let listed = crate::text::with_words(&track.text, |words| x.terms.find(words));
            text.terms
                .extend(listed.into_iter().map(|t| TextTermMatch::new(t, track)));
        }
        // A name split over two lines shown together ("EILEEN" over "COLLINS").
        for joined in crate::text::lines::stacked(&text.tracks) {
            let named = persons
                .gazetteer
                .find_in(&joined.track.text, &persons.people);
            text.persons.extend(
                named
                    .into_iter()
                    .filter(|m| m.start < joined.second_at && m.end > joined.second_at)
                    .map(|m| TextNameMatch::new(m, &joined.track)),
            );
        }
        crate::analysers::set_text_section(signals, &text);
        Ok(())
    }
}

/// Registered persons and listed terms named in what is said, matched on each audio stream's
/// whole transcript (a name may run over two segments), with the segment and times it was said.
struct SpokenWords {
    persons: Arc<LivePersons>,
}

/// Where the transcript's speech section lives (the speech analyser's key).
const SPEECH: &str = "speech";

impl Stage for SpokenWords {
    fn name(&self) -> &'static str {
        "speech_match"
    }

    fn run(&self, x: &mut Subject<'_>) -> Result<(), ScreenError> {
        let Some(signals) = x.clip.as_deref_mut() else {
            return Ok(());
        };
        if signals.sections.value(SPEECH).is_none() {
            return Ok(());
        }
        let mut speech: Speech = signals.sections.get(SPEECH)?;
        let (_, persons) = self.persons.current()?;
        let (mut named, mut listed) = (Vec::new(), Vec::new());
        for track in &speech.tracks {
            let text = track.text();
            for m in persons.gazetteer.find_in(&text, &persons.people) {
                if let Some((seg, at)) = speech.locate(track.stream, m.start, m.end) {
                    named.push(SpokenNameMatch::new(m, track.stream, seg, at));
                }
            }
            let terms = crate::text::with_words(&text, |words| x.terms.find(words));
            for t in terms {
                if let Some((seg, at)) = speech.locate(track.stream, t.start, t.end) {
                    listed.push(SpokenTermMatch::new(t, track.stream, seg, at));
                }
            }
        }
        let mut categories: Vec<String> = listed.iter().map(|t| t.category.clone()).collect();
        categories.sort();
        categories.dedup();
        (speech.persons, speech.terms, speech.categories) = (named, listed, categories);
        signals.sections.set(SPEECH, &speech);
        Ok(())
    }
}

/// The bank items the clip's frame hashes match, against the banks as they are now
/// (`hash_matches`, with the time taken as the `hash_match` stage).
struct BankMatches {
    banks: Arc<LiveBanks>,
    max_distance: u32,
    min_quality: u8,
}

impl Stage for BankMatches {
    fn name(&self) -> &'static str {
        "hash_match"
    }

    fn run(&self, x: &mut Subject<'_>) -> Result<(), ScreenError> {
        let Some(signals) = x.clip.as_deref_mut() else {
            return Ok(());
        };
        let t0 = Instant::now();
        let set = self.banks.current()?;
        let matches = set.match_clip(&signals.frames, self.max_distance, self.min_quality);
        crate::analysers::set_hash_matches(signals, &matches);
        signals
            .timings
            .add(self.name(), t0.elapsed().as_secs_f64() * 1e3);
        Ok(())
    }
}

/// What the prompt, the text read on screen and the speech mean, by text category: every
/// passage scored by the same code (`MeaningModel::score`), the prompt's into
/// `prompt.meaning`, the clip's into `signals.meaning` (with the time each passage was on
/// screen or said). The encoder costs a few milliseconds a passage, so a clip without words
/// costs nothing here.
struct Meaning {
    meaning: Arc<LiveMeaning>,
}

impl Stage for Meaning {
    fn name(&self) -> &'static str {
        "meaning"
    }

    /// The encoder and the set's 3,200 phrases: tens of seconds on a first start with an
    /// empty cache, which a newcomer's first prompt check would otherwise wait for.
    fn warm(&self) -> Result<(), ScreenError> {
        self.meaning
            .current()
            .map(|_| ())
            .map_err(ScreenError::from)
    }

    fn run(&self, x: &mut Subject<'_>) -> Result<(), ScreenError> {
        let t0 = Instant::now();
        if let (Some(prompt), Some(found)) = (x.prompt, x.prompt_signals.as_mut()) {
            let passages = crate::meaning::prompt_passages(prompt);
            let model = self.meaning.current()?;
            found.meaning = model.score(&passages)?;
            found.meaning_version = model.version.clone();
        }
        let Some(signals) = x.clip.as_deref_mut() else {
            return Ok(());
        };
        let passages = clip_passages(signals)?;
        let (found, version) = if passages.is_empty() {
            Default::default()
        } else {
            let model = self.meaning.current()?;
            (model.score(&passages)?, model.version.clone())
        };
        crate::analysers::set_meaning_section(signals, &found, &version);
        signals
            .timings
            .add(self.name(), t0.elapsed().as_secs_f64() * 1e3);
        Ok(())
    }
}

/// The clip's words: each line read on screen (its track's times), each segment of speech,
/// and each stream's whole transcript when it has several segments (a sentence may run over
/// two).
fn clip_passages(signals: &Signals) -> Result<Vec<Passage>, ScreenError> {
    let mut out = Vec::new();
    if let Some(text) = crate::analysers::text_section(signals) {
        out.extend(text.tracks.iter().map(|t| Passage {
            text: t.text.clone(),
            source: TextSource::Screen,
            start: 0,
            end: t.text.len(),
            time_s: t.first_s,
            end_s: t.last_s,
        }));
    }
    if signals.sections.value(SPEECH).is_some() {
        let speech: Speech = signals.sections.get(SPEECH)?;
        for track in &speech.tracks {
            out.extend(track.segments.iter().map(|s| Passage {
                text: s.text.trim().to_string(),
                source: TextSource::Speech,
                start: 0,
                end: s.text.trim().len(),
                time_s: s.start_s,
                end_s: s.end_s,
            }));
            if track.segments.len() > 1 {
                let text = track.text();
                out.push(Passage {
                    end: text.len(),
                    text,
                    source: TextSource::Speech,
                    start: 0,
                    time_s: track.segments.first().map_or(0.0, |s| s.start_s),
                    end_s: track.segments.last().map_or(0.0, |s| s.end_s),
                });
            }
        }
    }
    out.retain(|p| p.text.chars().any(char::is_alphanumeric));
    Ok(out)
}
