//! `cargo bench --bench persons`: the registry at 100k persons. Importing them, building the
//! gazetteer, screening a 1,000-character prompt against it (everyday words, and one full of
//! names and evasions), and matching one face against 100k enrolled embeddings.

#[path = "../tests/common/mod.rs"]
mod common;

use clipguard::persons::{ExactIndex, FaceIndex, Gazetteer, GazetteerName};
use clipguard::text::WordFrequencies;
use clipguard::vocab::Embedding;
use criterion::{BatchSize, Criterion};
use std::io::Cursor;
use std::time::{Duration, Instant};

const N: usize = 100_000;

/// 100k distinct full names with an alias each: given names and surnames of the 20,000
/// generated names in tests/names, recombined, so the words are as real registries have them.
fn names() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(common::repo().join("tests/names/registry.txt")).unwrap();
    let split: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(N);
    let mut i = 0usize;
    while out.len() < N {
        let first = split[i % split.len()].0;
        let last = split[(i * 7919 + i / split.len()) % split.len()].1;
        i += 1;
        let name = format!("{first} {last}");
        if seen.insert(name.clone()) {
            let short: String = last.chars().take(3).collect();
            out.push((name, format!("{short} {first}")));
        }
    }
    out
}

/// 1,000 characters of everyday prompts (tests/names/innocent_realistic.txt).
fn prompt() -> String {
    let text =
        std::fs::read_to_string(common::repo().join("tests/names/innocent_realistic.txt")).unwrap();
    let mut p = String::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        if p.len() + l.len() + 2 > 1000 {
            break;
        }
        p += l;
        p += ". ";
    }
    while p.len() < 1000 {
        p.push(' ');
    }
    p
}

/// 1,000 characters of prompts naming people through evasions (tests/names/evasions.txt).
fn evasive_prompt() -> String {
    let text = std::fs::read_to_string(common::repo().join("tests/names/evasions.txt")).unwrap();
    let mut p = String::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let prompt = l.rsplit('\t').next().unwrap_or_default();
        if p.len() + prompt.len() + 2 > 1000 {
            break;
        }
        p += prompt;
        p += ". ";
    }
    while p.len() < 1000 {
        p.push(' ');
    }
    p
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let names = names();
    let cfg = common::config();
    let words = std::sync::Arc::new(
        WordFrequencies::from_manifest(&cfg.models.manifest, &cfg.models.dir)
            .expect("word frequencies (run `make setup`)"),
    );

    let mut g = c.benchmark_group("gazetteer");
    g.sample_size(10);
    g.bench_function("gazetteer_build_100k_names", |b| {
        b.iter(|| {
            Gazetteer::build(
                names.iter().flat_map(|(n, a)| {
                    [n, a].map(|name| GazetteerName {
                        person: 0,
                        name,
                        always_match: false,
                    })
                }),
                words.clone(),
            )
        })
    });
    g.finish();

    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 40) as f32 / (1u64 << 24) as f32 * 0.2 - 0.1
    };
    let mut index = ExactIndex::default();
    for i in 0..N {
        index.add(i as i64, &Embedding((0..128).map(|_| next()).collect()));
    }
    let query = Embedding((0..128).map(|_| next()).collect());
    c.bench_function("face_match_100k_embeddings", |b| {
        b.iter(|| index.nearest(&query))
    });

    // The same registry import and prompt screening the CLI and server use.
    let service = common::service(common::config());
    let jsonl: String = names
        .iter()
        .map(|(n, a)| format!("{{\"name\": \"{n}\", \"aliases\": [\"{a}\"]}}\n"))
        .collect();
    let t = Instant::now();
    let imported = service
        .registry()
        .import("bench.jsonl", Cursor::new(jsonl))
        .unwrap();
    let import_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    service.live().persons.refresh().unwrap();
    let reload_s = t.elapsed().as_secs_f64();
    println!("\nimport of {imported} persons: {import_s:.2} s; snapshot reload (database + gazetteer + index): {reload_s:.2} s\n");

    let terms = service.policy().current().terms.clone();
    let mut g = c.benchmark_group("prompt");
    g.measurement_time(Duration::from_secs(5));
    for (name, text) in [
        ("screen_prompt_1000_chars_100k_names", prompt()),
        (
            "screen_evasive_prompt_1000_chars_100k_names",
            evasive_prompt(),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || text.clone(),
                |p| service.screen_prompt(&p, &terms).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    c.final_summary();
}
