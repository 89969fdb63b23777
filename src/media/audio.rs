//! A clip's soundtrack: every audio stream decoded once and resampled (FFmpeg's software
//! resampler) to what the audio analysers take, 16 kHz mono f32, with its coverage: streams
//! declared and decoded, seconds declared and heard, and decoding problems with their times.
//!
//! Fail closed: a stream that cannot be decoded (an unknown codec, a decoder that will not
//! open, packets it refuses) is reported in the coverage, never dropped, so a policy can
//! refuse to vouch for sound nobody heard. Only a file that cannot be opened at all is an error.
//!
//! The file is opened again here, independently of the video sampler, so audio can be decoded
//! beside the video (on another thread) and for files that are only audio (voice samples).

use super::watch::Watch;
use super::{Limit, MediaError};
use crate::vocab::{AudioCoverage, AudioError, AudioStreamCoverage};
use ffmpeg_next::{codec, decoder, ffi, format, frame, media};
use std::path::Path;

/// The rate tracks are resampled to unless asked otherwise (Silero VAD, Whisper and the voice
/// encoder all take it).
pub const SAMPLE_RATE: u32 = 16_000;

/// At most this many problem times are kept per stream.
const MAX_ERRORS: usize = 32;

/// A jump forward in a stream's timestamps longer than this is kept as silence, so the samples
/// stay on the clip's timeline; the time is not counted as heard.
const MAX_JUMP_S: f64 = 0.1;

/// What a clip's audio is decoded to, and bounds on the work it may cost.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioLimits {
    /// Every track is resampled to mono at this rate (Hz).
    pub sample_rate: u32,
    /// Audio streams decoded at most: a clip with more is refused (any of them can be played).
    pub max_streams: usize,
    /// Seconds of sound per stream at most (a stream that plays longer is refused).
    pub max_duration_s: f64,
    /// Seconds a stream may play short of what it declares and still count as fully heard
    /// (encoder priming and the rounding of the last frame).
    pub max_unheard_s: f64,
}

impl Default for AudioLimits {
    fn default() -> Self {
        Self {
            sample_rate: SAMPLE_RATE,
            max_streams: 8,
            max_duration_s: 130.0,
            max_unheard_s: 0.25,
        }
    }
}

/// One audio stream, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioTrack {
    /// The stream's index in the container (the same as in the coverage).
    pub index: u32,
    /// Seconds on the clip's timeline of the first sample.
    pub start_s: f64,
    /// Mono samples in [-1, 1] at `sample_rate`; a jump in the stream's timestamps is kept as
    /// silence.
    pub sample_rate: u32,
    pub pcm: Vec<f32>,
}

impl AudioTrack {
    /// The track's length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.pcm.len() as f64 / f64::from(self.sample_rate)
    }
}

/// Every audio stream of a clip: the tracks that decoded (a stream that produced no sound has
/// none), and the coverage of all of them.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    pub tracks: Vec<AudioTrack>,
    pub coverage: AudioCoverage,
}

