//! What a clip is (container, codec, size, duration, rate) and whether it is within limits.

use super::{Limit, MediaError};
use crate::config::MediaConfig;
use crate::vocab::MediaInfo;
use ffmpeg_next::{format, media};
use std::path::Path;

/// Containers accepted as clips. FFmpeg also opens still images and even text files (as
/// "tty" art), which must be refused as non-video.
const CONTAINERS: [&str; 4] = ["mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "mpegts"];

pub fn probe(path: &Path, limits: &MediaConfig) -> Result<MediaInfo, MediaError> {
    super::init();
    let p = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => MediaError::NotFound { path: p.clone() },
        _ => MediaError::Unreadable {
            path: p.clone(),
            reason: e.to_string(),
        },
    })?;
    if !meta.is_file() {
        return Err(MediaError::Unreadable {
            path: p,
            reason: "not a regular file".into(),
        });
    }
    let file_bytes = meta.len();
    if file_bytes == 0 {
        return Err(MediaError::Empty { path: p });
    }
    over(
        &p,
        Limit::FileSize,
        file_bytes as f64,
        limits.max_file_bytes as f64,
    )?;
    let ictx = format::input(path).map_err(|e| {
        // A file that starts like a video container but cannot be opened is a damaged video
        // (say, an MP4 cut off before its index), not some other kind of file.
        if looks_like_video(path) {
            let reason = match missing_index(path, file_bytes) {
                Some(why) => format!("{why} ({e})"),
                None => format!("the container cannot be read ({e})"),
            };
            MediaError::Corrupt {
                path: p.clone(),
                reason,
            }
        } else {
            MediaError::NotVideo {
                path: p.clone(),
                reason: format!("not a recognised container ({e})"),
            }
        }
    })?;
    let container = ictx.format().name().to_string();
    if !CONTAINERS.contains(&container.as_str()) {
        return Err(MediaError::NotVideo {
            path: p,
            reason: format!("container {container:?} is not a video container (MP4, MOV, MKV, WebM, AVI, MPEG-TS)"),
        });
    }
    let stream = ictx
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| MediaError::NotVideo {
            path: p.clone(),
            reason: "no video stream".into(),
        })?;
    let codec = stream.parameters().id().name().to_string();
    let decoder = ffmpeg_next::codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(|e| MediaError::Corrupt {
            path: p.clone(),
            reason: format!("cannot open a {codec} decoder ({e})"),
        })?;
    let (width, height) = (decoder.width(), decoder.height());
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt {
            path: p,
            reason: "video stream has no frame size".into(),
        });
    }
    let rate = stream.avg_frame_rate();
    let fps = if rate.denominator() > 0 && rate.numerator() > 0 {
        f64::from(rate)
    } else {
        0.0
    };
    let tb = f64::from(stream.time_base());
    // The longer of what the video stream and the container declare: a container that
    // promises more time than the stream delivers has time nobody saw (or an edited header).
    let container_s = if ictx.duration() > 0 {
        ictx.duration() as f64 / f64::from(ffmpeg_next::ffi::AV_TIME_BASE)
    } else {
        0.0
    };
    let duration_s = if stream.duration() > 0 {
        (stream.duration() as f64 * tb).max(container_s)
    } else {
        container_s
    };
    let frames = if stream.frames() > 0 {
        stream.frames() as u64
    } else {
        (duration_s * fps).round() as u64
    };
    over(&p, Limit::Width, width as f64, limits.max_width as f64)?;
    over(&p, Limit::Height, height as f64, limits.max_height as f64)?;
    over(&p, Limit::Duration, duration_s, limits.max_duration_s)?;
    over(
        &p,
        Limit::FrameCount,
        frames as f64,
        limits.max_frames as f64,
    )?;
    let audio_streams = ictx
        .streams()
        .filter(|s| s.parameters().medium() == media::Type::Audio)
        .count() as u32;
    Ok(MediaInfo {
        container,
        codec,
        width,
        height,
        duration_s,
        fps,
        frames,
        file_bytes,
        audio_streams,
    })
}

fn looks_like_video(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 12];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    is_video_signature(&head[..n])
}

/// Why an MP4/MOV that cannot be opened lacks its index, from its top-level boxes: most often
/// a file cut short (an upload or copy that stopped) whose `moov` was to come after the media
/// data, which a reviewer should hear rather than "invalid data".
fn missing_index(path: &Path, file_bytes: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let mut at = 0u64;
    let mut kinds = Vec::new();
    while at + 8 <= file_bytes && kinds.len() < 64 {
        f.seek(SeekFrom::Start(at)).ok()?;
        let mut head = [0u8; 16];
        f.read_exact(&mut head[..8]).ok()?;
        let kind = String::from_utf8_lossy(&head[4..8]).into_owned();
        let size = match u32::from_be_bytes(head[..4].try_into().ok()?) {
            0 => file_bytes - at,
            1 => {
                f.read_exact(&mut head[8..16]).ok()?;
                u64::from_be_bytes(head[8..16].try_into().ok()?)
            }
            n => u64::from(n),
        };
        if size < 8 {
            return None;
        }
        if at + size > file_bytes && kind == "moov" {
            return Some(format!(
                "the MP4 is cut short: it ends inside its index (`moov` box, {file_bytes} of {} bytes)",
                at + size
            ));
        }
        if kind == "moov" {
            return None;
        }
        if at + size > file_bytes {
            return Some(format!(
                "the MP4 is cut short: it ends inside its `{kind}` box ({file_bytes} of {} bytes) and its index (`moov`) is missing, so no frame can be located",
                at + size
            ));
        }
        kinds.push(kind);
        at += size;
    }
    (kinds.first().map(String::as_str) == Some("ftyp")).then(|| {
        format!(
            "the MP4 has no index (`moov` box; top-level boxes: {})",
            kinds.join(", ")
        )
    })
}

/// Magic numbers of the accepted containers in a file's first 12 bytes: ISO BMFF (MP4/MOV)
/// `ftyp`, Matroska/WebM EBML, AVI's RIFF, and MPEG-TS sync bytes. Lets an upload of another
/// kind of file be refused before it is read whole.
pub fn is_video_signature(head: &[u8]) -> bool {
    head.get(4..8) == Some(b"ftyp")
        || head.get(4..8) == Some(b"moov")
        || head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3])
        || (head.starts_with(b"RIFF") && head.get(8..12) == Some(b"AVI "))
        || head.first() == Some(&0x47)
}

fn over(path: &str, what: Limit, value: f64, limit: f64) -> Result<(), MediaError> {
    if value > limit {
        return Err(MediaError::OverLimit {
            path: path.to_string(),
            what,
            value: format!("{value}"),
            limit: format!("{limit}"),
        });
    }
    Ok(())
}
