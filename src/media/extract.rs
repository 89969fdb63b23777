//! Frames at given times, decoded again from the clip: for evidence thumbnails of block and
//! review decisions, which only the policy's verdict (after screening) says are needed.

use super::input::{check_frame, Decoding, Input, RgbConverter};
use super::MediaError;
use crate::config::MediaConfig;
use image::RgbImage;
use std::path::Path;

/// The first decoded frame at or after each time (seconds), in the order asked (None for a
/// time past the end). Decoding stops once every time is reached.
pub fn frames_at(
    path: &Path,
    times: &[f64],
    cfg: &MediaConfig,
) -> Result<Vec<Option<RgbImage>>, MediaError> {
    let p = path.display().to_string();
    let corrupt = MediaError::corrupt_at(path);
    let Input {
        mut ictx,
        stream_index,
        time_base,
        start,
        mut dec,
        declared_frames: _,
        watch: _watch,
        others: _,
    } = Input::open(path, cfg, Decoding::Exact)?;
    let mut rgb = RgbConverter::default();
    let mut out: Vec<Option<RgbImage>> = vec![None; times.len()];
    let mut frame = ffmpeg_next::frame::Video::empty();
    // Times are those of decoded frames, so allow for rounding.
    const SLACK_S: f64 = 1e-3;
    let mut eof = false;
    while out.iter().any(Option::is_none) && !eof {
        // A fresh packet each time, as in `sample`: a reused one leaks its buffer.
        let mut packet = ffmpeg_next::Packet::empty();
        match packet.read(&mut ictx) {
            Ok(()) if packet.stream() != stream_index => continue,
            Ok(()) => dec
                .send_packet(&packet)
                .map_err(|e| corrupt(format!("cannot decode ({e})")))?,
            Err(ffmpeg_next::Error::Eof) => {
                eof = true;
                dec.send_eof().map_err(|e| corrupt(e.to_string()))?;
            }
            Err(e) => return Err(corrupt(format!("cannot read packet ({e})"))),
        }
        while dec.receive_frame(&mut frame).is_ok() {
            let t = frame
                .timestamp()
                .map(|ts| (ts - start) as f64 * time_base)
                .unwrap_or(0.0);
            let wanted: Vec<usize> = (0..times.len())
                .filter(|&i| out[i].is_none() && times[i] <= t + SLACK_S)
                .collect();
            if wanted.is_empty() {
                continue;
            }
            check_frame(&frame, cfg, &p)?;
            let img = rgb.convert(&frame, &p)?;
            for i in wanted {
                out[i] = Some(img.clone());
            }
        }
    }
    Ok(out)
}
