//! `cargo bench --bench policy`: the default policy deciding, through `Policy::decide` as the
//! CLI and server call it, on
//! - a typical clip: 20 frames analysed, 3 faces in frame, none a registered person, four
//!   non-explicit nudity classes, a prompt with no names;
//! - a heavy one: the same with all three faces matched to registered persons (one private) and
//!   a prompt naming one by surname, so three rules fire and build evidence and messages;
//! - an empty one.

use clipguard::policy::{ClipView, Policy, PolicyInput, PromptView, RequestContext};
use clipguard::vocab::{BBox, NudityClass};
use clipguard::vocab::{ClassPeak, FaceSummary, Sections};
use clipguard::vocab::{NameMatch, NameStrength, PersonKind, PersonSighting};
use criterion::Criterion;
use std::collections::BTreeMap;
use std::path::Path;

fn heavy() -> PolicyInput {
    let bbox = BBox {
        x: 400.0,
        y: 120.0,
        w: 160.0,
        h: 200.0,
    };
    let person = |id: i64, kind, d| PersonSighting {
        person_id: id,
        name: format!("Person {id}"),
        kind,
        allowed_users: vec!["alice".into()],
        best_distance: d,
        best_time_s: 2.5,
        best_box: bbox,
        frames: 12,
        first_s: 0.5,
        last_s: 9.0,
    };
    let peak = |s| ClassPeak {
        max_score: s,
        time_s: 3.0,
        frames: 5,
        bbox,
    };
    PolicyInput {
        signals: ClipView {
            present: true,
            duration_s: 10.0,
            frames_analysed: 20,
            frames_over_budget: 0,
            coverage: Default::default(),
            // Each analyser's own section: faces, persons and nudity. Provenance is left
            // absent; no text on screen (every text rule still runs its `exists` over the
            // empty lists), no classifier enabled and no category defined (their rules see
            // empty maps), no banked content matched (the hash rules run over an empty list).
            sections: {
                let nudity: BTreeMap<NudityClass, ClassPeak> = [
                    (NudityClass::FaceFemale, peak(0.8)),
                    (NudityClass::FaceMale, peak(0.7)),
                    (NudityClass::BellyExposed, peak(0.4)),
                    (NudityClass::FemaleBreastCovered, peak(0.5)),
                ]
                .into_iter()
                .collect();
                let persons: Vec<PersonSighting> = vec![
                    person(1, PersonKind::PublicFigure, 0.55),
                    person(2, PersonKind::PublicFigure, 0.58),
                    person(3, PersonKind::PrivateIndividual, 0.59),
                ];
                let mut s = Sections::default();
                s.set("nudity", &nudity);
                s.set(
                    "faces",
                    &FaceSummary {
                        frames_with_faces: 20,
                        max_faces_in_frame: 3,
                        faces_embedded: 60,
                        faces_too_small: 0,
                    },
                );
                s.set("persons", &persons);
                s
            },
        },
        prompt: PromptView {
            present: true,
            persons: vec![NameMatch {
                person_id: 1,
                name: "Person 1".into(),
                strength: NameStrength::Surname,
                text: "Person".into(),
                ..Default::default()
            }],
            terms: vec![],
            categories: vec![],
            meaning: Default::default(),
        },
        request: RequestContext {
            user: "bob".into(),
            consents: vec![],
        },
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let policy = Policy::load(
        &root.join("default.yaml"),
        &root.join("lists"),
        &clipguard::analysers::schema(),
    )
    .unwrap();
    let heavy = heavy();
    let mut typical = heavy.clone();
    typical
        .signals
        .sections
        .set("persons", &Vec::<PersonSighting>::new());
    typical.prompt.persons.clear();
    let mut c = Criterion::default().configure_from_args();
    c.bench_function("default_policy_decide_typical_clip", |b| {
        b.iter(|| policy.decide(&typical))
    });
    c.bench_function("default_policy_decide_heavy_clip", |b| {
        b.iter(|| policy.decide(&heavy))
    });
    let empty = PolicyInput {
        signals: ClipView {
            present: true,
            ..Default::default()
        },
        ..Default::default()
    };
    c.bench_function("default_policy_decide_empty_clip", |b| {
        b.iter(|| policy.decide(&empty))
    });
    c.final_summary();
}
