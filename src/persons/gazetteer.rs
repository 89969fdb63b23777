//! Person names in prompts: every name and alias, normalised, in one Aho-Corasick automaton.
//! A multi-word name is also matched written as one word ("EileenCollins", "e.i.l.e.e.n
//! c.o.l.l.i.n.s"), and its last word alone as a weaker, surname-only signal.

use super::PersonInfo;

use crate::text::{normalize, Matcher, MatcherError, Normalized, PhraseSet};
use crate::vocab::PersonId;
use crate::vocab::{NameMatch, NameStrength};

#[derive(Debug, Clone)]
struct Entry {
    person: PersonId,
    alias: String,
    strength: NameStrength,
}

/// Surnames shorter than this are too ambiguous to report on their own.
const MIN_SURNAME_LEN: usize = 4;

pub struct Gazetteer {
    matcher: Matcher<Entry>,
}

impl Gazetteer {
    /// `names` yields (person, name or alias) pairs.
    pub fn build<'a>(
        names: impl IntoIterator<Item = (PersonId, &'a str)>,
    ) -> Result<Self, MatcherError> {
        let mut set = PhraseSet::default();
        for (person, alias) in names {
            let norm = normalize(alias).text;
            let words: Vec<&str> = norm.split(' ').collect();
            let entry = |strength| Entry {
                person,
                alias: alias.to_string(),
                strength,
            };
            if words.len() > 1 {
                set.add_normalized(words.concat(), entry(NameStrength::Full));
                let last = words[words.len() - 1];
                if last.len() >= MIN_SURNAME_LEN {
                    set.add_normalized(last.to_string(), entry(NameStrength::Surname));
                }
            }
            set.add_normalized(norm, entry(NameStrength::Full));
        }
        Ok(Self {
            matcher: set.build()?,
        })
    }

    pub fn find(
        &self,
        prompt: &str,
        normalized: &Normalized,
        people: &std::collections::HashMap<PersonId, PersonInfo>,
    ) -> Vec<NameMatch> {
        let mut out = Vec::new();
        for f in self.matcher.find(normalized) {
            let text = &prompt[f.original.clone()];
            let written = text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            for e in f.payloads {
                let Some(p) = people.get(&e.person) else {
                    continue;
                };
                // One report per person at a place: a full name wins over a surname reading.
                if out
                    .iter()
                    .any(|m: &NameMatch| m.person_id == e.person && m.start == f.original.start)
                {
                    continue;
                }
                let exact = match e.strength {
                    NameStrength::Full => written == e.alias.to_lowercase(),
                    NameStrength::Surname => {
                        e.alias.to_lowercase().ends_with(&written) && !written.is_empty()
                    }
                };
                out.push(NameMatch {
                    person_id: e.person,
                    name: p.name.clone(),
                    kind: p.kind,
                    allowed_users: p.allowed_users.clone(),
                    alias: e.alias.clone(),
                    strength: e.strength,
                    exact,
                    start: f.original.start,
                    end: f.original.end,
                    text: text.to_string(),
                });
            }
        }
        out
    }
}
