//! NudeNet 320n (YOLOv8n): 18 body-part classes, exposed and covered.
//!
//! Pre- and post-processing follow the `nudenet` 3.4.2 package exactly: pad to a square with
//! black at the bottom and right, resize to 320 with OpenCV's bilinear, scale to 0..1, feed
//! **BGR** (the package's two channel swaps cancel out), keep candidates whose best class score
//! is at least 0.2, clip to the image, NMS at score 0.25 and IoU 0.45 across classes.
//! Scores are raw: thresholds for decisions belong to the policy, not here.

use super::resize::resize_padded;
use super::runtime::{Runtime, SessionPool};
use super::{nms, VisionError};
use crate::vocab::BBox;
use crate::vocab::{NudityClass, NudityDetection};
use image::RgbImage;
use ndarray::{Array4, Axis};
use std::path::Path;

/// The model's classes, in output order.
/// The input side NudeNet 320n was trained at.
pub const INPUT_SIZE: usize = 320;
/// The reference keeps candidates scoring at least 0.2, then `cv2.dnn.NMSBoxes(boxes, scores,
/// 0.25, 0.45)` drops those below 0.25: the effective floor is 0.25.
const MIN_SCORE: f32 = 0.25;
const NMS_IOU: f32 = 0.45;

pub struct NudityDetector {
    pool: SessionPool,
    size: usize,
    batch: usize,
}

impl NudityDetector {
    pub fn load(
        runtime: &Runtime,
        name: &str,
        path: &Path,
        size: usize,
        batch: usize,
    ) -> Result<Self, VisionError> {
        Ok(Self {
            pool: runtime.pool(name, path)?,
            size,
            batch: batch.max(1),
        })
    }

    /// Detections for each frame, in order.
    pub fn detect(&self, frames: &[&RgbImage]) -> Result<Vec<Vec<NudityDetection>>, VisionError> {
        let mut all = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(self.batch) {
            all.extend(self.detect_batch(chunk)?);
        }
        Ok(all)
    }

    fn detect_batch(&self, frames: &[&RgbImage]) -> Result<Vec<Vec<NudityDetection>>, VisionError> {
        let s = self.size;
        let mut input = Array4::<f32>::zeros((frames.len(), 3, s, s));
        for (b, img) in frames.iter().enumerate() {
            let (w, h) = (img.width() as usize, img.height() as usize);
            let side = w.max(h);
            let mut plane = input.index_axis_mut(Axis(0), b);
            resize_padded(img.as_raw(), w, h, side, side, s, s, |x, y, [r, g, bl]| {
                plane[[0, y, x]] = bl / 255.0;
                plane[[1, y, x]] = g / 255.0;
                plane[[2, y, x]] = r / 255.0;
            });
        }
        self.pool.infer(input, |outputs| {
            let out = &outputs[0];
            let shape: Vec<i64> = out.shape().iter().map(|&d| d as i64).collect();
            if out.ndim() != 3
                || out.shape()[0] != frames.len()
                || out.shape()[1] != 4 + NudityClass::ALL.len()
            {
                return Err(VisionError::OutputShape {
                    model: self.pool.model().to_string(),
                    shape,
                });
            }
            Ok(frames
                .iter()
                .enumerate()
                .map(|(b, img)| {
                    self.decode(
                        out.index_axis(Axis(0), b),
                        img.width() as f32,
                        img.height() as f32,
                    )
                })
                .collect())
        })
    }

    /// Decodes one image's [22, N] output, as `nudenet._postprocess` does.
    fn decode(&self, out: ndarray::ArrayViewD<'_, f32>, w: f32, h: f32) -> Vec<NudityDetection> {
        let scale = w.max(h) / self.size as f32;
        let n = out.shape()[1];
        let mut candidates = Vec::new();
        for i in 0..n {
            let (mut best, mut class) = (f32::MIN, 0);
            for c in 0..NudityClass::ALL.len() {
                let v = out[[4 + c, i]];
                if v > best {
                    best = v;
                    class = c;
                }
            }
            if best < MIN_SCORE {
                continue;
            }
            let (cx, cy, bw, bh) = (out[[0, i]], out[[1, i]], out[[2, i]], out[[3, i]]);
            let x = ((cx - bw / 2.0) * scale).clamp(0.0, w);
            let y = ((cy - bh / 2.0) * scale).clamp(0.0, h);
            candidates.push(NudityDetection {
                class: NudityClass::ALL[class],
                score: best,
                bbox: BBox {
                    x,
                    y,
                    w: (bw * scale).min(w - x),
                    h: (bh * scale).min(h - y),
                },
            });
        }
        nms(candidates, |d| d.score, |d| d.bbox, NMS_IOU, false)
    }
}
