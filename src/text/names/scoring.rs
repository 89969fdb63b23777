//! Scoring: each candidate judged from its form, how it was written and its context, with the
//! reasons listed; overlapping finds resolved, best first.

use super::candidates::{native_words, Cand, Form, How};
use super::index::NameIndex;
use super::words::*;

/// A whole registered name read in an alphabetic script (Cyrillic, Greek, Arabic, Hebrew,
/// Devanagari): block.
const SCRIPT_SCORE: f32 = 0.85;
/// Read in kana or Chinese characters, which write it more loosely: review.
const SYLLABIC_SCRIPT_SCORE: f32 = 0.7;
use crate::text::tokens::{Caps, Token, Words};
use crate::text::wordfreq::WordFrequencies;
use std::ops::Range;

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

/// What is known about the whole text.
struct Text<'t> {
    tokens: &'t [Token<'t>],
    /// Capitals say nothing when most words have them (Title Case, ALL CAPS).
    caps_informative: bool,
    /// Per token, the context lists it is in ([`CONTEXT`], [`CONTEXT_BEFORE`]...).
    flags: Vec<u8>,
}

impl NameIndex {
    /// Every registered name found in a text, best first per place, scored and explained.
    pub fn find(&self, words: &Words, freq: &WordFrequencies) -> Vec<NameHit> {
        let mut hits = self.find_words(words, freq);
        for f in self.script_finds(words.text()) {
            let key = self.aliases[f.alias as usize].key;
            let seen = hits
                .iter()
                .any(|h| h.key == key && h.span.start < f.span.end && f.span.start < h.span.end);
            if seen {
                continue;
            }
            let always = self.aliases[f.alias as usize].always;
            let mut reasons = vec!["full_name", "other_script"];
            let score = if always {
                reasons.push("always_match");
                1.0
            } else if f.alphabet {
                SCRIPT_SCORE
            } else {
                SYLLABIC_SCRIPT_SCORE
            };
            hits.push(NameHit {
                key,
                form: Form::Full,
                span: f.span,
                score,
                reasons,
                exact: false,
            });
        }
        hits.sort_by_key(|h| (h.span.start, h.key));
        hits
    }

    /// Names found among the tokens (Latin letters, and names registered in other scripts).
    fn find_words(&self, words: &Words, freq: &WordFrequencies) -> Vec<NameHit> {
        let tokens = words.tokens;
        if tokens.is_empty() {
            return Vec::new();
        }
        let native = native_words(words.text(), tokens);
        let units = self.units(tokens, &native, freq);
        let mut cands = Vec::new();
        self.joined_cands(tokens, &native, &units, &mut cands);
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
        // A whole name is common when it is a common phrase ("ice cube"), not when its words
        // are merely frequent ("eileen collins"); a one-word name when it is an ordinary word
        // ("sting", not "rihanna"); a surname alone when it is frequent.
        let whole = matches!(c.form, Form::Full | Form::Reversed | Form::Joined);
        let common = if whole {
            is_common_phrase(alias.words.iter().map(|&w| &*self.text[w as usize]), freq)
        } else if c.form == Form::Single {
            matched.iter().all(|&w| self.ordinary[w as usize])
        } else {
            matched
                .iter()
                .all(|&w| self.zipf[w as usize] >= COMMON_ZIPF)
        };
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
        // "a video of", "deepfake of", "as", "playing" just before the name (in one sentence).
        let flag_before = |back: usize, flag: u8| {
            c.start >= back
                && text.flags[c.start - back] & flag != 0
                && !text.tokens[c.start - back + 1..=c.start]
                    .iter()
                    .any(|t| t.gap.sentence || t.gap.glued)
        };
        let depicted =
            flag_before(1, DEPICTION) || (flag_before(1, LINK) && flag_before(2, DEPICTION));
        let context = text.flags[from..c.start]
            .iter()
            .any(|f| f & (CONTEXT | CONTEXT_BEFORE) != 0)
            || text.flags[c.end..to].iter().any(|f| f & CONTEXT != 0)
            || depicted;
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
        push(
            if whole {
                "common_phrase"
            } else {
                "common_word"
            },
            common,
        );
        push("capitalised", capitalised && !lower);
        push(
            "lower_case",
            lower && tokens.iter().all(|t| t.caps == Caps::Lower),
        );
        push("after_article", after_article);
        push("title", title);
        push("possessive", possessive);
        push("place_or_thing", place);
        push("depiction", depicted);
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
                    && !hashtag
                    && !title
                    && !possessive
                    && !context;
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
                    // In lower case a typo of a name may be a word of another language
                    // ("rosa branca", Rosa Blanca registered): a reason to look.
                    s -= if lower { 0.2 } else { 0.1 };
                }
                s
            }
            Form::Single | Form::Surname => {
                let single = c.form == Form::Single;
                let short = text_len(&self.text[matched[0] as usize]) < MIN_SURNAME_LEN;
                // A one-word name that is no ordinary word but is written often may still be
                // a word of another language ("Cher Ami"): a reason to look, not to block.
                let frequent = matched
                    .iter()
                    .all(|&w| self.zipf[w as usize] >= COMMON_ZIPF);
                let mut s: f32 = match (single, common || short, frequent) {
                    (true, false, false) => 0.85,
                    (true, false, true) => 0.6,
                    (true, true, _) => 0.25,
                    (false, _, _) => 0.3,
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
                    s += if lower && common && !single {
                        0.15
                    } else {
                        0.4
                    };
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
