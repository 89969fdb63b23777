//! Evidence thumbnails: small JPEGs of the frames that made rules match, for reviewers and the
//! dashboard. Made for block and review decisions only, from the evidence the policy attached
//! (a time, and a box where there is one), by decoding those frames again: a crop around the
//! box, or the whole frame when the evidence has a time and no box (a coverage problem), so
//! every piece of evidence with a time can be looked at. Every thumbnail is square, its
//! picture scaled to fit and letterboxed: the dashboard shows them in square tiles that fill
//! (crop) their image, where a wide caption's crop showed only its middle letters.

use crate::config::MediaConfig;
use crate::media::{self, MediaError};
use crate::store::{DecisionLog, Thumbnail};
use crate::vocab::Action;
use crate::vocab::Decision;
use image::{imageops, RgbImage};
use std::path::Path;

/// At most this many thumbnails per decision.
const MAX_THUMBNAILS: usize = 8;
/// The side of a thumbnail, in pixels (at most: a smaller crop is not enlarged).
const SIDE: u32 = 192;

/// A place in the clip that matched rules point at, and the evidence items that point there.
struct Spot {
    rule: String,
    time_s: f64,
    /// x, y, w, h in frame pixels; None: the whole frame.
    bbox: Option<[f64; 4]>,
    /// (index in `matched`, index in its `evidence`) of each item this spot shows.
    shows: Vec<(usize, usize)>,
}

fn bbox(e: &serde_json::Value) -> Option<[f64; 4]> {
    let b = e.get("box")?;
    let coord = |k: &str| b.get(k).and_then(|v| v.as_f64());
    Some([coord("x")?, coord("y")?, coord("w")?, coord("h")?])
}

/// The thumbnails a decision gets, in order: one per distinct (time, box) of its matched rules'
/// evidence, evidence without a time (prompt matches) left out.
fn spots(d: &Decision) -> Vec<Spot> {
    let mut out: Vec<Spot> = Vec::new();
    for (i, m) in d.decision.matched.iter().enumerate() {
        for (j, e) in m.evidence.iter().enumerate() {
            let Some(time_s) = e.get("time_s").and_then(|t| t.as_f64()) else {
                continue;
            };
            let bbox = bbox(e);
            if let Some(same) = out
                .iter_mut()
                .find(|s| s.time_s == time_s && s.bbox == bbox)
            {
                same.shows.push((i, j));
            } else if out.len() < MAX_THUMBNAILS {
                out.push(Spot {
                    rule: m.rule.clone(),
                    time_s,
                    bbox,
                    shows: vec![(i, j)],
                });
            }
        }
    }
    out
}

/// For each matched rule, for each of its evidence items, the number of the stored thumbnail
/// that shows it. `stored` is the (rule, time) of each thumbnail kept, in order: a subsequence
/// of the spots (a frame that could not be decoded again has none).
pub fn thumbnails_of_evidence(d: &Decision, stored: &[(String, f64)]) -> Vec<Vec<Option<usize>>> {
    let mut out: Vec<Vec<Option<usize>>> = d
        .decision
        .matched
        .iter()
        .map(|m| vec![None; m.evidence.len()])
        .collect();
    let mut next = 0;
    for spot in spots(d) {
        let Some((rule, time_s)) = stored.get(next) else {
            break;
        };
        if *rule == spot.rule && *time_s == spot.time_s {
            for (i, j) in spot.shows {
                out[i][j] = Some(next);
            }
            next += 1;
        }
    }
    out
}

/// Shrinks an image to fit the thumbnail side (never enlarges it), then letterboxes it onto a
/// black square as wide as its longer side, centred: all of it shows in a square tile.
fn fit(region: RgbImage) -> RgbImage {
    let scale = SIDE as f64 / region.width().max(region.height()) as f64;
    let region = if scale >= 1.0 {
        region
    } else {
        imageops::resize(
            &region,
            ((region.width() as f64 * scale).round() as u32).max(1),
            ((region.height() as f64 * scale).round() as u32).max(1),
            imageops::FilterType::Triangle,
        )
    };
    let side = region.width().max(region.height());
    let mut square = RgbImage::new(side, side);
    imageops::replace(
        &mut square,
        &region,
        ((side - region.width()) / 2).into(),
        ((side - region.height()) / 2).into(),
    );
    square
}

