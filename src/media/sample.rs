//! Frame sampling: decode every frame once, keep a cheap luma thumbnail of each, and pick the
//! frames worth analysing: keyframes, a uniform rate, the first frame after each scene cut
//! (so even a short shot is seen), and the first frame of a flash: a change that goes away
//! again within a few frames (a picture shown for a single frame, wherever the encoder put
//! it). A picked frame that barely differs from the last analysed one is marked a duplicate
//! and reuses that frame's detections instead of costing inference.
//!
//! A flash is known only by what follows, so each frame is judged once the next few are
//! decoded: the decoder's pictures are held, by reference, for that long.

use super::coverage::Tracker;
use super::input::{check_frame, pixel_name, Decoding, Input, RgbConverter};
use super::watch::Watch;
use super::{Limit, MediaError};
use crate::config::MediaConfig;
use crate::vocab::DeclaredFrames;
use crate::vocab::MediaInfo;
use crate::vocab::{SampleReason, SamplingStats};
use ffmpeg_next::{decoder, frame, software::scaling, util::format::Pixel};
use image::RgbImage;
use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

pub enum FrameContent {
    /// A frame to analyse, as RGB at the clip's resolution.
    Image(RgbImage),
    /// A near-duplicate of the analysed frame with this index.
    DuplicateOf(u64),
}

pub struct SampledFrame {
    /// Position in decode order, from 0.
    pub index: u64,
    pub time_s: f64,
    pub reasons: Vec<SampleReason>,
    pub content: FrameContent,
    /// For an analysed frame after the first: where it changed since the last analysed frame,
    /// so that what walks into a scene can be looked at closely without a cut.
    pub changed: Option<Changes>,
}

/// The blocks of a frame (a 64x36 grid over it) whose mean luma moved by more than
/// `media.duplicate_max_diff` since the last analysed frame: the change that made the frame
/// worth analysing, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes(Vec<bool>);

impl Changes {
    /// Boxes around groups of changed blocks, as shares of the frame's width and height
    /// (`[x0, y0, x1, y1]`). Blocks up to `reach_x` columns and `reach_y` rows apart fall in one
    /// group, so parts of one moving thing are looked at together.
    pub fn regions(&self, reach_x: usize, reach_y: usize) -> Vec<[f32; 4]> {
        let mut seen = vec![false; self.0.len()];
        let mut out = Vec::new();
        for start in 0..self.0.len() {
            if !self.0[start] || seen[start] {
                continue;
            }
            seen[start] = true;
            let mut stack = vec![start];
            let (mut x0, mut y0, mut x1, mut y1) = (THUMB_W, THUMB_H, 0, 0);
            while let Some(i) = stack.pop() {
                let (x, y) = (i % THUMB_W, i / THUMB_W);
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
                for ny in y.saturating_sub(reach_y)..(y + reach_y + 1).min(THUMB_H) {
                    for nx in x.saturating_sub(reach_x)..(x + reach_x + 1).min(THUMB_W) {
                        let j = ny * THUMB_W + nx;
                        if self.0[j] && !seen[j] {
                            seen[j] = true;
                            stack.push(j);
                        }
                    }
                }
            }
            out.push([
                x0 as f32 / THUMB_W as f32,
                y0 as f32 / THUMB_H as f32,
                x1 as f32 / THUMB_W as f32,
                y1 as f32 / THUMB_H as f32,
            ]);
        }
        out
    }

    /// The grid's columns and rows.
    pub const GRID: (usize, usize) = (THUMB_W, THUMB_H);
}

const THUMB_W: usize = 64;
const THUMB_H: usize = 36;

/// A block whose mean luma moved by more than this (0-255) changed: well above the noise of
/// encoding, well below what a new picture in it does.
const BLOCK_CHANGE: f32 = 20.0;

/// A frame starts a flash when at least this many blocks changed into it (a 40x40 px picture
/// in 720p covers 4) and a frame soon after differs from the one before it in at most a
/// quarter as many: the change went away again.
const FLASH_MIN_BLOCKS: usize = 4;

/// The longest flash looked for, in frames (100 ms at 30 fps): each frame waits for this many
/// more before it is judged. A change that lasts longer is a shot, seen by the uniform rate.
const FLASH_MAX_FRAMES: usize = 3;

/// Mean luma of each of 64x36 blocks: enough to see cuts and changes, cheap to compute.
struct Thumb(Vec<f32>);

