//! Registered Latin-script names written in another script: "Эйлин Коллинз", "Αϊλίν Κόλινς",
//! "آيلين كولينز", "איילין קולינס", "आइलीन कॉलिन्स", "アイリーン・コリンズ", "艾琳·柯林斯".
//!
//! Words of the text in another script are romanized and compared with name words by sound
//! key ([`super::sounds`]). Only whole multi-word names count, their words next to each other:
//! a sound key alone is too loose for one word. Japanese writes foreign names in katakana, so a
//! katakana run is a name word; Chinese writes them as syllable characters with
//! a middle dot between given name and surname, so only a dot marks where a name may be, and
//! the characters on each side of it are read as the end of one word and the start of the next.

use super::index::NameIndex;
use super::sounds::{latin, romanize, sound_key, Vowels};
use std::ops::Range;

/// Consonants a name's key must hold, over all its words, to be matched in another script...
const MIN_CONSONANTS: usize = 5;
/// ...and in each word: short words of any language ("ένα", "po") fit too many names.
const MIN_WORD_CONSONANTS: usize = 2;
/// Han characters read on each side of a middle dot.
const HAN_SIDE: usize = 5;

/// A name found in another script.
pub(super) struct ScriptFind {
    pub(super) alias: u32,
    pub(super) span: Range<usize>,
    /// Read through vowel keys (alphabetic scripts) rather than consonants alone.
    pub(super) vowels: bool,
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
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' => Script::Han,
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

fn words(text: &str) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    let mut gap = 0..0;
    let mut cur: Option<Word> = None;
    for (i, c) in text.char_indices() {
        let letter = c.is_alphabetic()
            || unicode_normalization::char::is_combining_mark(c)
            || matches!(c, 'ー' | 'ｰ');
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
                });
                gap = end..end;
            }
        }
    }
    out.extend(cur);
    out
}

/// A sound key and the consonants it holds.
fn key(text: &str, vowels: Vowels, roman: &mut String, out: &mut String) -> usize {
    roman.clear();
    romanize(text, roman);
    out.clear();
    sound_key(roman, vowels, out)
}

impl NameIndex {
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
        // Each word's name-word readings, with their consonants.
        let mut readings: Vec<Vec<(u32, usize)>> = Vec::with_capacity(words.len());
        for w in &words {
            let vowels = match w.script {
                Script::Alphabet => Vowels::Kept,
                Script::Katakana => Vowels::Dropped,
                _ => {
                    readings.push(Vec::new());
                    continue;
                }
            };
            let n = key(&text[w.span.clone()], vowels, &mut roman, &mut k);
            if n < MIN_WORD_CONSONANTS {
                readings.push(Vec::new());
                continue;
            }
            readings.push(
                self.lookup_sound(&k, vowels)
                    .iter()
                    .map(|&id| (id, n))
                    .collect(),
            );
        }
        // Words in a row, one name word each.
        for i in 0..words.len() {
            for &(first, n1) in &readings[i] {
                self.names_from(&words, &readings, i, first, n1, &mut out);
            }
        }
        // The syllables on each side of a middle dot in Chinese. (A katakana run is one word:
        // split, loanwords such as "タイムラプス" read as names.)
        let mut split = |left: &str, right: &str, span: Range<usize>, out: &mut Vec<ScriptFind>| {
            let n1 = key(left, Vowels::Dropped, &mut roman, &mut k);
            if n1 < MIN_WORD_CONSONANTS {
                return;
            }
            let a: Vec<u32> = self.lookup_sound(&k, Vowels::Dropped).to_vec();
            if a.is_empty() {
                return;
            }
            let n2 = key(right, Vowels::Dropped, &mut roman, &mut k);
            if n2 < MIN_WORD_CONSONANTS {
                return;
            }
            for &b in self.lookup_sound(&k, Vowels::Dropped) {
                for &first in &a {
                    self.pairs(first, b, n1 + n2, span.clone(), false, out);
                }
            }
        };
        for (i, w) in words.iter().enumerate() {
            let s = &text[w.span.clone()];
            let Some(prev) = i.checked_sub(1).map(|p| &words[p]) else {
                continue;
            };
            if w.script == Script::Han && prev.script == Script::Han && w.dot {
                let left = &text[prev.span.clone()];
                let right = s;
                let lefts: Vec<usize> = left.char_indices().map(|(a, _)| a).collect();
                for &a in lefts.iter().rev().take(HAN_SIDE) {
                    for (b, c) in right.char_indices().take(HAN_SIDE) {
                        let end = b + c.len_utf8();
                        let span = prev.span.start + a..w.span.start + end;
                        split(&left[a..], &right[..end], span, &mut out);
                    }
                }
            }
        }
        out
    }

    /// Names whose first word is `first`, read at word `i`, and whose other words follow.
    fn names_from(
        &self,
        words: &[Word],
        readings: &[Vec<(u32, usize)>],
        i: usize,
        first: u32,
        n1: usize,
        out: &mut Vec<ScriptFind>,
    ) {
        if !words.get(i + 1).is_some_and(|w| w.joined) {
            return;
        }
        let vowels = words[i].script == Script::Alphabet;
        for &(second, n2) in &readings[i + 1] {
            for &a in self.by_pair.get(&(first, second)).into_iter().flatten() {
                let alias = &self.aliases[a as usize].words;
                let mut consonants = n1 + n2;
                let mut end = i + 1;
                let rest_found = alias[2..].iter().all(|&w| {
                    end += 1;
                    let reading = words
                        .get(end)
                        .filter(|x| x.joined)
                        .and_then(|_| readings[end].iter().find(|r| r.0 == w));
                    consonants += reading.map_or(0, |r| r.1);
                    reading.is_some()
                });
                if rest_found && consonants >= MIN_CONSONANTS {
                    out.push(ScriptFind {
                        alias: a,
                        span: words[i].span.start..words[end].span.end,
                        vowels,
                    });
                }
            }
        }
    }

    /// Two-word names `first second`.
    fn pairs(
        &self,
        first: u32,
        second: u32,
        consonants: usize,
        span: Range<usize>,
        vowels: bool,
        out: &mut Vec<ScriptFind>,
    ) {
        if consonants < MIN_CONSONANTS {
            return;
        }
        for &a in self.by_pair.get(&(first, second)).into_iter().flatten() {
            if self.aliases[a as usize].words.len() == 2 {
                out.push(ScriptFind {
                    alias: a,
                    span: span.clone(),
                    vowels,
                });
            }
        }
    }
}
