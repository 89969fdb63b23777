//! Registered Latin-script names written in another script: "Эйлин Коллинз", "Αϊλίν Κόλινς",
//! "آيلين كولينز", "איילין קולינס", "आइलीन कॉलिन्स", "アイリーン・コリンズ", "艾琳·柯林斯".
//!
//! Words of the text in another script are romanized and compared with name words by sound
//! key ([`super::sounds`]): the consonants must agree, and the text may write a vowel only
//! where the name has one (abjads and Devanagari leave some out; kana and Chinese add their
//! own, so there a name's vowels must all be written). Only whole multi-word names count, their
//! words next to each other, and with enough consonants between them to tell names apart: a
//! sound key alone is too loose for one word. Where a script has capitals (Cyrillic, Greek)
//! every word of the name must have one, as names are written there; where it has none
//! (Arabic, Hebrew, Devanagari), more consonants are asked for. Japanese writes foreign names
//! in katakana, so a katakana run is a name word; Chinese writes them as syllable characters
//! with a middle dot between given name and surname, so only a dot marks where a name may be,
//! and the characters on each side of it are read as the end of one word and the start of
//! the next.

use super::index::NameIndex;
use super::sounds::{han, latin, romanize, sound_key, Sound};
use std::ops::Range;

/// Consonants a name's key must hold, over all its words, to be matched: written with
/// capitals, in katakana, or around a Chinese middle dot...
const MIN_CONSONANTS: usize = 4;
/// ...in a script without capitals, where every word's vowels are written as in the name...
const MIN_UNICASE_SAME: usize = 5;
/// ...and where they are not (short vowels left out): common words of two or three
/// consonants fit too many names.
const MIN_UNICASE: usize = 6;
/// Han characters read on each side of a middle dot ("克里斯蒂亚诺" Cristiano has six).
const HAN_SIDE: usize = 7;

/// A name found in another script.
pub(super) struct ScriptFind {
    pub(super) alias: u32,
    pub(super) span: Range<usize>,
    /// Read in an alphabet (Cyrillic, Greek, Arabic, Hebrew, Devanagari), which writes a
    /// name more closely than kana or Chinese characters do.
    pub(super) alphabet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Katakana,
    Hiragana,
    Han,
    /// Any other script with letters: Cyrillic, Greek, Arabic, Hebrew, Devanagari...
    Alphabet,
}

fn script(c: char) -> Script {
    match c {
        '\u{30A0}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{FF66}'..='\u{FF9F}' => {
            Script::Katakana
        }
        '\u{3040}'..='\u{309F}' => Script::Hiragana,
        c if han(c) => Script::Han,
        c if latin(c) => Script::Latin,
        _ => Script::Alphabet,
    }
}

/// A run of letters of one script.
struct Word {
    script: Script,
    span: Range<usize>,
    /// Next to the word before it: nothing, spaces, or a name separator between them.
    joined: bool,
    /// A middle dot between it and the word before it.
    dot: bool,
    /// Starts with a capital (`Some(false)`: with a small letter; `None`: its script has no
    /// case).
    capital: Option<bool>,
}

fn name_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '・' | '·' | '•' | '‧' | '･' | '-' | '=' | '_' | '.' | '‐'
        )
}

fn middle_dot(c: char) -> bool {
    matches!(c, '・' | '·' | '•' | '‧' | '･')
}

fn hebrew(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{05FF}')
}

fn words(text: &str) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    let mut gap = 0..0;
    let mut cur: Option<Word> = None;
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        // A geresh after a Hebrew letter is part of it ("ג'" j).
        let letter = c.is_alphabetic()
            || unicode_normalization::char::is_combining_mark(c)
            || matches!(c, 'ー' | 'ｰ')
            || (matches!(c, '\'' | '׳' | '’') && hebrew(prev));
        prev = c;
        let end = i + c.len_utf8();
        if !letter {
            if let Some(w) = cur.take() {
                gap = w.span.end..w.span.end;
                out.push(w);
            }
            gap.end = end;
            continue;
        }
        let s = match (script(c), &cur) {
            // Marks and the long-vowel sign belong to the word they follow.
            (_, Some(w)) if !c.is_alphabetic() || matches!(c, 'ー' | 'ｰ') => w.script,
            (s, _) => s,
        };
        match &mut cur {
            Some(w) if w.script == s => w.span.end = end,
            _ => {
                let between = &text[gap.clone()];
                let glued = cur.is_some();
                if let Some(w) = cur.take() {
                    out.push(w);
                }
                cur = Some(Word {
                    script: s,
                    span: i..end,
                    joined: !out.is_empty() && (glued || between.chars().all(name_separator)),
                    dot: !glued && between.chars().any(middle_dot),
                    capital: (c.is_uppercase() || c.is_lowercase()).then(|| c.is_uppercase()),
                });
                gap = end..end;
            }
        }
    }
    out.extend(cur);
    out
}

/// One reading of a word of the text as a name word.
#[derive(Debug, Clone, Copy)]
struct Reading {
    word: u32,
    consonants: usize,
    /// Vowels written exactly where the name word has them.
    same_vowels: bool,
}