/// Decodes every audio stream of the file at `path` once.
pub fn decode(path: &Path, limits: &AudioLimits) -> Result<DecodedAudio, MediaError> {
    super::init();
    let p = path.display().to_string();
    if !path.exists() {
        return Err(MediaError::NotFound { path: p });
    }
    let corrupt = MediaError::corrupt_at(path);
    let mut ictx = format::input(path).map_err(|e| corrupt(format!("cannot open ({e})")))?;
    // SAFETY: a plain field of the opened format context.
    let start = unsafe { (*ictx.as_ptr()).start_time };
    let origin_s = if start == ffi::AV_NOPTS_VALUE {
        0.0
    } else {
        start as f64 / f64::from(ffi::AV_TIME_BASE)
    };
    let container_s = if ictx.duration() > 0 {
        ictx.duration() as f64 / f64::from(ffi::AV_TIME_BASE)
    } else {
        0.0
    };
    let mut streams: Vec<Stream> = ictx
        .streams()
        .filter(|s| s.parameters().medium() == media::Type::Audio)
        .map(|s| Stream::open(&s, origin_s, container_s, limits))
        .collect();
    if streams.len() > limits.max_streams {
        return Err(MediaError::OverLimit {
            path: p,
            what: Limit::AudioStreams,
            value: streams.len().to_string(),
            limit: limits.max_streams.to_string(),
        });
    }
    if !streams.is_empty() {
        loop {
            // A fresh packet each time (see `sample`: a reused one leaks its buffer).
            let mut packet = ffmpeg_next::Packet::empty();
            match packet.read(&mut ictx) {
                Ok(()) => {}
                Err(ffmpeg_next::Error::Eof) => break,
                Err(e) => {
                    // The rest of the file cannot be read: what was not heard shows as such.
                    for s in &mut streams {
                        let t = s.now_s;
                        s.error(t, format!("the file cannot be read further ({e})"));
                    }
                    break;
                }
            }
            if let Some(s) = streams
                .iter_mut()
                .find(|s| s.cov.index as usize == packet.stream())
            {
                s.packet(&packet, &p)?;
            }
        }
        for s in &mut streams {
            s.finish(&p)?;
        }
    }
    let mut tracks = Vec::new();
    let mut covs = Vec::new();
    for s in streams {
        let (track, cov) = s.into_parts();
        tracks.extend(track);
        covs.push(cov);
    }
    Ok(DecodedAudio {
        tracks,
        coverage: coverage(covs, limits),
    })
}

/// One audio stream being decoded.
struct Stream {
    cov: AudioStreamCoverage,
    time_base: f64,
    origin_s: f64,
    /// None when the decoder could not be opened (the coverage says why).
    dec: Option<decoder::Audio>,
    watch: Option<Watch>,
    resampler: Option<Resampler>,
    frame: frame::Audio,
    pcm: Vec<f32>,
    start_s: Option<f64>,
    /// Samples that came out of the decoder (silence kept for jumps excluded).
    heard: usize,
    /// Time of the packet last sent to the decoder, for the errors it reports.
    now_s: f64,
    /// The rate resampled to.
    rate: u32,
    max_samples: usize,
}

impl Stream {
    fn open(
        s: &format::stream::Stream,
        origin_s: f64,
        container_s: f64,
        limits: &AudioLimits,
    ) -> Self {
        let params = s.parameters();
        let id = params.id();
        let codec_name = id.name().to_string();
        let time_base = f64::from(s.time_base());
        // SAFETY: plain fields of the stream's codec parameters.
        let (channels, sample_rate) = unsafe {
            let raw = params.as_ptr();
            (
                (*raw).ch_layout.nb_channels.max(0) as u32,
                (*raw).sample_rate.max(0) as u32,
            )
        };
        let declared_s = if s.duration() > 0 {
            s.duration() as f64 * time_base
        } else {
            container_s
        };
        let mut cov = AudioStreamCoverage {
            index: s.index() as u32,
            codec: codec_name.clone(),
            language: s.metadata().get("language").map(str::to_string),
            channels,
            sample_rate,
            decoded: false,
            declared_s,
            heard_s: 0.0,
            packets: 0,
            rejected_packets: 0,
            decoder_errors: 0,
            errors: Vec::new(),
            failure: None,
        };
        let mut watch = None;
        let dec = if id == codec::Id::None {
            cov.failure = Some("the codec is unknown".into());
            None
        } else {
            match codec::context::Context::from_parameters(params) {
                Ok(mut ctx) => {
                    // Audio has no frame size: the watch only counts the decoder's errors.
                    watch = Some(Watch::attach(&mut ctx, u32::MAX / 2, u32::MAX / 2));
                    match ctx.decoder().audio() {
                        Ok(d) => Some(d),
                        Err(e) => {
                            cov.failure = Some(format!("no {codec_name} decoder opens ({e})"));
                            None
                        }
                    }
                }
                Err(e) => {
                    cov.failure = Some(format!("its parameters cannot be read ({e})"));
                    None
                }
            }
        };
        Self {
            cov,
            time_base,
            origin_s,
            dec,
            watch,
            resampler: None,
            frame: frame::Audio::empty(),
            pcm: Vec::new(),
            start_s: None,
            heard: 0,
            now_s: 0.0,
            rate: limits.sample_rate,
            max_samples: (limits.max_duration_s * f64::from(limits.sample_rate)) as usize,
        }
    }

