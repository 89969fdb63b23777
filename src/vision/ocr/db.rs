//! DB (differentiable binarisation) post-processing as RapidOCR 1.4.4 does it with OpenCV,
//! pyclipper and shapely: threshold the probability map, dilate, take each connected region's
//! minimum-area rectangle, score it by the mean probability inside, grow it by the unclip
//! distance and scale it to the image. Ported rather than taken from a crate so the boxes match
//! the reference to the pixel.

use ndarray::ArrayView2;

/// A quadrilateral as four (x, y) points.
pub type Quad = [[f32; 2]; 4];

#[derive(Debug, Clone, Copy)]
pub struct DbParams {
    /// Probability above which a map pixel is text.
    pub thresh: f32,
    /// Mean probability a box needs to be kept.
    pub box_thresh: f32,
    /// How far boxes grow: area * ratio / perimeter (text maps are shrunk versions of lines).
    pub unclip_ratio: f32,
    /// A 2x2 dilation of the thresholded map first (joins broken strokes).
    pub dilate: bool,
    pub max_candidates: usize,
}

/// The reference's values (RapidOCR's config.yaml).
pub const REFERENCE: DbParams = DbParams {
    thresh: 0.3,
    box_thresh: 0.5,
    unclip_ratio: 1.6,
    dilate: true,
    max_candidates: 1000,
};

const MIN_SIZE: f32 = 3.0;

/// Text boxes in a `dest_w` x `dest_h` image from the model's probability map over it,
/// each ordered top-left, top-right, bottom-right, bottom-left, in whole pixels.
pub fn boxes(pred: ArrayView2<'_, f32>, dest_w: usize, dest_h: usize, p: &DbParams) -> Vec<Quad> {
    let (h, w) = pred.dim();
    let mut bitmap: Vec<u8> = pred.iter().map(|&v| u8::from(v > p.thresh)).collect();
    if p.dilate {
        bitmap = dilate_2x2(&bitmap, w, h);
    }
    let mut out = Vec::new();
    for region in regions(&bitmap, w, h).into_iter().take(p.max_candidates) {
        let Some((quad, side)) = mini_box(&region) else {
            continue;
        };
        if side < MIN_SIZE {
            continue;
        }
        if box_score(&pred, &quad) < p.box_thresh {
            continue;
        }
        let grown = unclip(&quad, p.unclip_ratio);
        let Some((quad, side)) = mini_box(&grown) else {
            continue;
        };
        if side < MIN_SIZE + 2.0 {
            continue;
        }
        let scale = |v: f32, from: usize, to: usize| {
            (v / from as f32 * to as f32)
                .round_ties_even()
                .clamp(0.0, to as f32)
        };
        let scaled = quad.map(|[x, y]| [scale(x, w, dest_w), scale(y, h, dest_h)]);
        if let Some(b) = clockwise_in_image(scaled, dest_w, dest_h) {
            out.push(b);
        }
    }
    out
}

/// OpenCV's `dilate` with a 2x2 kernel of ones (anchor at its centre, (1, 1)): a pixel is set
/// when it or its left, upper or upper-left neighbour is.
fn dilate_2x2(src: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = vec![0u8; src.len()];
    for y in 0..h {
        for x in 0..w {
            let at = |dx: usize, dy: usize| x >= dx && y >= dy && src[(y - dy) * w + (x - dx)] != 0;
            out[y * w + x] = u8::from(at(0, 0) || at(1, 0) || at(0, 1) || at(1, 1));
        }
    }
    out
}

