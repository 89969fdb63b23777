//! On-screen text end to end, on clips drawn at test time with ffmpeg's drawtext in Debian's
//! DejaVu fonts: captions read with their times, screened against the registry, and small
//! text read at 720p and 1080p.

mod common;

use clipguard::analysers::text_section;

use clipguard::vocab::Signals;
use std::path::PathBuf;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";

/// One line of text: what, font size (px), position, and when it shows (all along if None).
struct Caption<'a> {
    text: &'a str,
    size: u32,
    x: u32,
    y: u32,
    between: Option<(f64, f64)>,
}

fn caption(text: &str, size: u32, x: u32, y: u32) -> Caption<'_> {
    Caption {
        text,
        size,
        x,
        y,
        between: None,
    }
}

/// A `seconds`-long H.264 clip at `w`x`h`, 25 fps, on a plain `colour` with the captions
/// drawn in white (or `ink`).
fn text_clip(
    name: &str,
    (w, h): (u32, u32),
    seconds: u32,
    colour: &str,
    ink: &str,
    captions: &[Caption<'_>],
) -> PathBuf {
    let dir = common::clips_dir();
    let out = dir.join(format!("{name}.mp4"));
    let filters: Vec<String> = captions
        .iter()
        .enumerate()
        .map(|(i, c)| {
            // The text goes through a file: no escaping of quotes, colons or accents.
            let file = dir.join(format!("{name}-{i}.txt"));
            std::fs::write(&file, c.text).unwrap();
            let enable = c
                .between
                .map(|(a, b)| format!(":enable='between(t,{a},{b})'"))
                .unwrap_or_default();
            format!(
                "drawtext=fontfile={FONT}:textfile={}:fontsize={}:fontcolor={ink}:x={}:y={}{enable}",
                file.display(),
                c.size,
                c.x,
                c.y
            )
        })
        .collect();
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("color=c={colour}:s={w}x{h}:d={seconds}:r=25"),
        "-vf",
        &filters.join(","),
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        out.to_str().unwrap(),
    ]);
    out
}

fn screen(clip: &std::path::Path) -> Signals {
    common::screener().screen_clip(clip).unwrap()
}

/// Letters only, lower case, accents taken off: how the tests compare what was written with
/// what was read (the recogniser reads some accented letters without their accents and may
/// drop a space between words).
fn letters(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c) && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn read(signals: &Signals) -> Vec<String> {
    text_section(signals)
        .unwrap_or_default()
        .tracks
        .iter()
        .map(|t| letters(&t.text))
        .collect()
}

/// `clipguard check --json --full` on `clip` with Eileen Collins registered (its exit code
/// follows the action, so only the decision printed is looked at).
fn check_with_collins(clip: &std::path::Path) -> serde_json::Value {
    check_in(&common::data_with_collins(), clip)
}

