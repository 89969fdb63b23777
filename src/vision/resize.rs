//! Bilinear resizing as OpenCV's `INTER_LINEAR` does it (half-pixel centres, no anti-aliasing).
//! The reference implementations resize with OpenCV, so parity depends on matching it.

/// Per-output-coordinate source index and weight of the next source pixel.
fn taps(src: usize, dst: usize, scale: f64) -> Vec<(usize, usize, f32)> {
    (0..dst)
        .map(|d| {
            let f = (d as f64 + 0.5) * scale - 0.5;
            let mut i = f.floor() as isize;
            let mut w = (f - i as f64) as f32;
            if i < 0 {
                i = 0;
                w = 0.0;
            }
            if i as usize >= src - 1 {
                i = src as isize - 1;
                w = 0.0;
            }
            let i = i as usize;
            (i, (i + 1).min(src - 1), w)
        })
        .collect()
}

/// Resizes an interleaved RGB image onto a `canvas_w` x `canvas_h` canvas (the image at the
/// top left, black elsewhere: the padding NudeNet adds) scaled to `dst_w` x `dst_h`, calling
/// `put(x, y, [r, g, b])` for every output pixel with values in 0..=255.
#[allow(clippy::too_many_arguments)]
pub fn resize_padded(
    rgb: &[u8],
    w: usize,
    h: usize,
    canvas_w: usize,
    canvas_h: usize,
    dst_w: usize,
    dst_h: usize,
    mut put: impl FnMut(usize, usize, [f32; 3]),
) {
    debug_assert!(canvas_w >= w && canvas_h >= h && rgb.len() == w * h * 3);
    let xs = taps(canvas_w, dst_w, canvas_w as f64 / dst_w as f64);
    let ys = taps(canvas_h, dst_h, canvas_h as f64 / dst_h as f64);
    let px = |x: usize, y: usize| -> [f32; 3] {
        if x < w && y < h {
            let i = (y * w + x) * 3;
            [rgb[i] as f32, rgb[i + 1] as f32, rgb[i + 2] as f32]
        } else {
            [0.0; 3]
        }
    };
    for (dy, &(y0, y1, fy)) in ys.iter().enumerate() {
        for (dx, &(x0, x1, fx)) in xs.iter().enumerate() {
            let (a, b, c, d) = (px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1));
            let mut out = [0.0f32; 3];
            for k in 0..3 {
                let top = a[k] + (b[k] - a[k]) * fx;
                let bottom = c[k] + (d[k] - c[k]) * fx;
                // OpenCV resizes 8-bit images in fixed point and rounds to 8 bits. Values are
                // never negative, so adding a half and truncating rounds (and skips `roundf`).
                out[k] = ((top + (bottom - top) * fy) + 0.5) as u32 as f32;
            }
            put(dx, dy, out);
        }
    }
}

/// Per-output-coordinate source indices and 11-bit fixed-point weights, as OpenCV computes
/// them for 8-bit images (single-precision fractions rounded half to even). Columns past an
/// edge take the edge pixel whole; rows past an edge keep their weights on the edge row
/// (`vertical`), which rounds differently in the fixed-point sum.
fn fixed_taps(src: usize, dst: usize, vertical: bool) -> Vec<(usize, usize, i32, i32)> {
    let scale = 1.0 / (dst as f64 / src as f64);
    let last = src as i64 - 1;
    (0..dst)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as i64;
            let mut f = f - s as f32;
            if !vertical && s < 0 {
                s = 0;
                f = 0.0;
            }
            if !vertical && s >= last {
                s = last;
                f = 0.0;
            }
            let w0 = ((1.0 - f) * 2048.0).round_ties_even() as i32;
            let w1 = (f * 2048.0).round_ties_even() as i32;
            (
                s.clamp(0, last) as usize,
                (s + 1).clamp(0, last) as usize,
                w0,
                w1,
            )
        })
        .collect()
}

