//! Custom term lists per category (`policies/lists/<category>.txt`, one term per line, `#`
//! comments), matched in prompts on the same tokens as person names, so punctuation beside a
//! word never becomes part of it ("naked!" is "naked"). Words are compared by their skeleton
//! (look-alikes folded: "n@ked", "t33n"), as written or with the digits and symbols at their
//! edges ("$ex"); CamelCase pieces and spelt-out letters ("n u d e") also count read together.

use super::tokens::{skeleton, with_words, Token, Words};
use crate::vocab::TermMatch;
use rustc_hash::FxHashMap;
use std::ops::Range;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TermsError {
    #[error("cannot read term list {path}: {reason}")]
    Read { path: String, reason: String },
}

#[derive(Debug, Clone)]
struct Term {
    category: String,
    term: String,
}

/// The words after the first of one phrase, and every listed term that reads as it.
struct Phrase {
    rest: Box<[Box<str>]>,
    terms: Vec<Term>,
}

pub struct TermLists {
    /// Phrases by the skeleton of their first word.
    by_first: FxHashMap<Box<str>, Vec<u32>>,
    phrases: Vec<Phrase>,
}

/// The term lists' files as read once: (file name, bytes), sorted by name. The policy version
/// hashes exactly these bytes and the matcher is built from them, so a version always names
/// the lists that were used.
#[derive(Debug, Clone, Default)]
pub struct ListFiles(Vec<(String, Vec<u8>)>);

impl ListFiles {
    /// Every `*.txt` in `dir` (a missing folder means no lists).
    pub fn read(dir: &Path) -> Result<Self, TermsError> {
        let read_err = |path: &Path, e: std::io::Error| TermsError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if !dir.exists() {
            return Ok(Self::default());
        }
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| read_err(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string();
                std::fs::read(&path)
                    .map(|bytes| (name, bytes))
                    .map_err(|e| read_err(&path, e))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// (file name, bytes) of each list, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.0.iter().map(|(n, b)| (n.as_str(), b.as_slice()))
    }
}

impl TermLists {
    /// Every `*.txt` in `dir` (a missing folder means no lists).
    pub fn load(dir: &Path) -> Result<Self, TermsError> {
        Self::from_files(&ListFiles::read(dir)?)
    }

    /// The lists in `files`; each file's stem is its category.
    pub fn from_files(files: &ListFiles) -> Result<Self, TermsError> {
        let mut lists = Self {
            by_first: FxHashMap::default(),
            phrases: Vec::new(),
        };
        let mut index: FxHashMap<Vec<String>, u32> = FxHashMap::default();
        for (name, bytes) in files.iter() {
            let category = name.strip_suffix(".txt").unwrap_or(name).to_string();
            let text = std::str::from_utf8(bytes).map_err(|e| TermsError::Read {
                path: name.to_string(),
                reason: format!("not UTF-8 text ({e})"),
            })?;
            for line in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                let words: Vec<String> = with_words(line, |w| {
                    w.tokens
                        .iter()
                        .map(|t| skeleton(t.plain).collect())
                        .collect()
                });
                let Some(first) = words.first() else {
                    continue;
                };
                let term = Term {
                    category: category.clone(),
                    term: line.to_string(),
                };
                if let Some(&p) = index.get(&words) {
                    lists.phrases[p as usize].terms.push(term);
                    continue;
                }
                let p = lists.phrases.len() as u32;
                lists
                    .by_first
                    .entry(first.as_str().into())
                    .or_default()
                    .push(p);
                lists.phrases.push(Phrase {
                    rest: words[1..].iter().map(|w| w.as_str().into()).collect(),
                    terms: vec![term],
                });
                index.insert(words, p);
            }
        }
        Ok(lists)
    }

    /// Terms found in a text, in order; where finds overlap, the one starting first wins, and
    /// of those starting at one word the longest.
    pub fn find(&self, words: &Words) -> Vec<TermMatch> {
        let tokens = words.tokens;
        let mut out = Vec::new();
        let mut key = String::new();
        let mut i = 0;
        while i < tokens.len() {
            // (token after the find, its bytes, the phrase)
            let mut best: Option<(usize, Range<usize>, u32)> = None;
            readings(tokens, i, &mut key, |k, end, bytes| {
                for &p in self.by_first.get(k).into_iter().flatten() {
                    let rest = &self.phrases[p as usize].rest;
                    if let Some((end, last)) = rest_of(tokens, rest, end, bytes.end) {
                        if best.as_ref().is_none_or(|b| end > b.0) {
                            best = Some((end, bytes.start..last, p));
                        }
                    }
                }
            });
            let Some((end, bytes, p)) = best else {
                i += 1;
                continue;
            };
            out.extend(self.phrases[p as usize].terms.iter().map(|t| TermMatch {
                category: t.category.clone(),
                term: t.term.clone(),
                start: bytes.start,
                end: bytes.end,
                text: words.text[bytes.clone()].to_string(),
            }));
            i = end;
        }
        out
    }
}

