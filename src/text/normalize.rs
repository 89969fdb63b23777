//! Prompt normalisation that defeats the usual evasions of a name filter, while remembering
//! where every normalised byte came from so matches can be shown in the original prompt.
//!
//! Per character: zero-width and control characters are dropped; NFKC (full-width, ligatures,
//! circled letters); diacritics stripped; lower case; Cyrillic and Greek look-alikes folded to
//! Latin; digit and symbol swaps folded (0 o, 1 ! | l i, 3 e, 4 @ a, 5 $ s, 7 t). Then words:
//! possessives dropped ("collins's"), apostrophes inside words joined ("o'brien"), runs of
//! three or more single letters joined ("e.i.l.e.e.n", "e i l e e n"), and every run of
//! separators becomes one space. Names and prompts go through the same function, so the
//! folds (l and i become one letter, for instance) apply to both sides alike.

use std::ops::Range;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    /// Words of `[a-z0-9]` separated by single spaces.
    pub text: String,
    /// For each byte of `text`, the byte range of the original character it came from.
    origin: Vec<Range<usize>>,
}

impl Normalized {
    /// The original byte range that normalised bytes `range` came from.
    pub fn original_span(&self, range: Range<usize>) -> Range<usize> {
        let first = &self.origin[range.start];
        let last = &self.origin[range.end - 1];
        first.start..last.end
    }
}

/// Look-alike letters from other scripts, folded to the Latin letter they imitate.
pub(super) fn confusable(c: char) -> char {
    match c {
        'а' | 'α' => 'a',
        'в' | 'β' | 'ь' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ё' | 'ε' | 'є' => 'e',
        'ғ' => 'f',
        'ɡ' => 'g',
        'һ' | 'н' | 'η' => 'h',
        'і' | 'ї' | 'ι' | 'ı' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'ӏ' => 'l',
        'м' | 'μ' => 'm',
        'п' | 'ν' => 'n',
        'о' | 'ο' | 'σ' | 'ө' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'ц' => 'u',
        'ѵ' => 'v',
        'ԝ' | 'ω' | 'ш' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' | 'ү' => 'y',
        'ᴢ' => 'z',
        _ => c,
    }
}

/// Digit and symbol swaps. `l` joins `i` because `1` stands for either.
pub(super) fn leet(c: char) -> char {
    match c {
        '0' => 'o',
        '1' | '!' | '|' | 'l' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        _ => c,
    }
}

pub(super) fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}' | '\u{180E}')
}

pub(super) fn apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}'
    )
}

/// One folded character with its origin, or a separator.
#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Char(char),
    Apostrophe,
    Sep,
}