/// Each 8-connected region's outline points: the leftmost and rightmost pixel of every row,
/// which have the same convex hull (and so the same minimum-area rectangle) as the contour
/// OpenCV's `findContours` traces. Holes are left out: their rectangles lie inside their
/// region's and score low on a text map.
fn regions(bitmap: &[u8], w: usize, h: usize) -> Vec<Vec<[f64; 2]>> {
    let mut label = vec![0u32; bitmap.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..bitmap.len() {
        if bitmap[start] == 0 || label[start] != 0 {
            continue;
        }
        let id = out.len() as u32 + 1;
        label[start] = id;
        stack.push(start);
        let mut rows: std::collections::BTreeMap<usize, (usize, usize)> = Default::default();
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            let e = rows.entry(y).or_insert((x, x));
            e.0 = e.0.min(x);
            e.1 = e.1.max(x);
            for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                    let j = ny * w + nx;
                    if bitmap[j] != 0 && label[j] == 0 {
                        label[j] = id;
                        stack.push(j);
                    }
                }
            }
        }
        let mut pts = Vec::with_capacity(rows.len() * 2);
        for (y, (x0, x1)) in rows {
            pts.push([x0 as f64, y as f64]);
            if x1 != x0 {
                pts.push([x1 as f64, y as f64]);
            }
        }
        out.push(pts);
    }
    out
}

