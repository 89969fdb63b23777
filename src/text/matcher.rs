//! Whole-word phrase matching over normalised text with Aho-Corasick: one automaton for any
//! number of phrases, each carrying a payload (a person's alias, a list's term).

use super::normalize::{normalize, Normalized};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use std::ops::Range;

#[derive(Debug, thiserror::Error)]
#[error("cannot build the phrase matcher: {0}")]
pub struct MatcherError(String);

/// Phrases to find, each with payloads. Phrases are normalised when added.
pub struct PhraseSet<T> {
    phrases: Vec<String>,
    index: std::collections::HashMap<String, usize>,
    payloads: Vec<Vec<T>>,
}

impl<T> Default for PhraseSet<T> {
    fn default() -> Self {
        Self {
            phrases: Vec::new(),
            index: Default::default(),
            payloads: Vec::new(),
        }
    }
}

impl<T> PhraseSet<T> {
    /// Adds an already-normalised phrase (empty phrases are ignored).
    pub fn add_normalized(&mut self, phrase: String, payload: T) {
        if phrase.is_empty() {
            return;
        }
        let i = *self.index.entry(phrase.clone()).or_insert_with(|| {
            self.phrases.push(phrase);
            self.payloads.push(Vec::new());
            self.phrases.len() - 1
        });
        self.payloads[i].push(payload);
    }

    pub fn add(&mut self, phrase: &str, payload: T) {
        self.add_normalized(normalize(phrase).text, payload);
    }

    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    pub fn build(self) -> Result<Matcher<T>, MatcherError> {
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&self.phrases)
            .map_err(|e| MatcherError(e.to_string()))?;
        Ok(Matcher {
            ac,
            payloads: self.payloads,
        })
    }
}

pub struct Matcher<T> {
    ac: AhoCorasick,
    payloads: Vec<Vec<T>>,
}

/// One phrase found: where, in the normalised and the original text, and its payloads.
pub struct Found<'m, T> {
    pub normalized: Range<usize>,
    pub original: Range<usize>,
    pub payloads: &'m [T],
}

impl<T> Matcher<T> {
    /// Whole-word matches in `text`; where matches overlap, the longest wins.
    pub fn find<'m>(&'m self, text: &Normalized) -> Vec<Found<'m, T>> {
        let bytes = text.text.as_bytes();
        let boundary =
            |i: usize| i == 0 || i == bytes.len() || bytes[i] == b' ' || bytes[i - 1] == b' ';
        let mut hits: Vec<(Range<usize>, usize)> = self
            .ac
            .find_overlapping_iter(&text.text)
            .filter(|m| boundary(m.start()) && boundary(m.end()))
            .map(|m| (m.range(), m.pattern().as_usize()))
            .collect();
        hits.sort_by(|a, b| a.0.start.cmp(&b.0.start).then(b.0.end.cmp(&a.0.end)));
        let mut out: Vec<Found<'m, T>> = Vec::new();
        let mut covered = 0;
        for (r, p) in hits {
            // Keep the longest of overlapping matches: skip any inside one already taken.
            if r.start < covered {
                continue;
            }
            covered = r.end;
            out.push(Found {
                original: text.original_span(r.clone()),
                normalized: r,
                payloads: &self.payloads[p],
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_longest_first_with_original_spans() {
        let mut set = PhraseSet::default();
        set.add("Eileen Collins", "full");
        set.add("Collins", "surname");
        set.add("art", "term");
        let m = set.build().unwrap();
        let prompt = "EILEEN  COLLINS meets Collins at the start of art";
        let found = m.find(&normalize(prompt));
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|f| (f.payloads[0], &prompt[f.original.clone()]))
            .collect();
        assert_eq!(
            got,
            vec![
                ("full", "EILEEN  COLLINS"),
                ("surname", "Collins"),
                ("term", "art")
            ]
        );
    }
}
