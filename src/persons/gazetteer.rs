//! Person names in text: every registered name and alias in one [`NameIndex`] (see
//! `text::names` for how names are read and scored). A multi-word name also counts written as
//! one word, in "Surname, Given" order, or, more weakly, as its surname alone.

use super::PersonInfo;
use crate::text::names::{Form, NameIndex, NameIndexBuilder};
use crate::text::{WordFrequencies, Words};
use crate::vocab::{NameMatch, NameStrength, PersonId};
use std::sync::Arc;

#[derive(Debug, Clone)]
struct Entry {
    person: PersonId,
    alias: String,
}

/// One name or alias to index.
pub struct GazetteerName<'a> {
    pub person: PersonId,
    pub name: &'a str,
    /// Marked by an admin: matches wherever it appears, without corroboration.
    pub always_match: bool,
}

pub struct Gazetteer {
    index: NameIndex,
    entries: Vec<Entry>,
    words: Arc<WordFrequencies>,
}

impl Gazetteer {
    pub fn build<'a>(
        names: impl IntoIterator<Item = GazetteerName<'a>>,
        words: Arc<WordFrequencies>,
    ) -> Self {
        let mut builder = NameIndexBuilder::default();
        let mut entries = Vec::new();
        for n in names {
            builder.add(n.name, entries.len() as u32, n.always_match);
            entries.push(Entry {
                person: n.person,
                alias: n.name.to_string(),
            });
        }
        Self {
            index: builder.build(&words),
            entries,
            words,
        }
    }

    /// Registered persons named in any text: a prompt, a line read on screen, a speech
    /// transcript. One matcher for all three: the same words, readings, scores and reasons
    /// whatever the text came from.
    pub fn find_in(
        &self,
        text: &str,
        people: &std::collections::HashMap<PersonId, PersonInfo>,
    ) -> Vec<NameMatch> {
        crate::text::with_words(text, |words| self.find(words, people))
    }

    /// Registered persons named in a text already split into words (shared with the term
    /// lists); [`Gazetteer::find_in`] for a text.
    pub fn find(
        &self,
        words: &Words,
        people: &std::collections::HashMap<PersonId, PersonInfo>,
    ) -> Vec<NameMatch> {
        let text = words.text();
        let mut out: Vec<NameMatch> = Vec::new();
        for hit in self.index.find(words, &self.words) {
            let e = &self.entries[hit.key as usize];
            let Some(p) = people.get(&e.person) else {
                continue;
            };
            // One report per person at a place: the strongest of its names.
            let score = (f64::from(hit.score) * 100.0).round() / 100.0;
            if let Some(i) = out
                .iter()
                .position(|m| m.person_id == e.person && m.start == hit.span.start)
            {
                if out[i].score >= score {
                    continue;
                }
                out.remove(i);
            }
            out.push(NameMatch {
                person_id: e.person,
                name: p.name.clone(),
                kind: p.kind,
                allowed_users: p.allowed_users.clone(),
                alias: e.alias.clone(),
                strength: if hit.form == Form::Surname {
                    NameStrength::Surname
                } else {
                    NameStrength::Full
                },
                score,
                reasons: hit.reasons.iter().map(|r| r.to_string()).collect(),
                exact: hit.exact,
                start: hit.span.start,
                end: hit.span.end,
                text: text[hit.span].to_string(),
            });
        }
        out
    }
}
