//! Lines read on screen that belong together: a caption set on two lines splits a name across
//! them ("EILEEN" over "COLLINS"), and each line alone names nobody. Two lines shown at the same
//! time, one just under the other and overlapping it across, are also read as one text.

use crate::vocab::{BBox, TextTrack};

/// The joined text of two stacked lines, as a track of its own (the times both show, the box
/// around both), with where the second line starts in its text.
pub struct JoinedLines {
    pub track: TextTrack,
    pub second_at: usize,
}

/// Every pair of lines of `tracks` that shows at the same time, the second under the first
/// with at most one line's height between them and overlapping it across.
pub fn stacked(tracks: &[TextTrack]) -> Vec<JoinedLines> {
    let mut out = Vec::new();
    for a in tracks {
        for b in tracks {
            let (ba, bb) = (&a.bbox, &b.bbox);
            let together = a.first_s <= b.last_s && b.first_s <= a.last_s;
            let gap = bb.y - (ba.y + ba.h);
            let under = bb.y > ba.y && gap >= -0.5 * ba.h && gap <= ba.h.max(bb.h);
            let across = bb.x < ba.x + ba.w && ba.x < bb.x + bb.w;
            if !(together && under && across) {
                continue;
            }
            let text = format!("{} {}", a.text, b.text);
            let x = ba.x.min(bb.x);
            let y = ba.y.min(bb.y);
            out.push(JoinedLines {
                second_at: a.text.len() + 1,
                track: TextTrack {
                    text,
                    score: a.score.min(b.score),
                    frames: a.frames.min(b.frames),
                    first_s: a.first_s.max(b.first_s),
                    last_s: a.last_s.min(b.last_s),
                    bbox: BBox {
                        x,
                        y,
                        w: (ba.x + ba.w).max(bb.x + bb.w) - x,
                        h: (ba.y + ba.h).max(bb.y + bb.h) - y,
                    },
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, y: f32, (from, to): (f64, f64)) -> TextTrack {
        TextTrack {
            text: text.into(),
            score: 0.9,
            frames: 2,
            first_s: from,
            last_s: to,
            bbox: BBox {
                x: 100.0,
                y,
                w: 400.0,
                h: 60.0,
            },
        }
    }

    #[test]
    fn lines_one_under_the_other_at_the_same_time_are_joined() {
        let tracks = [
            line("EILEEN", 100.0, (0.0, 3.0)),
            line("COLLINS", 180.0, (0.0, 3.0)),
            line("LATER", 260.0, (5.0, 6.0)),
            line("FAR BELOW", 600.0, (0.0, 3.0)),
        ];
        let joined = stacked(&tracks);
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].track.text, "EILEEN COLLINS");
        assert_eq!(joined[0].second_at, 7);
        assert_eq!(joined[0].track.bbox.h, 140.0);
    }
}
