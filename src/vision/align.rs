//! Face alignment: a least-squares similarity transform from dlib's reference face to the five
//! CenterFace landmarks, sampled into a 150x150 chip (dlib's `get_face_chip_details` with
//! padding 0.25). Enrolment and screening must both align this way.

use crate::vocab::{Face, Point};
use image::RgbImage;

pub const CHIP_SIZE: u32 = 150;
const PADDING: f32 = 0.25;

/// dlib's mean face (unit coordinates) at the points CenterFace reports.
const REFERENCE: [(f32, f32); 5] = [
    (0.2255, 0.2160), // left eye
    (0.7548, 0.2160), // right eye
    (0.4901, 0.5156), // nose tip
    (0.2541, 0.7802), // left mouth corner
    (0.7261, 0.7802), // right mouth corner
];

/// x' = a x - b y + tx, y' = b x + a y + ty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity {
    /// Least-squares fit mapping `from[i]` onto `to[i]` (rotation, uniform scale, translation).
    pub fn fit(from: &[Point], to: &[Point]) -> Self {
        let n = from.len() as f32;
        let mean = |p: &[Point]| {
            let (sx, sy) = p.iter().fold((0.0, 0.0), |(x, y), q| (x + q.x, y + q.y));
            (sx / n, sy / n)
        };
        let (fx, fy) = mean(from);
        let (tx, ty) = mean(to);
        let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
        for (p, q) in from.iter().zip(to) {
            let (px, py, qx, qy) = (p.x - fx, p.y - fy, q.x - tx, q.y - ty);
            dot += px * qx + py * qy;
            cross += px * qy - py * qx;
            norm += px * px + py * py;
        }
        let (a, b) = (dot / norm, cross / norm);
        Self {
            a,
            b,
            tx: tx - a * fx + b * fy,
            ty: ty - b * fx - a * fy,
        }
    }

    pub fn apply(&self, p: Point) -> Point {
        Point {
            x: self.a * p.x - self.b * p.y + self.tx,
            y: self.b * p.x + self.a * p.y + self.ty,
        }
    }
}

/// Where the reference landmarks sit in the chip.
fn chip_points() -> [Point; 5] {
    REFERENCE.map(|(x, y)| Point {
        x: (PADDING + x) / (1.0 + 2.0 * PADDING) * CHIP_SIZE as f32,
        y: (PADDING + y) / (1.0 + 2.0 * PADDING) * CHIP_SIZE as f32,
    })
}

/// The 150x150 aligned chip of a face, sampled bilinearly (black outside the frame).
pub fn chip(img: &RgbImage, face: &Face) -> RgbImage {
    let t = Similarity::fit(&chip_points(), &face.landmarks);
    let (w, h) = (img.width() as i64, img.height() as i64);
    let raw = img.as_raw();
    let px = |x: i64, y: i64, c: usize| -> f32 {
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            raw[((y * w + x) * 3) as usize + c] as f32
        }
    };
    RgbImage::from_fn(CHIP_SIZE, CHIP_SIZE, |cx, cy| {
        let p = t.apply(Point {
            x: cx as f32,
            y: cy as f32,
        });
        let (x0, y0) = (p.x.floor(), p.y.floor());
        let (fx, fy) = (p.x - x0, p.y - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        image::Rgb(std::array::from_fn(|c| {
            let top = px(x0, y0, c) * (1.0 - fx) + px(x0 + 1, y0, c) * fx;
            let bottom = px(x0, y0 + 1, c) * (1.0 - fx) + px(x0 + 1, y0 + 1, c) * fx;
            (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_known_similarity() {
        let truth = Similarity {
            a: 1.2 * 0.3f32.cos(),
            b: 1.2 * 0.3f32.sin(),
            tx: 40.0,
            ty: -7.0,
        };
        let from = chip_points();
        let to = from.map(|p| truth.apply(p));
        let fit = Similarity::fit(&from, &to);
        for (got, want) in [
            (fit.a, truth.a),
            (fit.b, truth.b),
            (fit.tx, truth.tx),
            (fit.ty, truth.ty),
        ] {
            assert!((got - want).abs() < 1e-3, "{fit:?} vs {truth:?}");
        }
    }

    #[test]
    fn chip_of_a_face_at_reference_position_is_a_copy() {
        let img = RgbImage::from_fn(150, 150, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let face = Face {
            bbox: super::super::BBox {
                x: 0.0,
                y: 0.0,
                w: 150.0,
                h: 150.0,
            },
            score: 1.0,
            landmarks: chip_points(),
        };
        assert_eq!(chip(&img, &face), img);
    }
}
