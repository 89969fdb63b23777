//! Finding registered names in any text (prompts now, on-screen text later), and judging how
//! likely each find is to mean the person.
//!
//! Names are indexed word by word. A text's words are read several ways (as written; joined
//! when CamelCase, spelt out or split by a space or line break; as a look-alike skeleton when
//! the word as written is not a word; with one typo when it is long and no word), and names
//! are found as sequences of those readings: the full name, "Surname, Given", a full name
//! written as one word (#EileenCollins), a one-word name, or a surname alone.
//!
//! Each find is scored from its form and its context, with the reasons listed: a surname or
//! a one-word name that is also an ordinary word ("Stone", "Prince") counts only with
//! corroboration (capitals mid-sentence, a title, a person's context such as "singing" or
//! "portrait of", a possessive, an obfuscation), while a determiner before it ("a prince"),
//! a place after it ("Collins Avenue") or another given name before it ("Tom Collins") speak
//! against it. Finds under [`REPORT_FLOOR`] are not reported.

use super::tokens::{skeleton, with_words, Caps, Token, Words};
use super::wordfreq::WordFrequencies;
use rustc_hash::{FxHashMap, FxHasher};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};
use std::ops::Range;

/// A word at least this frequent (Zipf) is an ordinary word: "prince" 4.7, "stone" 4.8,
/// "madonna" 3.7, "usher" 3.5, against "lorde" 3.2.
pub const COMMON_ZIPF: f32 = 3.3;
/// Enrolment warns about a word of a multi-word name only from this frequency: wordfreq counts
/// a name as a word, so frequent names pass [`COMMON_ZIPF`] ("eileen" 3.3, "collins" 4.2),
/// while the words innocent prompts use every day are well above ("stone" 4.8, "king" 5.2).
pub const ORDINARY_ZIPF: f32 = 4.5;
/// A word this frequent is never read as a typo or look-alike of a name.
const WORD_ZIPF: f32 = 3.0;
/// Typos are looked for only in words at least this long.
const TYPO_MIN_LEN: usize = 5;
/// Surnames shorter than this are not reported alone.
const MIN_SURNAME_LEN: usize = 4;
/// Finds scored under this are dropped: nothing suggests they mean the person.
pub const REPORT_FLOOR: f32 = 0.4;
/// At most this many persons are reported for one place in the text (a surname shared by
/// many registered persons).
const MAX_PER_SPAN: usize = 8;
/// The highest score of a surname alone without a title or initial: review, not block.
const SURNAME_CAP: f32 = 0.75;
/// Words looked at on each side of a find for a person's context.
const CONTEXT_WINDOW: usize = 4;

const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "mx",
    "miss",
    "dr",
    "doctor",
    "prof",
    "professor",
    "sir",
    "dame",
    "lady",
    "lord",
    "president",
    "senator",
    "governor",
    "mayor",
    "minister",
    "chancellor",
    "general",
    "captain",
    "coach",
    "judge",
    "rev",
    "reverend",
    "pope",
    "queen",
    "princess",
    "duke",
    "duchess",
    "officer",
    "agent",
    "detective",
    "uncle",
    "aunt",
    "auntie",
    "saint",
];
const DETERMINERS: &[&str] = &[
    "a", "an", "the", "this", "that", "these", "those", "some", "any", "my", "your", "his", "her",
    "our", "their", "its", "every", "each", "no", "one", "two", "three", "several", "many", "few",
    "another",
];
/// Words before a name that leave it bare ("portrait of Prince", "dancing with Drake").
const LINKS: &[&str] = &[
    "of",
    "with",
    "and",
    "by",
    "featuring",
    "feat",
    "ft",
    "like",
    "as",
    "starring",
    "vs",
    "versus",
    "meets",
    "from",
    "for",
    "to",
    "about",
    "is",
    "at",
];
/// Words that speak of a person.
const PERSON_CONTEXT: &[&str] = &[
    "singing",
    "sings",
    "sang",
    "singer",
    "dancing",
    "dances",
    "dancer",
    "speech",
    "speaking",
    "speaks",
    "interview",
    "interviewed",
    "interviewing",
    "portrait",
    "selfie",
    "photo",
    "photograph",
    "headshot",
    "performing",
    "performs",
    "performance",
    "concert",
    "rapping",
    "rapper",
    "starring",
    "actor",
    "actress",
    "celebrity",
    "famous",
    "deepfake",
    "lookalike",
    "impersonating",
    "impersonation",
    "cameo",
    "album",
    "song",
    "songs",
    "tour",
    "band",
    "guitarist",
    "drummer",
    "smiling",
    "talking",
    "waving",
    "hugging",
    "kissing",
    "meets",
    "married",
    "stage",
    "podium",
    "microphone",
    "campaign",
    "rally",
    "press",
    "conference",
    "autograph",
    "fans",
    "paparazzi",
    "biopic",
    "wife",
    "husband",
    "girlfriend",
    "boyfriend",
    "nude",
    "naked",
    "arrested",
    "speaking",
    "says",
    "said",
    "voice",
    "face",
    "lecture",
    "keynote",
    "award",
    "grammy",
    "grammys",
    "oscar",
    "oscars",
    "premiere",
    "musician",
    "president",
    "politician",
    "athlete",
    "player",
    "scientist",
    "astronaut",
    "author",
    "writer",
    "artist",
    "host",
    "anchor",
    "dressed",
    "posing",
    "poses",
    "thinking",
];
/// Words that speak of a person only before the name ("in the style of Collins").
const PERSON_CONTEXT_BEFORE: &[&str] = &["style", "featuring", "feat", "starring"];
/// A lower-case phrase of ordinary words is still read as a name when its first word is the
/// given name of at least this many registered names ("taylor swift", not "ice cube").
const GIVEN_NAME_MIN: u32 = 3;
/// Words after a name that make it the name of a place or thing ("Collins Avenue").
const PLACE_OR_THING: &[&str] = &[
    "avenue",
    "ave",
    "street",
    "st",
    "road",
    "rd",
    "boulevard",
    "blvd",
    "lane",
    "drive",
    "square",
    "park",
    "river",
    "lake",
    "bridge",
    "beach",
    "bay",
    "island",
    "mountain",
    "mount",
    "valley",
    "county",
    "city",
    "town",
    "village",
    "station",
    "airport",
    "hotel",
    "bar",
    "cocktail",
    "cafe",
    "restaurant",
    "building",
    "tower",
    "hall",
    "school",
    "university",
    "college",
    "center",
    "centre",
    "stadium",
    "arena",
    "museum",
    "gallery",
    "church",
    "cathedral",
    "plaza",
    "court",
    "hill",
    "hills",
    "creek",
    "falls",
    "forest",
    "woods",
    "field",
    "fields",
    "garden",
    "gardens",
    "barge",
    "boat",
    "ship",
    "truck",
    "car",
    "market",
    "pier",
    "harbor",
    "harbour",
    "canyon",
    "desert",
    "trail",
    "class",
    "dictionary",
    "bin",
];

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