/// As `check_with_collins`, in the data folder `data`.
fn check_in(data: &std::path::Path, clip: &std::path::Path) -> serde_json::Value {
    let (_, out, err) = common::cli(
        &["check", "--json", "--full", clip.to_str().unwrap()],
        &[("CLIPGUARD_DATA_DIR", data)],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert!(v.get("error").is_none(), "{v}");
    v
}

#[test]
fn a_caption_naming_a_registered_person_goes_to_review_with_its_text_and_time() {
    let clip = text_clip(
        "collins-live",
        (1280, 720),
        5,
        "black",
        "white",
        &[caption("EILEEN COLLINS LIVE", 72, 200, 560)],
    );
    let data = common::data_with_collins();
    let v = check_in(&data, &clip);
    let verdict = &v["decision"];
    assert_eq!(verdict["action"], "review", "{verdict}");
    let rules: Vec<&str> = verdict["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["text-names-person"], "{verdict}");
    let evidence = &verdict["matched"][0]["evidence"][0];
    assert_eq!(evidence["name"], "Eileen Collins");
    assert_eq!(evidence["text"], "EILEEN COLLINS LIVE");
    assert_eq!(evidence["time_s"], 0.0);
    assert!(evidence["last_s"].as_f64().unwrap() >= 4.0, "{evidence}");

    let text = &v["clip"]["text"];
    assert_eq!(text["tracks"].as_array().unwrap().len(), 1, "{text}");
    let track = &text["tracks"][0];
    assert_eq!(track["text"], "EILEEN COLLINS LIVE");
    assert!(track["score"].as_f64().unwrap() > 0.9, "{track}");
    let bbox = &track["bbox"];
    let (x, y) = (bbox["x"].as_f64().unwrap(), bbox["y"].as_f64().unwrap());
    assert!(
        (190.0..230.0).contains(&x) && (550.0..590.0).contains(&y),
        "{bbox}"
    );
    assert_eq!(text["persons"][0]["person_id"], 1);
    // Every analysed frame says what it read.
    let frames = v["clip"]["frames"].as_array().unwrap();
    assert!(frames
        .iter()
        .all(|f| f["text"][0]["text"] == "EILEEN COLLINS LIVE"));

    // The evidence's thumbnail shows the whole caption: a square (the dashboard's square tiles
    // fill their image, so any other shape is cut), the caption scaled into it from its first
    // letter to its last with dark frame beside them, and letterboxed above and below.
    let store = clipguard::store::Store::open(&data).unwrap();
    use clipguard::store::DecisionLog;
    let jpeg = store
        .thumbnail(v["id"].as_str().unwrap(), 0)
        .unwrap()
        .expect("the review has an evidence thumbnail");
    let img = image::load_from_memory(&jpeg).unwrap().to_luma8();
    let side = img.width();
    assert_eq!((img.height(), side), (side, 192), "{:?}", img.dimensions());
    let lit = |x: u32, y: u32| img.get_pixel(x, y).0[0] > 128;
    let cols: Vec<u32> = (0..side)
        .filter(|&x| (0..side).any(|y| lit(x, y)))
        .collect();
    let rows: Vec<u32> = (0..side)
        .filter(|&y| (0..side).any(|x| lit(x, y)))
        .collect();
    let (left, right) = (cols[0], cols[cols.len() - 1]);
    let (top, bottom) = (rows[0], rows[rows.len() - 1]);
    // The box is the caption's, and the margin a quarter of its height: the letters span
    // nearly the whole width, and nothing lit touches an edge (no letter cut off).
    let b = &evidence["box"];
    let (bw, bh) = (b["w"].as_f64().unwrap(), b["h"].as_f64().unwrap());
    assert!(bw > 10.0 * bh, "a wide caption: {b}");
    let shown = (right - left + 1) as f64 / side as f64;
    assert!(
        shown > 0.8 && left > 0 && right < side - 1,
        "letters from {left} to {right} of {side}"
    );
    // Letterboxed: the band holding the caption is the crop's height at the same scale.
    let band = bh * 1.5 * side as f64 / (bw + bh * 0.5);
    assert!(
        top > side / 3 && bottom < side * 2 / 3 && ((bottom - top + 1) as f64) <= band,
        "rows {top} to {bottom} lit; the band is {band:.0} px tall"
    );
}

#[test]
fn a_caption_naming_nobody_stays_allowed() {
    let clip = text_clip(
        "sunny",
        (1280, 720),
        3,
        "black",
        "white",
        &[caption("SUNNY WEATHER TODAY", 72, 200, 560)],
    );
    let v = check_with_collins(&clip);
    assert_eq!(v["decision"]["action"], "allow", "{}", v["decision"]);
    assert_eq!(
        v["clip"]["text"]["tracks"][0]["text"],
        "SUNNY WEATHER TODAY"
    );
    assert!(v["clip"]["text"]["persons"].as_array().unwrap().is_empty());
}

#[test]
fn text_24_and_48_px_tall_is_read_at_720p_and_1080p() {
    let lines = [
        "Launch window opens at noon",
        "Crew boards at dawn",
        "Weather report at six",
    ];
    for (w, h) in [(1280, 720), (1920, 1080)] {
        // Font sizes are em sizes: capitals are about 0.73 of them, so 33 px gives capitals
        // 24 px tall and 66 px gives 48 px; lower case is smaller still.
        let clip = text_clip(
            &format!("sizes-{h}p"),
            (w, h),
            2,
            "0x203050",
            "white",
            &[
                caption(lines[0], 33, 60, 80),
                caption(lines[1], 66, 60, h / 2),
                caption(lines[2], 33, w / 2, h - 100),
            ],
        );
        let signals = screen(&clip);
        let got = read(&signals);
        for line in lines {
            assert!(
                got.contains(&letters(line)),
                "{h}p: {line:?} not in {got:?}"
            );
        }
        assert!(signals.timings.stage_ms("text") > 0.0);
    }
}

#[test]
fn a_caption_shown_for_one_second_mid_scene_is_read_with_its_times() {
    // Frames are sampled every 0.5 s and text read at most every 0.9 s: the first caption
    // comes on in a frame read in its turn; the second in a frame skipped as too soon after
    // the clip's first, read when its near-duplicate comes due.
    for (from, to) in [(2.1, 3.1), (0.3, 1.3)] {
        let clip = text_clip(
            &format!("one-second-{from}"),
            (1280, 720),
            5,
            "0x304020",
            "white",
            &[Caption {
                between: Some((from, to)),
                ..caption("Breaking news at the pad", 33, 100, 600)
            }],
        );
        let signals = screen(&clip);
        let tracks = &text_section(&signals).unwrap_or_default().tracks;
        assert_eq!(tracks.len(), 1, "{from}-{to} s: {tracks:?}");
        assert_eq!(
            letters(&tracks[0].text),
            letters("Breaking news at the pad")
        );
        let window = from - 0.1..=to + 0.1;
        assert!(
            window.contains(&tracks[0].first_s) && window.contains(&tracks[0].last_s),
            "{from}-{to} s: {:?}",
            tracks[0]
        );
    }
}

#[test]
fn latin_text_with_diacritics_is_read() {
    let written = ["Crème brûlée à São Paulo", "Dvořák plays in Zürich"];
    let clip = text_clip(
        "diacritics",
        (1280, 720),
        2,
        "white",
        "black",
        &[
            caption(written[0], 48, 80, 200),
            caption(written[1], 48, 80, 400),
        ],
    );
    let got = read(&screen(&clip));
    for line in written {
        assert!(got.contains(&letters(line)), "{line:?} not in {got:?}");
    }
}

#[test]
fn a_name_in_lower_case_or_set_over_two_lines_is_matched_on_screen_as_in_prompts() {
    // Issue 26: the same matcher reads captions; a name split over two lines is joined.
    for (name, captions) in [
        (
            "collins-lower",
            vec![caption("eileen collins live from orbit", 56, 80, 560)],
        ),
        (
            "collins-two-lines",
            vec![
                caption("EILEEN", 72, 200, 300),
                caption("COLLINS", 72, 200, 390),
            ],
        ),
    ] {
        let clip = text_clip(name, (1280, 720), 3, "black", "white", &captions);
        let v = check_with_collins(&clip);
        assert_eq!(
            v["decision"]["action"], "review",
            "{name}: {}",
            v["decision"]
        );
        let persons = v["clip"]["text"]["persons"].as_array().unwrap();
        assert!(
            persons.iter().any(|p| p["name"] == "Eileen Collins"),
            "{name}: {persons:?} in {}",
            v["clip"]["text"]["tracks"]
        );
    }
}
