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
    fn padding_is_black() {
        let rgb = vec![255u8; 2 * 2 * 3];
        let out = run(&rgb, 2, 2, 4, 4, 4, 4);
        assert_eq!(out[0], 255.0);
        assert_eq!(out[(3 * 4 + 3) * 3], 0.0);
    }
}