    fn error(&mut self, time_s: f64, reason: String) {
        if self.cov.errors.len() < MAX_ERRORS {
            self.cov.errors.push(AudioError { time_s, reason });
        }
    }

    fn time_of(&self, ts: Option<i64>) -> Option<f64> {
        ts.filter(|&t| t != ffi::AV_NOPTS_VALUE)
            .map(|t| t as f64 * self.time_base - self.origin_s)
    }

    fn packet(&mut self, packet: &ffmpeg_next::Packet, path: &str) -> Result<(), MediaError> {
        self.cov.packets += 1;
        if let Some(t) = self.time_of(packet.pts().or(packet.dts())) {
            self.now_s = t;
        }
        let Some(dec) = self.dec.as_mut() else {
            return Ok(());
        };
        let sent = dec.send_packet(packet);
        let now = self.now_s;
        match sent {
            Ok(()) => {}
            Err(e) => {
                self.cov.rejected_packets += 1;
                self.error(now, format!("the decoder refused a packet ({e})"));
            }
        }
        self.take_decoder_errors();
        self.drain(path)
    }

    fn take_decoder_errors(&mut self) {
        let n = self.watch.as_ref().map_or(0, Watch::take_errors);
        if n > 0 {
            self.cov.decoder_errors += n;
            let now = self.now_s;
            self.error(now, format!("the decoder reported {n} errors"));
        }
    }

    fn drain(&mut self, path: &str) -> Result<(), MediaError> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(());
            };
            match dec.receive_frame(&mut self.frame) {
                Ok(()) => {}
                Err(ffmpeg_next::Error::Eof) => return Ok(()),
                Err(ffmpeg_next::Error::Other { errno })
                    if errno == ffmpeg_next::util::error::EAGAIN =>
                {
                    return Ok(())
                }
                Err(e) => {
                    self.cov.rejected_packets += 1;
                    let now = self.now_s;
                    self.error(now, format!("a frame failed to decode ({e})"));
                    return Ok(());
                }
            }
            self.take_decoder_errors();
            self.sound(path)?;
        }
    }

    /// One decoded frame: placed on the timeline, resampled and kept.
    fn sound(&mut self, path: &str) -> Result<(), MediaError> {
        let t = self.time_of(self.frame.timestamp()).unwrap_or_else(|| {
            self.start_s.unwrap_or(0.0) + self.pcm.len() as f64 / f64::from(self.rate)
        });
        let start = *self.start_s.get_or_insert(t);
        let expected = start + self.pcm.len() as f64 / f64::from(self.rate);
        if t > expected + MAX_JUMP_S {
            let gap = ((t - expected) * f64::from(self.rate)) as usize;
            self.check_length(self.pcm.len() + gap, path)?;
            self.pcm.resize(self.pcm.len() + gap, 0.0);
        }
        let spec = Spec::of(&self.frame);
        if self.resampler.as_ref().map(|r| r.spec) != Some(spec) {
            if let Some(mut old) = self.resampler.take() {
                self.heard += old.flush(&mut self.pcm);
            }
            match Resampler::new(spec, self.rate) {
                Ok(r) => self.resampler = Some(r),
                Err(reason) => {
                    let now = self.now_s;
                    self.cov.rejected_packets += 1;
                    self.error(now, reason);
                    return Ok(());
                }
            }
        }
        let r = self.resampler.as_mut().expect("set above");
        match r.convert(&self.frame, &mut self.pcm) {
            Ok(n) => self.heard += n,
            Err(reason) => {
                let now = self.now_s;
                self.cov.rejected_packets += 1;
                self.error(now, reason);
            }
        }
        self.check_length(self.pcm.len(), path)
    }

    fn check_length(&self, samples: usize, path: &str) -> Result<(), MediaError> {
        if samples > self.max_samples {
            return Err(MediaError::OverLimit {
                path: path.into(),
                what: Limit::AudioDuration,
                value: format!(
                    "{:.1} (audio stream {})",
                    samples as f64 / f64::from(self.rate),
                    self.cov.index
                ),
                limit: format!("{}", self.max_samples as f64 / f64::from(self.rate)),
            });
        }
        Ok(())
    }

    fn finish(&mut self, path: &str) -> Result<(), MediaError> {
        if let Some(dec) = self.dec.as_mut() {
            // A decoder that has already failed may refuse the end of input too; what it
            // delivered stands, and the shortfall shows as unheard time.
            if dec.send_eof().is_ok() {
                self.drain(path)?;
            }
        }
        if let Some(mut r) = self.resampler.take() {
            self.heard += r.flush(&mut self.pcm);
        }
        self.take_decoder_errors();
        self.check_length(self.pcm.len(), path)
    }

    fn into_parts(mut self) -> (Option<AudioTrack>, AudioStreamCoverage) {
        self.cov.heard_s = self.heard as f64 / f64::from(self.rate);
        self.cov.decoded = self.heard > 0;
        if !self.cov.decoded && self.cov.failure.is_none() {
            self.cov.failure = Some(if self.cov.packets == 0 {
                "the container holds no packet of it".into()
            } else {
                "no sound could be decoded from it".into()
            });
        }
        let track = self.cov.decoded.then(|| AudioTrack {
            index: self.cov.index,
            start_s: self.start_s.unwrap_or(0.0),
            sample_rate: self.rate,
            pcm: self.pcm,
        });
        (track, self.cov)
    }
}

