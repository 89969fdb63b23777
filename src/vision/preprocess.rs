//! A model's input recipe, declared beside it in `models/models.toml`: how a frame becomes the
//! tensor the model was trained on (resize, centre crop, channel order, normalisation, layout).
//! Declared rather than coded so an operator can plug in a classifier without writing Rust.

use super::pil::{self, Filter};
use image::RgbImage;
use ndarray::Array4;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// To exactly [width, height], whatever the aspect ratio.
    Exact([usize; 2]),
    /// The shorter side to this many pixels, keeping the aspect ratio (rounded half to even,
    /// as Python's `round`).
    ShorterSide(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channels {
    Rgb,
    Bgr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// [batch, channel, height, width]
    Nchw,
    /// [batch, height, width, channel]
    Nhwc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    pub resize: Resize,
    /// Pillow's filter for the resize.
    pub filter: Filter,
    /// The centre crop, [width, height]: the model's input size.
    pub crop: [usize; 2],
    pub channels: Channels,
    /// Pixel values (0-255) are divided by this first (255 for 0-1 inputs).
    pub divide: f32,
    /// Then this is subtracted, per channel in the order fed...
    pub mean: [f32; 3],
    /// ...and the result divided by this.
    pub std: [f32; 3],
    pub layout: Layout,
}

impl Preprocess {
    /// Refuses recipes that cannot produce an input (a crop larger than the resize, a zero
    /// size or deviation), naming the problem.
    pub fn check(&self) -> Result<(), String> {
        let [cw, ch] = self.crop;
        if cw == 0 || ch == 0 {
            return Err("crop has a zero side".into());
        }
        match self.resize {
            Resize::Exact([w, h]) if w < cw || h < ch => {
                return Err(format!("resize {w}x{h} is smaller than the crop {cw}x{ch}"))
            }
            Resize::ShorterSide(s) if s < cw.min(ch) => {
                return Err(format!(
                    "shorter side {s} is smaller than the crop {cw}x{ch}"
                ))
            }
            _ => {}
        }
        if self.divide == 0.0 || self.std.contains(&0.0) {
            return Err("divide and std must not be zero".into());
        }
        Ok(())
    }

    /// The resized size of a `w` x `h` image.
    fn resized(&self, w: usize, h: usize) -> (usize, usize) {
        match self.resize {
            Resize::Exact([rw, rh]) => (rw, rh),
            Resize::ShorterSide(s) => {
                let scale = s as f64 / w.min(h) as f64;
                let side = |v: usize| ((v as f64 * scale).round_ties_even() as usize).max(s);
                (side(w), side(h))
            }
        }
    }

    /// The input tensor for a batch of frames.
    pub fn tensor(&self, frames: &[&RgbImage]) -> Array4<f32> {
        let [cw, ch] = self.crop;
        let mut input = match self.layout {
            Layout::Nchw => Array4::<f32>::zeros((frames.len(), 3, ch, cw)),
            Layout::Nhwc => Array4::<f32>::zeros((frames.len(), ch, cw, 3)),
        };
        let order: [usize; 3] = match self.channels {
            Channels::Rgb => [0, 1, 2],
            Channels::Bgr => [2, 1, 0],
        };
        for (b, img) in frames.iter().enumerate() {
            let (w, h) = (img.width() as usize, img.height() as usize);
            let (rw, rh) = self.resized(w, h);
            let resized = pil::resize(img.as_raw(), w, h, rw, rh, self.filter);
            let (left, top) = ((rw - cw) / 2, (rh - ch) / 2);
            for y in 0..ch {
                let row = &resized[((top + y) * rw + left) * 3..];
                for x in 0..cw {
                    for (c, &from) in order.iter().enumerate() {
                        let v = (f32::from(row[x * 3 + from]) / self.divide - self.mean[c])
                            / self.std[c];
                        match self.layout {
                            Layout::Nchw => input[[b, c, y, x]] = v,
                            Layout::Nhwc => input[[b, y, x, c]] = v,
                        }
                    }
                }
            }
        }
        input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip_recipe() -> Preprocess {
        Preprocess {
            resize: Resize::ShorterSide(224),
            filter: Filter::Bicubic,
            crop: [224, 224],
            channels: Channels::Rgb,
            divide: 255.0,
            mean: [0.5, 0.5, 0.5],
            std: [0.25, 0.25, 0.25],
            layout: Layout::Nchw,
        }
    }

    #[test]
    fn shorter_side_keeps_aspect_and_rounds_half_to_even() {
        let p = clip_recipe();
        assert_eq!(p.resized(1280, 720), (398, 224));
        assert_eq!(p.resized(720, 1280), (224, 398));
        // 448 * 0.5 = 224 exactly; 449 * 0.5 = 224.5 rounds to 224 (half to even).
        assert_eq!(p.resized(449, 448), (224, 224));
    }

    #[test]
    fn channel_order_normalisation_and_layout() {
        let img = RgbImage::from_pixel(300, 300, image::Rgb([255, 0, 51]));
        let t = clip_recipe().tensor(&[&img]);
        assert_eq!(t.shape(), &[1, 3, 224, 224]);
        assert!((t[[0, 0, 10, 10]] - 2.0).abs() < 1e-6);
        assert!((t[[0, 1, 10, 10]] + 2.0).abs() < 1e-6);
        assert!((t[[0, 2, 10, 10]] + 1.2).abs() < 1e-5);
        let bgr = Preprocess {
            channels: Channels::Bgr,
            layout: Layout::Nhwc,
            divide: 1.0,
            mean: [1.0, 2.0, 3.0],
            std: [1.0, 1.0, 1.0],
            ..clip_recipe()
        };
        let t = bgr.tensor(&[&img]);
        assert_eq!(t.shape(), &[1, 224, 224, 3]);
        assert_eq!(
            [t[[0, 5, 5, 0]], t[[0, 5, 5, 1]], t[[0, 5, 5, 2]]],
            [50.0, -2.0, 252.0]
        );
    }

    #[test]
    fn impossible_recipes_are_refused() {
        let mut p = clip_recipe();
        p.resize = Resize::Exact([200, 256]);
        assert!(p.check().unwrap_err().contains("smaller than the crop"));
        let mut p = clip_recipe();
        p.std = [1.0, 0.0, 1.0];
        assert!(p.check().is_err());
        assert!(clip_recipe().check().is_ok());
    }
}