pub fn normalize(input: &str) -> Normalized {
    // 1. Characters: fold each to zero or more units, remembering the original range.
    let mut units: Vec<(Unit, Range<usize>)> = Vec::with_capacity(input.len());
    for (i, c) in input.char_indices() {
        let range = i..i + c.len_utf8();
        if c.is_ascii() {
            let u = if c.is_ascii_alphanumeric() || matches!(c, '@' | '$' | '!' | '|') {
                Unit::Char(leet(c.to_ascii_lowercase()))
            } else if apostrophe(c) {
                Unit::Apostrophe
            } else if c.is_ascii_control() {
                continue;
            } else {
                Unit::Sep
            };
            units.push((u, range));
            continue;
        }
        if invisible(c) {
            continue;
        }
        if apostrophe(c) {
            units.push((Unit::Apostrophe, range));
            continue;
        }
        for k in std::iter::once(c).nfkc() {
            for d in std::iter::once(k).nfd().filter(|d| !is_combining_mark(*d)) {
                for l in d.to_lowercase() {
                    let f = leet(confusable(l));
                    let u = if f.is_ascii_alphanumeric() {
                        Unit::Char(f)
                    } else if f.is_alphanumeric() {
                        // Letters of other scripts stay as they are (names in any script).
                        Unit::Char(f)
                    } else {
                        Unit::Sep
                    };
                    units.push((u, range.clone()));
                }
            }
        }
    }
    // 2. Apostrophes: possessive 's dropped, inside a word joined, otherwise a separator.
    let is_char = |u: Option<&(Unit, Range<usize>)>| matches!(u, Some((Unit::Char(_), _)));
    let mut cleaned: Vec<(Unit, Range<usize>)> = Vec::with_capacity(units.len());
    let mut i = 0;
    while i < units.len() {
        if units[i].0 == Unit::Apostrophe {
            let before = is_char(cleaned.last());
            let s_then_end = matches!(units.get(i + 1), Some((Unit::Char('s'), _)))
                && !is_char(units.get(i + 2));
            if before && s_then_end {
                i += 2;
                continue;
            }
            if !(before && is_char(units.get(i + 1))) {
                cleaned.push((Unit::Sep, units[i].1.clone()));
            }
            i += 1;
            continue;
        }
        cleaned.push(units[i].clone());
        i += 1;
    }
    // 3. Words (ranges of `chars`), then single-letter runs joined. A joined run's letters
    // lie next to each other in `chars`, so each output word is one range of it.
    let mut chars: Vec<(char, Range<usize>)> = Vec::with_capacity(cleaned.len());
    let mut words: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    for (u, r) in cleaned {
        match u {
            Unit::Char(c) => chars.push((c, r)),
            _ => {
                if chars.len() > start {
                    words.push(start..chars.len());
                }
                start = chars.len();
            }
        }
    }
    if chars.len() > start {
        words.push(start..chars.len());
    }
    let mut joined: Vec<Range<usize>> = Vec::with_capacity(words.len());
    let mut w = 0;
    while w < words.len() {
        let run = words[w..].iter().take_while(|x| x.len() == 1).count();
        if run >= 3 {
            joined.push(words[w].start..words[w + run - 1].end);
            w += run;
        } else {
            joined.push(words[w].clone());
            w += 1;
        }
    }
    // 4. Output with origins.
    let mut text = String::with_capacity(input.len());
    let mut origin = Vec::with_capacity(input.len());
    for (n, word) in joined.iter().enumerate() {
        let word = &chars[word.clone()];
        if n > 0 {
            text.push(' ');
            let prev_end = chars[joined[n - 1].end - 1].1.end;
            origin.push(prev_end..word[0].1.start);
        }
        for (c, r) in word {
            let len = c.len_utf8();
            text.push(*c);
            origin.extend(std::iter::repeat_n(r.clone(), len));
        }
    }
    Normalized { text, origin }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize(s).text
    }

    #[test]
    fn folds_case_width_diacritics_and_lookalikes() {
        assert_eq!(n("Éilèen  COLLINS"), n("eileen collins"));
        assert_eq!(n("Ｅｉｌｅｅｎ Ｃｏｌｌｉｎｓ"), n("eileen collins"));
        assert_eq!(n("Еіlееn Соllіns"), n("eileen collins")); // Cyrillic
        assert_eq!(n("Εileen Cοllins"), n("eileen collins")); // Greek
    }

    #[test]
    fn removes_invisibles_and_folds_leetspeak() {
        assert_eq!(n("Ei\u{200B}leen Col\u{200D}lins"), n("eileen collins"));
        assert_eq!(n("3i1een c0ll1n5"), n("eileen collins"));
        assert_eq!(n("@$7!"), n("asti"));
    }

    #[test]
    fn joins_spelt_out_letters_and_apostrophes_and_drops_possessives() {
        assert_eq!(n("e.i.l.e.e.n c.o.l.l.i.n.s"), "eiieencoiiins");
        assert_eq!(n("E I L E E N"), n("eileen"));
        assert_eq!(n("Collins's rocket"), n("collins rocket"));
        assert_eq!(n("Collins' rocket"), n("collins rocket"));
        assert_eq!(n("O'Brien"), n("obrien"));
        assert_eq!(
            n("eileen_collins--in---space"),
            n("eileen collins in space")
        );
        assert_eq!(n("a b plan"), "a b pian");
    }

    #[test]
    fn spans_map_back_to_the_original() {
        let s = "Picture of Ｅｉｌｅｅｎ  Collins's walk";
        let norm = normalize(s);
        let at = norm.text.find("eiieen coiiins").unwrap();
        let span = norm.original_span(at..at + "eiieen coiiins".len());
        assert_eq!(&s[span], "Ｅｉｌｅｅｎ  Collins");
    }
}
