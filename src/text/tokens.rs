//! Words of a text as the name matcher sees them: folded letters with their place in the
//! original, how they were written (case, look-alikes, digits), and what separates them.
//!
//! Digits and symbols at the edges of a word never become letters: "Swift!" is the word
//! "swift" followed by "!", and "Hopper1" is "hopper". A symbol inside a word ("c0ll1n5") is
//! kept, so a look-alike reading can be tried where the plain one is not a word. CamelCase
//! runs are split into glued pieces ("EileenCollins"). Names and term lists read the same
//! tokens.

use super::fold::{apostrophe, confusable, invisible, leet};
use std::cell::RefCell;
use std::ops::Range;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caps {
    Lower,
    /// First letter upper case, the rest lower ("Swift", "S").
    Title,
    Upper,
    Mixed,
}

/// What lies between a token and the one before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gap {
    /// First token, or a sentence end (. ! ? ; :) or a line break before it.
    pub sentence: bool,
    pub comma: bool,
    /// Written straight after `#` or `@`.
    pub hashtag: bool,
    pub mention: bool,
    /// A CamelCase piece: no separator at all before it.
    pub glued: bool,
    /// Bytes of separators (0 when glued).
    pub width: usize,
}

/// A token's words are slices of one buffer that [`tokenize`] fills.
#[derive(Debug, Clone)]
pub struct Token<'b> {
    /// Letters (and digits inside the word), folded to lower case, width, no diacritics,
    /// Cyrillic and Greek look-alikes made Latin.
    pub plain: &'b str,
    /// The original bytes of `plain`.
    pub span: Range<usize>,
    /// The whole run with digits and symbols at its edges ("hopper1", "c0ll1n5"), when it
    /// differs from `plain`, and its original bytes.
    pub run: Option<(&'b str, Range<usize>)>,
    pub caps: Caps,
    pub gap: Gap,
    /// Written with a possessive ending ("Swift's", "Collins'").
    pub possessive: bool,
    /// Something was hidden or swapped inside it: an invisible character, a look-alike from
    /// another script, full-width letters, or a digit or symbol between letters.
    pub altered: bool,
}

/// A token while the buffer is still being written: its words as byte ranges of it.
struct Raw {
    plain: Range<usize>,
    span: Range<usize>,
    run: Option<(Range<usize>, Range<usize>)>,
    caps: Caps,
    gap: Gap,
    possessive: bool,
    altered: bool,
}

impl Token<'_> {
    pub fn is_letter(&self) -> bool {
        let mut chars = self.plain.chars();
        matches!((chars.next(), chars.next()), (Some(c), None) if c.is_alphabetic())
    }
}

/// The skeleton of a word: digit and symbol swaps folded (0 o, 1 ! | l i, 3 e, 4 @ a, 5 $ s,
/// 7 t, 8 b), `l` and `i` one letter. Name words and prompt words are compared this way only
/// when the plain reading is not already a word. An iterator, so callers can write it into a
/// buffer they reuse.
pub fn skeleton(word: &str) -> impl Iterator<Item = char> + '_ {
    word.chars().map(|c| if c == '8' { 'b' } else { leet(c) })
}

/// A text split into tokens once, for the name index and the term lists to read alike.
pub struct Words<'a> {
    pub(super) text: &'a str,
    pub(super) tokens: &'a [Token<'a>],
}

impl Words<'_> {
    /// The text the tokens were read from.
    pub fn text(&self) -> &str {
        self.text
    }
}

/// Buffers [`tokenize`] writes into, kept per thread so a check allocates no fresh ones.
#[derive(Default)]
struct Scratch {
    buf: String,
    raw: Vec<Raw>,
    run: Vec<Ch>,
    /// The tokens' vector, empty between calls: only its allocation is kept.
    tokens: Vec<Token<'static>>,
}