/// One name found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct NameHit {
    /// The caller's key of the name (as given to [`NameIndexBuilder::add`]).
    pub key: u32,
    pub form: Form,
    /// Byte range in the text.
    pub span: Range<usize>,
    /// 0-1: how likely the find means the person (policies compare it with thresholds).
    pub score: f32,
    /// Why it scored so, in order: the form, then how it was written, then its context.
    pub reasons: Vec<&'static str>,
    /// Written as registered, up to case and spacing.
    pub exact: bool,
}

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
            Ambiguity::CommonPhrase => "every word is an ordinary word: in lower case without a person's context it is read as a phrase",
            Ambiguity::Short => "shorter than four letters: alone it is not reported",
            Ambiguity::NoLetters => "no letters: it can never be found in text",
        }
    }
}

/// Ambiguities of one name or alias. A one-word name is flagged from [`COMMON_ZIPF`], where
/// the matcher starts asking for corroboration; the words of a longer name only when they are
/// in everyday use ([`ORDINARY_ZIPF`]), so that frequent names ("Eileen Collins") are not.
pub fn ambiguity(name: &str, words: &WordFrequencies) -> Vec<Ambiguity> {
    let ordinary = |t: &Token| words.zipf(t.plain) >= ORDINARY_ZIPF;
    let mut out = Vec::new();
    with_words(name, |w| match w.tokens {
        [] => out.push(Ambiguity::NoLetters),
        [one] => {
            if words.zipf(one.plain) >= COMMON_ZIPF {
                out.push(Ambiguity::CommonSingleWord);
            }
            if one.plain.chars().count() < MIN_SURNAME_LEN {
                out.push(Ambiguity::Short);
            }
        }
        many => {
            if many.iter().all(ordinary) {
                out.push(Ambiguity::CommonPhrase);
            }
            if ordinary(&many[many.len() - 1]) {
                out.push(Ambiguity::CommonSurname);
            }
        }
    });
    out
}

struct Alias {
    words: Box<[u32]>,
    key: u32,
    always: bool,
}

/// Collects names, then builds the index.
#[derive(Default)]
pub struct NameIndexBuilder {
    words: FxHashMap<Box<str>, u32>,
    aliases: Vec<Alias>,
}

impl NameIndexBuilder {
    /// Adds a name or alias under the caller's `key`. `always`: an admin marked it as
    /// meaning the person wherever it appears, with no corroboration needed.
    pub fn add(&mut self, name: &str, key: u32, always: bool) {
        // A name's CamelCase pieces are one word ("LeBron", "McCartney").
        let mut words: Vec<String> = Vec::new();
        with_words(name, |tokens| {
            for t in tokens.tokens {
                let w = t.run.as_ref().map_or(t.plain, |(r, _)| r);
                match words.last_mut() {
                    Some(last) if t.gap.glued => last.push_str(w),
                    _ => words.push(w.to_string()),
                }
            }
        });
        let ids: Box<[u32]> = words
            .into_iter()
            .map(|w| {
                let next = self.words.len() as u32;
                *self.words.entry(w.into()).or_insert(next)
            })
            .collect();
        if !ids.is_empty() {
            self.aliases.push(Alias {
                words: ids,
                key,
                always,
            });
        }
    }

