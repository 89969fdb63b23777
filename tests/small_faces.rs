//! Small faces: a person standing in a scene, not a close-up. Clips are made from the test
//! photographs: the head (mirrored, so it is not the enrolment image) scaled so the face's
//! shorter side is 40 to 200 px, pasted into a 720p or 1080p scene at three places. Each clip is
//! screened with both people enrolled; the table of how many were found and matched is printed
//! (it is the README's recall table), and the sizes the issue names must be found.

mod common;

use clipguard::persons::NewPerson;
use clipguard::vocab::PersonKind;
use image::{imageops, RgbImage};
use std::path::{Path, PathBuf};

const SIZES: [u32; 5] = [40, 60, 80, 120, 200];
const FRAMES: [(u32, u32); 2] = [(1280, 720), (1920, 1080)];
/// Where the face's centre goes, as shares of the frame.
const PLACES: [(f32, f32); 3] = [(0.5, 0.45), (0.2, 0.3), (0.78, 0.7)];
const PEOPLE: [(&str, &str); 2] = [
    ("astronaut.png", "Eileen Collins"),
    ("grace_hopper.jpg", "Grace Hopper"),
];

/// The head of `photo` around its face, mirrored, and the face box's shorter side in it.
fn head(photo: &str) -> (RgbImage, f32) {
    let img = common::rgb(photo);
    let faces = common::screener()
        .vision()
        .faces
        .detect_at(&img, 2048)
        .unwrap();
    let f = faces
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .expect("the photograph shows a face")
        .bbox;
    // One face box of margin each side: hair, neck, a little background.
    let x0 = (f.x - f.w).max(0.0) as u32;
    let y0 = (f.y - f.h).max(0.0) as u32;
    let x1 = ((f.x + 2.0 * f.w) as u32).min(img.width());
    let y1 = ((f.y + 2.0 * f.h) as u32).min(img.height());
    let crop = imageops::crop_imm(&img, x0, y0, x1 - x0, y1 - y0).to_image();
    (imageops::flip_horizontal(&crop), f.w.min(f.h))
}

/// A 2 s H.264 clip of the scene with the head pasted so its face is `px` on the shorter side.
fn clip(photo: &str, px: u32, (w, h): (u32, u32), (cx, cy): (f32, f32)) -> PathBuf {
    let out = common::clips_dir().join(format!("small-{photo}-{px}-{w}x{h}-{cx}-{cy}.mp4"));
    let (head, face_px) = head(photo);
    let s = px as f32 / face_px;
    let (hw, hh) = (
        (head.width() as f32 * s).round() as u32,
        (head.height() as f32 * s).round() as u32,
    );
    let head = imageops::resize(&head, hw, hh, imageops::FilterType::CatmullRom);
    let scene = common::rgb("rocket.jpg");
    let mut frame = imageops::resize(&scene, w, h, imageops::FilterType::Triangle);
    let x = (cx * w as f32 - hw as f32 / 2.0).max(0.0) as i64;
    let y = (cy * h as f32 - hh as f32 / 2.0).max(0.0) as i64;
    imageops::overlay(&mut frame, &head, x, y);
    let png = out.with_extension("png");
    frame.save(&png).unwrap();
    common::encode_still(&png, "null", 2, "small face", &out);
    out
}

fn enrolled() -> std::sync::Arc<clipguard::service::CheckService> {
    let service = common::service(common::config());
    for (photo, name) in PEOPLE {
        let person = NewPerson {
            name: name.into(),
            aliases: Vec::new(),
            kind: PersonKind::PublicFigure,
            allowed_users: Vec::new(),
            always_match: Vec::new(),
        };
        service
            .add_person(&person, &[common::testdata(photo).as_path()])
            .unwrap();
    }
    service
}

/// Whether the person in the clip was detected (a face near where it was pasted) and matched.
fn screen(
    service: &clipguard::service::CheckService,
    clip: &Path,
    name: &str,
    px: u32,
    (w, h): (u32, u32),
    (cx, cy): (f32, f32),
) -> (bool, bool) {
    let signals = service.screener().screen_clip(clip).unwrap();
    let (ex, ey) = (cx * w as f32, cy * h as f32);
    let found = signals.frames.iter().any(|f| {
        f.faces.iter().any(|d| {
            let b = d.face.bbox;
            let (fx, fy) = (b.x + b.w / 2.0, b.y + b.h / 2.0);
            (fx - ex).abs() < px as f32 && (fy - ey).abs() < px as f32
        })
    });
    let matched = signals.persons.iter().any(|p| p.name == name);
    (found, matched)
}

#[test]
fn faces_of_40_px_and_more_are_found_in_720p_and_1080p() {
    let service = enrolled();
    let mut table = String::from(
        "| face (shorter side) | 720p found | 720p matched | 1080p found | 1080p matched |\n|---|---|---|---|---|\n",
    );
    let mut missed = Vec::new();
    for px in SIZES {
        let mut row = format!("| {px} px |");
        for frame in FRAMES {
            let (mut found, mut matched, mut n) = (0, 0, 0);
            for (photo, name) in PEOPLE {
                for place in PLACES {
                    let clip = clip(photo, px, frame, place);
                    let (f, m) = screen(&service, &clip, name, px, frame, place);
                    n += 1;
                    found += f as u32;
                    matched += m as u32;
                    if !f {
                        missed.push(format!("{name} at {px} px in {}p at {place:?}", frame.1));
                    }
                }
            }
            row.push_str(&format!(" {found}/{n} | {matched}/{n} |"));
        }
        table.push_str(&row);
        table.push('\n');
    }
    println!("{table}");
    assert!(missed.is_empty(), "faces not found: {missed:?}\n{table}");
}

/// The case: a person in a 1080p wide shot, face 60 px, enrolled with no consent.
#[test]
fn an_enrolled_person_with_a_60_px_face_in_1080p_is_blocked() {
    use clipguard::service::{ClipLocation, ClipSource};
    use clipguard::vocab::{Action, CheckRequest, Origin};
    let service = enrolled();
    let clip = clip("astronaut.png", 60, (1920, 1080), PLACES[1]);
    let checked = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(service.check_clip(
            ClipSource::At(ClipLocation::Path(clip)),
            CheckRequest::default(),
            Origin::Check,
            std::time::Instant::now() + std::time::Duration::from_secs(120),
        ))
        .unwrap();
    let verdict = &checked.decision.decision;
    assert_eq!(verdict.action, Action::Block, "{verdict:?}");
    assert_eq!(verdict.matched[0].rule, "likeness-public-figure");
    let signals = checked.decision.clip.as_ref().unwrap();
    let reach = signals.sampling.coverage.faces.unwrap();
    assert!(reach.scene_starts_px <= 40.0, "{reach:?}");
}