/// What a resampler converts from: sample format, rate and channel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spec {
    format: ffi::AVSampleFormat,
    rate: i32,
    channels: i32,
}

impl Spec {
    fn of(f: &frame::Audio) -> Self {
        // SAFETY: plain fields of a decoded frame.
        unsafe {
            let raw = f.as_ptr();
            Spec {
                format: f.format().into(),
                rate: (*raw).sample_rate,
                channels: (*raw).ch_layout.nb_channels,
            }
        }
    }
}

/// FFmpeg's software resampler, from one input spec to mono f32 at the rate asked (channels mixed down by
/// its default matrix).
struct Resampler {
    ctx: *mut ffi::SwrContext,
    spec: Spec,
}

impl Resampler {
    fn new(spec: Spec, rate: u32) -> Result<Self, String> {
        if spec.rate <= 0 || spec.channels <= 0 {
            return Err(format!(
                "a frame declares {} Hz and {} channels",
                spec.rate, spec.channels
            ));
        }
        // SAFETY: layouts are made by FFmpeg's own constructor and released below; the context
        // pointer is checked before use and freed on every path.
        unsafe {
            let mut input: ffi::AVChannelLayout = std::mem::zeroed();
            let mut output: ffi::AVChannelLayout = std::mem::zeroed();
            ffi::av_channel_layout_default(&mut input, spec.channels);
            ffi::av_channel_layout_default(&mut output, 1);
            let mut ctx: *mut ffi::SwrContext = std::ptr::null_mut();
            let made = ffi::swr_alloc_set_opts2(
                &mut ctx,
                &mut output,
                ffi::AVSampleFormat::AV_SAMPLE_FMT_FLT,
                rate as i32,
                &mut input,
                spec.format,
                spec.rate,
                0,
                std::ptr::null_mut(),
            );
            ffi::av_channel_layout_uninit(&mut input);
            ffi::av_channel_layout_uninit(&mut output);
            if made < 0 || ctx.is_null() || ffi::swr_init(ctx) < 0 {
                ffi::swr_free(&mut ctx);
                return Err(format!(
                    "sound at {} Hz in {} channels cannot be resampled",
                    spec.rate, spec.channels
                ));
            }
            Ok(Self { ctx, spec })
        }
    }

