//! The soundtrack decoded (`media::audio`): clips made here with ffmpeg, without audio, with
//! one and two tracks, with damaged audio packets, and with an audio stream in a codec no
//! decoder knows. Every stream is accounted for; none is dropped silently.

mod common;

use clipguard::media::audio::{self, AudioLimits, SAMPLE_RATE};
use std::path::PathBuf;
use std::process::Command;

/// A clip made by ffmpeg with `args` (inputs and options, no output), once per test binary:
/// written beside and renamed into place, as tests side by side may ask for the same one.
fn clip(name: &str, args: &[&str]) -> PathBuf {
    let out = common::clips_dir().join(name);
    if !out.exists() {
        let ext = name.rsplit('.').next().unwrap();
        let partial = out.with_extension(format!("partial-{}.{ext}", fastrand::u64(..)));
        let mut all: Vec<&str> = args.to_vec();
        all.push(partial.to_str().unwrap());
        common::ffmpeg(&all);
        std::fs::rename(&partial, &out).unwrap();
    }
    out
}

const VIDEO: [&str; 4] = ["-f", "lavfi", "-i", "color=c=navy:s=320x240:r=25:d=4"];

/// The frequency of a tone, from its zero crossings.
fn frequency(pcm: &[f32]) -> f64 {
    let crossings = pcm.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    crossings as f64 / (pcm.len() as f64 / f64::from(SAMPLE_RATE))
}

fn one_track() -> PathBuf {
    let mut args = VIDEO.to_vec();
    args.extend([
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100:duration=4",
        "-ac",
        "2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
    ]);
    clip("one_track.mp4", &args)
}

#[test]
fn a_clip_without_audio_says_so() {
    let mut args = VIDEO.to_vec();
    args.extend(["-c:v", "libx264", "-pix_fmt", "yuv420p"]);
    let path = clip("no_audio.mp4", &args);
    let got = audio::decode(&path, &AudioLimits::default()).unwrap();
    assert!(got.tracks.is_empty());
    let c = &got.coverage;
    assert!(c.no_audio && c.complete, "{c:?}");
    assert_eq!((c.streams_declared, c.streams_decoded), (0, 0));
    assert_eq!(c.heard_s, 0.0);
}

#[test]
fn one_track_is_decoded_whole_as_16khz_mono() {
    let got = audio::decode(&one_track(), &AudioLimits::default()).unwrap();
    let c = &got.coverage;
    assert!(c.complete && !c.no_audio, "{c:?}");
    assert_eq!((c.streams_declared, c.streams_decoded), (1, 1));
    let s = &c.streams[0];
    assert_eq!(
        (s.codec.as_str(), s.channels, s.sample_rate),
        ("aac", 2, 44_100)
    );
    assert_eq!((s.rejected_packets, s.decoder_errors), (0, 0));
    assert!((s.declared_s - 4.0).abs() < 0.1, "{s:?}");
    assert!((s.heard_s - s.declared_s).abs() < 0.1, "{s:?}");
    assert_eq!(got.tracks.len(), 1);
    let t = &got.tracks[0];
    assert_eq!(t.index, s.index);
    assert!(t.start_s.abs() < 0.05, "starts at {}", t.start_s);
    assert!((t.duration_s() - 4.0).abs() < 0.1, "{} s", t.duration_s());
    let f = frequency(&t.pcm[1000..t.pcm.len() - 1000]);
    assert!((f - 440.0).abs() < 3.0, "{f} Hz");
    // ffmpeg's sine is at 1/8 of full scale; mixed down from two equal channels.
    let peak = t.pcm.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!((0.08..0.2).contains(&peak), "peak {peak}");
}

#[test]
fn two_tracks_are_both_decoded_and_told_apart() {
    let mut args = VIDEO.to_vec();
    args.extend([
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=4",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=1000:sample_rate=22050:duration=4",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-metadata:s:a:0",
        "language=eng",
        "-metadata:s:a:1",
        "language=fra",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
    ]);
    let got = audio::decode(&clip("two_tracks.mp4", &args), &AudioLimits::default()).unwrap();
    let c = &got.coverage;
    assert!(c.complete, "{c:?}");
    assert_eq!((c.streams_declared, c.streams_decoded), (2, 2));
    assert!((c.heard_s - 8.0).abs() < 0.2, "{c:?}");
    let langs: Vec<_> = c.streams.iter().map(|s| s.language.as_deref()).collect();
    assert_eq!(langs, [Some("eng"), Some("fra")]);
    assert_eq!(got.tracks.len(), 2);
    assert_eq!([got.tracks[0].index, got.tracks[1].index], [1, 2]);
    let f0 = frequency(&got.tracks[0].pcm[1000..60_000]);
    let f1 = frequency(&got.tracks[1].pcm[1000..60_000]);
    assert!(
        (f0 - 440.0).abs() < 3.0 && (f1 - 1000.0).abs() < 3.0,
        "{f0} {f1}"
    );
}

