//! Prompt text: normalisation against evasions, and whole-word phrase matching used by the
//! persons gazetteer and the term lists.

mod matcher;
mod normalize;
pub mod terms;

pub use matcher::{Found, Matcher, MatcherError, PhraseSet};
pub use normalize::{normalize, Normalized};
