//! Coverage and strict decoding on clips damaged at test time: byte flips in the payload,
//! header edits, edited sample durations, a resolution change past the limits, segments joined
//! with restarting timestamps, and video besides the stream screened (a second track, a cover
//! image) must never look like a clip that was fully seen; undamaged clips must (a size change
//! within the limits included).

mod common;

use clipguard::config::MediaConfig;
use clipguard::media::{self, MediaError};
use clipguard::vocab::{Coverage, Failure};
use common::{clips_dir, ffmpeg};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Probes and samples like the screener does: coverage, or the error.
fn coverage(path: &Path) -> Result<Coverage, MediaError> {
    let cfg = MediaConfig::default();
    let info = media::probe(path, &cfg)?;
    media::sample(path, &info, &cfg, |_| true).map(|s| s.coverage)
}

/// What `ffmpeg -v error` says decoding the whole file (empty when it finds nothing wrong).
fn ffmpeg_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The body of the first box of `kind` in an ISO BMFF file, looking inside the boxes that
/// hold others.
fn find_box(data: &[u8], kind: &[u8; 4]) -> Option<Range<usize>> {
    fn walk(data: &[u8], range: Range<usize>, kind: &[u8; 4]) -> Option<Range<usize>> {
        let mut at = range.start;
        while at + 8 <= range.end {
            let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            let (len, header) = match size {
                0 => (range.end - at, 8),
                1 => (
                    u64::from_be_bytes(data[at + 8..at + 16].try_into().unwrap()) as usize,
                    16,
                ),
                n => (n, 8),
            };
            let this = &data[at + 4..at + 8];
            if this == kind {
                return Some(at + header..at + len);
            }
            if [b"moov", b"trak", b"mdia", b"minf", b"stbl"]
                .iter()
                .any(|c| c.as_slice() == this)
            {
                if let Some(r) = walk(data, at + header..at + len, kind) {
                    return Some(r);
                }
            }
            at += len.max(8);
        }
        None
    }
    walk(data, 0..data.len(), kind)
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = clips_dir().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn assert_not_complete(what: &str, got: &Result<Coverage, MediaError>) {
    match got {
        Ok(c) => {
            assert!(!c.complete, "{what}: looks complete: {c:?}");
            assert!(
                !c.problems.is_empty(),
                "{what}: incomplete without a problem"
            );
        }
        Err(e) => assert!(
            matches!(
                e,
                MediaError::Corrupt { .. }
                    | MediaError::Truncated { .. }
                    | MediaError::OverLimit { .. }
            ),
            "{what}: {e}"
        ),
    }
}

#[test]
fn undamaged_clips_are_complete() {
    let zoom = common::astronaut_zoom_clip();
    let c = coverage(&zoom).unwrap();
    assert!(c.complete, "{:?}", c.problems);
    assert_eq!(c.declared_frames, 300);
    assert_eq!(c.packets, 300);
    assert_eq!(
        (c.rejected_packets, c.decoder_errors, c.damaged_frames),
        (0, 0, 0)
    );
    assert!(c.unseen.is_empty() && c.covered_share == 1.0, "{c:?}");
    assert!(c.changes.is_empty());
    // Every frame shown is decoded, those no other frame refers to included.
    assert_eq!(
        (c.shown_frames, c.decoded_frames, c.not_decoded_frames),
        (300, 300, 0)
    );

    let dir = clips_dir();
    for (name, codec) in [
        ("undamaged.ts", "libx264"),
        ("undamaged.mkv", "libx265"),
        ("undamaged.webm", "libvpx-vp9"),
    ] {
        let out = dir.join(name);
        ffmpeg(&[
            "-i",
            zoom.to_str().unwrap(),
            "-t",
            "3",
            "-vf",
            "scale=640:360",
            "-c:v",
            codec,
            "-x265-params",
            "log-level=none",
            out.to_str().unwrap(),
        ]);
        let c = coverage(&out).unwrap();
        assert!(c.complete, "{name}: {:?}", c.problems);
        assert!(c.covered_share == 1.0, "{name}: {c:?}");
    }
}

/// The recipe: a dozen bytes flipped in the payload of a 720p H.264 clip, seeds tried
/// until FFmpeg's own decoder reports errors. Each such mutant is refused or incomplete with
/// the errors' times; most still decode every frame, patched over by error concealment.
#[test]
fn byte_flips_in_the_payload_are_counted_with_times() {
    let clip = std::fs::read(common::astronaut_zoom_clip()).unwrap();
    let mdat = find_box(&clip, b"mdat").expect("an mdat box");
    let mut flagged = 0;
    let mut concealed = 0;
    // Mutants decoded through an error whose later frames, before the next keyframe (the clip
    // has one every 250 frames), are counted as carrying it forward.
    let mut carried = 0;
    for seed in 1..200u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut bytes = clip.clone();
        for _ in 0..12 {
            let at = rng.usize(mdat.clone());
            bytes[at] ^= 1 << rng.u8(..8);
        }
        let path = write(&format!("flipped_{seed}.mp4"), &bytes);
        if ffmpeg_errors(&path).is_empty() {
            std::fs::remove_file(&path).unwrap();
            continue;
        }
        flagged += 1;
        let got = coverage(&path);
        assert_not_complete(&format!("seed {seed}"), &got);
        if let Ok(c) = &got {
            assert!(!c.error_times_s.is_empty(), "seed {seed}: {c:?}");
            assert!(
                c.error_times_s.iter().all(|&t| (0.0..=10.0).contains(&t)),
                "seed {seed}: {:?}",
                c.error_times_s
            );
            assert!(
                c.problems.iter().any(|p| p.contains(" s")),
                "seed {seed}: problems without times: {:?}",
                c.problems
            );
            concealed += 1;
            if c.problems.iter().any(|p| p.contains("carried forward")) {
                carried += 1;
            }
        }
        std::fs::remove_file(&path).unwrap();
        if flagged == 8 {
            break;
        }
    }
    assert_eq!(flagged, 8, "too few mutants with decode errors");
    assert!(concealed > 0, "no mutant decoded through its errors");
    assert!(
        carried > 0,
        "no mutant's error was carried forward to later frames"
    );
}

