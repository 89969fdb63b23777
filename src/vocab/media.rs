//! What a clip is and how much of it was decoded and sampled.

use super::AudioCoverage;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaInfo {
    pub container: String,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub duration_s: f64,
    pub fps: f64,
    /// Frames the container declares, or duration x rate where it declares none.
    pub frames: u64,
    pub file_bytes: u64,
    /// Audio streams the container declares (0 in decisions logged before sound was heard).
    #[serde(default)]
    pub audio_streams: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SampleReason {
    Keyframe,
    Uniform,
    SceneCut,
    /// A frame that differs from both its neighbours while they are alike: something shown
    /// for a single frame. Every analyser looks at it, as at a scene start.
    Flash,
}

impl SampleReason {
    /// The spelling of JSON, for printed reports too.
    pub fn as_str(self) -> &'static str {
        match self {
            SampleReason::Keyframe => "keyframe",
            SampleReason::Uniform => "uniform",
            SampleReason::SceneCut => "scene_cut",
            SampleReason::Flash => "flash",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SamplingStats {
    pub decoded_frames: u64,
    pub sampled_frames: u64,
    pub analysed_frames: u64,
    pub duplicate_frames: u64,
    /// Picked frames not analysed because `max_analysed_frames` was reached.
    pub over_budget_frames: u64,
    pub scene_cuts: u64,
    /// Frames that differ from both their neighbours (a single frame flashed in).
    #[serde(default)]
    pub flashes: u64,
    /// Seconds of video decoded (last frame's time plus one frame).
    pub decoded_s: f64,
    /// Seconds between uniform samples actually used (longer for long clips).
    pub interval_s: f64,
    pub decode_ms: f64,
    /// Thumbnails, cut and duplicate detection, and RGB conversion.
    pub sample_ms: f64,
    /// What of the clip was decoded cleanly: policies must not allow a clip not fully seen.
    /// (Absent from decisions logged before coverage was measured.)
    #[serde(default)]
    pub coverage: Coverage,
}

/// What the decoder saw of a clip. `complete` is false exactly when `problems` is not empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Coverage {
    /// Every declared frame and every stretch of time was decoded cleanly.
    pub complete: bool,
    /// One sentence per problem, for reviewers (empty when complete).
    pub problems: Vec<String>,
    /// Frames the container declares.
    pub declared_frames: u64,
    pub declared_frames_from: DeclaredFrames,
    /// The container's duration, seconds.
    pub declared_s: f64,
    /// Video packets the container delivered (one per frame).
    pub packets: u64,
    /// Frames a player shows: one per packet the container delivered.
    #[serde(default)]
    pub shown_frames: u64,
    /// Frames that came out of the decoder: every frame shown, unless packets were rejected
    /// or `media.skip_non_reference` skipped the frames no other frame refers to.
    pub decoded_frames: u64,
    /// Frames shown that were never decoded (neither decoded nor rejected as invalid): nobody
    /// looked at them, so coverage is incomplete.
    #[serde(default)]
    pub not_decoded_frames: u64,
    /// When those frames were to be shown (seconds, the first 32).
    #[serde(default)]
    pub not_decoded_times_s: Vec<f64>,
    /// Frames the analysers looked at (near-duplicates of them excluded).
    #[serde(default)]
    pub analysed_frames: u64,
    /// Packets the decoder refused as invalid.
    pub rejected_packets: u64,
    /// Errors the decoder reported while decoding (FFmpeg's error-level messages).
    pub decoder_errors: u64,
    /// Frames the decoder marked corrupt or as decoded with errors or concealment, and the
    /// frames after an error up to the next keyframe (they predict from what it broke).
    pub damaged_frames: u64,
    /// When rejected packets, decoder errors and damaged frames happened (seconds, the first 32).
    pub error_times_s: Vec<f64>,
    /// Changes of frame size or pixel format after the first frame.
    pub changes: Vec<FormatChange>,
    /// Stretches of the declared duration longer than `media.max_unseen_s` that no decoded
    /// frame covers (the first 32).
    pub unseen: Vec<TimeSpan>,
    /// Seconds in all unseen stretches.
    pub unseen_s: f64,
    /// Share of the declared duration covered by decoded frames (0-1).
    pub covered_share: f64,
    /// How small a face could be and still be found (absent when faces are not analysed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faces: Option<FaceReach>,
    /// What of the soundtrack was heard (absent in decisions logged before sound was heard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioCoverage>,
}

impl Coverage {
    /// Adds the soundtrack's coverage: the clip is complete only if its sound was heard in full
    /// too, and the sound's problems join the pictures' (each names its audio stream).
    pub fn add_audio(&mut self, audio: AudioCoverage) {
        if !audio.complete {
            self.complete = false;
            self.problems.extend(audio.problems.iter().cloned());
        }
        self.audio = Some(audio);
    }
}

/// The smallest face (shorter side, frame pixels) face detection could find: faces this size
/// or larger were looked for; smaller ones may have gone unseen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaceReach {
    /// Holds for every analysed frame (the largest of their per-frame figures).
    pub every_frame_px: f32,
    /// Holds for the first frame of each scene, which gets a closer look.
    pub scene_starts_px: f32,
}

/// Where `declared_frames` comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclaredFrames {
    /// The container's own frame count (MP4 sample tables, Matroska/AVI headers).
    Container,
    /// Duration times frame rate (MPEG-TS and others that declare no count).
    DurationTimesRate,
    /// Neither: nothing to account decoded frames against.
    #[default]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FormatChange {
    pub time_s: f64,
    pub width: u32,
    pub height: u32,
    pub pixel_format: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeSpan {
    pub start_s: f64,
    pub end_s: f64,
}
