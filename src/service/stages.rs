//! Decision-time stages: matching done when the decision is made rather than when the clip is
//! screened, so that it follows the live snapshots (a person registered, a bank item added)
//! and the term lists of the policy deciding, while the screened signals stay cached. The
//! check service runs every stage on every decision; each reads the snapshots it was built
//! with, and none knows the others.

use crate::banks::LiveBanks;
use crate::config::HashesConfig;
use crate::persons::LivePersons;
use crate::screen::{Live, ScreenError};
use crate::text::terms::TermLists;
use crate::vocab::{PromptSignals, Signals, TextNameMatch, TextTermMatch};
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
}

/// The stages every decision runs, in order, on the context's snapshots.
pub fn load(live: &Live, hashes: &HashesConfig) -> Vec<Box<dyn Stage>> {
    vec![
        Box::new(PromptNames {
            persons: live.persons.clone(),
        }),
        Box::new(ScreenText {
            persons: live.persons.clone(),
        }),
        Box::new(BankMatches {
            banks: live.banks.clone(),
            max_distance: hashes.max_distance,
            min_quality: hashes.min_quality,
        }),
    ]
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
        let (_, persons) = self.persons.current()?;
        let text = &mut signals.text;
        text.persons.clear();
        text.terms.clear();
        for track in &text.tracks {
            let named = crate::text::with_words(&title_case_capitals(&track.text), |words| {
                persons.gazetteer.find(words, &persons.people)
            });
            text.persons
                .extend(named.into_iter().map(|m| TextNameMatch::new(m, track)));
            let listed = crate::text::with_words(&track.text, |words| x.terms.find(words));
            text.terms
                .extend(listed.into_iter().map(|t| TextTermMatch::new(t, track)));
        }
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
        signals.hash_matches = set.match_clip(&signals.frames, self.max_distance, self.min_quality);
        signals
            .timings
            .add(self.name(), t0.elapsed().as_secs_f64() * 1e3);
        Ok(())
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