    pub fn build(self, freq: &WordFrequencies) -> NameIndex {
        let mut text: Vec<Box<str>> = vec![Box::from(""); self.words.len()];
        for (w, &id) in &self.words {
            text[id as usize] = w.clone();
        }
        let zipf: Vec<f32> = text.iter().map(|w| freq.zipf(w)).collect();
        let mut skel: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
        let mut deletes: Vec<(u64, u32)> = Vec::new();
        let mut buf = String::new();
        for (id, w) in text.iter().enumerate() {
            skel.entry(skeleton(w).collect::<String>().into())
                .or_default()
                .push(id as u32);
            let n = w.chars().count();
            if n >= TYPO_MIN_LEN {
                deletes.push((hash(w), id as u32));
                for_each_deletion(w, &mut buf, |d| deletes.push((hash(d), id as u32)));
            }
        }
        deletes.sort_unstable();
        deletes.dedup();
        let buckets = bucket_starts(&deletes);
        let mut by_pair: FxHashMap<(u32, u32), Vec<u32>> = FxHashMap::default();
        let mut by_rev: FxHashMap<(u32, u32), Vec<u32>> = FxHashMap::default();
        let mut singles: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut surnames: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut joined: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
        let mut given: FxHashMap<u32, u32> = FxHashMap::default();
        for (a, alias) in self.aliases.iter().enumerate() {
            let a = a as u32;
            let w = &alias.words;
            if w.len() == 1 {
                singles.entry(w[0]).or_default().push(a);
                continue;
            }
            let last = w[w.len() - 1];
            *given.entry(w[0]).or_default() += 1;
            by_pair.entry((w[0], w[1])).or_default().push(a);
            by_rev.entry((last, w[0])).or_default().push(a);
            if text[last as usize].chars().count() >= MIN_SURNAME_LEN {
                surnames.entry(last).or_default().push(a);
            }
            let concat: String = w.iter().map(|&i| &*text[i as usize]).collect();
            joined.entry(concat.into()).or_default().push(a);
        }
        for list in surnames.values_mut() {
            list.sort_by_key(|&a| !self.aliases[a as usize].always);
        }
        let mut keys = Prefilter::with_capacity(self.words.len() + skel.len() + joined.len());
        for k in self.words.keys().chain(skel.keys()).chain(joined.keys()) {
            keys.insert(k);
        }
        NameIndex {
            keys,
            words: self.words,
            text,
            zipf,
            skel,
            deletes,
            buckets,
            aliases: self.aliases,
            by_pair,
            by_rev,
            singles,
            surnames,
            joined,
            given,
            lists: word_lists(),
        }
    }
}

/// Bits of a deletion's hash that pick its bucket in [`NameIndex::buckets`].
const BUCKET_BITS: u32 = 16;

fn bucket(h: u64) -> usize {
    (h >> (64 - BUCKET_BITS)) as usize
}

/// Where each bucket of the sorted deletion table starts (and, one further, where it ends).
fn bucket_starts(deletes: &[(u64, u32)]) -> Box<[u32]> {
    let mut starts = vec![0u32; (1 << BUCKET_BITS) + 1];
    for &(h, _) in deletes {
        starts[bucket(h) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    starts.into()
}

fn hash(s: &str) -> u64 {
    let mut h = FxHasher::default();
    s.hash(&mut h);
    h.finish()
}

/// Every string key of the index (name words, skeletons, names written as one word) as bits
/// of a Bloom filter: most words of a text are in none of the index's maps, and this answers
/// "certainly not" from one cache line instead of a probe into a large map.
struct Prefilter {
    bits: Box<[u64]>,
    /// Bits of the hash that pick a word of `bits`.
    shift: u32,
}

impl Prefilter {
    /// About 16 bits a key, two of them set in one 64-bit word: a few percent of misses pass.
    fn with_capacity(keys: usize) -> Self {
        let words = (keys / 4).next_power_of_two().max(1);
        Self {
            bits: vec![0; words].into(),
            shift: 64 - words.trailing_zeros(),
        }
    }

    fn place(&self, key: &str) -> (usize, u64) {
        let h = hash(key).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let word = if self.shift == 64 {
            0
        } else {
            (h >> self.shift) as usize
        };
        (word, 1 << ((h >> 32) & 63) | 1 << ((h >> 38) & 63))
    }

    fn insert(&mut self, key: &str) {
        let (word, mask) = self.place(key);
        self.bits[word] |= mask;
    }

    fn may_contain(&self, key: &str) -> bool {
        let (word, mask) = self.place(key);
        self.bits[word] & mask == mask
    }
}

/// Calls `f` with every string made by deleting one character of `w`.
fn for_each_deletion(w: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    for (i, c) in w.char_indices() {
        buf.clear();
        buf.push_str(&w[..i]);
        buf.push_str(&w[i + c.len_utf8()..]);
        f(buf);
    }
}

/// Optimal string alignment distance of at most one (one insertion, deletion, substitution
/// or swap of neighbours). ASCII words, nearly all, are compared as bytes without copying.
fn within_one_edit(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        one_edit(a.as_bytes(), b.as_bytes())
    } else {
        one_edit(
            &a.chars().collect::<Vec<_>>(),
            &b.chars().collect::<Vec<_>>(),
        )
    }
}

fn one_edit<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let (s, l) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if l.len() - s.len() > 1 {
        return false;
    }
    let p = s.iter().zip(l.iter()).take_while(|(x, y)| x == y).count();
    if s.len() == l.len() {
        if p == s.len() {
            return true;
        }
        s[p + 1..] == l[p + 1..]
            || (p + 1 < s.len() && s[p] == l[p + 1] && s[p + 1] == l[p] && s[p + 2..] == l[p + 2..])
    } else {
        s[p..] == l[p + 1..]
    }
}

/// Every registered name, indexed for [`NameIndex::find`]. Immutable; rebuilt when the
/// registry changes.
pub struct NameIndex {
    /// Every key of `words`, `skel` and `joined`, checked before them.
    keys: Prefilter,
    words: FxHashMap<Box<str>, u32>,
    text: Vec<Box<str>>,
    zipf: Vec<f32>,
    skel: FxHashMap<Box<str>, Vec<u32>>,
    deletes: Vec<(u64, u32)>,
    /// Where each bucket of `deletes` starts, by the top bits of the hash.
    buckets: Box<[u32]>,
    aliases: Vec<Alias>,
    by_pair: FxHashMap<(u32, u32), Vec<u32>>,
    by_rev: FxHashMap<(u32, u32), Vec<u32>>,
    singles: FxHashMap<u32, Vec<u32>>,
    surnames: FxHashMap<u32, Vec<u32>>,
    joined: FxHashMap<Box<str>, Vec<u32>>,
    /// How many multi-word names start with each word.
    given: FxHashMap<u32, u32>,
    /// The context word lists above, as flags per word.
    lists: FxHashMap<&'static str, u8>,
}

