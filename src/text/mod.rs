//! Text in prompts and on screen: normalisation against evasions, whole-word phrase matching
//! for the term lists, and name finding with context (`names`) for the persons gazetteer.

mod matcher;
pub mod names;
mod normalize;
pub mod terms;
mod tokens;
pub mod wordfreq;

pub use matcher::{Found, Matcher, MatcherError, PhraseSet};
pub use normalize::{normalize, Normalized};
pub use wordfreq::{WordFreqError, WordFrequencies};