/// An MP4 whose sample durations were stretched so that the edit list shows only the first
/// of 122 frames.
#[test]
fn edited_sample_durations_are_incomplete() {
    let src = clips_dir().join("stts_source.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=24",
        "-frames:v",
        "122",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        src.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&src).unwrap();
    assert!(coverage(&src).unwrap().complete);
    let stts = find_box(&bytes, b"stts").expect("an stts box");
    // version/flags, entry count, then (sample count, sample duration) pairs.
    let entries = u32::from_be_bytes(bytes[stts.start + 4..stts.start + 8].try_into().unwrap());
    assert_eq!(entries, 1);
    let delta_at = stts.start + 12;
    let delta = u32::from_be_bytes(bytes[delta_at..delta_at + 4].try_into().unwrap());
    let mut edited = bytes.clone();
    edited[delta_at..delta_at + 4].copy_from_slice(&(delta * 200).to_be_bytes());
    let path = write("stts_stretched.mp4", &edited);
    let got = coverage(&path);
    assert_not_complete("stretched durations", &got);
    if let Ok(c) = got {
        assert_eq!(c.declared_frames, 122);
        assert!(c.decoded_frames < 10, "{c:?}");
        assert!(c.covered_share < 0.1, "{c:?}");
    }
}

/// Edits to the headers: a longer declared duration, more samples declared than stored, and a
/// broken decoder configuration.
#[test]
fn header_edits_are_refused_or_incomplete() {
    let bytes = std::fs::read(common::astronaut_zoom_clip()).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();

    // mvhd (version 0): version/flags, created, modified, timescale, duration. (An edit of the
    // track's mdhd duration is invisible: FFmpeg takes the sample table's total, so the clip
    // decodes exactly as the original and is checked as such.)
    let mvhd = find_box(&bytes, b"mvhd").unwrap();
    let at = mvhd.start + 16;
    let duration = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    let mut b = bytes.clone();
    b[at..at + 4].copy_from_slice(&(duration * 3).to_be_bytes());
    cases.push(("movie duration tripled", b));

    // avcC: the SPS's first bytes after the 8-byte header and 2-byte length.
    let avcc = find_box_anywhere(&bytes, b"avcC");
    let mut b = bytes.clone();
    for byte in &mut b[avcc.start + 11..avcc.start + 15] {
        *byte ^= 0x5a;
    }
    cases.push(("decoder configuration damaged", b));

    // stsz: version/flags, uniform size (0), count, then sizes: declare the first ones larger,
    // so frames run into each other.
    let stsz = find_box(&bytes, b"stsz").unwrap();
    let mut b = bytes.clone();
    for k in 0..20 {
        let at = stsz.start + 12 + 4 * (k * 10);
        let size = u32::from_be_bytes(b[at..at + 4].try_into().unwrap());
        b[at..at + 4].copy_from_slice(&(size + 3000).to_be_bytes());
    }
    cases.push(("sample sizes edited", b));

    for (what, b) in cases {
        let path = write(&format!("{}.mp4", what.replace(' ', "_")), &b);
        assert!(
            !ffmpeg_errors(&path).is_empty() || what == "movie duration tripled",
            "{what}: the edit did not damage the clip"
        );
        assert_not_complete(what, &coverage(&path));
    }
}

