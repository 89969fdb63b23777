//! PDQ perceptual hashes of frames (Meta's algorithm, through the `pdqhash` crate). The
//! full-size method is used: it equals Meta's reference bit for bit, so hashes from
//! ThreatExchange and other PDQ tools can be matched; the crate's faster pre-shrunk method
//! differs by up to 10 bits.
//!
//! PDQ does not survive cropping (a 10% crop moves a hash 60 to 90 bits), so each frame also
//! gets the hash of its central 90%: banked with a clip's frames, it is what a re-upload with
//! its borders cropped off hashes to.

use crate::vocab::{FramePdq, Pdq};
use image::RgbImage;

/// The share of width and height kept by the centre crop.
const CENTRE_SHARE: f64 = 0.9;

/// The centre crop is averaged down to at least this many pixels on its shorter side before
/// hashing (PDQ itself reduces to 64x64): a 720p frame's centre is halved, and its hash is then
/// about 4 bits from the full-size one (at 160 px, 10 to 14). Only matched against clipguard's
/// own hashes of re-uploads, so it need not equal the reference.
const CENTRE_MIN_SIDE: u32 = 320;

/// The frame's hash and quality, exactly as Meta's reference computes them.
pub fn hash(frame: &RgbImage) -> FramePdq {
    let (w, h) = frame.dimensions();
    // The crate takes its own `image` version's buffers, hence the copy (about 1 ms at 720p).
    let copy = pdqhash::image::RgbImage::from_raw(w, h, frame.as_raw().clone())
        .expect("an RgbImage's buffer holds width x height pixels");
    of(copy)
}

/// The hash of the frame's central 90% (width and height), box-averaged down first.
pub fn hash_centre(frame: &RgbImage) -> FramePdq {
    let (w, h) = frame.dimensions();
    let (cw, ch) = (
        ((w as f64 * CENTRE_SHARE).round() as u32).max(1),
        ((h as f64 * CENTRE_SHARE).round() as u32).max(1),
    );
    let (x0, y0) = ((w - cw) / 2, (h - ch) / 2);
    let f = (cw.min(ch) / CENTRE_MIN_SIDE).max(1);
    let (ow, oh) = (cw / f, ch / f);
    let (raw, stride, n) = (frame.as_raw(), w as usize * 3, f * f);
    let mut sums = vec![0u32; ow as usize * 3];
    let mut out = Vec::with_capacity((ow * oh * 3) as usize);
    for oy in 0..oh {
        sums.fill(0);
        for y in y0 + oy * f..y0 + (oy + 1) * f {
            let row = &raw[y as usize * stride + x0 as usize * 3..][..(ow * f) as usize * 3];
            for (i, px) in row.chunks_exact(3).enumerate() {
                let o = i / f as usize * 3;
                for (s, v) in sums[o..o + 3].iter_mut().zip(px) {
                    *s += u32::from(*v);
                }
            }
        }
        out.extend(sums.iter().map(|s| ((s + n / 2) / n) as u8));
    }
    of(pdqhash::image::RgbImage::from_raw(ow, oh, out).expect("ow x oh pixels"))
}

fn of(img: pdqhash::image::RgbImage) -> FramePdq {
    let (bytes, quality) =
        pdqhash::generate_pdq_full_size(&pdqhash::image::DynamicImage::ImageRgb8(img));
    FramePdq {
        hash: Pdq(bytes),
        quality: (quality * 100.0).clamp(0.0, 100.0) as u8,
    }
}