    /// Appends the frame's sound to `out`; the number of samples appended.
    fn convert(&mut self, f: &frame::Audio, out: &mut Vec<f32>) -> Result<usize, String> {
        let n_in = f.samples() as i32;
        // SAFETY: the frame's data planes hold `n_in` samples in the spec's format (checked by
        // `Spec::of` before this resampler was chosen); `out` has room for `room` more.
        unsafe {
            let room = ffi::swr_get_out_samples(self.ctx, n_in).max(0) as usize;
            self.run(
                (*f.as_ptr()).extended_data as *mut *const u8,
                n_in,
                room,
                out,
            )
        }
    }

    /// Appends what the resampler still holds.
    fn flush(&mut self, out: &mut Vec<f32>) -> usize {
        // SAFETY: a null input drains the resampler.
        unsafe {
            let room = ffi::swr_get_out_samples(self.ctx, 0).max(0) as usize;
            self.run(std::ptr::null_mut(), 0, room, out).unwrap_or(0)
        }
    }

    unsafe fn run(
        &mut self,
        input: *mut *const u8,
        n_in: i32,
        room: usize,
        out: &mut Vec<f32>,
    ) -> Result<usize, String> {
        if room == 0 {
            return Ok(0);
        }
        let len = out.len();
        out.resize(len + room, 0.0);
        let mut plane = out[len..].as_mut_ptr() as *mut u8;
        let n = ffi::swr_convert(self.ctx, &mut plane, room as i32, input, n_in);
        if n < 0 {
            out.truncate(len);
            return Err(format!(
                "the resampler failed ({})",
                ffmpeg_next::Error::from(n)
            ));
        }
        out.truncate(len + n as usize);
        Ok(n as usize)
    }
}

impl Drop for Resampler {
    fn drop(&mut self) {
        // SAFETY: made by swr_alloc_set_opts2 and owned here.
        unsafe { ffi::swr_free(&mut self.ctx) }
    }
}

/// Adds up the streams and says, one sentence each, what keeps their coverage incomplete.
fn coverage(streams: Vec<AudioStreamCoverage>, limits: &AudioLimits) -> AudioCoverage {
    let mut problems = Vec::new();
    for s in &streams {
        let name = format!("audio stream {} ({})", s.index, s.codec);
        if let Some(why) = &s.failure {
            problems.push(format!("{name} could not be decoded: {why}"));
            continue;
        }
        let first = |pred: &dyn Fn(&AudioError) -> bool| {
            s.errors
                .iter()
                .find(|e| pred(e))
                .map(|e| format!(" (first at {:.2} s)", e.time_s))
                .unwrap_or_default()
        };
        if s.rejected_packets > 0 {
            problems.push(format!(
                "{name}: {} packets or frames could not be decoded{}",
                s.rejected_packets,
                first(&|e: &AudioError| !e.reason.starts_with("the decoder reported"))
            ));
        }
        if s.decoder_errors > 0 {
            problems.push(format!(
                "{name}: the decoder reported {} errors{}",
                s.decoder_errors,
                first(&|e: &AudioError| e.reason.starts_with("the decoder reported"))
            ));
        }
        if s.rejected_packets == 0 && s.decoder_errors == 0 && !s.errors.is_empty() {
            problems.push(format!(
                "{name}: {} at {:.2} s",
                s.errors[0].reason, s.errors[0].time_s
            ));
        }
        if s.declared_s > 0.0 && s.heard_s < s.declared_s - limits.max_unheard_s {
            problems.push(format!(
                "{name}: {:.2} s of the {:.2} s it declares were heard",
                s.heard_s, s.declared_s
            ));
        }
    }
    AudioCoverage {
        complete: problems.is_empty(),
        no_audio: streams.is_empty(),
        problems,
        streams_declared: streams.len() as u32,
        streams_decoded: streams.iter().filter(|s| s.decoded).count() as u32,
        declared_s: streams.iter().map(|s| s.declared_s).sum(),
        heard_s: streams.iter().map(|s| s.heard_s).sum(),
        streams,
    }
}
