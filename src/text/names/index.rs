//! The index of registered names: every name word once, with its look-alike skeleton and its
//! one-deletion variants (typos), and the names by first pair of words, by surname, as one
//! word. Built once per registry version; read by [`NameIndex::find`].

use super::sounds::{latin, name_keys, romanize};
use super::words::{word_lists, MIN_SURNAME_LEN, TYPO_MIN_LEN};
use crate::text::tokens::{skeleton, with_words};
use crate::text::wordfreq::WordFrequencies;
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};

pub(super) struct Alias {
    pub(super) words: Box<[u32]>,
    pub(super) key: u32,
    pub(super) always: bool,
}

/// Collects names, then builds the index.
#[derive(Default)]
pub struct NameIndexBuilder {
    words: FxHashMap<Box<str>, u32>,
    aliases: Vec<Alias>,
    /// Words of names registered in a script other than Latin, as written.
    scripted: Vec<u32>,
}

impl NameIndexBuilder {
    /// Adds a name or alias under the caller's `key`. `always`: an admin marked it as
    /// meaning the person wherever it appears, with no corroboration needed.
    /// A name written in another script is also added romanized ("Владимир Путин" as
    /// "vladimir putin"), so that it is found written in Latin letters.
    pub fn add(&mut self, name: &str, key: u32, always: bool) {
        if name.chars().any(|c| c.is_alphabetic() && !latin(c)) {
            let mut roman = String::new();
            romanize(name, &mut roman);
            self.add_words(&roman, key, always);
            let before = self.aliases.len();
            self.add_words(name, key, always);
            if let Some(own) = self.aliases.get(before) {
                self.scripted.extend(own.words.iter().copied());
            }
            return;
        }
        // German spells "ä ö ü" as "ae oe ue" where they cannot be typed ("Jäntsch", "Jaentsch").
        if name
            .chars()
            .any(|c| matches!(c, 'ä' | 'ö' | 'ü' | 'Ä' | 'Ö' | 'Ü'))
        {
            let mut spelt = String::with_capacity(name.len() + 4);
            for c in name.chars() {
                match c {
                    'ä' | 'Ä' => spelt.push_str("ae"),
                    'ö' | 'Ö' => spelt.push_str("oe"),
                    'ü' | 'Ü' => spelt.push_str("ue"),
                    _ => spelt.push(c),
                }
            }
            self.add_words(&spelt, key, always);
        }
        self.add_words(name, key, always);
    }

    fn add_words(&mut self, name: &str, key: u32, always: bool) {
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
        let ordinary: Vec<bool> = text.iter().map(|w| freq.is_ordinary_word(w)).collect();
        let mut scripted = vec![false; text.len()];
        for &w in &self.scripted {
            scripted[w as usize] = true;
        }
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
        let mut sounds: [SoundKeys; 2] = Default::default();
        let mut roman = String::new();
        for (id, w) in text.iter().enumerate() {
            roman.clear();
            if w.is_ascii() {
                roman.push_str(w);
            } else {
                romanize(w, &mut roman);
            }
            for (map, fine) in sounds.iter_mut().zip([true, false]) {
                name_keys(&roman, fine, |k, sound| {
                    map.entry(k.into())
                        .or_default()
                        .push((id as u32, sound.vowels));
                });
            }
        }
        let [alphabet_keys, syllable_keys] = sounds;
        let mut keys = Prefilter::with_capacity(self.words.len() + skel.len() + joined.len());
        for k in self.words.keys().chain(skel.keys()).chain(joined.keys()) {
            keys.insert(k);
        }
        NameIndex {
            keys,
            words: self.words,
            text,
            zipf,
            ordinary,
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
            alphabet_keys,
            syllable_keys,
            scripted,
        }
    }
}

/// Name words by sound key, each with where its vowels are ([`super::sounds::Sound`]).
type SoundKeys = FxHashMap<Box<str>, Vec<(u32, u32)>>;

/// Bits of a deletion's hash that pick its bucket in [`NameIndex::buckets`].
const BUCKET_BITS: u32 = 16;

pub(super) fn bucket(h: u64) -> usize {
    (h >> (64 - BUCKET_BITS)) as usize
}