/// The box with a quarter of its shorter side added on each side, clamped to the frame, fitted
/// into the thumbnail. The margin follows the shorter side so that a wide caption keeps most of
/// the thumbnail's width instead of sharing it with as much frame again.
fn crop(img: &RgbImage, [x, y, w, h]: [f64; 4]) -> RgbImage {
    let (fw, fh) = (img.width() as f64, img.height() as f64);
    let (mx, my) = (w.min(h) * 0.25, w.min(h) * 0.25);
    let x0 = (x - mx).clamp(0.0, fw - 1.0);
    let y0 = (y - my).clamp(0.0, fh - 1.0);
    let x1 = (x + w + mx).clamp(x0 + 1.0, fw);
    let y1 = (y + h + my).clamp(y0 + 1.0, fh);
    fit(imageops::crop_imm(
        img,
        x0 as u32,
        y0 as u32,
        (x1 - x0) as u32,
        (y1 - y0) as u32,
    )
    .to_image())
}

/// Thumbnails for a block or review decision on this clip; none for allow, or when its rules
/// carry no time.
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
            .encode_image(&match spot.bbox {
                Some(b) => crop(&frame, b),
                None => fit(frame),
            })
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
    fn crops_add_a_margin_stay_inside_and_fit_a_square_of_the_thumbnail_side() {
        let img = RgbImage::new(1280, 720);
        let c = crop(&img, [100.0, 100.0, 400.0, 400.0]);
        assert_eq!((c.width(), c.height()), (192, 192));
        let edge = crop(&img, [1200.0, 680.0, 200.0, 200.0]);
        assert!(edge.width() <= 192 && edge.height() == edge.width() && edge.width() > 0);
        let small = crop(&img, [10.0, 10.0, 40.0, 40.0]);
        assert_eq!((small.width(), small.height()), (60, 60));
        let whole = fit(img);
        assert_eq!((whole.width(), whole.height()), (192, 192));
    }

    #[test]
    fn a_wide_box_is_letterboxed_whole_into_the_square() {
        // A white caption box 800x40 on a grey frame: margins of 10 px, so 820x60 of frame
        // scaled by 192/820 into the square's middle band, black above and below.
        let mut img = RgbImage::from_pixel(1280, 720, image::Rgb([90, 90, 90]));
        for y in 500..540 {
            for x in 200..1000 {
                img.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let c = crop(&img, [200.0, 500.0, 800.0, 40.0]);
        assert_eq!((c.width(), c.height()), (192, 192));
        let white = |x: u32, y: u32| c.get_pixel(x, y).0[0] > 200;
        let black = |x: u32, y: u32| c.get_pixel(x, y).0[0] < 20;
        // The band is 60 * 192 / 820 = 14 px tall: rows 89..103.
        assert!(black(96, 0) && black(96, 85) && black(96, 106) && black(96, 191));
        // Both ends of the box show, with the frame's grey margin outside them.
        let row = 96;
        let lit: Vec<u32> = (0..192).filter(|&x| white(x, row)).collect();
        assert!(
            lit.first() <= Some(&4) && lit.last() >= Some(&187),
            "{lit:?}"
        );
        assert!(!white(0, row) && !white(191, row));
    }

    #[test]
    fn every_evidence_item_with_a_time_is_shown_by_one_thumbnail() {
        use crate::vocab::{CheckRequest, PolicyRef, RuleMatch, Verdict};
        use serde_json::json;
        let face = json!({"time_s": 1.0, "box": {"x": 1.0, "y": 2.0, "w": 30.0, "h": 40.0}});
        let rule = |id: &str, evidence: Vec<serde_json::Value>| RuleMatch {
            rule: id.into(),
            category: "c".into(),
            action: Action::Review,
            message: "m".into(),
            evidence,
            severity: None,
        };
        let verdict = Verdict {
            action: Action::Review,
            matched: vec![
                rule(
                    "likeness",
                    vec![
                        face.clone(),
                        face,
                        json!({"text": "Collins", "start": 0, "end": 7}),
                    ],
                ),
                rule(
                    "coverage",
                    vec![json!({"problem": "frames missing", "time_s": 2.5})],
                ),
            ],
            shadow: vec![],
            failures: vec![],
            policy: PolicyRef {
                name: "p".into(),
                version: "v".into(),
            },
        };
        let d = Decision::new(&CheckRequest::default(), None, None, None, verdict);
        let s = spots(&d);
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].bbox.is_some(), s[1].bbox),
            (true, None),
            "boxless: whole frame"
        );
        let stored = vec![("likeness".to_string(), 1.0), ("coverage".to_string(), 2.5)];
        assert_eq!(
            thumbnails_of_evidence(&d, &stored),
            vec![vec![Some(0), Some(0), None], vec![Some(1)]]
        );
        // The first frame could not be decoded again: the second thumbnail is number 0.
        assert_eq!(
            thumbnails_of_evidence(&d, &stored[1..]),
            vec![vec![None, None, None], vec![Some(0)]]
        );
    }
}
