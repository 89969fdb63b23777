//! Public figures end to end: enrolment from real photographs, likeness in clips made from
//! them with the ffmpeg CLI, names in prompts despite evasions, and the registry itself.

mod common;

use clipguard::analysers::{faces_in, sightings};
use clipguard::persons::NewPerson;

use clipguard::screen::ScreenError;
use clipguard::service::CheckError;
use clipguard::text::terms::TermLists;
use clipguard::vocab::{NameStrength, PersonKind};
use common::{clips_dir, ffmpeg, testdata};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn person(name: &str, aliases: &[&str], allowed: &[&str]) -> NewPerson {
    NewPerson {
        name: name.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        kind: PersonKind::PublicFigure,
        allowed_users: allowed.iter().map(|s| s.to_string()).collect(),
        always_match: vec![],
    }
}

/// A registry with Eileen Collins enrolled from astronaut.png.
fn with_collins() -> (std::sync::Arc<clipguard::service::CheckService>, i64) {
    let s = common::service(common::config());
    let id = s
        .registry()
        .add(&person(
            "Eileen Collins",
            &["Eileen Marie Collins"],
            &["alice"],
        ))
        .unwrap();
    s.enrol(id, &[&testdata("astronaut.png")]).unwrap();
    (s, id)
}

/// A 4 s clip of `image` through the filter `vf` (ffmpeg CLI), H.264 unless `extra` says.
fn clip(name: &str, image: &Path, vf: &str, extra: &[&str]) -> PathBuf {
    let out = clips_dir().join(name);
    let mut args = vec![
        "-loop",
        "1",
        "-i",
        image.to_str().unwrap(),
        "-t",
        "4",
        "-r",
        "25",
        "-vf",
        vf,
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"-c:v") {
        args.extend_from_slice(&["-c:v", "libx264"]);
    }
    args.extend_from_slice(&["-pix_fmt", "yuv420p", out.to_str().unwrap()]);
    ffmpeg(&args);
    out
}

