//! The shared vocabulary: the plain data that every layer speaks (what was seen, what was
//! decided, who asked). It sits at the bottom and imports nothing else of the crate, so any
//! module can use it without pulling in models, storage or policy code.

mod audio;
mod decision;
mod detections;
mod error;
mod meaning;
mod media;
mod provenance;
mod sections;
mod signals;
mod speech;
mod text;
mod time;
mod verdict;

pub use audio::*;
pub use decision::*;
pub use detections::*;
pub use error::*;
pub use meaning::*;
pub use media::*;
pub use provenance::*;
pub use sections::*;
pub use signals::*;
pub use speech::*;
pub use text::*;
pub use time::*;
pub use verdict::*;
