//! What a clip is and how much of it was decoded and sampled.

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SampleReason {
    Keyframe,
    Uniform,
    SceneCut,
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
    /// Seconds of video decoded (last frame's time plus one frame).
    pub decoded_s: f64,
    /// Seconds between uniform samples actually used (longer for long clips).
    pub interval_s: f64,
    pub decode_ms: f64,
    /// Thumbnails, cut and duplicate detection, and RGB conversion.
    pub sample_ms: f64,
}