/// An empty vector of tokens with `v`'s allocation, for tokens of another buffer. Collecting
/// a vector's own iterator into a type of the same layout reuses its allocation.
fn recycle<'b>(mut v: Vec<Token<'_>>) -> Vec<Token<'b>> {
    v.clear();
    v.into_iter()
        .map(|_| -> Token<'b> { unreachable!("the vector was cleared") })
        .collect()
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// Calls `f` with the tokens of `text`. The buffers are this thread's, reused from call to
/// call; a call made from inside `f` gets buffers of its own.
pub fn with_words<R>(text: &str, f: impl FnOnce(&Words<'_>) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut own = None;
        let mut shared = cell.try_borrow_mut().ok();
        let scratch = match shared.as_deref_mut() {
            Some(s) => s,
            None => own.insert(Scratch::default()),
        };
        let mut tokens = recycle(std::mem::take(&mut scratch.tokens));
        tokenize(
            text,
            &mut scratch.buf,
            &mut scratch.raw,
            &mut scratch.run,
            &mut tokens,
        );
        let out = f(&Words {
            text,
            tokens: &tokens,
        });
        scratch.tokens = recycle(tokens);
        out
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Letter,
    Digit,
    Symbol,
}

struct Ch {
    c: char,
    kind: Kind,
    upper: bool,
    at: Range<usize>,
    altered: bool,
}

fn is_symbol(c: char) -> bool {
    matches!(c, '@' | '$' | '!' | '|')
}

/// Folds one original character into zero or more characters of a word run, or `None` for a
/// separator.
fn fold(c: char, at: Range<usize>, out: &mut Vec<Ch>) -> bool {
    if c.is_ascii() {
        let kind = if c.is_ascii_alphabetic() {
            Kind::Letter
        } else if c.is_ascii_digit() {
            Kind::Digit
        } else if is_symbol(c) {
            Kind::Symbol
        } else {
            return false;
        };
        out.push(Ch {
            c: c.to_ascii_lowercase(),
            kind,
            upper: c.is_ascii_uppercase(),
            at,
            altered: false,
        });
        return true;
    }
    let mut any = false;
    for k in std::iter::once(c).nfkc() {
        for d in std::iter::once(k).nfd().filter(|d| !is_combining_mark(*d)) {
            let upper = d.is_uppercase();
            for l in d.to_lowercase() {
                let f = confusable(l);
                if !f.is_alphanumeric() {
                    continue;
                }
                // Latin letters that keep no diacritic to drop: "ł" l, "ß" ss, "ø" o, "æ" ae.
                if matches!(f, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}') {
                    for a in any_ascii::any_ascii_char(f).chars() {
                        if a.is_ascii_alphabetic() {
                            out.push(Ch {
                                c: a.to_ascii_lowercase(),
                                kind: Kind::Letter,
                                upper,
                                at: at.clone(),
                                altered: false,
                            });
                            any = true;
                        }
                    }
                    continue;
                }
                // Letters of other scripts stay as they are (names in any script); a
                // look-alike folded to Latin, or a full-width form, counts as altered.
                let altered = f != l || (k != c && k.is_ascii());
                out.push(Ch {
                    c: f,
                    kind: if f.is_numeric() {
                        Kind::Digit
                    } else {
                        Kind::Letter
                    },
                    upper,
                    at: at.clone(),
                    altered,
                });
                any = true;
            }
        }
    }
    any
}

fn caps(chars: &[Ch]) -> Caps {
    let mut letters = chars.iter().filter(|c| c.kind == Kind::Letter);
    let first_upper = letters.next().is_some_and(|c| c.upper);
    let (mut n, mut upper) = (1, usize::from(first_upper));
    for c in letters {
        n += 1;
        upper += usize::from(c.upper);
    }
    if upper == 0 {
        Caps::Lower
    } else if first_upper && upper == 1 {
        Caps::Title
    } else if upper == n {
        Caps::Upper
    } else {
        Caps::Mixed
    }
}

/// Splits a text into `out`, the tokens' words written into `buf`; `raw` and `run` are
/// working space. All are cleared first.
fn tokenize<'b>(
    input: &str,
    buf: &'b mut String,
    raw: &mut Vec<Raw>,
    run: &mut Vec<Ch>,
    out: &mut Vec<Token<'b>>,
) {
    buf.clear();
    raw.clear();
    run.clear();
    out.clear();
    let tokens = raw;
    let mut run_altered = false;
    let mut gap_start = 0;
    let mut chars = input.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at = i..i + c.len_utf8();
        // Invisible characters inside a word are dropped (ASCII controls separate words).
        if !c.is_ascii() && invisible(c) {
            run_altered |= !run.is_empty();
            continue;
        }
        if apostrophe(c) && !run.is_empty() {
            let next = chars.peek().map(|&(_, n)| n);
            let after = input[at.end..].chars().nth(1);
            let letter = |x: Option<char>| x.is_some_and(char::is_alphanumeric);
            if matches!(next, Some('s' | 'S')) && !letter(after) {
                // "Swift's": the possessive ends the word.
                chars.next();
                flush(
                    input,
                    run,
                    &mut run_altered,
                    &mut gap_start,
                    true,
                    (buf, tokens),
                );
                continue;
            }
            if letter(next) {
                // "O'Brien": one word.
                continue;
            }
            let ends_s = run.last().is_some_and(|ch| ch.c == 's');
            flush(
                input,
                run,
                &mut run_altered,
                &mut gap_start,
                ends_s,
                (buf, tokens),
            );
            continue;
        }
        if !fold(c, at, run) {
            flush(
                input,
                run,
                &mut run_altered,
                &mut gap_start,
                false,
                (buf, tokens),
            );
        }
    }
    flush(
        input,
        run,
        &mut run_altered,
        &mut gap_start,
        false,
        (buf, tokens),
    );
    let buf: &'b str = buf;
    out.extend(tokens.iter().map(|t| Token {
        plain: &buf[t.plain.clone()],
        span: t.span.clone(),
        run: t.run.clone().map(|(r, at)| (&buf[r], at)),
        caps: t.caps,
        gap: t.gap,
        possessive: t.possessive,
        altered: t.altered,
    }));
}

