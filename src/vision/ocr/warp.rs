//! Cutting a text line out of the frame as RapidOCR's `get_rotate_crop_image` does: a
//! perspective warp of the box onto an upright rectangle (OpenCV's `warpPerspective` with
//! bicubic interpolation, coordinates in 1/32 px, replicated borders), turned a quarter when
//! it is much taller than wide.

use super::db::Quad;
use image::RgbImage;

/// The line inside `quad` (top-left, top-right, bottom-right, bottom-left) as an upright image.
pub fn crop(img: &RgbImage, quad: &Quad) -> RgbImage {
    let d = |a: [f32; 2], b: [f32; 2]| {
        (f64::from(a[0] - b[0]).powi(2) + f64::from(a[1] - b[1]).powi(2)).sqrt()
    };
    let w = d(quad[0], quad[1]).max(d(quad[2], quad[3])) as u32;
    let h = d(quad[0], quad[3]).max(d(quad[1], quad[2])) as u32;
    let (w, h) = (w.max(1), h.max(1));
    let target = [
        [0.0, 0.0],
        [w as f64, 0.0],
        [w as f64, h as f64],
        [0.0, h as f64],
    ];
    let source = quad.map(|p| [f64::from(p[0]), f64::from(p[1])]);
    // The map from output to source pixels: what OpenCV inverts its matrix into.
    let m = perspective(&target, &source);
    let out = warp_cubic(img, &m, w, h);
    if f64::from(h) / f64::from(w) >= 1.5 {
        rotate_ccw(&out)
    } else {
        out
    }
}

/// `getPerspectiveTransform`: the 3x3 matrix (m22 = 1) taking each `from` point to its `to`.
fn perspective(from: &[[f64; 2]; 4], to: &[[f64; 2]; 4]) -> [f64; 9] {
    let mut a = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let ([x, y], [u, v]) = (from[i], to[i]);
        a[i] = [x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u, u];
        a[i + 4] = [0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v, v];
    }
    // Gaussian elimination with partial pivoting on the augmented 8x9 system.
    for col in 0..8 {
        let pivot = (col..8)
            .max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))
            .expect("rows left");
        a.swap(col, pivot);
        let p = a[col][col];
        if p.abs() < 1e-12 {
            continue;
        }
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / p;
                for (v, pv) in row.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * pv;
                }
            }
        }
    }
    let mut m = [0.0; 9];
    for (i, row) in a.iter().enumerate() {
        m[i] = if row[i].abs() < 1e-12 {
            0.0
        } else {
            row[8] / row[i]
        };
    }
    m[8] = 1.0;
    m
}

/// OpenCV's bicubic kernel (A = -0.75) at fraction `t`.
fn cubic_weights(t: f64) -> [f64; 4] {
    const A: f64 = -0.75;
    let w0 = ((A * (t + 1.0) - 5.0 * A) * (t + 1.0) + 8.0 * A) * (t + 1.0) - 4.0 * A;
    let w1 = ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0;
    let w2 = ((A + 2.0) * (1.0 - t) - (A + 3.0)) * (1.0 - t) * (1.0 - t) + 1.0;
    [w0, w1, w2, 1.0 - w0 - w1 - w2]
}

const TAB: f64 = 32.0;

fn warp_cubic(img: &RgbImage, m: &[f64; 9], w: u32, h: u32) -> RgbImage {
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    let src = img.as_raw();
    let tables: Vec<[f64; 4]> = (0..32).map(|i| cubic_weights(f64::from(i) / TAB)).collect();
    let mut out = RgbImage::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (f64::from(x), f64::from(y));
            let den = m[6] * fx + m[7] * fy + m[8];
            let scale = if den != 0.0 { TAB / den } else { 0.0 };
            // Source position in 1/32 px, rounded as OpenCV does.
            let sx = ((m[0] * fx + m[1] * fy + m[2]) * scale).round() as i64;
            let sy = ((m[3] * fx + m[4] * fy + m[5]) * scale).round() as i64;
            let (x0, y0) = (sx.div_euclid(32) - 1, sy.div_euclid(32) - 1);
            let wx = tables[sx.rem_euclid(32) as usize];
            let wy = tables[sy.rem_euclid(32) as usize];
            let mut acc = [0.0f64; 3];
            for (j, wyj) in wy.iter().enumerate() {
                let yy = (y0 + j as i64).clamp(0, ih - 1);
                for (i, wxi) in wx.iter().enumerate() {
                    let xx = (x0 + i as i64).clamp(0, iw - 1);
                    let k = ((yy * iw + xx) * 3) as usize;
                    let wgt = wyj * wxi;
                    for c in 0..3 {
                        acc[c] += wgt * f64::from(src[k + c]);
                    }
                }
            }
            out.put_pixel(
                x,
                y,
                image::Rgb(acc.map(|v| v.round().clamp(0.0, 255.0) as u8)),
            );
        }
    }
    out
}

/// `np.rot90`: a quarter turn counter-clockwise.
fn rotate_ccw(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let mut out = RgbImage::new(h, w);
    for y in 0..h {
        for x in 0..w {
            out.put_pixel(y, w - 1 - x, *img.get_pixel(x, y));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 5) as u8, 7]))
    }

    #[test]
    fn an_upright_box_is_cut_out_exactly() {
        let img = gradient(80, 40);
        let quad = [[10.0, 5.0], [50.0, 5.0], [50.0, 25.0], [10.0, 25.0]];
        let c = crop(&img, &quad);
        assert_eq!(c.dimensions(), (40, 20));
        for (x, y, p) in c.enumerate_pixels() {
            assert_eq!(p, img.get_pixel(x + 10, y + 5), "at {x},{y}");
        }
    }

    #[test]
    fn a_tall_box_is_turned_a_quarter() {
        let img = gradient(80, 80);
        let quad = [[10.0, 5.0], [20.0, 5.0], [20.0, 45.0], [10.0, 45.0]];
        let c = crop(&img, &quad);
        assert_eq!(c.dimensions(), (40, 10));
        // The top-right corner of the cut goes to the top-left.
        assert_eq!(c.get_pixel(0, 0), img.get_pixel(19, 5));
    }

    #[test]
    fn perspective_maps_corners_to_corners() {
        let from = [[0.0, 0.0], [100.0, 0.0], [100.0, 20.0], [0.0, 20.0]];
        let to = [[10.0, 12.0], [108.0, 2.0], [111.0, 22.0], [13.0, 33.0]];
        let m = perspective(&from, &to);
        for (f, t) in from.iter().zip(&to) {
            let d = m[6] * f[0] + m[7] * f[1] + m[8];
            let u = (m[0] * f[0] + m[1] * f[1] + m[2]) / d;
            let v = (m[3] * f[0] + m[4] * f[1] + m[5]) / d;
            assert!((u - t[0]).abs() < 1e-9 && (v - t[1]).abs() < 1e-9);
        }
    }
}
