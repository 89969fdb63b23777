//! PP-OCRv4 (from the `rapidocr-onnxruntime` 1.4.4 wheel): text detection (DB), the
//! upside-down classifier and CTC recognition over the model's own character list.
//!
//! Every step follows the package's `RapidOCR.__call__` with its config.yaml, so the parity
//! check can hold it to the same strings, boxes and scores: images over 2,000 px are reduced
//! and very wide or short ones letterboxed, detection runs at sides rounded to multiples of 32
//! on BGR scaled to -1..1, lines are cut out with a perspective warp, turned when the
//! classifier is sure they are upside down, and read at height 48 in batches of 6 sorted by
//! aspect ratio. Only the detection size is ours to choose (see `DetLimit`).

mod db;
mod warp;

use db::{DbParams, Quad};

use super::resize::resize_exact;
use super::runtime::{Runtime, SessionPool};
use super::VisionError;
use crate::vocab::{BBox, Point, TextLine};
use image::RgbImage;
use ndarray::Array4;
use std::borrow::Cow;
use std::path::Path;

/// How detection scales a frame before the model sees it (sides then rounded to multiples of
/// 32). Text a few pixels tall in the scaled frame is lost, so the size sets the smallest
/// text read; recognition always reads the lines at full resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DetLimit {
    /// Scale up so the shorter side is at least this (the reference: 736).
    Min(u32),
    /// Scale down so the longer side is at most this.
    Max(u32),
}

/// The reference's detection size.
pub const REFERENCE_DET: DetLimit = DetLimit::Min(736);

/// Lines read below this mean character probability are dropped (the reference's text_score).
pub const TEXT_SCORE: f32 = 0.5;

const MAX_SIDE: u32 = 2000;
const MIN_SIDE: u32 = 30;
const MIN_HEIGHT: u32 = 30;
const WIDTH_HEIGHT_RATIO: f64 = 8.0;
const CLS_SHAPE: (usize, usize) = (48, 192);
const CLS_BATCH: usize = 6;
const CLS_THRESH: f32 = 0.9;
const REC_HEIGHT: usize = 48;
const REC_MIN_WIDTH: usize = 320;
const REC_BATCH: usize = 6;

pub struct TextReader {
    det: SessionPool,
    cls: SessionPool,
    rec: SessionPool,
    /// CTC classes: blank, the model's characters, then a space.
    charset: Vec<String>,
    det_limit: DetLimit,
    db: DbParams,
}

/// The model files, as named in the manifest.
pub struct TextModels<'a> {
    pub det: (&'a str, &'a Path),
    pub cls: (&'a str, &'a Path),
    pub rec: (&'a str, &'a Path),
}

impl TextReader {
    pub fn load(
        runtime: &Runtime,
        models: TextModels<'_>,
        det_limit: DetLimit,
    ) -> Result<Self, VisionError> {
        let rec = runtime.pool(models.rec.0, models.rec.1)?;
        let chars = rec.with(|s| {
            let meta = s.metadata().map_err(|e| VisionError::Load {
                model: models.rec.0.to_string(),
                reason: e.to_string(),
            })?;
            meta.custom("character").ok_or_else(|| VisionError::Load {
                model: models.rec.0.to_string(),
                reason: "no `character` list in the model's metadata".into(),
            })
        })?;
        // Python's str.splitlines, as the reference reads it.
        let mut charset = vec!["blank".to_string()];
        charset.extend(chars.lines().map(str::to_string));
        charset.push(" ".to_string());
        Ok(Self {
            det: runtime.pool(models.det.0, models.det.1)?,
            cls: runtime.pool(models.cls.0, models.cls.1)?,
            rec,
            charset,
            det_limit,
            db: db::REFERENCE,
        })
    }

    /// The lines of text in a frame, in reading order, each at least `TEXT_SCORE`.
    pub fn read(&self, frame: &RgbImage) -> Result<Vec<TextLine>, VisionError> {
        let (raw_w, raw_h) = frame.dimensions();
        let pre = Prepared::new(frame);
        let quads = self.detect(&pre.image)?;
        if quads.is_empty() {
            return Ok(Vec::new());
        }
        let mut crops: Vec<RgbImage> = quads.iter().map(|q| warp::crop(&pre.image, q)).collect();
        self.classify(&mut crops)?;
        let read = self.recognise(&crops)?;
        Ok(quads
            .iter()
            .zip(read)
            .filter(|(_, (_, score))| *score >= TEXT_SCORE)
            .map(|(q, (text, score))| {
                let quad = q.map(|[x, y]| {
                    let x = ((x - pre.left as f32) * pre.ratio_w).clamp(0.0, raw_w as f32);
                    let y = ((y - pre.top as f32) * pre.ratio_h).clamp(0.0, raw_h as f32);
                    Point { x, y }
                });
                TextLine {
                    bbox: bounds(&quad),
                    quad,
                    text,
                    score,
                }
            })
            .collect())
    }