impl Thumb {
    /// Blocks that changed from `self` to `other`.
    fn changed_blocks(&self, other: &Thumb) -> usize {
        self.0
            .iter()
            .zip(&other.0)
            .filter(|(a, b)| (*a - *b).abs() > BLOCK_CHANGE)
            .count()
    }

    fn mean_diff(&self, other: &Thumb) -> f32 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / self.0.len() as f32
    }

    fn changes(&self, other: &Thumb, by: f32) -> Changes {
        Changes(
            self.0
                .iter()
                .zip(&other.0)
                .map(|(a, b)| (a - b).abs() > by)
                .collect(),
        )
    }

    fn max_diff(&self, other: &Thumb) -> f32 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }
}

/// Decodes `path` and calls `on_frame` for every sampled frame, in order. `on_frame` returns
/// false to stop early (its caller failed); the stats then cover what was decoded.
pub fn sample(
    path: &Path,
    info: &MediaInfo,
    cfg: &MediaConfig,
    mut on_frame: impl FnMut(SampledFrame) -> bool,
) -> Result<SamplingStats, MediaError> {
    super::init();
    let p = path.display().to_string();
    let corrupt = MediaError::corrupt_at(path);
    let Input {
        mut ictx,
        stream_index,
        time_base,
        start,
        mut dec,
        declared_frames,
        watch,
        others,
    } = Input::open(path, cfg, Decoding::Sampling)?;
    // One frame's nominal duration. The declared count and duration are harder to bend than
    // the average rate (which edited sample durations change), and they agree on honest clips.
    let frame_dur = if declared_frames > 0 && info.duration_s > 0.0 {
        info.duration_s / declared_frames as f64
    } else if info.fps > 0.0 {
        1.0 / info.fps
    } else {
        0.0
    };

    let budget = cfg.max_analysed_frames.max(1);
    // Keep a quarter of the budget for keyframes and cuts on long clips.
    let interval = (1.0 / cfg.sample_fps).max(info.duration_s / (budget as f64 * 0.75));
    let mut state = State {
        cfg,
        interval,
        budget,
        next_uniform: 0.0,
        prev: None,
        last_analysed: None,
        rgb: RgbConverter::default(),
        held: VecDeque::with_capacity(FLASH_MAX_FRAMES + 1),
        stats: SamplingStats {
            interval_s: interval,
            ..Default::default()
        },
        frame_dur,
        max_frames: cfg.max_frames,
        waited_ms: 0.0,
        now_s: 0.0,
        tracker: Tracker::new(others, cfg.skip_non_reference),
        watch,
    };
    let started = Instant::now();
    let mut decoded = frame::Video::empty();
    let mut go_on = true;
    while go_on {
        // A fresh packet each time: av_read_frame overwrites the packet it is given without
        // releasing its buffer, so a reused one leaks every packet read (about the clip's size
        // per screening).
        let mut packet = ffmpeg_next::Packet::empty();
        match packet.read(&mut ictx) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => break,
            Err(e) => return Err(corrupt(format!("cannot read packet ({e})"))),
        }
        if packet.stream() != stream_index {
            continue;
        }
        let time_s = packet
            .pts()
            .or(packet.dts())
            .map_or(state.stats.decoded_s, |ts| (ts - start) as f64 * time_base);
        let hidden = {
            use ffmpeg_next::packet::Ref;
            // SAFETY: reads a plain field of the packet just read.
            let flags = unsafe { (*packet.as_ptr()).flags };
            flags & ffmpeg_next::ffi::AV_PKT_FLAG_DISCARD != 0
        };
        state.tracker.packet(time_s, hidden);
        state.now_s = time_s;
        match dec.send_packet(&packet) {
            Ok(()) => {}
            // A damaged packet is counted and decoding goes on: coverage tells the policy.
            Err(ffmpeg_next::Error::InvalidData) => {
                state.check_limits(&p)?;
                state.tracker.rejected_packet(time_s);
            }
            Err(e) => {
                state.check_limits(&p)?;
                return Err(corrupt(format!(
                    "cannot decode frame {} ({e})",
                    state.stats.decoded_frames
                )));
            }
        }
        go_on = state.drain(&mut dec, &mut decoded, time_base, start, &mut on_frame, &p)?;
    }
    if go_on {
        dec.send_eof().map_err(|e| corrupt(e.to_string()))?;
        go_on = state.drain(&mut dec, &mut decoded, time_base, start, &mut on_frame, &p)?;
    }
    if go_on {
        // The last frames have fewer after them to be judged by.
        while !state.held.is_empty() && state.settle(&mut on_frame, &p)? {}
    }
    let errors = state.watch.take_errors();
    state.tracker.decoder_errors(errors, state.now_s);
    let mut stats = state.stats;
    let (declared, from) = if declared_frames > 0 {
        (declared_frames, DeclaredFrames::Container)
    } else if info.frames > 0 {
        (info.frames, DeclaredFrames::DurationTimesRate)
    } else {
        (0, DeclaredFrames::Unknown)
    };
    stats.coverage =
        state
            .tracker
            .finish(declared, from, info.duration_s, frame_dur, cfg.max_unseen_s);
    stats.coverage.analysed_frames = stats.analysed_frames;
    stats.decode_ms = started.elapsed().as_secs_f64() * 1e3 - stats.sample_ms - state.waited_ms;
    if go_on {
        if stats.decoded_frames == 0 {
            return Err(corrupt("no frame could be decoded".into()));
        }
        // A clip that ends well before its declared duration was cut short.
        if info.duration_s > 0.0 && stats.decoded_s < info.duration_s * 0.9 - 0.25 {
            return Err(MediaError::Truncated {
                path: p,
                decoded_s: stats.decoded_s,
                expected_s: info.duration_s,
            });
        }
    }
    Ok(stats)
}