/// `cv2.resize(img, (dst_w, dst_h))` on an interleaved 8-bit RGB image, bit for bit: OpenCV's
/// fixed-point bilinear (11-bit weights, the vertical pass as its SIMD kernels round it), and
/// its switch to 2x2 averaging for an exact halving. Text recognition is sensitive enough to
/// these last bits to move a score by 0.02.
pub fn resize_exact(rgb: &[u8], w: usize, h: usize, dst_w: usize, dst_h: usize) -> Vec<u8> {
    debug_assert!(rgb.len() == w * h * 3 && dst_w > 0 && dst_h > 0);
    let mut out = vec![0u8; dst_w * dst_h * 3];
    if w == dst_w * 2 && h == dst_h * 2 {
        for y in 0..dst_h {
            for x in 0..dst_w {
                for c in 0..3 {
                    let at = |xx: usize, yy: usize| u32::from(rgb[(yy * w + xx) * 3 + c]);
                    let sum = at(2 * x, 2 * y)
                        + at(2 * x + 1, 2 * y)
                        + at(2 * x, 2 * y + 1)
                        + at(2 * x + 1, 2 * y + 1);
                    out[(y * dst_w + x) * 3 + c] = ((sum + 2) >> 2) as u8;
                }
            }
        }
        return out;
    }
    let xs = fixed_taps(w, dst_w, false);
    let ys = fixed_taps(h, dst_h, true);
    // The horizontal pass for one source row, computed once per row used.
    let row = |y: usize| -> Vec<i32> {
        let mut r = Vec::with_capacity(dst_w * 3);
        for &(x0, x1, a0, a1) in &xs {
            for c in 0..3 {
                let p0 = i32::from(rgb[(y * w + x0) * 3 + c]);
                let p1 = i32::from(rgb[(y * w + x1) * 3 + c]);
                r.push(p0 * a0 + p1 * a1);
            }
        }
        r
    };
    let mut cache: Vec<Option<Vec<i32>>> = vec![None; h];
    for (dy, &(y0, y1, b0, b1)) in ys.iter().enumerate() {
        for y in [y0, y1] {
            if cache[y].is_none() {
                cache[y] = Some(row(y));
            }
        }
        let (s0, s1) = (
            cache[y0].as_ref().expect("filled"),
            cache[y1].as_ref().expect("filled"),
        );
        let dst = &mut out[dy * dst_w * 3..][..dst_w * 3];
        for (i, d) in dst.iter_mut().enumerate() {
            let v = (((s0[i] >> 4) * b0) >> 16) + (((s1[i] >> 4) * b1) >> 16);
            *d = ((v + 2) >> 2).clamp(0, 255) as u8;
        }
        // Rows above the ones still needed are done with.
        for c in cache.iter_mut().take(y0) {
            *c = None;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rgb: &[u8], w: usize, h: usize, cw: usize, ch: usize, dw: usize, dh: usize) -> Vec<f32> {
        let mut out = vec![0.0; dw * dh * 3];
        resize_padded(rgb, w, h, cw, ch, dw, dh, |x, y, p| {
            out[(y * dw + x) * 3..][..3].copy_from_slice(&p)
        });
        out
    }

    #[test]
    fn same_size_is_identity() {
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7) as u8).collect();
        let out = run(&rgb, 4, 3, 4, 3, 4, 3);
        assert_eq!(out, rgb.iter().map(|&v| v as f32).collect::<Vec<_>>());
    }

    #[test]
    fn halving_averages_pairs_like_opencv() {
        // cv2.resize(np.array([[0, 100, 200, 250]]), (2, 1)) gives [50, 225].
        let rgb: Vec<u8> = [0u8, 100, 200, 250]
            .iter()
            .flat_map(|&v| [v, v, v])
            .collect();
        let out = run(&rgb, 4, 1, 4, 1, 2, 1);
        assert_eq!(out[0], 50.0);
        assert_eq!(out[3], 225.0);
    }

    #[test]
    fn exact_resize_matches_opencv() {
        // cv2.resize(img, (5, 2)) and (2, 1) of this 4x3 image, from opencv-python 4.12.
        let rgb: Vec<u8> = (0..4 * 3 * 3).map(|i| (i * 7 % 256) as u8).collect();
        let up = resize_exact(&rgb, 4, 3, 5, 2);
        assert_eq!(
            up,
            vec![
                21, 28, 35, 36, 43, 50, 52, 59, 66, 69, 76, 83, 84, 91, 98, 147, 154, 161, 162,
                169, 176, 178, 185, 192, 195, 202, 209, 210, 217, 224
            ]
        );
        assert_eq!(
            resize_exact(&rgb, 4, 3, 2, 1),
            vec![95, 102, 109, 137, 144, 151]
        );
        assert_eq!(resize_exact(&rgb, 4, 3, 4, 3), rgb);
        // An exact halving averages 2x2 blocks (OpenCV switches to INTER_AREA).
        let rgb: Vec<u8> = (0..4 * 4 * 3).map(|i| (i * 7 % 256) as u8).collect();
        assert_eq!(
            resize_exact(&rgb, 4, 4, 2, 2),
            vec![53, 60, 67, 95, 102, 109, 157, 100, 107, 135, 142, 149]
        );
    }

    #[test]
    fn padding_is_black() {
        let rgb = vec![255u8; 2 * 2 * 3];
        let out = run(&rgb, 2, 2, 4, 4, 4, 4);
        assert_eq!(out[0], 255.0);
        assert_eq!(out[(3 * 4 + 3) * 3], 0.0);
    }
}
