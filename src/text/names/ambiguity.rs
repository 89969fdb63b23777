//! Warnings given at enrolment about names that will be hard to match precisely.

use super::words::{is_common_phrase, MIN_SURNAME_LEN, ORDINARY_ZIPF};
use crate::text::tokens::{with_words, Token};
use crate::text::wordfreq::WordFrequencies;
use serde::{Deserialize, Serialize};

/// Why a name (or alias) will be hard to match precisely; returned at enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ambiguity {
    /// A one-word name that is an ordinary word: it counts only with corroboration.
    CommonSingleWord,
    /// The surname alone is an ordinary word: alone it counts only with corroboration.
    CommonSurname,
    /// Every word of the name is an ordinary word ("Ice Cube"): written in lower case with
    /// nothing else suggesting a person it is read as a phrase.
    CommonPhrase,
    /// Too short to stand alone.
    Short,
    /// No letters: it can never be found in text.
    NoLetters,
}

impl Ambiguity {
    pub fn message(self) -> &'static str {
        match self {
            Ambiguity::CommonSingleWord => "a one-word name that is also an ordinary word: it counts only with corroboration (capitals mid-sentence, a title, a person's context); mark it always_match to match it everywhere",
            Ambiguity::CommonSurname => "the surname is an ordinary word: alone it counts only with corroboration",
            Ambiguity::CommonPhrase => "a common phrase (its words are often written together): in lower case without a person's context it is read as the phrase",
            Ambiguity::Short => "shorter than four letters: alone it is not reported",
            Ambiguity::NoLetters => "no letters: it can never be found in text",
        }
    }
}

/// Ambiguities of one name or alias, as the matcher reads them: a one-word name that is an
/// ordinary word (the dictionary's) and a longer name that is a common phrase need
/// corroboration in lower case; a surname alone is flagged when it is in everyday use
/// ([`ORDINARY_ZIPF`]), so that frequent names ("Collins") are not.
pub fn ambiguity(name: &str, words: &WordFrequencies) -> Vec<Ambiguity> {
    let ordinary = |t: &Token| words.zipf(t.plain) >= ORDINARY_ZIPF;
    let mut out = Vec::new();
    with_words(name, |w| match w.tokens {
        [] => out.push(Ambiguity::NoLetters),
        [one] => {
            if words.is_ordinary_word(one.plain) {
                out.push(Ambiguity::CommonSingleWord);
            }
            if one.plain.chars().count() < MIN_SURNAME_LEN {
                out.push(Ambiguity::Short);
            }
        }
        many => {
            if is_common_phrase(many.iter().map(|t| t.plain), words) {
                out.push(Ambiguity::CommonPhrase);
            }
            if ordinary(&many[many.len() - 1]) {
                out.push(Ambiguity::CommonSurname);
            }
        }
    });
    out
}
