//! Evidence thumbnails: small JPEG crops of the frames that made rules match, for reviewers and
//! the dashboard. Made for block and review decisions only, from the evidence the policy
//! attached (a time and a box), by decoding those frames again.

use crate::config::MediaConfig;
use crate::media::{self, MediaError};
use crate::store::{DecisionLog, Thumbnail};
use crate::vocab::Action;
use crate::vocab::Decision;
use image::{imageops, RgbImage};
use std::path::Path;

/// At most this many thumbnails per decision.
const MAX_THUMBNAILS: usize = 4;
/// The longer side of a thumbnail, in pixels.
const SIDE: u32 = 192;

/// A place in the clip that some matched rule points at.
struct Spot {
    rule: String,
    time_s: f64,
    /// x, y, w, h in frame pixels.
    bbox: [f64; 4],
}

fn spots(d: &Decision) -> Vec<Spot> {
    let mut out: Vec<Spot> = Vec::new();
    for m in &d.decision.matched {
        for e in &m.evidence {
            let (Some(t), Some(b)) = (e.get("time_s").and_then(|t| t.as_f64()), e.get("box"))
            else {
                continue;
            };
            let coord = |k: &str| b.get(k).and_then(|v| v.as_f64());
            let (Some(x), Some(y), Some(w), Some(h)) =
                (coord("x"), coord("y"), coord("w"), coord("h"))
            else {
                continue;
            };
            let spot = Spot {
                rule: m.rule.clone(),
                time_s: t,
                bbox: [x, y, w, h],
            };
            let duplicate = out
                .iter()
                .any(|s| s.time_s == spot.time_s && s.bbox == spot.bbox);
            if !duplicate && out.len() < MAX_THUMBNAILS {
                out.push(spot);
            }
        }
    }
    out
}

/// The box with a quarter of its size added on each side, clamped to the frame.
fn crop(img: &RgbImage, [x, y, w, h]: [f64; 4]) -> RgbImage {
    let (fw, fh) = (img.width() as f64, img.height() as f64);
    let (mx, my) = (w * 0.25, h * 0.25);
    let x0 = (x - mx).clamp(0.0, fw - 1.0);
    let y0 = (y - my).clamp(0.0, fh - 1.0);
    let x1 = (x + w + mx).clamp(x0 + 1.0, fw);
    let y1 = (y + h + my).clamp(y0 + 1.0, fh);
    let region = imageops::crop_imm(
        img,
        x0 as u32,
        y0 as u32,
        (x1 - x0) as u32,
        (y1 - y0) as u32,
    )
    .to_image();
    let scale = SIDE as f64 / region.width().max(region.height()) as f64;
    if scale >= 1.0 {
        return region;
    }
    imageops::resize(
        &region,
        ((region.width() as f64 * scale).round() as u32).max(1),
        ((region.height() as f64 * scale).round() as u32).max(1),
        imageops::FilterType::Triangle,
    )
}

/// Thumbnails for a block or review decision on this clip; none for allow, or when its rules
/// carry no time and box.
fn thumbnails(d: &Decision, clip: &Path, cfg: &MediaConfig) -> Result<Vec<Thumbnail>, MediaError> {
    if d.decision.action == Action::Allow {
        return Ok(Vec::new());
    }
    let spots = spots(d);
    if spots.is_empty() {
        return Ok(Vec::new());
    }
    let times: Vec<f64> = spots.iter().map(|s| s.time_s).collect();
    let frames = media::frames_at(clip, &times, cfg)?;
    let mut out = Vec::new();
    for (spot, frame) in spots.into_iter().zip(frames) {
        let Some(frame) = frame else { continue };
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
            .encode_image(&crop(&frame, spot.bbox))
            .map_err(|e| MediaError::Corrupt {
                path: clip.display().to_string(),
                reason: format!("cannot encode a thumbnail ({e})"),
            })?;
        out.push(Thumbnail {
            rule: spot.rule,
            time_s: spot.time_s,
            jpeg,
        });
    }
    Ok(out)
}

/// Makes and stores the thumbnails of a block or review decision. Best effort: the decision
/// itself holds every time and box, so a failure here is logged, not raised.
pub(super) fn store(log: &dyn DecisionLog, decision: &Decision, clip: &Path, cfg: &MediaConfig) {
    let made = thumbnails(decision, clip, cfg)
        .map_err(|e| e.to_string())
        .and_then(|t| {
            log.record_thumbnails(&decision.id, &t)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = made {
        tracing::warn!(decision = %decision.id, error = %e, "no evidence thumbnails");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_add_a_margin_stay_inside_and_shrink_to_the_thumbnail_side() {
        let img = RgbImage::new(1280, 720);
        let c = crop(&img, [100.0, 100.0, 400.0, 400.0]);
        assert_eq!((c.width(), c.height()), (192, 192));
        let edge = crop(&img, [1200.0, 680.0, 200.0, 200.0]);
        assert!(edge.width() <= 192 && edge.height() <= 192 && edge.width() > 0);
        let small = crop(&img, [10.0, 10.0, 40.0, 40.0]);
        assert_eq!((small.width(), small.height()), (60, 60));
    }
}