fn astronaut_clips() -> &'static Vec<(&'static str, PathBuf)> {
    static C: OnceLock<Vec<(&'static str, PathBuf)>> = OnceLock::new();
    C.get_or_init(|| {
        let a = testdata("astronaut.png");
        let zoom = "crop=512:288:0:0,scale=1280:720,zoompan=z='1+0.004*on':x='iw*0.44-iw/zoom/2':y='ih*0.41-ih/zoom/2':d=1:s=1280x720:fps=25";
        vec![
            ("zoom", clip("p_zoom.mp4", &a, zoom, &[])),
            ("pan", clip("p_pan.mp4", &a, "scale=1024:1024,crop=640:360:x='100+t*40':y=60", &[])),
            ("mirror", clip("p_mirror.mp4", &a, &format!("{zoom},hflip"), &[])),
            ("low bitrate", clip("p_lowrate.mp4", &a, "crop=512:288:0:0,scale=1280:720", &["-b:v", "60k", "-maxrate", "60k", "-bufsize", "120k"])),
            ("480p", clip("p_480.mp4", &a, "crop=512:288:0:0,scale=854:480", &[])),
            ("vertical 9:16", clip("p_vertical.mp4", &a, "scale=720:720,pad=720:1280:0:280", &[])),
        ]
    })
}

#[test]
fn enrolled_astronaut_is_recognised_in_every_kind_of_clip() {
    let (s, id) = with_collins();
    for (what, path) in astronaut_clips() {
        let signals = s.screener().screen_clip(path).unwrap();
        let persons = sightings(&signals);
        let seen = persons.iter().find(|p| p.person_id == id);
        let seen = seen.unwrap_or_else(|| {
            panic!(
                "{what}: Eileen Collins not matched: {:?}",
                sightings(&signals)
            )
        });
        assert!(
            seen.best_distance < 0.5,
            "{what}: distance {}",
            seen.best_distance
        );
        assert!(
            seen.frames as usize * 2 >= signals.frames.len(),
            "{what}: matched in {} of {} frames",
            seen.frames,
            signals.frames.len()
        );
        assert!(seen.first_s <= seen.last_s && seen.last_s <= 4.0);
        assert_eq!(seen.allowed_users, vec!["alice".to_string()]);
        let face = signals
            .frames
            .iter()
            .flat_map(faces_in)
            .find(|f| f.person.is_some())
            .unwrap();
        assert_eq!(face.person.as_ref().unwrap().name, "Eileen Collins");
    }
}

#[test]
fn grace_hopper_is_not_collins_until_enrolled_and_the_cameraman_is_nobody() {
    let (s, collins) = with_collins();
    let hopper_clip = clip(
        "p_hopper.mp4",
        &testdata("grace_hopper.jpg"),
        "scale=-2:720,pad=1280:720:(ow-iw)/2:0",
        &[],
    );
    let camera_clip = clip(
        "p_camera.mp4",
        &testdata("camera.png"),
        "scale=720:720,pad=1280:720:280:0",
        &[],
    );
    let before = s.screener().screen_clip(&hopper_clip).unwrap();
    assert!(
        before.frames.iter().all(|f| faces_in(f).len() == 1),
        "Hopper's face is seen"
    );
    assert!(
        sightings(&before).is_empty(),
        "Hopper matched someone: {:?}",
        sightings(&before)
    );

    // Enrol Hopper from a different crop of her photo: the head and shoulders, enlarged.
    let photo = image::open(testdata("grace_hopper.jpg")).unwrap().to_rgb8();
    let crop = image::imageops::crop_imm(&photo, 60, 40, 400, 420).to_image();
    let crop = image::imageops::resize(&crop, 560, 588, image::imageops::FilterType::CatmullRom);
    let crop_path = clips_dir().join("hopper_crop.png");
    crop.save(&crop_path).unwrap();
    let hopper = s
        .registry()
        .add(&person("Grace Hopper", &["Amazing Grace"], &[]))
        .unwrap();
    s.enrol(hopper, &[&crop_path]).unwrap();

    let after = s.screener().screen_clip(&hopper_clip).unwrap();
    assert_eq!(sightings(&after).len(), 1, "{:?}", sightings(&after));
    assert_eq!(sightings(&after)[0].person_id, hopper);
    assert!(sightings(&after)[0].best_distance < 0.6);
    assert!(sightings(&after).iter().all(|p| p.person_id != collins));

    let camera = s.screener().screen_clip(&camera_clip).unwrap();
    assert!(
        camera.frames.iter().any(|f| !faces_in(f).is_empty()),
        "the cameraman's face is seen"
    );
    assert!(
        sightings(&camera).is_empty(),
        "the cameraman matched {:?}",
        sightings(&camera)
    );
}

#[test]
fn enrolment_needs_exactly_one_face_and_stores_nothing_otherwise() {
    let s = common::service(common::config());
    let id = s.registry().add(&person("Someone", &[], &[])).unwrap();
    let err = s
        .enrol(id, &[&testdata("coffee.png")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("found 0 faces") && err.contains("coffee.png"),
        "{err}"
    );

    let a = image::open(testdata("astronaut.png")).unwrap().to_rgb8();
    let h = image::open(testdata("grace_hopper.jpg")).unwrap().to_rgb8();
    let mut two = image::RgbImage::new(1024, 600);
    image::imageops::overlay(&mut two, &a, 0, 0);
    image::imageops::overlay(&mut two, &h, 512, 0);
    let two_path = clips_dir().join("two_faces.png");
    two.save(&two_path).unwrap();
    let err = s
        .enrol(id, &[&testdata("astronaut.png"), &two_path])
        .unwrap_err()
        .to_string();
    assert!(err.contains("found 2 faces"), "{err}");
    // Nothing was stored, not even the good image given beside the bad one.
    assert!(s.registry().get(id).unwrap().faces.is_empty());

    let err = s
        .enrol(id, &[&clips_dir().join("no_such.png")])
        .unwrap_err();
    assert!(
        matches!(err, CheckError::Screen(ref e) if matches!(**e, ScreenError::Enrol(_))),
        "{err}"
    );
    let err = s
        .enrol(9999, &[&testdata("astronaut.png")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no person with id 9999"), "{err}");
}

#[test]
fn the_registry_survives_a_restart_and_removal_cascades() {
    let cfg = common::config();
    let id = {
        let s = common::service(cfg.clone());
        let id = s
            .registry()
            .add(&person("Eileen Collins", &["EMC"], &["alice", "bob"]))
            .unwrap();
        s.enrol(id, &[&testdata("astronaut.png")]).unwrap();
        id
    };
    let s = common::service(cfg.clone());
    let p = s.registry().get(id).unwrap();
    assert_eq!(
        (
            p.name.as_str(),
            p.aliases.len(),
            p.allowed_users.len(),
            p.faces.len()
        ),
        ("Eileen Collins", 1, 2, 1)
    );
    assert_eq!(p.faces[0].image_sha256.len(), 64);
    let signals = s.screener().screen_clip(&astronaut_clips()[0].1).unwrap();
    assert_eq!(
        sightings(&signals).len(),
        1,
        "the enrolled face was reloaded"
    );
    s.registry().remove(id).unwrap();
    assert!(sightings(&s.screener().screen_clip(&astronaut_clips()[0].1).unwrap()).is_empty());
    assert!(s.registry().get(id).is_err());
}

#[test]
fn import_is_all_or_nothing_and_handles_100k_persons() {
    let s = common::service(common::config());
    let bad = "{\"name\": \"A\"}\n{\"name\": \"B\", \"kind\": \"wizard\"}\n";
    let err = s
        .registry()
        .import("bad.jsonl", Cursor::new(bad))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.jsonl line 2") && err.contains("wizard"),
        "{err}"
    );
    assert!(
        s.registry().list().unwrap().is_empty(),
        "a failed import stored something"
    );

    let mut jsonl = String::new();
    for i in 0..100_000 {
        jsonl += &format!("{{\"name\": \"Person {i} Example\", \"aliases\": [\"P{i}\"], \"kind\": \"private_individual\", \"allowed_users\": [\"u{i}\"]}}\n");
    }
    assert_eq!(
        s.registry()
            .import("big.jsonl", Cursor::new(jsonl))
            .unwrap(),
        100_000
    );
    let found = s
        .screen_prompt("a video of person 4242 example waving", terms())
        .unwrap();
    assert_eq!(found.persons.len(), 1, "{:?}", found.persons);
    assert_eq!(found.persons[0].kind, PersonKind::PrivateIndividual);
    assert_eq!(found.persons[0].allowed_users, vec!["u4242".to_string()]);
}

/// The repository's term lists, as the default policy loads them.
fn terms() -> &'static TermLists {
    static T: OnceLock<TermLists> = OnceLock::new();
    T.get_or_init(|| TermLists::load(&common::config().policies.lists_dir()).unwrap())
}

fn prompt_screener() -> &'static std::sync::Arc<clipguard::service::CheckService> {
    static S: OnceLock<std::sync::Arc<clipguard::service::CheckService>> = OnceLock::new();
    S.get_or_init(|| {
        let s = common::service(common::config());
        s.registry()
            .add(&person(
                "Eileen Collins",
                &["Eileen Marie Collins"],
                &["alice"],
            ))
            .unwrap();
        s.registry()
            .add(&person("Grace Hopper", &["Amazing Grace"], &[]))
            .unwrap();
        s
    })
}

#[test]
fn names_are_caught_through_evasions() {
    let s = prompt_screener();
    let evasions = [
        ("eileen collins", "Eileen Collins"),
        ("EILEEN COLLINS", "Eileen Collins"),
        ("Eileen     Collins", "Eileen Collins"),
        ("E1leen Co11ins", "Eileen Collins"),
        ("3ileen C0llins", "Eileen Collins"),
        ("3!l33n c0ll!n$", "Eileen Collins"),
        ("e.i.l.e.e.n c.o.l.l.i.n.s", "Eileen Collins"),
        ("E I L E E N  C O L L I N S", "Eileen Collins"),
        ("e-i-l-e-e-n collins", "Eileen Collins"),
        ("eileen_collins", "Eileen Collins"),
        ("eileen.collins", "Eileen Collins"),
        ("EileenCollins", "Eileen Collins"),
        ("#eileencollins", "Eileen Collins"),
        ("Eileen\u{200B}Collins", "Eileen Collins"),
        ("Ei\u{200B}leen Col\u{200C}lins", "Eileen Collins"),
        ("Eil\u{00AD}een Coll\u{2060}ins", "Eileen Collins"),
        ("\u{0415}ileen Collins", "Eileen Collins"),
        ("Eileen \u{0421}\u{043E}llins", "Eileen Collins"),
        ("E\u{03B9}leen Collins", "Eileen Collins"),
        ("Éileen Cöllins", "Eileen Collins"),
        ("Ｅｉｌｅｅｎ Ｃｏｌｌｉｎｓ", "Eileen Collins"),
        ("Eileen Collins's", "Eileen Collins"),
        ("eileen collins'", "Eileen Collins"),
        ("Eileen Marie Collins", "Eileen Collins"),
        ("grace hopper", "Grace Hopper"),
        ("GRACE HOPPER", "Grace Hopper"),
        ("Gr4ce H0pper", "Grace Hopper"),
        ("Gr@ce Hopp3r", "Grace Hopper"),
        ("g.r.a.c.e h.o.p.p.e.r", "Grace Hopper"),
        ("grace_hopper", "Grace Hopper"),
        ("GraceHopper", "Grace Hopper"),
        ("Grace\u{2060}Hopper", "Grace Hopper"),
        ("Gr\u{0430}ce H\u{043E}pper", "Grace Hopper"),
        ("Gräce Höpper", "Grace Hopper"),
        ("Grace-Hopper", "Grace Hopper"),
        ("Amazing Grace", "Grace Hopper"),
        ("am4zing gr4ce", "Grace Hopper"),
    ];
    assert!(evasions.len() >= 30);
    for (written, who) in evasions {
        let prompt = format!("a cinematic video of {written} walking on the moon");
        let found = s.screen_prompt(&prompt, terms()).unwrap();
        let m = found
            .persons
            .iter()
            .find(|m| m.strength == NameStrength::Full)
            .unwrap_or_else(|| panic!("{written:?} not caught: {:?}", found.persons));
        assert_eq!(m.name, who, "{written:?}");
        // The span points at the name as written in the original prompt.
        let span = &prompt[m.start..m.end];
        assert_eq!(span, m.text);
        assert!(
            written.contains(span.trim_matches(|c: char| c == '#'))
                || span.contains(written.trim_start_matches('#')),
            "{written:?} -> span {span:?}"
        );
    }
}

#[test]
fn exact_and_normalised_matches_are_told_apart_and_surnames_are_weak() {
    let s = prompt_screener();
    let exact = s
        .screen_prompt("Eileen Collins on the launch pad", terms())
        .unwrap();
    assert_eq!(exact.persons.len(), 1);
    assert!(exact.persons[0].exact && exact.persons[0].strength == NameStrength::Full);
    assert_eq!((exact.persons[0].start, exact.persons[0].end), (0, 14));
    let evasive = s
        .screen_prompt("E1leen Co11ins on the launch pad", terms())
        .unwrap();
    assert!(!evasive.persons[0].exact);
    let surname = s
        .screen_prompt("astronaut Collins floating in the station", terms())
        .unwrap();
    assert_eq!(surname.persons.len(), 1);
    assert_eq!(surname.persons[0].strength, NameStrength::Surname);
}

#[test]
fn innocent_prompts_are_not_full_name_matches() {
    let s = prompt_screener();
    let innocent = [
        "a tram on collins street in melbourne",
        "a hopper car on a freight train",
        "a grasshopper hopping through tall grass",
        "grace under pressure, a ballet dancer",
        "amazing views of the grand canyon at dawn",
        "a phil collins style drum solo",
        "eileen's bakery opening in the morning",
        "saying grace before a family dinner",
        "an edward hopper painting, nighthawks diner at night",
        "a collins class submarine surfacing",
        "a tom collins cocktail on a bar",
        "a grace period for the library loan",
        "an eileen fisher linen dress on a mannequin",
        "a hopper bin full of grain",
        "sunset over collinsville",
        "hoppers leaping in the field",
        "grace kelly arriving in monaco",
        "eileen and her dog collins in the park",
        "colin's corner shop at closing time",
        "coiled springs in a mattress factory",
        "the amazing race across the desert",
        "a graceful swan on a lake",
        "an amazing gracefulness of cats",
        "grace and frankie on a porch",
        "a hopperless coffee grinder",
        "collins dictionary on a shelf",
        "the eileen gray chair in a museum",
        "grace hopperton town hall",
        "a robot named eileen builds a satellite",
        "two kids collecting shells",
        "the space shuttle columbia launching",
    ];
    assert!(innocent.len() >= 29);
    // A registered full name one letter off, in lower case: people evade with typos, so it is
    // read as the name, but at most for review (issue 26).
    let typo = s
        .screen_prompt("eileen collings signing a book", terms())
        .unwrap();
    assert!(
        typo.persons.iter().all(|m| m.score < 0.8),
        "{:?}",
        typo.persons
    );
    for prompt in innocent {
        let found = s.screen_prompt(prompt, terms()).unwrap();
        let full: Vec<_> = found
            .persons
            .iter()
            .filter(|m| m.strength == NameStrength::Full)
            .collect();
        assert!(
            full.is_empty(),
            "{prompt:?} reported as a full name: {full:?}"
        );
    }
}

#[test]
fn term_lists_read_the_same_tokens_as_names() {
    let s = prompt_screener();
    let found = s
        .screen_prompt("a t33n posing n@ked on a beach", terms())
        .unwrap();
    let cats: Vec<&str> = found.terms.iter().map(|t| t.category.as_str()).collect();
    assert_eq!(cats, vec!["minors", "sexual"], "{:?}", found.terms);
    assert_eq!(found.terms[1].text, "n@ked");
    assert!(s
        .screen_prompt("a teenage mutant turtle", terms())
        .unwrap()
        .terms
        .is_empty());
}

#[test]
fn enrolment_warns_about_everyday_words_not_frequent_names() {
    // wordfreq's own frequencies: "eileen" 3.3 and "collins" 4.2 are frequent as names,
    // "stone" 4.8 and "king" 5.2 are words in everyday use.
    let s = common::service(common::config());
    let codes = |name: &str| -> Vec<String> {
        s.registry()
            .name_warnings(&person(name, &[], &[]))
            .unwrap()
            .into_iter()
            .map(|w| w.code)
            .collect()
    };
    assert!(
        codes("Eileen Collins").is_empty(),
        "{:?}",
        codes("Eileen Collins")
    );
    assert_eq!(codes("Emma Stone"), ["common_surname"]);
    assert_eq!(codes("King"), ["common_single_word"]);
    // Written together often, but from a given name: only the surname is ordinary.
    assert_eq!(codes("Stephen King"), ["common_surname"]);
    assert_eq!(codes("Ice Cube"), ["common_phrase"]);
}