/// The strict convex hull (Andrew's monotone chain, collinear points dropped) in the order
/// OpenCV's `convexHull` gives for a contour that `findContours` traced: reversed from the
/// tracing direction, ending at the topmost-leftmost point. `minAreaRect` works in 32-bit
/// floats, and its rounding depends on that order; the boxes' corners are then truncated
/// (pyclipper), so the order decides whole pixels.
fn convex_hull(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut p = points.to_vec();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<[f64; 2]> = Vec::with_capacity(p.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &[f64; 2]>> = if pass == 0 {
            Box::new(p.iter())
        } else {
            Box::new(p.iter().rev())
        };
        for &q in iter {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0
            {
                hull.pop();
            }
            hull.push(q);
        }
        hull.pop();
    }
    let n = hull.len();
    let twice_area: f64 = (0..n)
        .map(|i| {
            let (a, b) = (hull[i], hull[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum();
    if twice_area > 0.0 {
        hull.reverse();
    }
    let first = (0..n)
        .min_by(|&i, &j| {
            hull[i][1]
                .total_cmp(&hull[j][1])
                .then(hull[i][0].total_cmp(&hull[j][0]))
        })
        .expect("a hull of 3 or more points");
    hull.rotate_left(first);
    hull.reverse();
    hull
}

/// OpenCV's `rotatingCalipers` (minimum-area mode), step for step in 32-bit floats: a corner
/// and the rectangle's two side vectors.
fn rotating_calipers(points: &[[f32; 2]]) -> [f32; 6] {
    let n = points.len();
    let mut vect = vec![[0f32; 2]; n];
    let mut inv_len = vec![0f32; n];
    let (mut left, mut bottom, mut right, mut top) = (0, 0, 0, 0);
    let mut pt0 = points[0];
    let (mut left_x, mut right_x, mut top_y, mut bottom_y) = (pt0[0], pt0[0], pt0[1], pt0[1]);
    for i in 0..n {
        if pt0[0] < left_x {
            left_x = pt0[0];
            left = i;
        }
        if pt0[0] > right_x {
            right_x = pt0[0];
            right = i;
        }
        if pt0[1] > top_y {
            top_y = pt0[1];
            top = i;
        }
        if pt0[1] < bottom_y {
            bottom_y = pt0[1];
            bottom = i;
        }
        let pt = points[(i + 1) % n];
        let dx = f64::from(pt[0] - pt0[0]);
        let dy = f64::from(pt[1] - pt0[1]);
        vect[i] = [dx as f32, dy as f32];
        inv_len[i] = (1.0 / (dx * dx + dy * dy).sqrt()) as f32;
        pt0 = pt;
    }
    let mut orientation = 0f32;
    let (mut ax, mut ay) = (f64::from(vect[n - 1][0]), f64::from(vect[n - 1][1]));
    for v in &vect {
        let (bx, by) = (f64::from(v[0]), f64::from(v[1]));
        let convexity = ax * by - ay * bx;
        if convexity != 0.0 {
            orientation = if convexity > 0.0 { 1.0 } else { -1.0 };
            break;
        }
        ax = bx;
        ay = by;
    }
    let (mut base_a, mut base_b) = (orientation, 0f32);
    let mut seq = [bottom, right, top, left];
    let mut minarea = f32::MAX;
    let mut best = (0usize, 0f32, 0f32, 0f32, 0f32, 0usize);
    for _ in 0..n {
        let dp = [
            base_a * vect[seq[0]][0] + base_b * vect[seq[0]][1],
            -base_b * vect[seq[1]][0] + base_a * vect[seq[1]][1],
            -base_a * vect[seq[2]][0] - base_b * vect[seq[2]][1],
            base_b * vect[seq[3]][0] - base_a * vect[seq[3]][1],
        ];
        let mut main = 0;
        let mut maxcos = dp[0] * inv_len[seq[0]];
        for k in 1..4 {
            let c = dp[k] * inv_len[seq[k]];
            if c > maxcos {
                main = k;
                maxcos = c;
            }
        }
        let pi = seq[main];
        let lead_x = vect[pi][0] * inv_len[pi];
        let lead_y = vect[pi][1] * inv_len[pi];
        (base_a, base_b) = match main {
            0 => (lead_x, lead_y),
            1 => (lead_y, -lead_x),
            2 => (-lead_x, -lead_y),
            _ => (-lead_y, lead_x),
        };
        seq[main] = (seq[main] + 1) % n;
        let dx = points[seq[1]][0] - points[seq[3]][0];
        let dy = points[seq[1]][1] - points[seq[3]][1];
        let width = dx * base_a + dy * base_b;
        let dx = points[seq[2]][0] - points[seq[0]][0];
        let dy = points[seq[2]][1] - points[seq[0]][1];
        let height = -dx * base_b + dy * base_a;
        let area = width * height;
        if area <= minarea {
            minarea = area;
            best = (seq[3], base_a, width, base_b, height, seq[0]);
        }
    }
    let (i0, a1, width, b1, height, i5) = best;
    let (a2, b2) = (-b1, a1);
    let c1 = a1 * points[i0][0] + points[i0][1] * b1;
    let c2 = a2 * points[i5][0] + points[i5][1] * b2;
    let idet = 1.0 / (a1 * b2 - a2 * b1);
    let px = (c1 * b2 - c2 * b1) * idet;
    let py = (a1 * c2 - a2 * c1) * idet;
    [px, py, a1 * width, b1 * width, a2 * height, b2 * height]
}

/// OpenCV's `minAreaRect` then `boxPoints` (in their order), as 32-bit floats, with the
/// rectangle's shorter side; None for a region with no area.
fn min_area_rect(points: &[[f64; 2]]) -> Option<(Quad, f32)> {
    let hull: Vec<[f32; 2]> = convex_hull(points)
        .into_iter()
        .map(|[x, y]| [x as f32, y as f32])
        .collect();
    if hull.len() < 3 {
        return None;
    }
    let o = rotating_calipers(&hull);
    let cx = o[0] + (o[2] + o[4]) * 0.5;
    let cy = o[1] + (o[3] + o[5]) * 0.5;
    let w = (f64::from(o[2]) * f64::from(o[2]) + f64::from(o[3]) * f64::from(o[3])).sqrt() as f32;
    let h = (f64::from(o[4]) * f64::from(o[4]) + f64::from(o[5]) * f64::from(o[5])).sqrt() as f32;
    let angle = f64::from(o[3]).atan2(f64::from(o[2])) as f32;
    let angle = (f64::from(angle * 180.0) / std::f64::consts::PI) as f32;
    // RotatedRect::points.
    let rad = f64::from(angle) * std::f64::consts::PI / 180.0;
    let b = rad.cos() as f32 * 0.5;
    let a = rad.sin() as f32 * 0.5;
    let p0 = [cx - a * h - b * w, cy + b * h - a * w];
    let p1 = [cx + a * h - b * w, cy - b * h - a * w];
    let p2 = [2.0 * cx - p0[0], 2.0 * cy - p0[1]];
    let p3 = [2.0 * cx - p1[0], 2.0 * cy - p1[1]];
    Some(([p0, p1, p2, p3], w.min(h)))
}

/// `get_mini_boxes`: the minimum-area rectangle, ordered as below, and its shorter side.
fn mini_box(points: &[[f64; 2]]) -> Option<(Quad, f32)> {
    let (pts, side) = min_area_rect(points)?;
    Some((order_mini(pts), side))
}

/// `get_mini_boxes`: by x, then the left pair and the right pair each by y, as
/// (top-left, top-right, bottom-right, bottom-left).
fn order_mini(mut pts: Quad) -> Quad {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let (i1, i4) = if pts[1][1] > pts[0][1] {
        (0, 1)
    } else {
        (1, 0)
    };
    let (i2, i3) = if pts[3][1] > pts[2][1] {
        (2, 3)
    } else {
        (3, 2)
    };
    [pts[i1], pts[i2], pts[i3], pts[i4]]
}

/// `box_score_fast`: the mean of the map over the box, filled as `cv2.fillPoly` fills it
/// (vertices truncated to whole pixels, edges included).
fn box_score(pred: &ArrayView2<'_, f32>, quad: &Quad) -> f32 {
    let (h, w) = pred.dim();
    let clampi = |v: f32, hi: usize| (v as i64).clamp(0, hi as i64 - 1) as usize;
    let xs = quad.map(|p| p[0]);
    let ys = quad.map(|p| p[1]);
    let xmin = clampi(xs.iter().copied().fold(f32::MAX, f32::min).floor(), w);
    let xmax = clampi(xs.iter().copied().fold(f32::MIN, f32::max).ceil(), w);
    let ymin = clampi(ys.iter().copied().fold(f32::MAX, f32::min).floor(), h);
    let ymax = clampi(ys.iter().copied().fold(f32::MIN, f32::max).ceil(), h);
    let poly: Vec<[f64; 2]> = quad
        .iter()
        .map(|p| {
            [
                (p[0] - xmin as f32) as i32 as f64,
                (p[1] - ymin as f32) as i32 as f64,
            ]
        })
        .collect();
    let (mut sum, mut n) = (0.0f64, 0u64);
    for y in ymin..=ymax {
        for x in xmin..=xmax {
            if inside_or_on(&poly, (x - xmin) as f64, (y - ymin) as f64) {
                sum += f64::from(pred[[y, x]]);
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        (sum / n as f64) as f32
    }
}

/// Whether a point is inside a convex polygon or on its edge (either winding).
fn inside_or_on(poly: &[[f64; 2]], x: f64, y: f64) -> bool {
    let (mut pos, mut neg) = (false, false);
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
        let c = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
        pos |= c > 1e-9;
        neg |= c < -1e-9;
    }
    !(pos && neg)
}

/// pyclipper's round-joined offset of the box by `area * ratio / perimeter` (shapely's area
/// and length), as Clipper 6.4 computes it: corners truncated to whole units, arcs in steps
/// set by an arc tolerance of 0.25, points rounded half away from zero. (Clipper then unions
/// the result to remove self-intersections; the offset of a convex box has none.)
fn unclip(quad: &Quad, ratio: f32) -> Vec<[f64; 2]> {
    let q: Vec<[f64; 2]> = quad
        .iter()
        .map(|p| [f64::from(p[0]), f64::from(p[1])])
        .collect();
    let mut area = 0.0;
    let mut perimeter = 0.0;
    for i in 0..4 {
        let (a, b) = (q[i], q[(i + 1) % 4]);
        area += a[0] * b[1] - b[0] * a[1];
        perimeter += ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
    }
    let delta = (area.abs() / 2.0) * f64::from(ratio) / perimeter;
    let mut src: Vec<[i64; 2]> = Vec::with_capacity(4);
    for p in &q {
        let pt = [p[0] as i64, p[1] as i64];
        if src.last() != Some(&pt) {
            src.push(pt);
        }
    }
    while src.len() > 1 && src.first() == src.last() {
        src.pop();
    }
    if src.len() < 3 {
        return Vec::new();
    }
    // Clipper's Area is the negated shoelace sum; paths of negative area are reversed.
    let n = src.len();
    let clipper_area: f64 = -(0..n)
        .map(|i| {
            let (pj, pi) = (src[(i + n - 1) % n], src[i]);
            (pj[0] as f64 + pi[0] as f64) * (pj[1] as f64 - pi[1] as f64)
        })
        .sum::<f64>()
        * 0.5;
    if clipper_area < 0.0 {
        src.reverse();
    }
    clipper_offset_round(&src, delta)
        .into_iter()
        .map(|[x, y]| [x as f64, y as f64])
        .collect()
}

/// `ClipperOffset::DoOffset` for one closed polygon with round joins and a positive delta.
fn clipper_offset_round(src: &[[i64; 2]], delta: f64) -> Vec<[i64; 2]> {
    use std::f64::consts::{PI, TAU};
    let round = |v: f64| {
        if v < 0.0 {
            (v - 0.5) as i64
        } else {
            (v + 0.5) as i64
        }
    };
    let tolerance = if 0.25 > delta.abs() * 0.25 {
        delta.abs() * 0.25
    } else {
        0.25
    };
    let mut steps = PI / (1.0 - tolerance / delta.abs()).acos();
    if steps > delta.abs() * PI {
        steps = delta.abs() * PI;
    }
    let (sin, cos) = ((TAU / steps).sin(), (TAU / steps).cos());
    let steps_per_rad = steps / TAU;
    let n = src.len();
    let normal = |a: [i64; 2], b: [i64; 2]| {
        if a == b {
            return [0.0, 0.0];
        }
        let (dx, dy) = ((b[0] - a[0]) as f64, (b[1] - a[1]) as f64);
        let f = 1.0 / (dx * dx + dy * dy).sqrt();
        [dy * f, -dx * f]
    };
    let normals: Vec<[f64; 2]> = (0..n).map(|j| normal(src[j], src[(j + 1) % n])).collect();
    let at = |j: usize, nrm: [f64; 2]| {
        [
            round(src[j][0] as f64 + nrm[0] * delta),
            round(src[j][1] as f64 + nrm[1] * delta),
        ]
    };
    let mut out = Vec::new();
    let mut k = n - 1;
    for j in 0..n {
        let (nk, nj) = (normals[k], normals[j]);
        let mut sin_a = nk[0] * nj[1] - nj[0] * nk[1];
        if (sin_a * delta).abs() < 1.0 {
            let cos_a = nk[0] * nj[0] + nj[1] * nk[1];
            if cos_a > 0.0 {
                out.push(at(j, nk));
                continue;
            }
        } else {
            sin_a = sin_a.clamp(-1.0, 1.0);
        }
        if sin_a * delta < 0.0 {
            out.push(at(j, nk));
            out.push(src[j]);
            out.push(at(j, nj));
        } else {
            let a = sin_a.atan2(nk[0] * nj[0] + nk[1] * nj[1]);
            let count = (round(steps_per_rad * a.abs()) as i32).max(1);
            let (mut x, mut y) = (nk[0], nk[1]);
            for _ in 0..count {
                out.push(at(j, [x, y]));
                let x2 = x;
                x = x * cos - sin * y;
                y = x2 * sin + y * cos;
            }
            out.push(at(j, nj));
        }
        k = j;
    }
    out
}

/// `filter_tag_det_res`: corners ordered clockwise from the top left, clipped into the image
/// and truncated to whole pixels; None for a box 3 px or less across.
fn clockwise_in_image(pts: Quad, w: usize, h: usize) -> Option<Quad> {
    let mut by_x = pts;
    by_x.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let mut left = [by_x[0], by_x[1]];
    let mut right = [by_x[2], by_x[3]];
    left.sort_by(|a, b| a[1].total_cmp(&b[1]));
    right.sort_by(|a, b| a[1].total_cmp(&b[1]));
    let clip = |p: [f32; 2]| {
        [
            p[0].clamp(0.0, w as f32 - 1.0).trunc(),
            p[1].clamp(0.0, h as f32 - 1.0).trunc(),
        ]
    };
    let b = [clip(left[0]), clip(right[0]), clip(right[1]), clip(left[1])];
    let dist = |a: [f32; 2], c: [f32; 2]| ((a[0] - c[0]).powi(2) + (a[1] - c[1]).powi(2)).sqrt();
    if dist(b[0], b[1]) as i32 <= 3 || dist(b[0], b[3]) as i32 <= 3 {
        return None;
    }
    Some(b)
}

/// RapidOCR's reading order: by the top-left corner's y then x, then neighbours whose tops are
/// within 10 px swapped into left-to-right order.
pub fn reading_order(mut boxes: Vec<Quad>) -> Vec<Quad> {
    boxes.sort_by(|a, b| {
        a[0][1]
            .total_cmp(&b[0][1])
            .then(a[0][0].total_cmp(&b[0][0]))
    });
    for i in 0..boxes.len().saturating_sub(1) {
        for j in (0..=i).rev() {
            if (boxes[j + 1][0][1] - boxes[j][0][1]).abs() < 10.0
                && boxes[j + 1][0][0] < boxes[j][0][0]
            {
                boxes.swap(j, j + 1);
            } else {
                break;
            }
        }
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn a_solid_block_becomes_its_box_grown_by_the_unclip_distance() {
        // A 40x10 block of probability 0.9 at (20, 30) in a 100x60 map.
        let mut map = Array2::<f32>::zeros((60, 100));
        map.slice_mut(ndarray::s![30..40, 20..60]).fill(0.9);
        let found = boxes(map.view(), 100, 60, &REFERENCE);
        assert_eq!(found.len(), 1, "{found:?}");
        let b = found[0];
        // Dilation adds a row and column: pixel centres 20..=60 by 30..=40, a 40x10 box;
        // distance = 400 * 1.6 / 100 = 6.4, so it grows to 14..=66 by 24..=46.
        assert_eq!(b, [[14.0, 24.0], [66.0, 24.0], [66.0, 46.0], [14.0, 46.0]]);
    }

    #[test]
    fn low_probability_and_tiny_regions_are_dropped() {
        let mut map = Array2::<f32>::zeros((60, 100));
        map.slice_mut(ndarray::s![5..15, 5..50]).fill(0.4);
        map.slice_mut(ndarray::s![40..42, 70..72]).fill(0.9);
        assert!(boxes(map.view(), 100, 60, &REFERENCE).is_empty());
    }

    #[test]
    fn a_tilted_region_gets_a_tilted_box() {
        let mut map = Array2::<f32>::zeros((100, 200));
        for x in 20..180usize {
            let y0 = 40 + (x - 20) / 8;
            for y in y0..y0 + 12 {
                map[[y, x]] = 0.9;
            }
        }
        let b = boxes(map.view(), 200, 100, &REFERENCE);
        assert_eq!(b.len(), 1);
        let [tl, tr, br, bl] = b[0];
        assert!(tr[1] > tl[1] + 10.0 && br[1] > bl[1] + 10.0, "{b:?}");
    }

    #[test]
    fn reading_order_is_rows_then_left_to_right() {
        let at = |x: f32, y: f32| [[x, y], [x + 10.0, y], [x + 10.0, y + 5.0], [x, y + 5.0]];
        let sorted = reading_order(vec![at(50.0, 3.0), at(0.0, 100.0), at(10.0, 6.0)]);
        assert_eq!(sorted, vec![at(10.0, 6.0), at(50.0, 3.0), at(0.0, 100.0)]);
    }
}