    /// Text boxes, in reading order, in `img` pixels.
    fn detect(&self, img: &RgbImage) -> Result<Vec<Quad>, VisionError> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let ratio = match self.det_limit {
            DetLimit::Min(l) if (w.min(h) as f64) < f64::from(l) => f64::from(l) / w.min(h) as f64,
            DetLimit::Max(l) if (w.max(h) as f64) > f64::from(l) => f64::from(l) / w.max(h) as f64,
            _ => 1.0,
        };
        let (dw, dh) = (round32(w as f64 * ratio), round32(h as f64 * ratio));
        let mut input = Array4::<f32>::zeros((1, 3, dh, dw));
        put_normalised(&mut input, 0, img, dw, dh);
        let db = self.db;
        let boxes = self.det.infer(input, |outputs| {
            let out = &outputs[0];
            if out.shape() != [1, 1, dh, dw] {
                return Err(self.shape_error(&self.det, out.shape()));
            }
            let map = out
                .slice(ndarray::s![0, 0, .., ..])
                .into_dimensionality::<ndarray::Ix2>()
                .expect("a 2-D slice");
            Ok(db::boxes(map, w, h, &db))
        })?;
        Ok(db::reading_order(boxes))
    }

    /// Turns the lines the classifier is sure are upside down.
    fn classify(&self, crops: &mut [RgbImage]) -> Result<(), VisionError> {
        let order = by_aspect(crops);
        let (ch, cw) = CLS_SHAPE;
        for batch in order.chunks(CLS_BATCH) {
            let mut input = Array4::<f32>::zeros((batch.len(), 3, ch, cw));
            for (b, &i) in batch.iter().enumerate() {
                let img = &crops[i];
                let ratio = f64::from(img.width()) / f64::from(img.height());
                let rw = ((ch as f64 * ratio).ceil() as usize).clamp(1, cw);
                put_normalised(&mut input, b, img, rw, ch);
            }
            let flips = self.cls.infer(input, |outputs| {
                let out = &outputs[0];
                if out.shape() != [batch.len(), 2] {
                    return Err(self.shape_error(&self.cls, out.shape()));
                }
                Ok(out
                    .outer_iter()
                    .map(|p| p[1] > p[0] && p[1] > CLS_THRESH)
                    .collect::<Vec<_>>())
            })?;
            for (&i, flip) in batch.iter().zip(flips) {
                if flip {
                    image::imageops::rotate180_in_place(&mut crops[i]);
                }
            }
        }
        Ok(())
    }

    /// Each line's text and mean character probability, in the order given.
    fn recognise(&self, crops: &[RgbImage]) -> Result<Vec<(String, f32)>, VisionError> {
        let order = by_aspect(crops);
        let mut out = vec![(String::new(), 0.0f32); crops.len()];
        for batch in order.chunks(REC_BATCH) {
            let max_ratio = batch
                .iter()
                .map(|&i| aspect(&crops[i]))
                .fold(REC_MIN_WIDTH as f64 / REC_HEIGHT as f64, f64::max);
            let width = (REC_HEIGHT as f64 * max_ratio) as usize;
            let mut input = Array4::<f32>::zeros((batch.len(), 3, REC_HEIGHT, width));
            for (b, &i) in batch.iter().enumerate() {
                let img = &crops[i];
                let want = (REC_HEIGHT as f64 * aspect(img)).ceil() as usize;
                put_normalised(&mut input, b, img, want.clamp(1, width), REC_HEIGHT);
            }
            let read = self.rec.infer(input, |outputs| {
                let out = &outputs[0];
                if out.ndim() != 3
                    || out.shape()[0] != batch.len()
                    || out.shape()[2] != self.charset.len()
                {
                    return Err(self.shape_error(&self.rec, out.shape()));
                }
                Ok(out
                    .outer_iter()
                    .map(|steps| self.ctc_decode(steps))
                    .collect::<Vec<_>>())
            })?;
            for (&i, r) in batch.iter().zip(read) {
                out[i] = r;
            }
        }
        Ok(out)
    }

    /// Greedy CTC: the best class at each step, repeats merged, blanks dropped; the score is
    /// the mean probability of the characters kept (0 when none are).
    fn ctc_decode(&self, steps: ndarray::ArrayViewD<'_, f32>) -> (String, f32) {
        let mut text = String::new();
        let (mut sum, mut n) = (0.0f64, 0usize);
        let mut prev = usize::MAX;
        for row in steps.outer_iter() {
            let (mut best, mut p) = (0usize, f32::MIN);
            for (k, &v) in row.iter().enumerate() {
                if v > p {
                    best = k;
                    p = v;
                }
            }
            if best != 0 && best != prev {
                text.push_str(&self.charset[best]);
                sum += f64::from(p);
                n += 1;
            }
            prev = best;
        }
        let score = if n == 0 { 0.0 } else { (sum / n as f64) as f32 };
        (text, score)
    }

    fn shape_error(&self, pool: &SessionPool, shape: &[usize]) -> VisionError {
        VisionError::OutputShape {
            model: pool.model().to_string(),
            shape: shape.iter().map(|&d| d as i64).collect(),
        }
    }
}