/// The decoder refused a frame buffer over the limits (a size change mid-stream).
fn refused(watch: &Watch, cfg: &MediaConfig, path: &str) -> Result<(), MediaError> {
    match watch.over_limit() {
        Some((w, h)) => Err(MediaError::OverLimit {
            path: path.into(),
            what: Limit::FrameSize,
            value: format!("{w}x{h}"),
            limit: format!("{}x{}", cfg.max_width, cfg.max_height),
        }),
        None => Ok(()),
    }
}

struct State<'a> {
    cfg: &'a MediaConfig,
    interval: f64,
    budget: usize,
    next_uniform: f64,
    prev: Option<Thumb>,
    last_analysed: Option<(u64, Thumb)>,
    rgb: RgbConverter,
    /// The last frames decoded, the oldest first, waiting for those after it to judge whether
    /// it starts a flash.
    held: VecDeque<Held>,
    stats: SamplingStats,
    frame_dur: f64,
    max_frames: u64,
    waited_ms: f64,
    tracker: Tracker,
    watch: Watch,
    /// Time of the packet last sent to the decoder, for errors it reports.
    now_s: f64,
}

impl State<'_> {
    /// Size refusals and errors the decoder reported, since the last packet.
    fn check_limits(&mut self, path: &str) -> Result<(), MediaError> {
        refused(&self.watch, self.cfg, path)?;
        let errors = self.watch.take_errors();
        self.tracker.decoder_errors(errors, self.now_s);
        Ok(())
    }

    fn drain(
        &mut self,
        dec: &mut decoder::Video,
        decoded: &mut frame::Video,
        time_base: f64,
        start: i64,
        on_frame: &mut impl FnMut(SampledFrame) -> bool,
        path: &str,
    ) -> Result<bool, MediaError> {
        loop {
            match dec.receive_frame(decoded) {
                Ok(()) => {}
                Err(ffmpeg_next::Error::Eof) => break,
                Err(ffmpeg_next::Error::Other { errno })
                    if errno == ffmpeg_next::util::error::EAGAIN =>
                {
                    break
                }
                Err(_) => {
                    // A frame that failed in a decoder thread; the next ones may still come.
                    self.check_limits(path)?;
                    self.tracker.rejected_packet(self.now_s);
                    break;
                }
            }
            self.check_limits(path)?;
            check_frame(decoded, self.cfg, path)?;
            let index = self.stats.decoded_frames;
            self.stats.decoded_frames += 1;
            if self.stats.decoded_frames > self.max_frames {
                return Err(MediaError::OverLimit {
                    path: path.into(),
                    what: Limit::DecodedFrames,
                    value: self.stats.decoded_frames.to_string(),
                    limit: self.max_frames.to_string(),
                });
            }
            let t0 = Instant::now();
            let time_s = match decoded.timestamp() {
                Some(ts) => (ts - start) as f64 * time_base,
                None => index as f64 * self.frame_dur,
            };
            self.stats.decoded_s = self.stats.decoded_s.max(time_s + self.frame_dur);
            // SAFETY: reads two plain fields of the frame just decoded.
            let (error_flags, flags) = unsafe {
                let raw = decoded.as_ptr();
                ((*raw).decode_error_flags, (*raw).flags)
            };
            let damaged = error_flags != 0 || flags & ffmpeg_next::ffi::AV_FRAME_FLAG_CORRUPT != 0;
            self.tracker.frame(
                time_s,
                decoded.width(),
                decoded.height(),
                format!("{:?}", decoded.format()).to_lowercase(),
                damaged,
                decoded.is_key(),
            );
            let thumb = self.thumb(decoded, path)?;
            // The decoder's picture moves into `held` (a reference, not a copy); the next
            // frame is received into a fresh one.
            self.held.push_back(Held {
                frame: std::mem::replace(decoded, frame::Video::empty()),
                index,
                time_s,
                thumb,
            });
            self.stats.sample_ms += t0.elapsed().as_secs_f64() * 1e3;
            if self.held.len() > FLASH_MAX_FRAMES && !self.settle(on_frame, path)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Judges the oldest held frame by the frames after it (fewer than `FLASH_MAX_FRAMES` at
    /// the end), and hands it on if picked. False when the consumer stopped.
    fn settle(
        &mut self,
        on_frame: &mut impl FnMut(SampledFrame) -> bool,
        path: &str,
    ) -> Result<bool, MediaError> {
        let Some(held) = self.held.pop_front() else {
            return Ok(true);
        };
        let t0 = Instant::now();
        let sampled = self.pick(held, path)?;
        self.stats.sample_ms += t0.elapsed().as_secs_f64() * 1e3;
        let Some(s) = sampled else {
            return Ok(true);
        };
        // Time spent waiting for the consumer is neither decoding nor sampling.
        let t1 = Instant::now();
        let go_on = on_frame(s);
        self.waited_ms += t1.elapsed().as_secs_f64() * 1e3;
        Ok(go_on)
    }

    fn pick(&mut self, held: Held, path: &str) -> Result<Option<SampledFrame>, MediaError> {
        let Held {
            frame,
            index,
            time_s,
            thumb,
        } = held;
        let f = &frame;
        let mut reasons = Vec::new();
        if f.is_key() || index == 0 {
            reasons.push(SampleReason::Keyframe);
        }
        // Half a frame of slack so a sample time that falls between frames takes the nearer.
        if time_s + self.frame_dur / 2.0 >= self.next_uniform {
            reasons.push(SampleReason::Uniform);
            self.next_uniform = ((time_s + self.frame_dur / 2.0) / self.interval).floor()
                * self.interval
                + self.interval;
        }
        if let Some(prev) = &self.prev {
            if thumb.mean_diff(prev) > self.cfg.scene_cut_threshold {
                reasons.push(SampleReason::SceneCut);
                self.stats.scene_cuts += 1;
            }
            let after: Vec<&Thumb> = self.held.iter().map(|h| &h.thumb).collect();
            if starts_flash(prev, &thumb, &after) {
                reasons.push(SampleReason::Flash);
                self.stats.flashes += 1;
            }
        }
        let mut changed = None;
        let picked = if reasons.is_empty() {
            None
        } else {
            self.stats.sampled_frames += 1;
            let duplicate = self
                .last_analysed
                .as_ref()
                .filter(|(_, t)| t.max_diff(&thumb) <= self.cfg.duplicate_max_diff)
                .map(|(i, _)| *i);
            match duplicate {
                Some(of) => {
                    self.stats.duplicate_frames += 1;
                    Some(FrameContent::DuplicateOf(of))
                }
                None if self.stats.analysed_frames as usize >= self.budget => {
                    self.stats.over_budget_frames += 1;
                    None
                }
                None => {
                    self.stats.analysed_frames += 1;
                    changed = self
                        .last_analysed
                        .as_ref()
                        .map(|(_, t)| t.changes(&thumb, self.cfg.duplicate_max_diff));
                    self.last_analysed = Some((index, Thumb(thumb.0.clone())));
                    Some(FrameContent::Image(self.rgb.convert(f, path)?))
                }
            }
        };
        self.prev = Some(thumb);
        Ok(picked.map(|content| SampledFrame {
            index,
            time_s,
            reasons,
            content,
            changed,
        }))
    }

    fn thumb(&mut self, f: &frame::Video, path: &str) -> Result<Thumb, MediaError> {
        let (w, h) = (f.width() as usize, f.height() as usize);
        let eight_bit_luma = matches!(
            f.format(),
            Pixel::YUV420P
                | Pixel::YUVJ420P
                | Pixel::YUV422P
                | Pixel::YUVJ422P
                | Pixel::YUV444P
                | Pixel::YUVJ444P
                | Pixel::NV12
                | Pixel::NV21
                | Pixel::GRAY8
        );
        if eight_bit_luma {
            return Ok(block_means(f.data(0), f.stride(0), w, h));
        }
        // Other formats (10-bit, RGB): let swscale produce the luma plane.
        let mut gray = frame::Video::empty();
        scaling::Context::get(
            f.format(),
            f.width(),
            f.height(),
            Pixel::GRAY8,
            f.width(),
            f.height(),
            scaling::Flags::FAST_BILINEAR,
        )
        .and_then(|mut s| s.run(f, &mut gray))
        .map_err(|e| MediaError::Corrupt {
            path: path.into(),
            reason: format!("cannot convert {} frame ({e})", pixel_name(f.format())),
        })?;
        Ok(block_means(gray.data(0), gray.stride(0), w, h))
    }
}

/// Whether `cur` starts a flash: it changed from `prev`, and one of the frames `after` it is
/// like `prev` again. A picture shown for a frame or a few, which neither the uniform rate nor
/// a cut threshold on the whole frame is sure to catch. Near the end of a clip, with fewer
/// than `FLASH_MAX_FRAMES` after it, the end counts as the change going away.
fn starts_flash(prev: &Thumb, cur: &Thumb, after: &[&Thumb]) -> bool {
    let into = prev.changed_blocks(cur);
    into >= FLASH_MIN_BLOCKS
        && (after.len() < FLASH_MAX_FRAMES
            || after.iter().any(|a| prev.changed_blocks(a) * 4 <= into))
}

/// A decoded frame waiting for the next one, with what was worked out from it already.
struct Held {
    frame: frame::Video,
    /// Position in decode order, from 0.
    index: u64,
    time_s: f64,
    thumb: Thumb,
}

/// Block means of an 8-bit plane, each from a 4x4 grid of points inside the block.
fn block_means(plane: &[u8], stride: usize, w: usize, h: usize) -> Thumb {
    let mut out = Vec::with_capacity(THUMB_W * THUMB_H);
    for by in 0..THUMB_H {
        for bx in 0..THUMB_W {
            let mut sum = 0u32;
            for sy in 0..4 {
                let y = ((by * 4 + sy) * 2 + 1) * h / (THUMB_H * 8);
                for sx in 0..4 {
                    let x = ((bx * 4 + sx) * 2 + 1) * w / (THUMB_W * 8);
                    sum += plane[y * stride + x] as u32;
                }
            }
            out.push(sum as f32 / 16.0);
        }
    }
    Thumb(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_means_of_flat_and_split_planes() {
        let (w, h) = (128, 72);
        let flat = vec![100u8; w * h];
        assert!(block_means(&flat, w, w, h).0.iter().all(|&v| v == 100.0));
        let split: Vec<u8> = (0..w * h)
            .map(|i| if i % w < w / 2 { 0 } else { 200 })
            .collect();
        let t = block_means(&split, w, w, h);
        assert_eq!(t.0[0], 0.0);
        assert_eq!(t.0[THUMB_W - 1], 200.0);
        assert_eq!(t.mean_diff(&block_means(&flat, w, w, h)), 100.0);
    }

    #[test]
    fn changed_blocks_group_by_reach() {
        let at = |cells: &[(usize, usize)]| {
            let mut v = vec![0.0; THUMB_W * THUMB_H];
            for &(x, y) in cells {
                v[y * THUMB_W + x] = 50.0;
            }
            Thumb(v)
        };
        let before = at(&[]);
        // Two blocks 3 columns apart and one far away.
        let after = at(&[(10, 5), (13, 5), (60, 30)]);
        let c = before.changes(&after, 6.0);
        let w = |x: usize| x as f32 / THUMB_W as f32;
        let h = |y: usize| y as f32 / THUMB_H as f32;
        let mut near = c.regions(3, 3);
        near.sort_by(|a, b| a[0].total_cmp(&b[0]));
        assert_eq!(
            near,
            vec![[w(10), h(5), w(14), h(6)], [w(60), h(30), w(61), h(31)]]
        );
        assert_eq!(c.regions(2, 2).len(), 3);
        assert!(before.changes(&before, 6.0).regions(3, 3).is_empty());
    }
}
