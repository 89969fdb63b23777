//! Candidates: each token (and run of tokens) read as registered name words, as written, as a
//! look-alike, with a typo, split or spelt out, and the names those readings make up.

use super::index::NameIndex;
use super::sounds::latin;
use super::words::{FOREIGN_MIN_WORDS, FOREIGN_TENTHS, MAX_PER_SPAN, TYPO_MIN_LEN, WORD_ZIPF};
use crate::text::tokens::{skeleton, Caps, Token};
use crate::text::wordfreq::WordFrequencies;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How a name was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// Every word of a multi-word name, in order (a middle initial may sit between).
    Full,
    /// "Surname, Given".
    Reversed,
    /// A multi-word name written as one word: "EileenCollins", "#taylorswift".
    Joined,
    /// A one-word name or alias.
    Single,
    /// The last word of a multi-word name alone.
    Surname,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum How {
    Exact,
    LookAlike,
    Typo,
    Split,
    Spelt,
}

/// The ways the words of a find were read, as a set: scoring only asks which occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hows(pub(super) u8);

impl Hows {
    pub(super) fn of(how: How) -> Self {
        Hows(1 << how as u8)
    }

    pub(super) fn with(self, how: How) -> Self {
        Hows(self.0 | Self::of(how).0)
    }

    pub(super) fn has(self, how: How) -> bool {
        self.0 & Self::of(how).0 != 0
    }

    pub(super) fn all_exact(self) -> bool {
        self == Self::of(How::Exact)
    }
}

/// One reading of tokens `start..end` as a name word.
#[derive(Debug, Clone)]
pub(super) struct Unit {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) bytes: Range<usize>,
    pub(super) word: u32,
    pub(super) how: How,
}

/// Every reading found in a text, in one vector ordered by the token it starts at.
pub(super) struct Units {
    pub(super) all: Vec<Unit>,
    /// Where the readings of each token start in `all`, and one past the last token's.
    pub(super) starts: Vec<u32>,
}

impl Units {
    /// `units` holds each token's readings in the order found, but spelt-out runs were found
    /// after the tokens they start at: a stable sort keeps the order within a token.
    pub(super) fn new(mut units: Vec<Unit>, tokens: usize) -> Self {
        units.sort_by_key(|u| u.start);
        let mut starts = vec![0u32; tokens + 2];
        for u in &units {
            starts[u.start + 1] += 1;
        }
        for k in 1..starts.len() {
            starts[k] += starts[k - 1];
        }
        Self { all: units, starts }
    }