const TITLE: u8 = 1;
const DETERMINER: u8 = 2;
const LINK: u8 = 4;
const CONTEXT: u8 = 8;
const CONTEXT_BEFORE: u8 = 16;
const PLACE: u8 = 32;

fn word_lists() -> FxHashMap<&'static str, u8> {
    let mut m: FxHashMap<&'static str, u8> = FxHashMap::default();
    for (list, flag) in [
        (TITLES, TITLE),
        (DETERMINERS, DETERMINER),
        (LINKS, LINK),
        (PERSON_CONTEXT, CONTEXT),
        (PERSON_CONTEXT_BEFORE, CONTEXT_BEFORE),
        (PLACE_OR_THING, PLACE),
    ] {
        for w in list {
            *m.entry(w).or_default() |= flag;
        }
    }
    m
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    Exact,
    LookAlike,
    Typo,
    Split,
    Spelt,
}

/// The ways the words of a find were read, as a set: scoring only asks which occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hows(u8);

impl Hows {
    fn of(how: How) -> Self {
        Hows(1 << how as u8)
    }

    fn with(self, how: How) -> Self {
        Hows(self.0 | Self::of(how).0)
    }

    fn has(self, how: How) -> bool {
        self.0 & Self::of(how).0 != 0
    }

    fn all_exact(self) -> bool {
        self == Self::of(How::Exact)
    }
}

/// One reading of tokens `start..end` as a name word.
#[derive(Debug, Clone)]
struct Unit {
    start: usize,
    end: usize,
    bytes: Range<usize>,
    word: u32,
    how: How,
}

/// Every reading found in a text, in one vector ordered by the token it starts at.
struct Units {
    all: Vec<Unit>,
    /// Where the readings of each token start in `all`, and one past the last token's.
    starts: Vec<u32>,
}

impl Units {
    /// `units` holds each token's readings in the order found, but spelt-out runs were found
    /// after the tokens they start at: a stable sort keeps the order within a token.
    fn new(mut units: Vec<Unit>, tokens: usize) -> Self {
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
    fn at(&self, i: usize) -> &[Unit] {
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.all[a as usize..b as usize],
            _ => &[],
        }
    }
}

#[derive(Debug, Clone)]
struct Cand {
    alias: u32,
    form: Form,
    start: usize,
    end: usize,
    bytes: Range<usize>,
    hows: Hows,
    /// Other names found at the same place that score exactly as this one does (the
    /// persons sharing a surname): scored once, reported alike.
    also: Vec<u32>,
}

/// What is known about the whole text.
struct Text<'t> {
    tokens: &'t [Token<'t>],
    /// Capitals say nothing when most words have them (Title Case, ALL CAPS).
    caps_informative: bool,
    /// Per token, the context lists it is in ([`CONTEXT`], [`CONTEXT_BEFORE`]...).
    flags: Vec<u8>,
}

impl NameIndex {
    pub fn aliases(&self) -> usize {
        self.aliases.len()
    }

    /// Every registered name found in a text, best first per place, scored and explained.
    pub fn find(&self, words: &Words, freq: &WordFrequencies) -> Vec<NameHit> {
        let tokens = words.tokens;
        if tokens.is_empty() {
            return Vec::new();
        }
        let units = self.units(tokens, freq);
        let mut cands = Vec::new();
        self.joined_cands(tokens, &units, &mut cands);
        self.word_cands(tokens, &units, &mut cands);
        if cands.is_empty() {
            return Vec::new();
        }
        let (mut long, mut capped, mut upper) = (0, 0, 0);
        for t in tokens.iter().filter(|t| t.plain.chars().count() >= 3) {
            long += 1;
            capped += usize::from(t.caps != Caps::Lower);
            upper += usize::from(t.caps == Caps::Upper);
        }
        let ctx = Text {
            tokens,
            caps_informative: !(long >= 2 && upper == long) && (long < 5 || capped * 10 < long * 6),
            flags: tokens
                .iter()
                .map(|t| self.lists.get(t.plain).copied().unwrap_or(0))
                .collect(),
        };
        let mut hits: Vec<(Cand, NameHit)> = Vec::new();
        // Most candidates score under the floor: their reasons are written into one buffer,
        // and copied only for those reported.
        let mut reasons = Vec::with_capacity(16);
        for mut c in cands {
            let score = self.score(&ctx, &c, freq, &mut reasons);
            if score < REPORT_FLOOR {
                continue;
            }
            let exact = c.hows.all_exact()
                && matches!(c.form, Form::Full | Form::Single | Form::Surname)
                && !tokens[c.start..c.end].iter().any(|t| t.altered);
            let hit = NameHit {
                key: self.aliases[c.alias as usize].key,
                form: c.form,
                span: c.bytes.clone(),
                score,
                reasons: reasons.clone(),
                exact,
            };
            for a in std::mem::take(&mut c.also) {
                let same = Cand {
                    alias: a,
                    bytes: c.bytes.clone(),
                    also: Vec::new(),
                    ..c
                };
                let key = self.aliases[a as usize].key;
                hits.push((same, NameHit { key, ..hit.clone() }));
            }
            hits.push((c, hit));
        }
        // Longer finds first, then stronger; a find overlapping a kept one of another extent
        // is dropped, and one name is reported once per place.
        hits.sort_by(|a, b| {
            (b.0.end - b.0.start)
                .cmp(&(a.0.end - a.0.start))
                .then(b.1.score.total_cmp(&a.1.score))
                .then(a.1.key.cmp(&b.1.key))
        });
        let mut kept: Vec<(Cand, NameHit)> = Vec::new();
        for (c, h) in hits {
            let clash = kept.iter().any(|(k, kh)| {
                let overlap = c.start < k.end && k.start < c.end;
                let same = c.start == k.start && c.end == k.end;
                (overlap && !same) || (same && kh.key == h.key)
            });
            let crowded = kept
                .iter()
                .filter(|(k, _)| k.start == c.start && k.end == c.end)
                .count()
                >= MAX_PER_SPAN;
            if !clash && !crowded {
                kept.push((c, h));
            }
        }
        kept.sort_by_key(|(c, h)| (c.start, h.key));
        kept.into_iter().map(|(_, h)| h).collect()
    }

