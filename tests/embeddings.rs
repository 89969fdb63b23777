//! Alignment plus dlib's embedder on real photographs: the same person stays below dlib's
//! 0.6 threshold under edits; different people are above it.

mod common;

use clipguard::vision::{align, embed::SAME_PERSON_DISTANCE};

use clipguard::vocab::Embedding;
use image::{imageops, RgbImage};

/// The embedding of the single face in an image.
fn embed(img: &RgbImage) -> Embedding {
    let v = common::screener().vision();
    let faces = v.faces.detect(img).unwrap();
    assert_eq!(faces.len(), 1, "expected one face, found {}", faces.len());
    v.embedder
        .embed(&[align::chip(img, &faces[0])])
        .unwrap()
        .remove(0)
}

#[test]
fn same_person_is_close_and_different_people_are_far() {
    let astronaut = common::rgb("astronaut.png");
    let hopper = common::rgb("grace_hopper.jpg");
    let camera = common::rgb("camera.png");
    let a = embed(&astronaut);

    let mirrored = imageops::flip_horizontal(&astronaut);
    let shifted = {
        let mut canvas = RgbImage::new(512, 512);
        imageops::overlay(&mut canvas, &astronaut, 37, 21);
        canvas
    };
    let scaled = imageops::resize(&astronaut, 307, 307, imageops::FilterType::Triangle);
    let grey = RgbImage::from_fn(512, 512, |x, y| {
        let p = astronaut.get_pixel(x, y).0;
        let l = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) as u8;
        image::Rgb([l, l, l])
    });
    for (what, img) in [
        ("mirrored", mirrored),
        ("shifted", shifted),
        ("scaled 0.6x", scaled),
        ("greyscale", grey),
    ] {
        let d = a.distance(&embed(&img));
        assert!(d < SAME_PERSON_DISTANCE, "astronaut vs {what}: {d}");
    }
    let batched = common::screener().vision().embedder.embed(&[]).unwrap();
    assert!(batched.is_empty());

    let h = embed(&hopper);
    let c = embed(&camera);
    for (what, d) in [
        ("astronaut/hopper", a.distance(&h)),
        ("astronaut/camera", a.distance(&c)),
        ("hopper/camera", h.distance(&c)),
    ] {
        assert!(d > SAME_PERSON_DISTANCE, "{what}: {d}");
    }
}

#[test]
fn batched_embeddings_equal_single_ones() {
    let v = common::screener().vision();
    let chips: Vec<RgbImage> = ["astronaut.png", "grace_hopper.jpg", "camera.png"]
        .iter()
        .map(|n| {
            let img = common::rgb(n);
            let face = v.faces.detect(&img).unwrap().remove(0);
            align::chip(&img, &face)
        })
        .collect();
    let batch = v.embedder.embed(&chips).unwrap();
    for (chip, b) in chips.iter().zip(&batch) {
        let single = v
            .embedder
            .embed(std::slice::from_ref(chip))
            .unwrap()
            .remove(0);
        assert!(single.distance(b) < 1e-4);
    }
}