/// Byte offsets and sizes of a file's audio packets, from ffprobe, with their times.
fn audio_packets(path: &std::path::Path) -> Vec<(f64, u64, u64)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
        .args(["packet=pts_time,pos,size", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Some((f[0].parse().ok()?, f[2].parse().ok()?, f[1].parse().ok()?))
        })
        .collect()
}

#[test]
fn damaged_audio_packets_are_reported_with_their_times() {
    let src = one_track();
    let damaged = common::clips_dir().join("damaged_audio.mp4");
    let mut bytes = std::fs::read(&src).unwrap();
    let packets = audio_packets(&src);
    assert!(packets.len() > 100, "{} audio packets", packets.len());
    let mut flipped = 0;
    for &(t, pos, size) in &packets {
        if (2.0..2.5).contains(&t) {
            // Every byte after the first few of each packet: the frame's data, not its header.
            for b in &mut bytes[(pos + 2) as usize..(pos + size) as usize] {
                *b ^= 0xA5;
            }
            flipped += 1;
        }
    }
    assert!(flipped > 10);
    std::fs::write(&damaged, &bytes).unwrap();
    let got = audio::decode(&damaged, &AudioLimits::default()).unwrap();
    let c = &got.coverage;
    println!("{flipped} packets damaged: {:?}", c.problems);
    assert!(!c.complete, "{c:?}");
    let s = &c.streams[0];
    assert!(s.rejected_packets + s.decoder_errors > 0, "{s:?}");
    assert!(
        s.errors.iter().all(|e| (1.9..2.7).contains(&e.time_s)),
        "errors at {:?}",
        s.errors
    );
    assert!(
        c.problems
            .iter()
            .any(|p| p.contains("audio stream 1 (aac)")),
        "{:?}",
        c.problems
    );
}

#[test]
fn an_audio_stream_in_a_codec_no_decoder_knows_is_reported_not_dropped() {
    let mut args = VIDEO.to_vec();
    args.extend([
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=16000:duration=4",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "pcm_s16le",
        "-shortest",
    ]);
    let pcm = clip("pcm_audio.mkv", &args);
    // Matroska names the codec by a string: rename it to one no decoder claims.
    let mut bytes = std::fs::read(&pcm).unwrap();
    let from = b"A_PCM/INT/LIT";
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("codec id in the file");
    bytes[at..at + from.len()].copy_from_slice(b"A_UNKNOWN/XYZ");
    let unknown = common::clips_dir().join("unknown_codec.mkv");
    std::fs::write(&unknown, &bytes).unwrap();

    let got = audio::decode(&unknown, &AudioLimits::default()).unwrap();
    let c = &got.coverage;
    assert!(got.tracks.is_empty());
    assert!(!c.complete && !c.no_audio, "{c:?}");
    assert_eq!((c.streams_declared, c.streams_decoded), (1, 0));
    assert!(c.streams[0].failure.is_some(), "{c:?}");
    assert!(
        c.problems[0].starts_with("audio stream 1 (none) could not be decoded"),
        "{:?}",
        c.problems
    );
    // The same file with its codec intact decodes.
    let good = audio::decode(&pcm, &AudioLimits::default()).unwrap();
    assert!(good.coverage.complete, "{:?}", good.coverage);
}

#[test]
fn audio_over_the_limits_is_refused() {
    let limits = AudioLimits {
        max_duration_s: 2.0,
        ..AudioLimits::default()
    };
    let err = audio::decode(&one_track(), &limits).unwrap_err();
    assert!(err.to_string().contains("audio duration"), "{err}");
    let limits = AudioLimits {
        max_streams: 0,
        ..AudioLimits::default()
    };
    let err = audio::decode(&one_track(), &limits).unwrap_err();
    assert!(err.to_string().contains("audio streams"), "{err}");
}
