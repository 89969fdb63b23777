//! Text in prompts and on screen: words read against evasions (`tokens`), name finding with
//! context (`names`) for the persons gazetteer, and the term lists (`terms`), both reading the
//! same tokens.

mod fold;
pub mod lines;
pub mod names;
pub mod terms;
mod tokens;
pub mod wordfreq;

pub use tokens::{with_words, Words};
pub use wordfreq::{WordFreqError, WordFrequencies};
