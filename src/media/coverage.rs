//! Coverage: how much of a clip the decoder actually saw. An allow vouches for the whole clip,
//! so frames shown that were never decoded, frames the container declares but does not hold,
//! frames decoded with errors or
//! patched over by error concealment, stretches of time no decoded frame covers, timestamps
//! that go back, and pictures in the file besides the stream screened are all counted here,
//! with their times, for policies and reviewers. Size or format changes are recorded too, but
//! every frame after one is still decoded and analysed, so they leave coverage complete.

use super::input::OtherPictures;
use crate::vocab::{Coverage, DeclaredFrames, FormatChange, TimeSpan};

/// At most this many times are kept per kind of problem: enough to find them, bounded for a
/// clip that is damaged throughout.
const MAX_TIMES: usize = 32;

/// Collects what happens while one clip decodes; `finish` turns it into `Coverage`.
#[derive(Default)]
pub(crate) struct Tracker {
    packets: u64,
    /// Packets marked to be decoded but not shown (before an edit list's start).
    hidden: u64,
    /// When each shown packet's frame is to be shown, to say which were never decoded.
    shown_times: Vec<f64>,
    /// `media.skip_non_reference` is on: frames no other frame refers to are not decoded.
    skips_non_reference: bool,
    rejected: Vec<f64>,
    rejected_count: u64,
    decoder_errors: u64,
    damaged: Vec<f64>,
    damaged_count: u64,
    error_times: Vec<f64>,
    frame_times: Vec<f64>,
    format: Option<(u32, u32, String)>,
    changes: Vec<FormatChange>,
    /// The previous frame's time, and the steps back from one frame to the next: (from, to),
    /// the first 32.
    prev_s: Option<f64>,
    backwards: Vec<(f64, f64)>,
    /// An error since the last keyframe: the frames that follow predict from what it broke.
    tainted: bool,
    carried: Vec<f64>,
    carried_count: u64,
    others: OtherPictures,
}

impl Tracker {
    pub(crate) fn new(others: OtherPictures, skips_non_reference: bool) -> Self {
        Self {
            others,
            skips_non_reference,
            ..Self::default()
        }
    }

    /// A packet of the stream screened, its frame shown at `time_s` unless `hidden` (decoded
    /// only as a reference for others, as before the start of an edit list).
    pub(crate) fn packet(&mut self, time_s: f64, hidden: bool) {
        self.packets += 1;
        if hidden {
            self.hidden += 1;
        } else {
            self.shown_times.push(time_s);
        }
    }

    pub(crate) fn rejected_packet(&mut self, time_s: f64) {
        self.rejected_count += 1;
        keep(&mut self.rejected, time_s);
        keep(&mut self.error_times, time_s);
    }

    /// Errors the decoder reported since the last call, around `time_s`.
    pub(crate) fn decoder_errors(&mut self, n: u64, time_s: f64) {
        if n > 0 {
            self.decoder_errors += n;
            self.tainted = true;
            keep(&mut self.error_times, time_s);
        }
    }

    /// A decoded frame; `key` when it decodes without reference to earlier frames, which ends
    /// the reach of an earlier error.
    pub(crate) fn frame(
        &mut self,
        time_s: f64,
        width: u32,
        height: u32,
        format: String,
        damaged: bool,
        key: bool,
    ) {
        if key {
            self.tainted = false;
        }
        self.frame_times.push(time_s);
        if let Some(prev) = self.prev_s.replace(time_s) {
            if time_s < prev && self.backwards.len() < MAX_TIMES {
                self.backwards.push((prev, time_s));
            }
        }
        if damaged {
            self.damaged_count += 1;
            self.tainted = true;
            keep(&mut self.damaged, time_s);
            keep(&mut self.error_times, time_s);
        } else if self.tainted {
            // Not flagged, but predicted from a broken frame: error concealment's grey or
            // smeared picture carries forward to the next keyframe.
            self.carried_count += 1;
            keep(&mut self.carried, time_s);
        }
        let now = (width, height, format);
        match &self.format {
            Some(before) if *before != now => {
                if self.changes.len() < MAX_TIMES {
                    self.changes.push(FormatChange {
                        time_s,
                        width: now.0,
                        height: now.1,
                        pixel_format: now.2.clone(),
                    });
                }
                self.format = Some(now);
            }
            Some(_) => {}
            None => self.format = Some(now),
        }
    }

