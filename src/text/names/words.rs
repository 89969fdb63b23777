//! What the matcher knows about words: how frequent a word must be to count as ordinary, and
//! the context lists (titles, determiners, links, a person's context, places and things) whose
//! words give a find its reasons.

use crate::text::wordfreq::WordFrequencies;
use rustc_hash::FxHashMap;

/// A word at least this frequent (Zipf) is frequent: a surname alone ("collins" 4.2) or a word
/// of a common phrase. (Whether a one-word name is an ordinary word is the dictionary's to say:
/// "madonna" 3.7 is frequent but not a word, "usher" 3.5 is one.)
pub const COMMON_ZIPF: f32 = 3.3;
/// Enrolment warns about a word of a multi-word name only from this frequency: wordfreq counts
/// a name as a word, so frequent names pass [`COMMON_ZIPF`] ("eileen" 3.3, "collins" 4.2),
/// while the words innocent prompts use every day are well above ("stone" 4.8, "king" 5.2).
pub const ORDINARY_ZIPF: f32 = 4.5;
/// A word this frequent is never read as a typo or look-alike of a name.
pub(super) const WORD_ZIPF: f32 = 3.0;
/// A pair of words at least this frequent together (Zipf) is a common phrase: every pair in
/// the list (100,000 occurrences or more in 10^12 words).
pub(super) const PHRASE_ZIPF: f32 = 1.95;
/// Whether a multi-word name (lower-case words) is itself a phrase, which in lower case reads
/// as the phrase ("ice cube", "bad bunny") rather than the person: every word is an ordinary
/// word (the dictionary's: not "gaga", "dre"), it does not start with a given name ("will
/// smith", "michael jackson" are names), and either its words are written together often
/// (every pair in the Web 1T list: "ice cube") or the first is a word of everyday use that
/// makes phrases of whatever follows ("bad", "young", "ice": the list, from 2006 and only
/// pairs over 100,000 occurrences, lacks "bad bunny" and "young thug").
pub(super) fn is_common_phrase<'a>(
    mut words: impl Iterator<Item = &'a str>,
    freq: &WordFrequencies,
) -> bool {
    let Some(first) = words.next() else {
        return false;
    };
    if !freq.is_ordinary_word(first) || freq.is_given_name(first) {
        return false;
    }
    let everyday = freq.zipf(first) >= ORDINARY_ZIPF;
    let (mut prev, mut pairs, mut together) = (first, 0, true);
    for w in words {
        if !freq.is_ordinary_word(w) {
            return false;
        }
        together &= freq.phrase_zipf(prev, w) >= PHRASE_ZIPF;
        prev = w;
        pairs += 1;
    }
    pairs > 0 && (together || everyday)
}

/// A text with at least this many words of three letters or more (name words aside)...
pub(super) const FOREIGN_MIN_WORDS: usize = 4;
/// ...this many tenths of them under [`WORD_ZIPF`], is in another language: its rare words
/// are not read as typos or look-alikes.
pub(super) const FOREIGN_TENTHS: usize = 6;
/// Typos are looked for only in words at least this long.
pub(super) const TYPO_MIN_LEN: usize = 5;
/// Surnames shorter than this are not reported alone.
pub(super) const MIN_SURNAME_LEN: usize = 4;
/// Finds scored under this are dropped: nothing suggests they mean the person.
pub const REPORT_FLOOR: f32 = 0.4;
/// At most this many persons are reported for one place in the text (a surname shared by
/// many registered persons).
pub(super) const MAX_PER_SPAN: usize = 8;
/// The highest score of a surname alone without a title or initial: review, not block.
pub(super) const SURNAME_CAP: f32 = 0.75;
/// Words looked at on each side of a find for a person's context.
pub(super) const CONTEXT_WINDOW: usize = 4;

pub(super) const TITLES: &[&str] = &[
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
    "commander",
    "cmdr",
    "admiral",
    "adm",
    "colonel",
    "col",
    "lieutenant",
    "lt",
    "sergeant",
    "sgt",
    "astronaut",
    "king",
    "prince",
    "emperor",
    "empress",
    "sheriff",
    "chief",
    "ambassador",
    "secretary",
    "congressman",
    "congresswoman",
    "congressperson",
    "sen",
    "gov",
    "rep",
    "premier",
    "chairman",
    "chairwoman",
    "rabbi",
    "imam",
    "pastor",
    "bishop",
    "cardinal",
    "father",
    "fr",
    "baron",
    "baroness",
    "countess",
    "madam",
    "madame",
    "mme",
    "mademoiselle",
    "monsieur",
    "herr",
    "frau",
    "senor",
    "senora",
    "don",
    "dona",
];
/// Words of depiction that make the name right after them (or after "of") a person's: "a
/// video of", "deepfake of", "as", "playing".
const DEPICTIONS: &[&str] = &[
    "video",
    "videos",
    "clip",
    "footage",
    "film",
    "movie",
    "image",
    "images",
    "picture",
    "pictures",
    "pic",
    "pics",
    "photo",
    "photos",
    "deepfake",
    "deepfakes",
    "fake",
    "render",
    "animation",
    "painting",
    "drawing",
    "sketch",
    "cartoon",
    "caricature",
    "statue",
    "avatar",
    "likeness",
    "as",
    "playing",
    "plays",
    "played",
    "starring",
    "featuring",
    "depicting",
    "depicts",
    "showing",
    "shows",
    "impersonating",
    "portraying",
    "portrays",
    "cosplaying",
    "voiced",
    "version",
];
pub(super) const DETERMINERS: &[&str] = &[
    "a", "an", "the", "this", "that", "these", "those", "some", "any", "my", "your", "his", "her",
    "our", "their", "its", "every", "each", "no", "one", "two", "three", "several", "many", "few",
    "another",
];
/// Words before a name that leave it bare ("portrait of Prince", "dancing with Drake").
pub(super) const LINKS: &[&str] = &[
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
pub(super) const PERSON_CONTEXT: &[&str] = &[
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
pub(super) const PERSON_CONTEXT_BEFORE: &[&str] = &["style", "featuring", "feat", "starring"];
/// A lower-case phrase of ordinary words is still read as a name when its first word is the
/// given name of at least this many registered names ("taylor swift", not "ice cube").
pub(super) const GIVEN_NAME_MIN: u32 = 3;
/// Words after a name that make it the name of a place or thing ("Collins Avenue").
pub(super) const PLACE_OR_THING: &[&str] = &[
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

pub(super) const TITLE: u8 = 1;
pub(super) const DETERMINER: u8 = 2;
pub(super) const LINK: u8 = 4;
pub(super) const CONTEXT: u8 = 8;
pub(super) const CONTEXT_BEFORE: u8 = 16;
pub(super) const PLACE: u8 = 32;
pub(super) const DEPICTION: u8 = 64;

pub(super) fn word_lists() -> FxHashMap<&'static str, u8> {
    let mut m: FxHashMap<&'static str, u8> = FxHashMap::default();
    for (list, flag) in [
        (TITLES, TITLE),
        (DETERMINERS, DETERMINER),
        (LINKS, LINK),
        (PERSON_CONTEXT, CONTEXT),
        (PERSON_CONTEXT_BEFORE, CONTEXT_BEFORE),
        (PLACE_OR_THING, PLACE),
        (DEPICTIONS, DEPICTION),
    ] {
        for w in list {
            *m.entry(w).or_default() |= flag;
        }
    }
    m
}