    /// The readings that start at token `i` (none past the end).
    pub(super) fn at(&self, i: usize) -> &[Unit] {
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.all[a as usize..b as usize],
            _ => &[],
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Cand {
    pub(super) alias: u32,
    pub(super) form: Form,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) bytes: Range<usize>,
    pub(super) hows: Hows,
    /// Other names found at the same place that score exactly as this one does (the
    /// persons sharing a surname): scored once, reported alike.
    pub(super) also: Vec<u32>,
}

impl NameIndex {
    /// Every reading of every token, and of runs of tokens, as a registered name word.
    /// `native`: per token, a word of the other script the text is written in (empty when
    /// there is none).
    pub(super) fn units(&self, tokens: &[Token], native: &[bool], freq: &WordFrequencies) -> Units {
        let mut units: Vec<Unit> = Vec::new();
        let mut buf = String::with_capacity(32);
        let mut concat = String::with_capacity(32);
        let mut skel = String::with_capacity(32);
        let mut foreign_memo = None;
        for (i, t) in tokens.iter().enumerate() {
            let mut found = false;
            let own = units.len();
            let push = |u: Unit, units: &mut Vec<Unit>| {
                if !units[own..]
                    .iter()
                    .any(|x| x.word == u.word && x.end == u.end)
                {
                    units.push(u);
                }
            };
            // A word of the language the text is written in ("снег" in Russian) is that word,
            // not Latin look-alikes ("cher"): only names registered in its script are read.
            if native.get(i).copied().unwrap_or(false) {
                if let Some(w) = self.lookup_word(t.plain).filter(|&w| self.scripted(w)) {
                    push(unit(i, i + 1, t.span.clone(), w, How::Exact), &mut units);
                }
                continue;
            }
            if let Some(w) = self.lookup_word(t.plain) {
                let how = if t.altered {
                    How::LookAlike
                } else {
                    How::Exact
                };
                push(unit(i, i + 1, t.span.clone(), w, how), &mut units);
                found = true;
            }
            if let Some((r, bytes)) = &t.run {
                if let Some(w) = self.lookup_word(r) {
                    push(unit(i, i + 1, bytes.clone(), w, How::Exact), &mut units);
                    found = true;
                }
            }
            // Look-alikes where the word as written is not a word: digits or symbols in it
            // ("Lord3", "Se41"), letters of other scripts, or an unknown word ("CoIIins").
            // The frequency is looked up only once something could be found. In a text mostly
            // of words English does not have (Italian, Portuguese...), a rare word is no sign
            // of a typo or a disguise ("nella", "bianco"): the text's words are looked up only
            // once a rare word has a reading.
            let written_odd = t.run.is_some() || t.altered;
            let mut rare_memo = None;
            let mut rare = || *rare_memo.get_or_insert_with(|| freq.zipf(t.plain) < WORD_ZIPF);
            let mut english = || !*foreign_memo.get_or_insert_with(|| self.foreign(tokens, freq));
            if written_odd || !found {
                let run = t.run.as_ref().map(|(r, bytes)| (*r, bytes));
                for (w, bytes) in std::iter::once((t.plain, &t.span)).chain(run) {
                    skel.clear();
                    skel.extend(skeleton(w));
                    let ws = self.lookup_skeleton(&skel);
                    if ws.is_empty() || !(written_odd || (rare() && english())) {
                        continue;
                    }
                    for &w in ws {
                        push(unit(i, i + 1, bytes.clone(), w, How::LookAlike), &mut units);
                        found = true;
                    }
                }
            }
            if !found && t.plain.chars().count() >= TYPO_MIN_LEN && rare() {
                let typos = self.typos(t.plain, &mut buf);
                if !typos.is_empty() && english() {
                    for w in typos {
                        push(unit(i, i + 1, t.span.clone(), w, How::Typo), &mut units);
                    }
                }
            }
            // CamelCase pieces read together ("McCartney"), and a word split by a space,
            // hyphen, line break or emoji ("Tay lor") when a piece is not a word.
            concat.clear();
            for (j, next) in tokens.iter().enumerate().skip(i + 1).take(5) {
                let glued = next.gap.glued;
                if !glued
                    && (j > i + 1
                        || next.gap.comma
                        || next.gap.hashtag
                        || next.gap.mention
                        || next.gap.width > 3)
                {
                    break;
                }
                if concat.is_empty() {
                    concat.push_str(t.plain);
                }
                concat.push_str(next.plain);
                if let Some(w) = self.lookup_word(&concat) {
                    let pieces_words =
                        freq.zipf(t.plain) >= WORD_ZIPF && freq.zipf(next.plain) >= WORD_ZIPF;
                    if glued || !pieces_words {
                        let how = if glued { How::Exact } else { How::Split };
                        push(
                            unit(i, j + 1, t.span.start..next.span.end, w, how),
                            &mut units,
                        );
                    }
                }
                if !glued {
                    break;
                }
            }
        }
        // Spelt-out letters ("E.I.L.E.E.N", "e i l e e n"): runs of three or more single
        // letters, cut where the separator is wider than inside the run.
        let mut i = 0;
        while i < tokens.len() {
            let run = tokens[i..].iter().take_while(|t| t.is_letter()).count();
            if run >= 3 {
                let gaps: Vec<usize> = (i + 1..i + run).map(|k| tokens[k].gap.width).collect();
                let narrow = gaps.iter().copied().min().unwrap_or(0);
                let mut start = i;
                for k in i + 1..=i + run {
                    if k == i + run || tokens[k].gap.width > narrow {
                        self.spelt(tokens, start, k, &mut units);
                        start = k;
                    }
                }
                if start != i {
                    self.spelt(tokens, i, i + run, &mut units);
                }
            }
            i += run.max(1);
        }
        Units::new(units, tokens.len())
    }