    /// Accounts the decoded frames against what the container declares. `frame_s` is one
    /// frame's nominal duration: each decoded frame covers that much time.
    pub(crate) fn finish(
        mut self,
        declared_frames: u64,
        declared_frames_from: DeclaredFrames,
        declared_s: f64,
        frame_s: f64,
        max_unseen_s: f64,
    ) -> Coverage {
        let mut problems = Vec::new();
        self.frame_times.sort_by(f64::total_cmp);
        let shown = self.packets - self.hidden;
        // Packets rejected as invalid are told below; the rest of the shortfall was never
        // decoded at all.
        let not_decoded = shown.saturating_sub(self.frame_times.len() as u64 + self.rejected_count);
        let not_decoded_times = if not_decoded > 0 {
            unmatched(&mut self.shown_times, &self.frame_times, frame_s)
        } else {
            Vec::new()
        };
        if not_decoded > 0 {
            problems.push(format!(
                "{not_decoded} of {shown} frames shown were not decoded{}{}",
                span(&not_decoded_times),
                if self.skips_non_reference {
                    " (media.skip_non_reference skips the frames no other frame refers to)"
                } else {
                    ""
                }
            ));
        }
        if declared_frames_from == DeclaredFrames::Container && self.packets < declared_frames {
            problems.push(format!(
                "the container declares {declared_frames} frames but holds {}",
                self.packets
            ));
        }
        if self.rejected_count > 0 {
            problems.push(format!(
                "{} packets could not be decoded{}",
                self.rejected_count,
                span(&self.rejected)
            ));
        }
        if self.damaged_count > 0 {
            problems.push(format!(
                "{} frames were decoded with errors or patched over by error concealment{}",
                self.damaged_count,
                span(&self.damaged)
            ));
        }
        if self.carried_count > 0 {
            problems.push(format!(
                "{} more frames followed an error before the next keyframe, so may show it carried forward{}",
                self.carried_count,
                span(&self.carried)
            ));
        }
        if self.decoder_errors > 0 {
            problems.push(format!(
                "the decoder reported {} errors{}",
                self.decoder_errors,
                span(&self.error_times)
            ));
        }
        // Frames come out of the decoder in presentation order, so a frame timed before the
        // one it follows means the timestamps restarted or jumped back (segments joined
        // together): sampling by time can then pass over as much of what follows as the step
        // back, so a step longer than the unseen stretch allowed is a problem like that gap.
        let back: Vec<&(f64, f64)> = self
            .backwards
            .iter()
            .filter(|(from, to)| from - to > max_unseen_s)
            .collect();
        if let Some((from, to)) = back.first() {
            problems.push(format!(
                "timestamps went back {} {} (first from {from:.2} s to {to:.2} s): frames after it may not have been sampled",
                back.len(),
                times(back.len() as u64)
            ));
        }
        if self.others.tracks > 0 {
            problems.push(format!(
                "the file has {} more video {} that {} not screened: a player can show {}",
                self.others.tracks,
                if self.others.tracks == 1 {
                    "track"
                } else {
                    "tracks"
                },
                if self.others.tracks == 1 {
                    "was"
                } else {
                    "were"
                },
                if self.others.tracks == 1 {
                    "it"
                } else {
                    "them"
                },
            ));
        }
        if self.others.covers > 0 {
            problems.push(format!(
                "the file carries {} cover {} (attached, shown as its thumbnail) that {} not screened",
                self.others.covers,
                if self.others.covers == 1 { "image" } else { "images" },
                if self.others.covers == 1 { "was" } else { "were" },
            ));
        }
        let end = declared_s.max(self.frame_times.last().map_or(0.0, |t| t + frame_s));
        let mut unseen = Vec::new();
        let mut unseen_s = 0.0;
        let mut seen_until = 0.0f64;
        for &t in self.frame_times.iter().chain(std::iter::once(&end)) {
            if t - seen_until > max_unseen_s {
                unseen_s += t - seen_until;
                if unseen.len() < MAX_TIMES {
                    unseen.push(TimeSpan {
                        start_s: seen_until,
                        end_s: t,
                    });
                }
            }
            seen_until = seen_until.max(t + frame_s);
        }
        if !unseen.is_empty() {
            let list = unseen
                .iter()
                .take(3)
                .map(|s| format!("{:.2}-{:.2} s", s.start_s, s.end_s))
                .collect::<Vec<_>>()
                .join(", ");
            problems.push(format!(
                "{unseen_s:.2} s of {end:.2} s had no decoded frame ({}{list})",
                if unseen.len() > 3 { "first: " } else { "" }
            ));
        }
        if self.frame_times.is_empty() {
            problems.push("no frame was decoded".into());
        }
        Coverage {
            complete: problems.is_empty(),
            problems,
            declared_frames,
            declared_frames_from,
            declared_s,
            packets: self.packets,
            shown_frames: shown,
            decoded_frames: self.frame_times.len() as u64,
            not_decoded_frames: not_decoded,
            not_decoded_times_s: not_decoded_times,
            // The sampler fills it in once every frame has been picked or passed over.
            analysed_frames: 0,
            rejected_packets: self.rejected_count,
            decoder_errors: self.decoder_errors,
            damaged_frames: self.damaged_count + self.carried_count,
            error_times_s: self.error_times,
            changes: self.changes,
            unseen,
            unseen_s,
            covered_share: if end > 0.0 {
                (1.0 - unseen_s / end).clamp(0.0, 1.0)
            } else {
                0.0
            },
            // The faces analyser fills it in: decoding knows nothing of faces.
            faces: None,
            // The screener adds the soundtrack's, decoded apart from the pictures.
            audio: None,
        }
    }
}