    fn has(&self, word: &str, flag: u8) -> bool {
        self.lists.get(word).is_some_and(|f| f & flag != 0)
    }

    fn lookup_word(&self, s: &str) -> Option<u32> {
        if !self.keys.may_contain(s) {
            return None;
        }
        self.words.get(s).copied()
    }

    /// Name words whose skeleton is `s`.
    fn lookup_skeleton(&self, s: &str) -> &[u32] {
        if !self.keys.may_contain(s) {
            return &[];
        }
        self.skel.get(s).map_or(&[], Vec::as_slice)
    }

    /// Aliases that are a multi-word name written as the one word `s`.
    fn lookup_joined(&self, s: &str) -> &[u32] {
        if !self.keys.may_contain(s) {
            return &[];
        }
        self.joined.get(s).map_or(&[], Vec::as_slice)
    }

    /// Every reading of every token, and of runs of tokens, as a registered name word.
    fn units(&self, tokens: &[Token], freq: &WordFrequencies) -> Units {
        let mut units: Vec<Unit> = Vec::new();
        let mut buf = String::with_capacity(32);
        let mut concat = String::with_capacity(32);
        let mut skel = String::with_capacity(32);
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
            // The frequency is looked up only once something could be found.
            let written_odd = t.run.is_some() || t.altered;
            let mut rare_memo = None;
            let mut rare = || *rare_memo.get_or_insert_with(|| freq.zipf(t.plain) < WORD_ZIPF);
            if written_odd || !found {
                let run = t.run.as_ref().map(|(r, bytes)| (*r, bytes));
                for (w, bytes) in std::iter::once((t.plain, &t.span)).chain(run) {
                    skel.clear();
                    skel.extend(skeleton(w));
                    let ws = self.lookup_skeleton(&skel);
                    if ws.is_empty() || !(written_odd || rare()) {
                        continue;
                    }
                    for &w in ws {
                        push(unit(i, i + 1, bytes.clone(), w, How::LookAlike), &mut units);
                        found = true;
                    }
                }
            }
            if !found && t.plain.chars().count() >= TYPO_MIN_LEN && rare() {
                for w in self.typos(t.plain, &mut buf) {
                    push(unit(i, i + 1, t.span.clone(), w, How::Typo), &mut units);
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

    fn typos(&self, w: &str, buf: &mut String) -> Vec<u32> {
        let mut out = Vec::new();
        let mut probe = |d: &str| {
            let h = hash(d);
            let b = bucket(h);
            let within = &self.deletes[self.buckets[b] as usize..self.buckets[b + 1] as usize];
            let from = within.partition_point(|&(x, _)| x < h);
            for &(x, id) in &within[from..] {
                if x != h {
                    break;
                }
                if !out.contains(&id) && within_one_edit(w, &self.text[id as usize]) {
                    out.push(id);
                }
            }
        };
        probe(w);
        for_each_deletion(w, buf, &mut probe);
        out
    }

    /// Full names written as one word, plain, CamelCase, or spelt out.
    fn joined_cands(&self, tokens: &[Token], units: &Units, out: &mut Vec<Cand>) {
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
    fn word_cands(&self, tokens: &[Token], units: &Units, out: &mut Vec<Cand>) {
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

    /// The score of a candidate, its reasons written into `reasons` (cleared first).
    fn score(
        &self,
        text: &Text<'_>,
        c: &Cand,
        freq: &WordFrequencies,
        reasons: &mut Vec<&'static str>,
    ) -> f32 {
        let alias = &self.aliases[c.alias as usize];
        let tokens = &text.tokens[c.start..c.end];
        reasons.clear();
        reasons.push(match c.form {
            Form::Full => "full_name",
            Form::Reversed => "reversed_name",
            Form::Joined => "joined_name",
            Form::Single => "single_name",
            Form::Surname => "surname_only",
        });
        if alias.always {
            reasons.push("always_match");
            return 1.0;
        }
        let matched: &[u32] = match c.form {
            Form::Single | Form::Surname => &alias.words[alias.words.len() - 1..],
            _ => &alias.words,
        };
        let common = matched
            .iter()
            .all(|&w| self.zipf[w as usize] >= COMMON_ZIPF);
        let look_alike = c.hows.has(How::LookAlike);
        let typo = c.hows.has(How::Typo);
        let split = c.hows.has(How::Split);
        let spelt = c.hows.has(How::Spelt);
        // Capitals that say something: not at a sentence start, in a text that is not
        // written all in capitals.
        let capitalised = text.caps_informative
            && tokens
                .iter()
                .enumerate()
                .any(|(k, t)| t.caps != Caps::Lower && !(k == 0 && t.gap.sentence));
        let lower = !text.caps_informative || tokens.iter().all(|t| t.caps == Caps::Lower);
        let prev = c.start.checked_sub(1).map(|p| &text.tokens[p]);
        let first = &text.tokens[c.start];
        let prev_word = prev.filter(|_| !first.gap.sentence && !first.gap.glued);
        let after_article =
            prev_word.is_some_and(|p| p.caps == Caps::Lower && self.has(p.plain, DETERMINER));
        // "Mr. Swift": a title's full stop is no sentence end.
        let title = prev.is_some_and(|p| self.has(p.plain, TITLE))
            && !first.gap.glued
            && !first.gap.comma
            && first.gap.width <= 2;
        let next = text
            .tokens
            .get(c.end)
            .filter(|n| !n.gap.sentence && !n.gap.comma);
        let place = next.is_some_and(|n| self.has(n.plain, PLACE));
        let mention = first.gap.mention;
        let hashtag = first.gap.hashtag;
        let possessive = tokens.last().is_some_and(|t| t.possessive);
        let from = c.start.saturating_sub(CONTEXT_WINDOW);
        let to = (c.end + CONTEXT_WINDOW).min(text.tokens.len());
        let context = text.flags[from..c.start]
            .iter()
            .any(|f| f & (CONTEXT | CONTEXT_BEFORE) != 0)
            || text.flags[c.end..to].iter().any(|f| f & CONTEXT != 0);
        // A word before a one-word find that reads as an adjective or noun ("a young king")
        // rather than a link ("portrait of Prince").
        let bare = prev_word.is_none_or(|p| {
            self.has(p.plain, LINK) || p.caps != Caps::Lower || freq.zipf(p.plain) < WORD_ZIPF
        });
        let mut push = |r: &'static str, on: bool| {
            if on {
                reasons.push(r);
            }
            on
        };
        push("look_alike", look_alike);
        push("typo", typo);
        push("split", split);
        push("spelt_out", spelt);
        push("mention", mention);
        push("hashtag", hashtag);
        push("common_word", common);
        push("capitalised", capitalised && !lower);
        push(
            "lower_case",
            lower && tokens.iter().all(|t| t.caps == Caps::Lower),
        );
        push("after_article", after_article);
        push("title", title);
        push("possessive", possessive);
        push("place_or_thing", place);
        let mut score: f32 = match c.form {
            Form::Full | Form::Reversed | Form::Joined => {
                let given_first = self
                    .given
                    .get(&alias.words[0])
                    .is_some_and(|&n| n >= GIVEN_NAME_MIN);
                let phrase = common
                    && lower
                    && !given_first
                    && !look_alike
                    && !spelt
                    && !split
                    && !mention
                    && !hashtag;
                let mut s = if phrase && after_article {
                    0.3
                } else if phrase {
                    0.45
                } else {
                    0.9
                };
                if push("person_context", context) {
                    s += 0.3;
                }
                if typo {
                    s -= 0.1;
                }
                s
            }
            Form::Single | Form::Surname => {
                let single = c.form == Form::Single;
                let short = text_len(&self.text[matched[0] as usize]) < MIN_SURNAME_LEN;
                let mut s: f32 = match (single, common || short) {
                    (true, false) => 0.85,
                    (true, true) => 0.25,
                    (false, _) => 0.3,
                };
                if capitalised && !lower {
                    s += if single { 0.25 } else { 0.1 };
                }
                if look_alike || spelt || split {
                    s += 0.35;
                }
                if mention {
                    s += 0.3;
                }
                if hashtag {
                    s += 0.1;
                }
                if title {
                    s += 0.5;
                }
                if push(
                    "person_context",
                    context && (bare || capitalised) && !after_article,
                ) {
                    // A lower-case ordinary word near a person's context is still likely the
                    // word ("oliver twist style"): at most a reason to look.
                    s += if lower && common && !single { 0.2 } else { 0.4 };
                }
                if possessive {
                    s += match (single, capitalised) {
                        (true, true) => 0.2,
                        _ => 0.05,
                    };
                }
                if after_article {
                    s -= if lower { 0.4 } else { 0.15 };
                }
                if typo {
                    s -= 0.1;
                }
                if !single {
                    let own = alias.words[0];
                    let given_initial = self.text[own as usize].chars().next();
                    // "T. Swift", "T.Swift": a capital letter and a full stop, not the
                    // article "A" at a sentence start.
                    let initial = prev.is_some_and(|p| {
                        p.is_letter()
                            && p.caps != Caps::Lower
                            && p.plain.chars().next() == given_initial
                    }) && first.gap.sentence
                        && first.gap.width <= 2;
                    if push("initial", initial) {
                        s += 0.4;
                    }
                    let other_given = !initial
                        && !title
                        && prev_word.is_some_and(|p| {
                            let known = self
                                .lookup_word(p.plain)
                                .is_some_and(|w| w != own && self.given.contains_key(&w));
                            let capital = text.caps_informative && p.caps == Caps::Title;
                            !p.is_letter() && (known || capital)
                        });
                    if push("other_given_name", other_given) {
                        s -= 0.6;
                    }
                }
                // A surname alone is at most a reason to look, unless a title or the given
                // name's initial goes with it.
                if !single && !title && !reasons.contains(&"initial") {
                    s = s.min(SURNAME_CAP);
                }
                s
            }
        };
        if place {
            score -= 0.4;
        }
        score.clamp(0.0, 1.0)
    }
}

fn text_len(w: &str) -> usize {
    w.chars().count()
}

fn unit(start: usize, end: usize, bytes: Range<usize>, word: u32, how: How) -> Unit {
    Unit {
        start,
        end,
        bytes,
        word,
        how,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zipf values read from wordfreq 3.1.1's large English list (`zipf_frequency(w, "en",
    /// wordlist="large")`), for the words these tests use.
    fn freq() -> WordFrequencies {
        WordFrequencies::from_pairs([
            ("taylor", 4.65),
            ("swift", 4.15),
            ("james", 5.11),
            ("brown", 5.01),
            ("stephen", 4.5),
            ("king", 5.17),
            ("jack", 4.82),
            ("white", 5.51),
            ("al", 5.16),
            ("green", 5.13),
            ("emma", 4.23),
            ("stone", 4.8),
            ("neil", 4.16),
            ("young", 5.43),
            ("lorde", 3.16),
            ("prince", 4.72),
            ("collins", 4.15),
            ("hopper", 3.48),
            ("eileen", 3.34),
            ("grace", 4.56),
            ("ice", 5.0),
            ("cube", 3.82),
            ("tom", 4.83),
            ("phil", 4.37),
            ("a", 7.36),
            ("the", 7.73),
            ("of", 7.4),
            ("and", 7.42),
            ("portrait", 4.28),
            ("singing", 4.21),
            ("on", 7.06),
            ("stage", 4.85),
            ("avenue", 4.36),
            ("at", 7.05),
            ("night", 5.66),
            ("dog", 5.1),
            ("running", 5.01),
            ("beach", 4.76),
            ("river", 4.92),
            ("under", 5.73),
            ("bridge", 4.83),
            ("dragon", 4.45),
            ("cocktail", 3.91),
            ("bar", 4.82),
            ("style", 4.91),
            ("drum", 3.97),
            ("solo", 4.33),
            ("field", 5.06),
            ("dawn", 4.37),
            ("barge", 3.05),
            ("lion", 4.37),
            ("jungle", 4.01),
            ("mr", 5.34),
            ("video", 5.32),
            ("in", 7.57),
            ("melting", 3.72),
            ("glass", 4.92),
            ("new", 6.2),
            ("album", 4.86),
            ("tay", 2.93),
            ("lor", 2.1),
            ("with", 7.05),
        ])
    }

    fn index(names: &[(&str, bool)]) -> (NameIndex, WordFrequencies) {
        let f = freq();
        let mut b = NameIndexBuilder::default();
        for (k, (n, always)) in names.iter().enumerate() {
            b.add(n, k as u32, *always);
        }
        (b.build(&f), f)
    }

    const NAMES: &[(&str, bool)] = &[
        ("Taylor Swift", false),
        ("Eileen Collins", false),
        ("Grace Hopper", false),
        ("Lorde", false),
        ("Prince", false),
        ("Stephen King", false),
        ("Ice Cube", false),
        ("Al Green", false),
        // Taylor is a given name of several registered persons, as in a real registry.
        ("Taylor Brown", false),
        ("Taylor Green", false),
    ];

    /// The best score for name `key` in `text`, 0 when not reported.
    fn score(text: &str, key: u32) -> f32 {
        let (ix, f) = index(NAMES);
        with_words(text, |w| ix.find(w, &f))
            .iter()
            .filter(|h| h.key == key)
            .map(|h| h.score)
            .fold(0.0, f32::max)
    }

    fn reasons(text: &str, key: u32) -> Vec<&'static str> {
        let (ix, f) = index(NAMES);
        with_words(text, |w| ix.find(w, &f))
            .into_iter()
            .find(|h| h.key == key)
            .map(|h| h.reasons)
            .unwrap_or_default()
    }

    const BLOCK: f32 = 0.8;
    const REVIEW: f32 = 0.5;

    #[test]
    fn punctuation_digits_and_emoji_beside_a_name_never_hide_it() {
        for text in [
            "Taylor Swift!",
            "make a video of Taylor Swift!!!",
            "TAYLOR SWIFT?!",
            "Taylor Swift1",
            "Taylor Swift2024 on stage",
            "Taylor Swift🎤",
            "🔥Taylor Swift🔥",
            "(Taylor Swift)",
            "*Taylor Swift*",
        ] {
            assert!(score(text, 0) >= BLOCK, "{text:?}: {}", score(text, 0));
        }
        assert!(score("Grace Hopper1", 2) >= BLOCK);
    }

    #[test]
    fn look_alikes_only_where_the_word_is_not_a_word() {
        for text in [
            "T4yl0r Sw1ft",
            "3ileen C0ll1n5",
            "Gr@ce H0pper",
            "Тaylor Swіft",
            "Ta\u{200B}ylor Swift",
        ] {
            let hit = score(text, 0).max(score(text, 1)).max(score(text, 2));
            assert!(hit >= BLOCK, "{text:?}");
        }
        assert!(reasons("T4yl0r Sw1ft", 0).contains(&"look_alike"));
        // "Swift!" is the word "swift" and a "!", not "swifti".
        assert!(!reasons("Taylor Swift!", 0).contains(&"look_alike"));
    }

    #[test]
    fn camel_case_hashtags_and_mentions() {
        for text in [
            "#TaylorSwift",
            "@taylorswift",
            "#EileenCollins2024",
            "@GraceHopper on stage",
            "TaylorSwiftConcert",
        ] {
            let hit = score(text, 0).max(score(text, 1)).max(score(text, 2));
            assert!(hit >= BLOCK, "{text:?}");
        }
        assert!(reasons("@GraceHopper on stage", 2).contains(&"mention"));
    }

    #[test]
    fn reversed_names_initials_and_middle_initials() {
        assert!(score("Swift, Taylor singing", 0) >= BLOCK);
        assert!(reasons("Collins, Eileen", 1).contains(&"reversed_name"));
        assert!(score("Eileen M. Collins", 1) >= BLOCK);
        assert!(score("T. Swift on stage", 0) >= BLOCK);
    }

    #[test]
    fn one_letter_typos_in_longer_names_but_not_real_words() {
        for text in [
            "Taylor Swfit",
            "Eilen Collins",
            "Grace Hoppper",
            "Taylro Swift",
        ] {
            let hit = score(text, 0).max(score(text, 1)).max(score(text, 2));
            assert!(hit >= REVIEW, "{text:?}");
        }
        assert!(reasons("Taylor Swfit", 0).contains(&"typo"));
        // "taylor" is a word: "Tailor Swift" is not read as a typo of it, though Swift alone
        // with nothing else is no name either.
        assert!(score("a tailor in a swift boat", 0) < REVIEW);
    }

    #[test]
    fn names_split_by_line_breaks_markdown_quotes_and_spelt_out() {
        for text in [
            "Taylor\nSwift",
            "**Taylor** Swift",
            "\"Taylor\" \"Swift\"",
            "_Taylor_ _Swift_",
            "Tay lor Swift",
            "T a y l o r  S w i f t",
            "t.a.y.l.o.r.s.w.i.f.t",
            "T-a-y-l-o-r S-w-i-f-t",
        ] {
            assert!(score(text, 0) >= REVIEW, "{text:?}: {}", score(text, 0));
        }
    }

    #[test]
    fn ordinary_words_that_are_names_need_corroboration() {
        // The false alarms.
        for text in [
            "a brown dog running on a white beach",
            "a green field at dawn",
            "the king of the jungle, a young lion",
            "a swift river under a stone bridge",
            "a prince and a dragon",
            "Collins Avenue at night",
            "Tom Collins cocktail on a bar",
            "a phil collins style drum solo",
            "a hopper barge on the river at dawn",
            "an ice cube melting in a glass",
        ] {
            for k in 0..NAMES.len() as u32 {
                assert!(
                    score(text, k) < REVIEW,
                    "{text:?} -> {k}: {:?}",
                    reasons(text, k)
                );
            }
        }
        // With corroboration they count.
        assert!(score("Prince singing on stage", 4) >= REVIEW);
        assert!(score("a portrait of Prince", 4) >= REVIEW);
        assert!(score("Mr King", 5) >= BLOCK);
        assert!(score("Swift's new album", 0) >= REVIEW);
        assert!(score("Ice Cube rapping on stage", 6) >= BLOCK);
        assert!(score("Al Green singing", 7) >= BLOCK);
        // A one-word name that is no ordinary word stands alone.
        assert!(score("lorde on a beach", 3) >= BLOCK);
    }

    #[test]
    fn a_surname_alone_is_at_most_a_review() {
        let s = score("Collins singing on stage", 1);
        assert!((REVIEW..BLOCK).contains(&s), "{s}");
        assert!(reasons("Collins singing on stage", 1).contains(&"surname_only"));
        assert!(score("Ms. Collins", 1) >= BLOCK);
        // Another given name before it: someone else.
        assert!(score("a drum solo by Tom Collins", 1) < REVIEW);
    }

    #[test]
    fn always_match_needs_no_corroboration() {
        let (ix, f) = index(&[("Prince", true)]);
        let hits = with_words("a prince and a dragon", |w| ix.find(w, &f));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].score, 1.0);
        assert!(hits[0].reasons.contains(&"always_match"));
    }

    #[test]
    fn capitals_say_nothing_in_title_case_or_all_caps_text() {
        assert!(score("A Prince And A Dragon In The Castle", 4) < REVIEW);
        assert!(score("A PRINCE AND A DRAGON", 4) < REVIEW);
        assert!(score("a dragon and Prince", 4) >= REVIEW);
    }

    #[test]
    fn spans_and_exactness() {
        let (ix, f) = index(NAMES);
        let text = "a video of Taylor Swift!";
        let hits = with_words(text, |w| ix.find(w, &f));
        let hit = hits.first().unwrap_or_else(|| panic!("{text:?}: {hits:?}"));
        assert_eq!(&text[hit.span.clone()], "Taylor Swift");
        assert!(hit.exact);
        let text = "a video of T4ylor Swift";
        let hits = with_words(text, |w| ix.find(w, &f));
        let hit = hits.first().unwrap_or_else(|| panic!("{text:?}: {hits:?}"));
        assert_eq!(&text[hit.span.clone()], "T4ylor Swift");
        assert!(!hit.exact);
    }

    #[test]
    fn ambiguity_at_enrolment() {
        let f = freq();
        assert_eq!(ambiguity("Prince", &f), [Ambiguity::CommonSingleWord]);
        assert!(ambiguity("Lorde", &f).is_empty());
        assert_eq!(
            ambiguity("Al", &f),
            [Ambiguity::CommonSingleWord, Ambiguity::Short]
        );
        assert_eq!(
            ambiguity("Stephen King", &f),
            [Ambiguity::CommonPhrase, Ambiguity::CommonSurname]
        );
        // "emma" is a frequent name, not a word in everyday use; "stone" is.
        assert_eq!(ambiguity("Emma Stone", &f), [Ambiguity::CommonSurname]);
        assert_eq!(ambiguity("Stone", &f), [Ambiguity::CommonSingleWord]);
        assert_eq!(ambiguity("Eileen Nguyen", &f), []);
        // Frequent names above the matcher's line are no ordinary words.
        assert_eq!(ambiguity("Eileen Collins", &f), []);
        assert_eq!(ambiguity("!!!", &f), [Ambiguity::NoLetters]);
    }

    #[test]
    fn edit_distance_of_one() {
        assert!(within_one_edit("swift", "swfit"));
        assert!(within_one_edit("swift", "swit"));
        assert!(within_one_edit("swift", "swifts"));
        assert!(within_one_edit("swift", "swaft"));
        assert!(!within_one_edit("swift", "sweft1"));
        assert!(!within_one_edit("swift", "wsfit"));
    }
}