/// Writes `chars` into `buf`; their byte range there.
fn write(buf: &mut String, chars: &[Ch]) -> Range<usize> {
    let start = buf.len();
    buf.extend(chars.iter().map(|c| c.c));
    start..buf.len()
}

/// Ends the current run: trims digits and symbols at its edges, splits CamelCase, and pushes
/// the tokens. A number on its own is a word (names such as "50 Cent" or "Blink 182"); any
/// other run without letters ("!!!") is a separator.
fn flush(
    input: &str,
    run: &mut Vec<Ch>,
    altered: &mut bool,
    gap_start: &mut usize,
    possessive: bool,
    (buf, tokens): (&mut String, &mut Vec<Raw>),
) {
    let hidden = std::mem::take(altered);
    if run.is_empty() {
        return;
    }
    let chars = &run[..];
    let number = chars.iter().all(|c| c.kind == Kind::Digit);
    let (first, last) = if number {
        (0, chars.len() - 1)
    } else {
        let Some(first) = chars.iter().position(|c| c.kind == Kind::Letter) else {
            run.clear();
            return;
        };
        let last = chars
            .iter()
            .rposition(|c| c.kind == Kind::Letter)
            .expect("a letter");
        (first, last)
    };
    let core = &chars[first..=last];
    let inner_swap = core.iter().any(|c| c.kind != Kind::Letter || c.altered);
    // CamelCase pieces: a lower-case letter followed by an upper-case one.
    let camel = |k: usize| core[k].upper && !core[k - 1].upper && core[k - 1].kind == Kind::Letter;
    let whole = [0, core.len()];
    let mut pieces = Vec::new();
    if !inner_swap && (1..core.len()).any(camel) {
        pieces.push(0);
        pieces.extend((1..core.len()).filter(|&k| camel(k)));
        pieces.push(core.len());
    }
    // Pieces of two or more letters, each capitalised then lower case ("EileenCollins",
    // "McCartney"); aLtErNaTiNg case is one word.
    let words_like = pieces
        .windows(2)
        .skip(1)
        .all(|w| w[1] - w[0] >= 2 && core[w[0]].upper && !core[w[0] + 1].upper);
    let cuts: &[usize] = if pieces.is_empty() || !words_like {
        &whole
    } else {
        &pieces
    };
    let run_text = (first > 0 || last + 1 < chars.len()).then(|| {
        (
            write(buf, chars),
            chars[0].at.start..chars[chars.len() - 1].at.end,
        )
    });
    // What lies before the word: separators since the last run, and the run's own leading
    // digits and symbols ("@GraceHopper", "!!Swift").
    let between = &input[*gap_start..chars[0].at.start];
    let lead = &chars[..first];
    let lead_bytes: usize = lead.iter().map(|c| c.at.len()).sum();
    let marker = |m: char| lead.last().map_or(between.ends_with(m), |c| c.c == m);
    for w in cuts.windows(2) {
        let piece = &core[w[0]..w[1]];
        let span = piece[0].at.start..piece[piece.len() - 1].at.end;
        let gap = if w[0] == 0 {
            Gap {
                sentence: tokens.is_empty()
                    || between
                        .bytes()
                        .any(|b| matches!(b, b'.' | b'!' | b'?' | b';' | b':' | b'\n'))
                    || lead.iter().any(|c| c.c == '!')
                    || tokens.last().is_some_and(|t| {
                        t.run
                            .as_ref()
                            .is_some_and(|(r, _)| buf[r.clone()].ends_with(['!', '?']))
                    }),
                comma: between.contains(','),
                hashtag: marker('#'),
                mention: marker('@'),
                glued: false,
                width: between.len() + lead_bytes,
            }
        } else {
            Gap {
                glued: true,
                ..Gap::default()
            }
        };
        let single = cuts.len() == 2;
        tokens.push(Raw {
            plain: write(buf, piece),
            span,
            run: if single { run_text.clone() } else { None },
            caps: caps(piece),
            gap,
            possessive: possessive && w[1] == core.len(),
            altered: hidden
                || piece
                    .iter()
                    .any(|c| c.altered || (!number && c.kind != Kind::Letter)),
        });
    }
    *gap_start = chars[chars.len() - 1].at.end;
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Vec<String> {
        with_words(s, |w| {
            w.tokens.iter().map(|t| t.plain.to_string()).collect()
        })
    }

    #[test]
    fn buffers_are_reused_and_calls_may_nest() {
        let mut v = recycle(Vec::with_capacity(8));
        v.push(Token {
            plain: "x",
            span: 0..1,
            run: None,
            caps: Caps::Lower,
            gap: Gap::default(),
            possessive: false,
            altered: false,
        });
        let at = v.as_ptr() as usize;
        let v: Vec<Token<'static>> = recycle(v);
        assert!(v.is_empty() && v.capacity() >= 8 && v.as_ptr() as usize == at);
        let nested = with_words("Taylor Swift", |outer| {
            let inner = with_words("Grace Hopper", |inner| inner.tokens[1].plain.to_string());
            (outer.tokens[1].plain.to_string(), inner)
        });
        assert_eq!(nested, ("swift".to_string(), "hopper".to_string()));
    }

    #[test]
    fn punctuation_and_digits_at_the_edges_stay_outside_the_word() {
        assert_eq!(plain("Taylor Swift!"), ["taylor", "swift"]);
        assert_eq!(plain("Grace Hopper1"), ["grace", "hopper"]);
        assert_eq!(plain("EILEEN COLLINS!!!"), ["eileen", "collins"]);
        assert_eq!(plain("(Eileen) \"Collins\"..."), ["eileen", "collins"]);
        assert_eq!(
            plain("a 4k shot at 60 fps"),
            ["a", "k", "shot", "at", "60", "fps"]
        );
        assert_eq!(plain("50 Cent!"), ["50", "cent"]);
        with_words("c0ll1n5", |w| {
            let t = &w.tokens[0];
            assert_eq!(t.plain, "c0ll1n");
            assert!(t.altered);
            assert_eq!(t.run.as_ref().unwrap().0, "c0ll1n5");
        });
        assert!(skeleton("c0ll1n5").eq(skeleton("collins")));
    }

    #[test]
    fn camel_case_hashtags_and_mentions() {
        with_words("#EileenCollins and @GraceHopper", |w| {
            let t = w.tokens;
            assert_eq!(
                t.iter().map(|t| t.plain).collect::<Vec<_>>(),
                ["eileen", "collins", "and", "grace", "hopper"]
            );
            assert!(t[0].gap.hashtag && t[1].gap.glued && t[3].gap.mention);
            assert_eq!(t[0].caps, Caps::Title);
        });
    }

    #[test]
    fn possessives_apostrophes_case_and_sentences() {
        with_words("Swift's show. O'Brien and Collins' CAR", |w| {
            let t = w.tokens;
            assert_eq!(
                t.iter().map(|t| t.plain).collect::<Vec<_>>(),
                ["swift", "show", "obrien", "and", "collins", "car"]
            );
            assert!(t[0].possessive && t[4].possessive && !t[1].possessive);
            assert!(t[0].gap.sentence && t[2].gap.sentence && !t[3].gap.sentence);
            assert_eq!(t[5].caps, Caps::Upper);
        });
    }

    #[test]
    fn look_alikes_invisibles_and_width_are_folded_and_marked() {
        with_words(
            "Ｅｉｌｅｅｎ Соllіns Ta\u{200B}ylor Éilèen",
            |w| {
                let t = w.tokens;
                assert_eq!(
                    t.iter().map(|t| t.plain).collect::<Vec<_>>(),
                    ["eileen", "collins", "taylor", "eileen"]
                );
                assert!(t[0].altered && t[1].altered && t[2].altered && !t[3].altered);
                assert_eq!(&"Ｅｉｌｅｅｎ Соllіns"[t[1].span.clone()], "Соllіns");
            },
        );
    }
}
