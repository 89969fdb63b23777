//! Clips in: probing, limits, choosing the frames worth analysing, and decoding the soundtrack
//! (FFmpeg via ffmpeg-next).

pub mod audio;
mod coverage;
mod extract;
mod input;
mod probe;
mod sample;
mod watch;

pub use extract::frames_at;
pub use probe::{is_video_signature, probe};
pub use sample::{sample, Changes, FrameContent, SampledFrame};

use crate::vocab::{ErrorCode, Failure};
use std::sync::Once;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{path}: no such file")]
    NotFound { path: String },
    #[error("{path}: cannot read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("{path}: file is empty (0 bytes)")]
    Empty { path: String },
    #[error("{path}: not a video: {reason}")]
    NotVideo { path: String, reason: String },
    #[error("{path}: corrupt video: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("{path}: truncated video: decoded {decoded_s:.2} s of {expected_s:.2} s")]
    Truncated {
        path: String,
        decoded_s: f64,
        expected_s: f64,
    },
    #[error("{path}: {} {value} is over the limit of {limit}", what.as_str())]
    OverLimit {
        path: String,
        what: Limit,
        value: String,
        limit: String,
    },
}

/// Which limit a clip is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    FileSize,
    Width,
    Height,
    Duration,
    FrameCount,
    /// A decoded frame's size (a size change mid-stream).
    FrameSize,
    DecodedFrames,
    /// Audio streams in one clip.
    AudioStreams,
    /// Seconds of sound in one audio stream.
    AudioDuration,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::FileSize => "file size (bytes)",
            Limit::Width => "width (px)",
            Limit::Height => "height (px)",
            Limit::Duration => "duration (s)",
            Limit::FrameCount => "frame count",
            Limit::FrameSize => "frame size (px)",
            Limit::DecodedFrames => "decoded frames",
            Limit::AudioStreams => "audio streams",
            Limit::AudioDuration => "audio duration (s)",
        }
    }
}

impl MediaError {
    /// Makes "corrupt" errors about one file, from a reason.
    pub(crate) fn corrupt_at(path: &std::path::Path) -> impl Fn(String) -> MediaError {
        let path = path.display().to_string();
        move |reason| MediaError::Corrupt {
            path: path.clone(),
            reason,
        }
    }
}

impl Failure for MediaError {
    fn code(&self) -> ErrorCode {
        match self {
            MediaError::NotFound { .. } => ErrorCode::NotFound,
            MediaError::Unreadable { .. } => ErrorCode::Unreadable,
            MediaError::Empty { .. } => ErrorCode::Empty,
            MediaError::NotVideo { .. } => ErrorCode::NotVideo,
            MediaError::Corrupt { .. } => ErrorCode::Corrupt,
            MediaError::Truncated { .. } => ErrorCode::Truncated,
            MediaError::OverLimit {
                what: Limit::FileSize,
                ..
            } => ErrorCode::TooLarge,
            MediaError::OverLimit { .. } => ErrorCode::OverLimit,
        }
    }
}

/// FFmpeg's global set-up, once per process. Its own logging is silenced: every problem it
/// reports to us comes back as a `MediaError` instead.
pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        ffmpeg_next::init().expect("FFmpeg initialises");
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Quiet);
    });
}