/// The times in `shown` (sorted here) with no decoded frame within half a frame of them, the
/// first 32. `decoded` is sorted.
fn unmatched(shown: &mut [f64], decoded: &[f64], frame_s: f64) -> Vec<f64> {
    shown.sort_by(f64::total_cmp);
    let slack = if frame_s > 0.0 { frame_s / 2.0 } else { 1e-3 };
    let mut out = Vec::new();
    let mut d = decoded.iter().peekable();
    for &t in shown.iter() {
        while d.next_if(|&&f| f < t - slack).is_some() {}
        let matched = d.peek().is_some_and(|&&f| f <= t + slack);
        if matched {
            d.next();
        } else {
            keep(&mut out, t);
        }
    }
    out
}

fn times(n: u64) -> &'static str {
    if n == 1 {
        "time"
    } else {
        "times"
    }
}

fn keep(times: &mut Vec<f64>, t: f64) {
    if times.len() < MAX_TIMES && times.last() != Some(&t) {
        times.push(t);
    }
}

/// " at 2.10 s" or " between 2.10 s and 2.40 s".
fn span(times: &[f64]) -> String {
    let lo = times.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        String::new()
    } else if hi - lo < 0.005 {
        format!(" at {lo:.2} s")
    } else {
        format!(" between {lo:.2} s and {hi:.2} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(times: &[f64]) -> Tracker {
        let mut t = Tracker::default();
        for &s in times {
            t.packet(s, false);
            t.frame(s, 64, 48, "yuv420p".into(), false, false);
        }
        t
    }

    #[test]
    fn every_frame_decoded_is_complete() {
        let times: Vec<f64> = (0..50).map(|i| i as f64 * 0.1).collect();
        let c = frames(&times).finish(50, DeclaredFrames::Container, 5.0, 0.1, 0.5);
        assert!(c.complete, "{:?}", c.problems);
        assert_eq!(c.decoded_frames, 50);
        assert_eq!(c.covered_share, 1.0);
    }

    #[test]
    fn frames_shown_and_not_decoded_are_told_with_times() {
        let mut t = Tracker::new(OtherPictures::default(), true);
        for i in 0..50 {
            let s = i as f64 * 0.1;
            t.packet(s, false);
            // Frames 13 and 33 are skipped: nothing refers to them.
            if i != 13 && i != 33 {
                t.frame(s, 64, 48, "yuv420p".into(), false, i == 0);
            }
        }
        let c = t.finish(50, DeclaredFrames::Container, 5.0, 0.1, 0.5);
        assert!(!c.complete);
        assert_eq!(
            (c.shown_frames, c.decoded_frames, c.not_decoded_frames),
            (50, 48, 2)
        );
        assert_eq!(c.not_decoded_times_s.len(), 2);
        assert!((c.not_decoded_times_s[0] - 1.3).abs() < 1e-9);
        assert_eq!(
            c.problems,
            ["2 of 50 frames shown were not decoded between 1.30 s and 3.30 s (media.skip_non_reference skips the frames no other frame refers to)"]
        );
    }

    #[test]
    fn hidden_packets_are_not_frames_shown() {
        let mut t = frames(&[0.0, 0.1, 0.2]);
        // Decoded for reference before an edit list starts, and not shown.
        t.packet(-0.1, true);
        let c = t.finish(4, DeclaredFrames::Container, 0.3, 0.1, 0.5);
        assert!(c.complete, "{:?}", c.problems);
        assert_eq!((c.packets, c.shown_frames, c.not_decoded_frames), (4, 3, 0));
    }

    #[test]
    fn one_frame_of_a_long_clip_leaves_it_unseen() {
        let c = frames(&[0.0]).finish(122, DeclaredFrames::Container, 5.08, 0.0417, 0.5);
        assert!(!c.complete);
        assert_eq!(c.unseen.len(), 1);
        assert!(
            (c.unseen_s - (5.08 - 0.0417)).abs() < 1e-6,
            "{}",
            c.unseen_s
        );
        assert!(c.covered_share < 0.01);
        assert!(c
            .problems
            .iter()
            .any(|p| p.contains("declared 122") || p.contains("declares 122")));
    }

    #[test]
    fn errors_and_damaged_frames_are_told_with_times() {
        let mut t = frames(&[0.0, 0.1, 0.2]);
        t.rejected_packet(2.1);
        t.decoder_errors(2, 2.4);
        t.frame(0.3, 64, 48, "yuv420p".into(), true, false);
        let c = t.finish(4, DeclaredFrames::Container, 0.4, 0.1, 0.5);
        assert!(!c.complete);
        assert_eq!(
            (c.rejected_packets, c.decoder_errors, c.damaged_frames),
            (1, 2, 1)
        );
        assert_eq!(c.error_times_s, vec![2.1, 2.4, 0.3]);
        assert!(
            c.problems
                .iter()
                .any(|p| p == "1 packets could not be decoded at 2.10 s"),
            "{:?}",
            c.problems
        );
        assert!(
            c.problems
                .iter()
                .any(|p| p.contains("between 0.30 s and 2.40 s")),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn frames_after_an_error_count_until_the_next_keyframe() {
        let mut t = Tracker::default();
        // Keyframes at 0 and 1.0 s; frame 0.2 s is damaged, the decoder reports an error at
        // 1.4 s. Frames 0.3-0.9 s and 1.5-1.9 s predict from broken pictures.
        for i in 0..20 {
            let s = i as f64 * 0.1;
            if i == 14 {
                t.decoder_errors(1, s);
            }
            t.packet(s, false);
            t.frame(s, 64, 48, "yuv420p".into(), i == 2, i % 10 == 0);
        }
        let c = t.finish(20, DeclaredFrames::Container, 2.0, 0.1, 0.5);
        assert_eq!(c.damaged_frames, 1 + 7 + 6);
        assert!(
            c.problems.iter().any(|p| p
                == "13 more frames followed an error before the next keyframe, so may show it carried forward between 0.30 s and 1.90 s"),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn format_changes_are_recorded_once_each() {
        let mut t = frames(&[0.0, 0.1]);
        for s in [0.2, 0.3] {
            t.packet(s, false);
            t.frame(s, 4096, 4096, "yuv420p".into(), false, false);
        }
        let c = t.finish(4, DeclaredFrames::Container, 0.4, 0.1, 0.5);
        assert_eq!(c.changes.len(), 1);
        assert_eq!((c.changes[0].width, c.changes[0].time_s), (4096, 0.2));
        assert!(c.complete, "{:?}", c.problems);
    }

    #[test]
    fn timestamps_that_restart_are_a_problem_and_jitter_within_a_frame_is_not() {
        let restarted: Vec<f64> = (0..60).chain(0..40).map(|i| i as f64 * 0.1).collect();
        // The container's duration is the first segment's: every second of it was decoded.
        let c = frames(&restarted).finish(100, DeclaredFrames::Container, 6.0, 0.1, 0.5);
        assert!(!c.complete);
        assert_eq!(
            c.problems,
            ["timestamps went back 1 time (first from 5.90 s to 0.00 s): frames after it may not have been sampled"]
        );
        let jitter = [0.0, 0.1, 0.2, 0.19, 0.3, 0.4];
        let c = frames(&jitter).finish(6, DeclaredFrames::Container, 0.5, 0.1, 0.5);
        assert!(c.complete, "{:?}", c.problems);
    }

    #[test]
    fn video_besides_the_screened_stream_is_a_problem() {
        let mut t = Tracker::new(
            OtherPictures {
                tracks: 2,
                covers: 1,
            },
            false,
        );
        for i in 0..10 {
            t.packet(i as f64 * 0.1, false);
            t.frame(i as f64 * 0.1, 64, 48, "yuv420p".into(), false, false);
        }
        let c = t.finish(10, DeclaredFrames::Container, 1.0, 0.1, 0.5);
        assert!(!c.complete);
        assert_eq!(
            c.problems,
            [
                "the file has 2 more video tracks that were not screened: a player can show them",
                "the file carries 1 cover image (attached, shown as its thumbnail) that was not screened"
            ]
        );
    }
}