impl NameIndex {
    /// The name words `text` (one word of another script) may be read as.
    fn readings(
        &self,
        text: &str,
        script: Script,
        roman: &mut String,
        k: &mut String,
    ) -> Vec<Reading> {
        roman.clear();
        romanize(text, roman);
        k.clear();
        let fine = script == Script::Alphabet;
        let Sound { consonants, vowels } = sound_key(roman, fine, k);
        let mut out: Vec<Reading> = Vec::new();
        if consonants == 0 {
            return out;
        }
        for &(word, name) in self.lookup_sound(k, fine) {
            let fits = match script {
                // One consonant says little: its vowels must be the name's.
                Script::Alphabet if consonants == 1 => vowels == name,
                Script::Alphabet => vowels & !name == 0,
                _ => name & !vowels == 0,
            };
            if !fits {
                continue;
            }
            match out.iter_mut().find(|r| r.word == word) {
                Some(r) => r.same_vowels |= vowels == name,
                None => out.push(Reading {
                    word,
                    consonants,
                    same_vowels: vowels == name,
                }),
            }
        }
        out
    }

    /// Multi-word names written in scripts other than Latin.
    pub(super) fn script_finds(&self, text: &str) -> Vec<ScriptFind> {
        let mut out = Vec::new();
        if text.is_ascii() || self.by_pair.is_empty() {
            return out;
        }
        let words = words(text);
        if words.iter().all(|w| w.script == Script::Latin) {
            return out;
        }
        let (mut roman, mut k) = (String::new(), String::new());
        let readings: Vec<Vec<Reading>> = words
            .iter()
            .map(|w| match w.script {
                Script::Alphabet | Script::Katakana => {
                    self.readings(&text[w.span.clone()], w.script, &mut roman, &mut k)
                }
                _ => Vec::new(),
            })
            .collect();
        // Words in a row, one name word each.
        for i in 0..words.len() {
            for first in &readings[i] {
                self.names_from(&words, &readings, i, first, &mut out);
            }
        }
        // The syllables on each side of a middle dot in Chinese. (A katakana run is one word:
        // split, loanwords such as "タイムラプス" read as names.)
        for (i, w) in words.iter().enumerate() {
            let Some(prev) = i.checked_sub(1).map(|p| &words[p]) else {
                continue;
            };
            if !(w.script == Script::Han && prev.script == Script::Han && w.dot) {
                continue;
            }
            let left = &text[prev.span.clone()];
            let right = &text[w.span.clone()];
            let lefts: Vec<usize> = left.char_indices().map(|(a, _)| a).collect();
            for &a in lefts.iter().rev().take(HAN_SIDE) {
                let firsts = self.readings(&left[a..], Script::Han, &mut roman, &mut k);
                if firsts.is_empty() {
                    continue;
                }
                for (b, c) in right.char_indices().take(HAN_SIDE) {
                    let end = b + c.len_utf8();
                    let span = prev.span.start + a..w.span.start + end;
                    for second in self.readings(&right[..end], Script::Han, &mut roman, &mut k) {
                        for first in &firsts {
                            self.pairs(first, &second, span.clone(), &mut out);
                        }
                    }
                }
            }
        }
        out
    }

    /// Names whose first word is read as `first` at word `i`, and whose other words follow.
    fn names_from(
        &self,
        words: &[Word],
        readings: &[Vec<Reading>],
        i: usize,
        first: &Reading,
        out: &mut Vec<ScriptFind>,
    ) {
        if !words.get(i + 1).is_some_and(|w| w.joined) {
            return;
        }
        for second in &readings[i + 1] {
            for &a in self
                .by_pair
                .get(&(first.word, second.word))
                .into_iter()
                .flatten()
            {
                let alias = &self.aliases[a as usize].words;
                let mut found = vec![*first, *second];
                let mut end = i + 1;
                let rest_found = alias[2..].iter().all(|&w| {
                    end += 1;
                    let reading = words
                        .get(end)
                        .filter(|x| x.joined)
                        .and_then(|_| readings[end].iter().find(|r| r.word == w));
                    found.extend(reading);
                    reading.is_some()
                });
                if !rest_found {
                    continue;
                }
                let consonants: usize = found.iter().map(|r| r.consonants).sum();
                let capitals: Vec<Option<bool>> =
                    words[i..=end].iter().map(|w| w.capital).collect();
                let needed = if words[i].script == Script::Katakana
                    || capitals.iter().all(|&c| c == Some(true))
                {
                    MIN_CONSONANTS
                } else if capitals.iter().all(Option::is_none) {
                    if found.iter().all(|r| r.same_vowels && r.consonants >= 2) {
                        MIN_UNICASE_SAME
                    } else {
                        MIN_UNICASE
                    }
                } else {
                    // A name in a script with capitals, written without them.
                    continue;
                };
                if consonants >= needed {
                    out.push(ScriptFind {
                        alias: a,
                        span: words[i].span.start..words[end].span.end,
                        alphabet: words[i].script == Script::Alphabet,
                    });
                }
            }
        }
    }

    /// Two-word names `first second`, read from Chinese characters.
    fn pairs(
        &self,
        first: &Reading,
        second: &Reading,
        span: Range<usize>,
        out: &mut Vec<ScriptFind>,
    ) {
        if first.consonants + second.consonants < MIN_CONSONANTS {
            return;
        }
        for &a in self
            .by_pair
            .get(&(first.word, second.word))
            .into_iter()
            .flatten()
        {
            if self.aliases[a as usize].words.len() == 2 {
                out.push(ScriptFind {
                    alias: a,
                    span: span.clone(),
                    alphabet: false,
                });
            }
        }
    }
}