    /// Whether most of a text's words (of three letters or more, at least
    /// [`FOREIGN_MIN_WORDS`], name words not counted: a name is rare in any language) are
    /// not English words.
    fn foreign(&self, tokens: &[Token], freq: &WordFrequencies) -> bool {
        let (mut long, mut rare) = (0, 0);
        for t in tokens
            .iter()
            .filter(|t| t.plain.len() >= 3 && t.plain.is_ascii())
        {
            if self.lookup_word(t.plain).is_some() {
                continue;
            }
            long += 1;
            rare += usize::from(freq.zipf(t.plain) < WORD_ZIPF);
        }
        long >= FOREIGN_MIN_WORDS && rare * 10 >= long * FOREIGN_TENTHS
    }

    fn spelt(&self, tokens: &[Token], start: usize, end: usize, units: &mut Vec<Unit>) {
        if end - start < 2 {
            return;
        }
        let s: String = tokens[start..end].iter().map(|t| t.plain).collect();
        let bytes = tokens[start].span.start..tokens[end - 1].span.end;
        let mut ws: Vec<u32> = self.lookup_word(&s).into_iter().collect();
        ws.extend(self.lookup_skeleton(&skeleton(&s).collect::<String>()));
        ws.dedup();
        for w in ws {
            units.push(unit(start, end, bytes.clone(), w, How::Spelt));
        }
    }

    /// Full names written as one word, plain, CamelCase, or spelt out.
    pub(super) fn joined_cands(
        &self,
        tokens: &[Token],
        native: &[bool],
        units: &Units,
        out: &mut Vec<Cand>,
    ) {
        let mut try_str = |s: &str, start: usize, end: usize, bytes: Range<usize>, how| {
            for &a in self.lookup_joined(s) {
                out.push(Cand {
                    alias: a,
                    form: Form::Joined,
                    start,
                    end,
                    bytes: bytes.clone(),
                    hows: Hows::of(how),
                    also: Vec::new(),
                });
            }
        };
        for (i, t) in tokens.iter().enumerate() {
            if native.get(i).copied().unwrap_or(false) {
                continue;
            }
            let how = if t.altered {
                How::LookAlike
            } else {
                How::Exact
            };
            if !t.gap.glued {
                let glued = tokens[i + 1..].iter().take_while(|x| x.gap.glued).count();
                if glued > 0 {
                    let s: String = tokens[i..=i + glued].iter().map(|x| x.plain).collect();
                    let bytes = t.span.start..tokens[i + glued].span.end;
                    try_str(&s, i, i + glued + 1, bytes, how);
                }
            }
            try_str(t.plain, i, i + 1, t.span.clone(), how);
            if let Some((r, bytes)) = &t.run {
                try_str(r, i, i + 1, bytes.clone(), How::Exact);
            }
            for u in units.at(i).iter().filter(|u| u.how == How::Spelt) {
                let s: String = tokens[u.start..u.end].iter().map(|x| x.plain).collect();
                try_str(&s, u.start, u.end, u.bytes.clone(), How::Spelt);
            }
        }
        // Spelt-out runs that hold a whole name ("t a y l o r s w i f t").
        let mut i = 0;
        while i < tokens.len() {
            let run = tokens[i..].iter().take_while(|t| t.is_letter()).count();
            if run >= 3 {
                let s: String = tokens[i..i + run].iter().map(|x| x.plain).collect();
                let bytes = tokens[i].span.start..tokens[i + run - 1].span.end;
                try_str(&s, i, i + run, bytes, How::Spelt);
            }
            i += run.max(1);
        }
    }