/// The frame as detection sees it: reduced when over 2,000 px, enlarged when under 30, and
/// letterboxed when very wide or short, with what it takes to map boxes back.
struct Prepared<'a> {
    image: Cow<'a, RgbImage>,
    ratio_w: f32,
    ratio_h: f32,
    top: u32,
    left: u32,
}

impl<'a> Prepared<'a> {
    fn new(frame: &'a RgbImage) -> Self {
        let mut image = Cow::Borrowed(frame);
        let (mut ratio_w, mut ratio_h) = (1.0f32, 1.0f32);
        // As the reference: each rescale sets the ratios from the image it was given.
        let mut rescale = |image: &mut Cow<'_, RgbImage>, ratio: f64| {
            let (w, h) = image.dimensions();
            let (rw, rh) = (round32(f64::from(w) * ratio), round32(f64::from(h) * ratio));
            ratio_w = w as f32 / rw as f32;
            ratio_h = h as f32 / rh as f32;
            *image = Cow::Owned(resize_rgb(image, rw, rh));
        };
        let (w, h) = image.dimensions();
        if w.max(h) > MAX_SIDE {
            rescale(&mut image, f64::from(MAX_SIDE) / f64::from(w.max(h)));
        }
        let (w, h) = image.dimensions();
        if w.min(h) < MIN_SIDE {
            rescale(&mut image, f64::from(MIN_SIDE) / f64::from(w.min(h)));
        }
        let (w, h) = image.dimensions();
        let mut top = 0;
        if h <= MIN_HEIGHT || f64::from(w) / f64::from(h) > WIDTH_HEIGHT_RATIO {
            let new_h = ((f64::from(w) / WIDTH_HEIGHT_RATIO) as u32).max(MIN_HEIGHT) * 2;
            top = new_h.abs_diff(h) / 2;
            let mut boxed = RgbImage::new(w, h + 2 * top);
            image::imageops::replace(&mut boxed, image.as_ref(), 0, i64::from(top));
            image = Cow::Owned(boxed);
        }
        Self {
            image,
            ratio_w,
            ratio_h,
            top,
            left: 0,
        }
    }
}

/// OpenCV's bilinear resize of an RGB image.
fn resize_rgb(img: &RgbImage, w: usize, h: usize) -> RgbImage {
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    let raw = resize_exact(img.as_raw(), iw, ih, w, h);
    RgbImage::from_raw(w as u32, h as u32, raw).expect("w * h * 3 bytes")
}

/// A side scaled and rounded to a multiple of 32 (Python's round: halves to even), at least 32.
fn round32(v: f64) -> usize {
    (((v as usize) as f64 / 32.0).round_ties_even() as usize * 32).max(32)
}

fn aspect(img: &RgbImage) -> f64 {
    f64::from(img.width()) / f64::from(img.height())
}

/// Indices by increasing aspect ratio (a stable sort, as numpy's argsort is for short lists).
fn by_aspect(crops: &[RgbImage]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..crops.len()).collect();
    order.sort_by(|&a, &b| aspect(&crops[a]).total_cmp(&aspect(&crops[b])));
    order
}

/// `img` resized to `w` x `h` into batch slot `b` as BGR scaled to -1..1, the rest of the row
/// left at 0 (the reference's padding).
fn put_normalised(input: &mut Array4<f32>, b: usize, img: &RgbImage, w: usize, h: usize) {
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    let resized = resize_exact(img.as_raw(), iw, ih, w, h);
    for (i, p) in resized.chunks_exact(3).enumerate() {
        let (x, y) = (i % w, i / w);
        for c in 0..3 {
            input[[b, c, y, x]] = (f32::from(p[2 - c]) / 255.0 - 0.5) / 0.5;
        }
    }
}

fn bounds(quad: &[Point; 4]) -> BBox {
    let x0 = quad.iter().map(|p| p.x).fold(f32::MAX, f32::min);
    let y0 = quad.iter().map(|p| p.y).fold(f32::MAX, f32::min);
    let x1 = quad.iter().map(|p| p.x).fold(f32::MIN, f32::max);
    let y1 = quad.iter().map(|p| p.y).fold(f32::MIN, f32::max);
    BBox {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_round_to_multiples_of_32_like_python() {
        assert_eq!(round32(720.0 * 736.0 / 720.0), 736);
        assert_eq!(round32(1280.0 * 736.0 / 720.0), 1312);
        // 1080 / 32 = 33.75 -> 34; 1104 / 32 = 34.5 rounds to the even 34.
        assert_eq!(round32(1080.0), 1088);
        assert_eq!(round32(1104.0), 1088);
        assert_eq!(round32(3.0), 32);
    }

    #[test]
    fn wide_short_images_are_letterboxed() {
        let wide = RgbImage::new(900, 40);
        let p = Prepared::new(&wide);
        // new_h = max(900 / 8, 30) * 2 = 224: 92 px of black above and below.
        assert_eq!((p.image.height(), p.top), (224, 92));
        let frame = RgbImage::new(640, 360);
        let p = Prepared::new(&frame);
        assert_eq!((p.image.dimensions(), p.top), ((640, 360), 0));
    }
}
