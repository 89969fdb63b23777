//! Hooks into one FFmpeg decoder: the frame size checked against the limits when the decoder
//! asks for a frame buffer, before any is allocated (a stream that switches to 8192x8192
//! halfway must not cost gigabytes first), and the errors the decoder reports counted, since
//! error concealment otherwise hides them behind plausible frames.
//!
//! FFmpeg's log callback is process-wide, so each watched decoder carries a cookie in its
//! `opaque` field (frame-thread copies of the context inherit it) naming its entry here.

use ffmpeg_next::ffi;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, Once};

/// Coded frames may exceed the displayed size by alignment padding (16 px macroblocks,
/// 64 px HEVC coding tree blocks) without being over the limit.
const ALIGNMENT_PX: u32 = 64;

#[derive(Default)]
struct Entry {
    max_width: u32,
    max_height: u32,
    /// The first frame size refused.
    over: Option<(u32, u32)>,
    /// Errors and concealment reported since last taken.
    errors: u64,
}

static ENTRIES: LazyLock<Mutex<HashMap<usize, Entry>>> = LazyLock::new(Default::default);
static NEXT: AtomicUsize = AtomicUsize::new(1);

fn entries() -> MutexGuard<'static, HashMap<usize, Entry>> {
    ENTRIES.lock().unwrap_or_else(|p| p.into_inner())
}

/// One watched decoder; dropping it stops the watch.
pub(crate) struct Watch {
    cookie: usize,
}

impl Watch {
    /// Watches the decoder `ctx`, which must not be opened yet (frame threads copy the
    /// context when it opens), with strict error detection switched on.
    pub(crate) fn attach(
        ctx: &mut ffmpeg_next::codec::context::Context,
        max_width: u32,
        max_height: u32,
    ) -> Self {
        static LOG: Once = Once::new();
        // SAFETY: the callback only reads the context it is handed, as FFmpeg documents.
        LOG.call_once(|| unsafe { ffi::av_log_set_callback(Some(log)) });
        let cookie = NEXT.fetch_add(1, Ordering::Relaxed);
        entries().insert(
            cookie,
            Entry {
                max_width,
                max_height,
                ..Default::default()
            },
        );
        // SAFETY: `ctx` is a valid, unopened codec context owned by the caller.
        unsafe {
            let raw = ctx.as_mut_ptr();
            (*raw).opaque = cookie as *mut c_void;
            (*raw).get_buffer2 = Some(get_buffer);
            (*raw).err_recognition =
                ffi::AV_EF_CRCCHECK | ffi::AV_EF_BITSTREAM | ffi::AV_EF_BUFFER | ffi::AV_EF_CAREFUL;
        }
        Self { cookie }
    }

    /// Errors the decoder reported since the last call.
    pub(crate) fn take_errors(&self) -> u64 {
        entries()
            .get_mut(&self.cookie)
            .map_or(0, |e| std::mem::take(&mut e.errors))
    }

    /// The frame size refused as over the limits, if any.
    pub(crate) fn over_limit(&self) -> Option<(u32, u32)> {
        entries().get(&self.cookie).and_then(|e| e.over)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        entries().remove(&self.cookie);
    }
}

/// Refuses a frame buffer over the limits; otherwise FFmpeg's own allocator.
unsafe extern "C" fn get_buffer(
    s: *mut ffi::AVCodecContext,
    frame: *mut ffi::AVFrame,
    flags: c_int,
) -> c_int {
    let cookie = (*s).opaque as usize;
    let shown = ((*s).width.max(0) as u32, (*s).height.max(0) as u32);
    let coded = ((*frame).width.max(0) as u32, (*frame).height.max(0) as u32);
    let refused = match entries().get_mut(&cookie) {
        Some(e) => {
            let over = shown.0 > e.max_width
                || shown.1 > e.max_height
                || coded.0 > e.max_width + ALIGNMENT_PX
                || coded.1 > e.max_height + ALIGNMENT_PX;
            if over && e.over.is_none() {
                e.over = Some((shown.0.max(coded.0), shown.1.max(coded.1)));
            }
            over
        }
        None => false,
    };
    if refused {
        return ffi::AVERROR_INVALIDDATA;
    }
    ffi::avcodec_default_get_buffer2(s, frame, flags)
}

/// Counts, for watched decoders, messages at error level and the error concealer's notes
/// ("concealing N DC, N AC, N MV errors", logged at info level). Everything else is dropped,
/// as FFmpeg's own logging is silenced anyway.
unsafe extern "C" fn log(
    avcl: *mut c_void,
    level: c_int,
    fmt: *const c_char,
    _args: *mut ffi::__va_list_tag,
) {
    if avcl.is_null() || *(avcl as *const *const ffi::AVClass) != ffi::avcodec_get_class() {
        return;
    }
    let concealing = !fmt.is_null() && CStr::from_ptr(fmt).to_bytes().starts_with(b"concealing");
    if level > ffi::AV_LOG_ERROR && !concealing {
        return;
    }
    let cookie = (*(avcl as *const ffi::AVCodecContext)).opaque as usize;
    if let Some(e) = entries().get_mut(&cookie) {
        e.errors += 1;
    }
}