/// Where each bucket of the sorted deletion table starts (and, one further, where it ends).
pub(super) fn bucket_starts(deletes: &[(u64, u32)]) -> Box<[u32]> {
    let mut starts = vec![0u32; (1 << BUCKET_BITS) + 1];
    for &(h, _) in deletes {
        starts[bucket(h) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    starts.into()
}

pub(super) fn hash(s: &str) -> u64 {
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
pub(super) fn for_each_deletion(w: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    for (i, c) in w.char_indices() {
        buf.clear();
        buf.push_str(&w[..i]);
        buf.push_str(&w[i + c.len_utf8()..]);
        f(buf);
    }
}

/// Optimal string alignment distance of at most one (one insertion, deletion, substitution
/// or swap of neighbours). ASCII words, nearly all, are compared as bytes without copying.
pub(super) fn within_one_edit(a: &str, b: &str) -> bool {
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
    pub(super) words: FxHashMap<Box<str>, u32>,
    pub(super) text: Vec<Box<str>>,
    pub(super) zipf: Vec<f32>,
    /// Whether each word is an ordinary word (the dictionary's): a one-word name that is one
    /// needs corroboration.
    pub(super) ordinary: Vec<bool>,
    pub(super) skel: FxHashMap<Box<str>, Vec<u32>>,
    pub(super) deletes: Vec<(u64, u32)>,
    /// Where each bucket of `deletes` starts, by the top bits of the hash.
    pub(super) buckets: Box<[u32]>,
    pub(super) aliases: Vec<Alias>,
    pub(super) by_pair: FxHashMap<(u32, u32), Vec<u32>>,
    pub(super) by_rev: FxHashMap<(u32, u32), Vec<u32>>,
    pub(super) singles: FxHashMap<u32, Vec<u32>>,
    pub(super) surnames: FxHashMap<u32, Vec<u32>>,
    pub(super) joined: FxHashMap<Box<str>, Vec<u32>>,
    /// How many multi-word names start with each word.
    pub(super) given: FxHashMap<u32, u32>,
    /// The context word lists above, as flags per word.
    pub(super) lists: FxHashMap<&'static str, u8>,
    /// Name words by sound key, with where their vowels are ([`super::sounds::Sound`]): the
    /// consonant classes of alphabets, and the looser ones of kana and Chinese.
    pub(super) alphabet_keys: SoundKeys,
    pub(super) syllable_keys: SoundKeys,
    /// Per word: of a name registered in a script other than Latin, as written.
    scripted: Vec<bool>,
}

impl NameIndex {
    pub fn aliases(&self) -> usize {
        self.aliases.len()
    }

    pub(super) fn has(&self, word: &str, flag: u8) -> bool {
        self.lists.get(word).is_some_and(|f| f & flag != 0)
    }

    /// Whether word `w` is of a name registered in a script other than Latin, as written.
    pub(super) fn scripted(&self, w: u32) -> bool {
        self.scripted[w as usize]
    }

    pub(super) fn lookup_word(&self, s: &str) -> Option<u32> {
        if !self.keys.may_contain(s) {
            return None;
        }
        self.words.get(s).copied()
    }

    /// Name words whose skeleton is `s`.
    pub(super) fn lookup_skeleton(&self, s: &str) -> &[u32] {
        if !self.keys.may_contain(s) {
            return &[];
        }
        self.skel.get(s).map_or(&[], Vec::as_slice)
    }

    /// Name words whose sound key is `k` (in an alphabet's consonant classes, or in those
    /// of kana and Chinese), with where their vowels are.
    pub(super) fn lookup_sound(&self, k: &str, alphabet: bool) -> &[(u32, u32)] {
        let map = if alphabet {
            &self.alphabet_keys
        } else {
            &self.syllable_keys
        };
        map.get(k).map_or(&[], Vec::as_slice)
    }

    /// Aliases that are a multi-word name written as the one word `s`.
    pub(super) fn lookup_joined(&self, s: &str) -> &[u32] {
        if !self.keys.may_contain(s) {
            return &[];
        }
        self.joined.get(s).map_or(&[], Vec::as_slice)
    }

    pub(super) fn typos(&self, w: &str, buf: &mut String) -> Vec<u32> {
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
}
