//! What was heard of a clip's soundtrack: every audio stream the container declares, whether it
//! decoded, and how much of it. An allow vouches for the whole clip, so audio that could not be
//! decoded, or was decoded with errors, leaves coverage incomplete, just as video does.

use serde::{Deserialize, Serialize};

/// Coverage of a clip's audio: all its audio streams together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AudioCoverage {
    /// Every declared audio stream decoded cleanly from start to end (true for a clip without
    /// audio: there is nothing unheard).
    pub complete: bool,
    /// The clip declares no audio stream.
    pub no_audio: bool,
    /// One sentence per problem, for reviewers (empty when complete).
    pub problems: Vec<String>,
    /// Audio streams the container declares.
    pub streams_declared: u32,
    /// Streams whose decoder opened and produced sound.
    pub streams_decoded: u32,
    /// Seconds of audio the streams declare, all streams added up.
    pub declared_s: f64,
    /// Seconds of audio decoded, all streams added up.
    pub heard_s: f64,
    /// Each declared stream, in the container's order.
    pub streams: Vec<AudioStreamCoverage>,
}

impl AudioCoverage {
    /// A clip whose `streams` audio streams no analyser listened to (speech screening turned
    /// off): nothing vouches for what they say, so the clip is not complete. With no stream,
    /// a clip without sound: complete.
    pub fn unscreened(streams: u32, why: &str) -> Self {
        Self {
            complete: streams == 0,
            no_audio: streams == 0,
            problems: if streams == 0 {
                Vec::new()
            } else {
                vec![format!(
                    "{streams} audio streams were not listened to: {why}"
                )]
            },
            streams_declared: streams,
            streams_decoded: 0,
            declared_s: 0.0,
            heard_s: 0.0,
            streams: Vec::new(),
        }
    }
}

/// One audio stream's coverage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AudioStreamCoverage {
    /// The stream's index in the container (as ffprobe numbers streams).
    pub index: u32,
    /// The codec as FFmpeg names it ("aac", "opus", "none" when unknown).
    pub codec: String,
    /// The stream's language tag, when the container gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub channels: u32,
    /// The stream's own sample rate (its audio is resampled to 16 kHz mono for analysis).
    pub sample_rate: u32,
    /// The decoder opened and produced sound.
    pub decoded: bool,
    /// Seconds the stream (or, when it declares none, the container) declares.
    pub declared_s: f64,
    /// Seconds of sound decoded.
    pub heard_s: f64,
    /// Packets the container delivered for this stream.
    pub packets: u64,
    /// Packets the decoder refused as invalid.
    pub rejected_packets: u64,
    /// Errors the decoder reported (FFmpeg's error-level messages).
    pub decoder_errors: u64,
    /// When they happened: seconds on the clip's timeline, the first 32.
    pub errors: Vec<AudioError>,
    /// Why the stream could not be decoded at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// A decoding problem and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AudioError {
    pub time_s: f64,
    pub reason: String,
}