    /// Names made of word readings: full, reversed, one-word, surname.
    pub(super) fn word_cands(&self, tokens: &[Token], units: &Units, out: &mut Vec<Cand>) {
        for first in &units.all {
            let cand = |alias: u32, form, last: &Unit, hows: Hows| Cand {
                alias,
                form,
                start: first.start,
                end: last.end,
                bytes: first.bytes.start..last.bytes.end,
                hows,
                also: Vec::new(),
            };
            for &a in self.singles.get(&first.word).into_iter().flatten() {
                out.push(cand(a, Form::Single, first, Hows::of(first.how)));
            }
            // A surname shared by many persons scores the same for each of them, except
            // where an admin marked it or an initial before it points at one: those, and
            // the first few others, are enough (bounded cost at registry scale).
            let initial = first
                .start
                .checked_sub(1)
                .map(|p| &tokens[p])
                .filter(|p| {
                    p.is_letter() && p.caps != Caps::Lower && tokens[first.start].gap.sentence
                })
                .and_then(|p| p.plain.chars().next());
            let list = self
                .surnames
                .get(&first.word)
                .map_or(&[][..], Vec::as_slice);
            let (always, rest) =
                list.split_at(list.partition_point(|&a| self.aliases[a as usize].always));
            for &a in always {
                out.push(cand(a, Form::Surname, first, Hows::of(first.how)));
            }
            // Only an initial makes one of the others differ: then all are looked at.
            let scan = if initial.is_some() {
                rest
            } else {
                &rest[..rest.len().min(MAX_PER_SPAN)]
            };
            let mut shared: Option<Cand> = None;
            for &a in scan {
                let own = self.text[self.aliases[a as usize].words[0] as usize]
                    .chars()
                    .next();
                if initial.is_some() && own == initial {
                    out.push(cand(a, Form::Surname, first, Hows::of(first.how)));
                } else if let Some(c) = &mut shared {
                    if c.also.len() + 1 < MAX_PER_SPAN {
                        c.also.push(a);
                    }
                } else {
                    shared = Some(cand(a, Form::Surname, first, Hows::of(first.how)));
                }
            }
            out.extend(shared);
            // The next word, or the one after a middle initial ("Eileen M. Collins").
            let initial_next = tokens.get(first.end).is_some_and(|t| t.is_letter());
            let nexts = [Some(first.end), initial_next.then_some(first.end + 1)];
            for (n, at) in nexts.into_iter().enumerate() {
                let Some(at) = at else { continue };
                for second in units.at(at) {
                    for &a in self
                        .by_pair
                        .get(&(first.word, second.word))
                        .into_iter()
                        .flatten()
                    {
                        let words = &self.aliases[a as usize].words;
                        if let Some((last, hows)) = self.rest(units, &words[2..], second) {
                            let hows = hows.with(first.how).with(second.how);
                            out.push(cand(a, Form::Full, last, hows));
                        }
                    }
                    let comma = tokens[second.start].gap.comma;
                    if n == 0 && comma {
                        for &a in self
                            .by_rev
                            .get(&(first.word, second.word))
                            .into_iter()
                            .flatten()
                        {
                            let hows = Hows::of(first.how).with(second.how);
                            out.push(cand(a, Form::Reversed, second, hows));
                        }
                    }
                }
            }
        }
    }

    /// Matches the remaining words of a name after `prev`; the last unit and how the words
    /// were read (none when there are no more).
    fn rest<'u>(
        &self,
        units: &'u Units,
        words: &[u32],
        prev: &'u Unit,
    ) -> Option<(&'u Unit, Hows)> {
        let Some((&w, more)) = words.split_first() else {
            return Some((prev, Hows(0)));
        };
        units
            .at(prev.end)
            .iter()
            .filter(|u| u.word == w)
            .find_map(|u| {
                self.rest(units, more, u)
                    .map(|(last, hows)| (last, hows.with(u.how)))
            })
    }
}

/// Whether each token is a word written wholly in a script other than Latin, in a text
/// written mostly in such scripts; empty when none is. Only a word with letters folded as
/// Latin look-alikes ("снег" cher) can be misread: a text with none is not looked at further.
pub(super) fn native_words(text: &str, tokens: &[Token]) -> Vec<bool> {
    if text.is_ascii() || !tokens.iter().any(|t| t.altered) {
        return Vec::new();
    }
    let letters = text.chars().filter(|c| c.is_alphabetic());
    let other = letters.clone().filter(|&c| !latin(c)).count();
    if other * 2 <= letters.count() {
        return Vec::new();
    }
    tokens
        .iter()
        .map(|t| {
            let mut letters = text[t.span.clone()].chars().filter(|c| c.is_alphabetic());
            letters.clone().next().is_some() && letters.all(|c| !latin(c))
        })
        .collect()
}

pub(super) fn unit(start: usize, end: usize, bytes: Range<usize>, word: u32, how: How) -> Unit {
    Unit {
        start,
        end,
        bytes,
        word,
        how,
    }
}
