//! Resizing as Pillow's `Image.resize` does it (`Resample.c`): separable convolution with the
//! filter's support widened by the scale when shrinking (anti-aliasing), 22-bit fixed-point
//! coefficients, and a rounding to 8 bits after each pass. The reference recipes of the image
//! classifiers and of CLIP resize with Pillow, so their scores can only be reproduced on
//! identical pixels with identical arithmetic.

use serde::{Deserialize, Serialize};

/// Pillow's resampling filters that the models' recipes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    /// `Image.BILINEAR`: a triangle of support 1.
    Bilinear,
    /// `Image.BICUBIC`: Keys' cubic with a = -0.5, support 2.
    Bicubic,
}

impl Filter {
    fn support(self) -> f64 {
        match self {
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Filter::Bilinear => {
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// For each output coordinate: the first source index, and the fixed-point weights of the
/// source pixels from there (`precompute_coeffs` and `normalize_coeffs_8bpc`).
fn coefficients(in_size: usize, out_size: usize, filter: Filter) -> Vec<(usize, Vec<i32>)> {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    (0..out_size)
        .map(|xx| {
            let center = (xx as f64 + 0.5) * scale;
            let ss = 1.0 / filterscale;
            // C's (int) cast truncates toward zero, as `as` does.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin);
            let w: Vec<f64> = (0..n)
                .map(|x| filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss))
                .collect();
            let total: f64 = w.iter().sum();
            let fixed = w
                .iter()
                .map(|&k| {
                    let k = if total != 0.0 { k / total } else { k };
                    let v = k * f64::from(1u32 << PRECISION_BITS);
                    if v < 0.0 {
                        (-0.5 + v) as i32
                    } else {
                        (0.5 + v) as i32
                    }
                })
                .collect();
            (xmin, fixed)
        })
        .collect()
}

fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Resizes an interleaved RGB image (`w` x `h`) to `dst_w` x `dst_h`: horizontal pass first,
/// over the rows the vertical pass needs, then vertical, as Pillow orders them.
pub fn resize(
    rgb: &[u8],
    w: usize,
    h: usize,
    dst_w: usize,
    dst_h: usize,
    filter: Filter,
) -> Vec<u8> {
    debug_assert_eq!(rgb.len(), w * h * 3);
    let vertical = coefficients(h, dst_h, filter);
    let (first_row, last_row) = (
        vertical.first().map_or(0, |c| c.0),
        vertical.last().map_or(0, |c| c.0 + c.1.len()),
    );
    let (rows, row_w) = if dst_w != w {
        let horizontal = coefficients(w, dst_w, filter);
        let mut out = vec![0u8; (last_row - first_row) * dst_w * 3];
        for y in first_row..last_row {
            let src = &rgb[y * w * 3..(y + 1) * w * 3];
            let dst = &mut out[(y - first_row) * dst_w * 3..(y - first_row + 1) * dst_w * 3];
            for (xx, (xmin, k)) in horizontal.iter().enumerate() {
                let mut ss = [1i32 << (PRECISION_BITS - 1); 3];
                for (x, &kx) in k.iter().enumerate() {
                    let p = &src[(xmin + x) * 3..(xmin + x) * 3 + 3];
                    for c in 0..3 {
                        ss[c] += i32::from(p[c]) * kx;
                    }
                }
                for c in 0..3 {
                    dst[xx * 3 + c] = clip8(ss[c]);
                }
            }
        }
        (std::borrow::Cow::Owned(out), dst_w)
    } else {
        (
            std::borrow::Cow::Borrowed(&rgb[first_row * w * 3..last_row * w * 3]),
            w,
        )
    };
    if dst_h == h {
        return rows.into_owned();
    }
    let mut out = vec![0u8; dst_w * dst_h * 3];
    for (yy, (ymin, k)) in vertical.iter().enumerate() {
        let ymin = ymin - first_row;
        for xx in 0..row_w * 3 {
            let mut ss = 1i32 << (PRECISION_BITS - 1);
            for (y, &ky) in k.iter().enumerate() {
                ss += i32::from(rows[(ymin + y) * row_w * 3 + xx]) * ky;
            }
            out[yy * dst_w * 3 + xx] = clip8(ss);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_of_each_output_pixel_sum_to_one() {
        for filter in [Filter::Bilinear, Filter::Bicubic] {
            for (from, to) in [(1280, 224), (224, 1280), (256, 256), (7, 3)] {
                for (_, k) in coefficients(from, to, filter) {
                    let sum: i64 = k.iter().map(|&v| i64::from(v)).sum();
                    assert!(
                        (sum - (1 << PRECISION_BITS)).abs() <= k.len() as i64,
                        "{sum}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_flat_image_stays_flat_and_same_size_is_a_copy() {
        let flat = vec![77u8; 40 * 30 * 3];
        for filter in [Filter::Bilinear, Filter::Bicubic] {
            assert!(resize(&flat, 40, 30, 13, 11, filter)
                .iter()
                .all(|&v| v == 77));
        }
        let ramp: Vec<u8> = (0..40 * 30 * 3).map(|i| (i % 251) as u8).collect();
        assert_eq!(resize(&ramp, 40, 30, 40, 30, Filter::Bicubic), ramp);
    }

    /// Pillow 13: `Image.frombytes("RGB", (4, 1), bytes([0,0,0, 255,255,255, 0,0,0,
    /// 255,255,255])).resize((2, 1), Image.BILINEAR)` gives 109 and 146 in every channel;
    /// BICUBIC gives 107 and 148.
    #[test]
    fn matches_pillow_on_a_tiny_image() {
        let src = [0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255];
        let bl = resize(&src, 4, 1, 2, 1, Filter::Bilinear);
        let bc = resize(&src, 4, 1, 2, 1, Filter::Bicubic);
        assert_eq!((bl[0], bl[3]), (109, 146), "{bl:?}");
        assert_eq!((bc[0], bc[3]), (107, 148), "{bc:?}");
    }
}
