//! An opened clip: the demuxer, its video stream and a decoder set up with the limits and
//! error watch, the checks every decoded frame passes before a buffer is made from it, and
//! conversion to RGB. Shared by sampling and by fetching frames again for evidence.

use super::watch::Watch;
use super::{Limit, MediaError};
use crate::config::MediaConfig;
use ffmpeg_next::{codec, decoder, format, frame, media, software::scaling, util::format::Pixel};
use image::RgbImage;
use std::path::Path;

/// An opened clip: the demuxer, its best video stream and a decoder for it, set up the same
/// way for sampling and for fetching frames again.
pub(crate) struct Input {
    pub ictx: format::context::Input,
    pub stream_index: usize,
    pub time_base: f64,
    /// The stream's first timestamp: frame times count from it.
    pub start: i64,
    pub dec: decoder::Video,
    /// The frame count the container declares (0 when it declares none).
    pub declared_frames: u64,
    /// Limits on frame buffers and the decoder's error reports.
    pub watch: Watch,
    /// Pictures in the file that are not this stream, so are not screened.
    pub others: OtherPictures,
}

/// Video in a file besides the stream screened: a player can show either, so an allow cannot
/// vouch for a file that has them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct OtherPictures {
    /// Further video tracks (a player can switch to any).
    pub tracks: u32,
    /// Cover images (attached pictures), which file browsers show as the clip's thumbnail.
    pub covers: u32,
}

/// What frames are decoded for, which decides what the decoder may leave out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Decoding {
    /// Screening: as `media.skip_non_reference` and `media.skip_loop_filter_non_reference` say.
    Sampling,
    /// Pictures for people (evidence): every frame, exactly as a player shows it.
    Exact,
}

impl Input {
    pub(crate) fn open(
        path: &Path,
        cfg: &MediaConfig,
        decoding: Decoding,
    ) -> Result<Self, MediaError> {
        super::init();
        let corrupt = MediaError::corrupt_at(path);
        let ictx = format::input(path).map_err(|e| corrupt(e.to_string()))?;
        let stream = ictx
            .streams()
            .best(media::Type::Video)
            .ok_or_else(|| corrupt("no video stream".into()))?;
        let stream_index = stream.index();
        let mut others = OtherPictures::default();
        for other in ictx.streams().filter(|o| o.index() != stream_index) {
            if other.parameters().medium() != media::Type::Video {
                continue;
            }
            if other
                .disposition()
                .contains(format::stream::Disposition::ATTACHED_PIC)
            {
                others.covers += 1;
            } else {
                others.tracks += 1;
            }
        }
        let time_base = f64::from(stream.time_base());
        let start = if stream.start_time() == ffmpeg_next::ffi::AV_NOPTS_VALUE {
            0
        } else {
            stream.start_time()
        };
        let declared_frames = stream.frames().max(0) as u64;
        let mut ctx = codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| corrupt(e.to_string()))?;
        let watch = Watch::attach(&mut ctx, cfg.max_width, cfg.max_height);
        ctx.set_threading(codec::threading::Config {
            kind: codec::threading::Type::Frame,
            count: cfg.decode_threads.max(1),
            ..Default::default()
        });
        let mut dec = ctx.decoder();
        if decoding == Decoding::Sampling {
            use ffmpeg_next::codec::discard::Discard;
            if cfg.skip_non_reference {
                dec.skip_frame(Discard::NonReference);
            } else if cfg.skip_loop_filter_non_reference {
                // No other frame predicts from these, so a picture without deblocking changes
                // only itself: slightly blockier, never drifting.
                dec.skip_loop_filter(Discard::NonReference);
            }
        }
        let dec = dec.video().map_err(|e| corrupt(e.to_string()))?;
        Ok(Self {
            ictx,
            stream_index,
            time_base,
            start,
            dec,
            declared_frames,
            watch,
            others,
        })
    }
}

/// Checks a decoded frame against the limits before any buffer is made from it: its size
/// (which may change mid-stream) and a pixel format that can be converted.
pub(crate) fn check_frame(
    f: &frame::Video,
    cfg: &MediaConfig,
    path: &str,
) -> Result<(), MediaError> {
    for (what, value, limit) in [
        (Limit::Width, f.width(), cfg.max_width),
        (Limit::Height, f.height(), cfg.max_height),
    ] {
        if value > limit {
            return Err(MediaError::OverLimit {
                path: path.into(),
                what,
                value: value.to_string(),
                limit: limit.to_string(),
            });
        }
    }
    if f.width() == 0 || f.height() == 0 {
        return Err(MediaError::Corrupt {
            path: path.into(),
            reason: "a decoded frame has no size".into(),
        });
    }
    // SAFETY: a plain query on a pixel format value.
    let convertible = unsafe { ffmpeg_next::ffi::sws_isSupportedInput(f.format().into()) } > 0;
    if !convertible {
        return Err(MediaError::Corrupt {
            path: path.into(),
            reason: format!(
                "frames in pixel format {} cannot be converted",
                pixel_name(f.format())
            ),
        });
    }
    Ok(())
}

/// FFmpeg's name of a pixel format (`yuv420p10le`), for messages.
pub(crate) fn pixel_name(p: Pixel) -> &'static str {
    p.descriptor()
        .map_or("an unknown pixel format", |d| d.name())
}

/// Converts decoded frames to RGB at their own size, keeping one swscale context while the
/// format and size stay the same.
#[derive(Default)]
pub(crate) struct RgbConverter {
    scaler: Option<(Pixel, u32, u32, scaling::Context)>,
}

impl RgbConverter {
    pub(crate) fn convert(&mut self, f: &frame::Video, path: &str) -> Result<RgbImage, MediaError> {
        let (fmt, w, h) = (f.format(), f.width(), f.height());
        if !matches!(&self.scaler, Some((sf, sw, sh, _)) if *sf == fmt && *sw == w && *sh == h) {
            let ctx =
                scaling::Context::get(fmt, w, h, Pixel::RGB24, w, h, scaling::Flags::BILINEAR)
                    .map_err(|e| MediaError::Corrupt {
                        path: path.into(),
                        reason: format!("cannot convert {} to RGB ({e})", pixel_name(fmt)),
                    })?;
            self.scaler = Some((fmt, w, h, ctx));
        }
        let (_, _, _, scaler) = self.scaler.as_mut().expect("set above");
        let mut out = frame::Video::empty();
        scaler.run(f, &mut out).map_err(|e| MediaError::Corrupt {
            path: path.into(),
            reason: format!("cannot convert frame to RGB ({e})"),
        })?;
        // swscale pads rows: copy row by row.
        let (stride, row) = (out.stride(0), w as usize * 3);
        let data = out.data(0);
        let mut buf = Vec::with_capacity(row * h as usize);
        for y in 0..h as usize {
            buf.extend_from_slice(&data[y * stride..y * stride + row]);
        }
        Ok(RgbImage::from_raw(w, h, buf).expect("buffer is w*h*3"))
    }
}