/// Sample entries live inside stsd (after its 8 bytes of version, flags and count) and avc1's
/// 78 bytes of fields, where a box walk does not look: find the tag itself.
fn find_box_anywhere(data: &[u8], kind: &[u8; 4]) -> Range<usize> {
    let at = data
        .windows(4)
        .position(|w| w == kind)
        .expect("the box is present");
    let len = u32::from_be_bytes(data[at - 4..at].try_into().unwrap()) as usize;
    at + 4..at - 4 + len
}

/// 2 s of 320x240 H.264 followed by 4096x4096 frames, the elementary streams concatenated
/// and remuxed: the decoder must refuse the large frames before allocating them.
#[test]
fn resolution_change_past_the_limit_is_over_limit() {
    let dir = clips_dir();
    let small = dir.join("small.h264");
    let large = dir.join("large.h264");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=10:duration=2",
        "-c:v",
        "libx264",
        "-f",
        "h264",
        small.to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=gray:size=4096x4096:rate=10:duration=0.3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-f",
        "h264",
        large.to_str().unwrap(),
    ]);
    let mut joined = std::fs::read(&small).unwrap();
    joined.extend(std::fs::read(&large).unwrap());
    let raw = write("joined.h264", &joined);
    for ext in ["ts", "mp4"] {
        let out = dir.join(format!("size_change.{ext}"));
        // Raw H.264 has no timestamps: number the frames, 0.1 s apart at 90 kHz.
        let mut args = vec![
            "-framerate",
            "10",
            "-f",
            "h264",
            "-i",
            raw.to_str().unwrap(),
            "-c",
            "copy",
            "-bsf:v",
            "setts=pts=N*9000:dts=N*9000",
        ];
        if ext == "mp4" {
            args.extend(["-video_track_timescale", "90000"]);
        }
        args.push(out.to_str().unwrap());
        ffmpeg(&args);
        let info = media::probe(&out, &MediaConfig::default()).unwrap();
        assert_eq!((info.width, info.height), (320, 240), "{ext}");
        let mut largest = 0;
        let err = media::sample(&out, &info, &MediaConfig::default(), |f| {
            if let media::FrameContent::Image(img) = &f.content {
                largest = largest.max(img.width());
            }
            true
        })
        .unwrap_err();
        assert!(matches!(err, MediaError::OverLimit { .. }), "{ext}: {err}");
        assert_eq!(err.code().as_str(), "over_limit");
        assert!(err.to_string().contains("4096x4096"), "{ext}: {err}");
        assert_eq!(largest, 320, "{ext}: a large frame was converted");
    }
}

/// A clip made by `ffmpeg` with `args` (inputs and options) into `name` in the clips folder.
fn made(name: &str, args: &[&str]) -> PathBuf {
    let out = clips_dir().join(name);
    let mut all = args.to_vec();
    all.push(out.to_str().unwrap());
    ffmpeg(&all);
    out
}