/// Matches `words` from token `at` on; the token after the last and the end of its bytes
/// (`end` when there are no more words).
fn rest_of(tokens: &[Token], words: &[Box<str>], at: usize, end: usize) -> Option<(usize, usize)> {
    let Some((first, more)) = words.split_first() else {
        return Some((at, end));
    };
    if at >= tokens.len() {
        return None;
    }
    let mut key = String::new();
    let mut found = None;
    readings(tokens, at, &mut key, |k, next, bytes| {
        if found.is_none() && k == &**first {
            found = rest_of(tokens, more, next, bytes.end);
        }
    });
    found
}

/// Calls `f` with every reading of the words from token `i` on as one word: its skeleton
/// (written into `key`), the token after it, and its bytes in the text.
fn readings(
    tokens: &[Token],
    i: usize,
    key: &mut String,
    mut f: impl FnMut(&str, usize, Range<usize>),
) {
    let t = &tokens[i];
    key.clear();
    key.extend(skeleton(t.plain));
    f(key, i + 1, t.span.clone());
    if let Some((run, bytes)) = &t.run {
        key.clear();
        key.extend(skeleton(run));
        f(key, i + 1, bytes.clone());
    }
    // CamelCase pieces read together ("StripTease").
    if !t.gap.glued {
        let glued = tokens[i + 1..].iter().take_while(|x| x.gap.glued).count();
        if glued > 0 {
            key.clear();
            for x in &tokens[i..=i + glued] {
                key.extend(skeleton(x.plain));
            }
            f(key, i + glued + 1, t.span.start..tokens[i + glued].span.end);
        }
    }
    // Spelt-out letters ("n.u.d.e", "s e x"): a whole run of three or more single letters.
    if t.is_letter() && (i == 0 || !tokens[i - 1].is_letter()) {
        let run = tokens[i..].iter().take_while(|x| x.is_letter()).count();
        if run >= 3 {
            key.clear();
            for x in &tokens[i..i + run] {
                key.extend(skeleton(x.plain));
            }
            f(key, i + run, t.span.start..tokens[i + run - 1].span.end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> TermLists {
        TermLists::from_files(&ListFiles(vec![
            ("minors.txt".into(), b"teen\nkid\nunder age\n".to_vec()),
            (
                "sexual.txt".into(),
                b"# comment\nnaked\nnude\nsex scene\nstrip tease\nstriptease\n".to_vec(),
            ),
        ]))
        .unwrap()
    }

    /// (category, text as written) of each find.
    fn found(prompt: &str) -> Vec<(String, String)> {
        let l = lists();
        with_words(prompt, |w| l.find(w))
            .into_iter()
            .map(|m| (m.category, m.text))
            .collect()
    }

    fn pair(category: &str, text: &str) -> (String, String) {
        (category.to_string(), text.to_string())
    }

    #[test]
    fn punctuation_beside_a_term_is_never_part_of_it() {
        // The old normaliser read "naked!" as "nakedi" and missed it.
        assert_eq!(found("naked!"), [pair("sexual", "naked")]);
        assert_eq!(
            found("a teen, NAKED!!! on a beach"),
            [pair("minors", "teen"), pair("sexual", "NAKED")]
        );
        assert_eq!(found("(nude)"), [pair("sexual", "nude")]);
    }

    #[test]
    fn look_alikes_spelt_out_letters_and_joins() {
        assert_eq!(
            found("a t33n posing n@ked"),
            [pair("minors", "t33n"), pair("sexual", "n@ked")]
        );
        assert_eq!(found("$ex scene"), [pair("sexual", "$ex scene")]);
        assert_eq!(found("n u d e"), [pair("sexual", "n u d e")]);
        assert_eq!(found("s.e.x scene"), [pair("sexual", "s.e.x scene")]);
        assert_eq!(found("#NudeBeach"), [pair("sexual", "Nude")]);
        assert_eq!(found("StripTease"), [pair("sexual", "StripTease")]);
        assert_eq!(found("under-age"), [pair("minors", "under-age")]);
    }

    #[test]
    fn whole_words_only_and_the_longest_find_wins() {
        assert!(found("a teenage mutant turtle, kidney beans").is_empty());
        // The two-word term is one find.
        let l = lists();
        let terms: Vec<String> = with_words("a strip tease", |w| l.find(w))
            .into_iter()
            .map(|m| m.term)
            .collect();
        assert_eq!(terms, ["strip tease"]);
        assert_eq!(
            found("under age kid"),
            [pair("minors", "under age"), pair("minors", "kid")]
        );
    }
}
