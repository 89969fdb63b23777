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

mod ambiguity;
mod candidates;
mod index;
mod scoring;
mod scripts;
mod sounds;
mod words;

pub use ambiguity::{ambiguity, Ambiguity};
pub use candidates::Form;
pub use index::{NameIndex, NameIndexBuilder};
pub use scoring::NameHit;
pub use words::{COMMON_ZIPF, ORDINARY_ZIPF, REPORT_FLOOR};

#[cfg(test)]
mod tests;