fn problems(what: &str, path: &Path) -> Vec<String> {
    let got = coverage(path);
    assert_not_complete(what, &got);
    got.unwrap().problems
}

/// 2 s of black with the photograph as a second video stream: `photo_input` reads it,
/// `codecs` encodes both streams.
fn black_and_photo(name: &str, photo_input: &[&str], codecs: &[&str]) -> PathBuf {
    let photo = common::testdata("grace_hopper.jpg");
    let mut args = vec!["-f", "lavfi", "-i", "color=black:s=320x240:r=25:d=2"];
    args.extend_from_slice(photo_input);
    args.extend_from_slice(&["-i", photo.to_str().unwrap(), "-map", "0:v", "-map", "1:v"]);
    args.extend_from_slice(codecs);
    made(name, &args)
}

/// What a player can show besides the stream screened: a second video track, a cover image.
#[test]
fn other_video_tracks_and_cover_images_are_not_fully_seen() {
    let h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"];
    let two = black_and_photo(
        "two-tracks.mp4",
        &["-loop", "1", "-t", "2"],
        &[&h264[..], &["-filter:v:1", "scale=256:320"]].concat(),
    );
    let p = problems("two video tracks", &two);
    assert!(
        p.iter()
            .any(|p| p.starts_with("the file has 1 more video track")),
        "{p:?}"
    );
    let cover = black_and_photo(
        "cover-image.mp4",
        &[],
        &[
            &h264[..],
            &["-c:v:1", "mjpeg", "-disposition:v:1", "attached_pic"],
        ]
        .concat(),
    );
    let p = problems("a cover image", &cover);
    assert!(
        p.iter()
            .any(|p| p.starts_with("the file carries 1 cover image")),
        "{p:?}"
    );
}

/// MPEG-TS segments joined byte for byte, as a careless pipeline might: the second one's
/// timestamps start again, which a player plays through.
#[test]
fn joined_segments_with_restarting_timestamps_are_not_fully_seen() {
    let segment = |name: &str, size: &str, offset: &str| {
        made(
            name,
            &[
                "-f",
                "lavfi",
                "-i",
                &format!("testsrc2=s={size}:r=25:d=3"),
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-output_ts_offset",
                offset,
            ],
        )
    };
    let join = |name: &str, parts: &[PathBuf]| {
        let bytes: Vec<u8> = parts
            .iter()
            .flat_map(|p| std::fs::read(p).unwrap())
            .collect();
        write(name, &bytes)
    };
    let a = segment("segment-a.ts", "320x240", "0");
    let restarted = join(
        "restarted.ts",
        &[a.clone(), segment("segment-b.ts", "320x240", "0")],
    );
    let p = problems("restarting timestamps", &restarted);
    assert!(
        p.iter()
            .any(|p| p.starts_with("timestamps went back 1 time")),
        "{p:?}"
    );

    // A size change alone leaves nothing unseen: recorded, and the clip complete.
    let resized = join("resized.ts", &[a, segment("segment-c.ts", "256x320", "3")]);
    let c = coverage(&resized).unwrap();
    assert!(c.complete, "{:?}", c.problems);
    assert_eq!((c.changes.len(), c.changes[0].width), (1, 256), "{c:?}");
}

/// An MP4 written with its index after the media (ffmpeg's default) and cut short, as an
/// interrupted copy leaves it: refused, and the message says why.
#[test]
fn an_mp4_cut_short_before_its_index_is_refused_naming_the_missing_index() {
    let whole = made(
        "index-at-end.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=320x240:r=25:d=3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let bytes = std::fs::read(&whole).unwrap();
    let moov = find_box(&bytes, b"moov").unwrap();
    let mdat = find_box(&bytes, b"mdat").unwrap();
    assert!(moov.start > mdat.end, "ffmpeg wrote the index first");
    for share in [30, 70, 99] {
        let cut = write(
            &format!("index-at-end-{share}.mp4"),
            &bytes[..bytes.len() * share / 100],
        );
        let err = coverage(&cut).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, MediaError::Corrupt { .. }),
            "{share}%: {text}"
        );
        assert!(
            text.contains("the MP4 is cut short") && text.contains("`moov`"),
            "{share}%: {text}"
        );
    }
}
