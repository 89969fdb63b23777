//! `cargo bench --bench persons`: the registry at 100k persons. Importing them, building the
//! gazetteer, screening a 1,000-character prompt against it, and matching one face against
//! 100k enrolled embeddings.

#[path = "../tests/common/mod.rs"]
mod common;

use clipguard::persons::{ExactIndex, FaceIndex, Gazetteer};
use clipguard::vocab::Embedding;
use criterion::{BatchSize, Criterion};
use std::io::Cursor;
use std::time::{Duration, Instant};

const N: usize = 100_000;

const FIRST: [&str; 20] = [
    "James", "Maria", "Wei", "Aisha", "Carlos", "Yuki", "Olga", "Kwame", "Priya", "Lars", "Fatima",
    "Diego", "Mei", "Ivan", "Amara", "Noah", "Sofia", "Ravi", "Elena", "Tomas",
];

/// 100k distinct synthetic full names with an alias each.
fn names() -> Vec<(String, String)> {
    (0..N)
        .map(|i| {
            let first = FIRST[i % FIRST.len()];
            // Surnames from syllables, so they look like words and share prefixes.
            let syl = [
                "ka", "lo", "mi", "ren", "sa", "tor", "vel", "zu", "bar", "den",
            ];
            let last: String = [i / 20 % 10, i / 200 % 10, i / 2000 % 10, i / 20000 % 10]
                .iter()
                .map(|&k| syl[k])
                .collect();
            (
                format!("{first} {last}{}", i % 7),
                format!("{first}{} the {}", i % 13, &last[..3]),
            )
        })
        .collect()
}

fn prompt() -> String {
    let mut p = String::new();
    let words = "a slow cinematic shot of a crowded market at dusk with lanterns swaying in the wind \
                 while a street musician plays and children run past colourful stalls of fruit and spices ";
    while p.len() < 1000 {
        p += words;
    }
    p.truncate(1000);
    p
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let names = names();

    c.bench_function("gazetteer_build_100k_names", |b| {
        b.iter(|| {
            Gazetteer::build(
                names
                    .iter()
                    .flat_map(|(n, a)| [(0, n.as_str()), (0, a.as_str())]),
            )
            .unwrap()
        })
    });

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
    service.persons().refresh().unwrap();
    let reload_s = t.elapsed().as_secs_f64();
    println!("\nimport of {imported} persons: {import_s:.2} s; snapshot reload (database + gazetteer + index): {reload_s:.2} s\n");

    let text = prompt();
    let terms = service.policy().current().terms.clone();
    let mut g = c.benchmark_group("prompt");
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("screen_prompt_1000_chars_100k_names", |b| {
        b.iter_batched(
            || text.clone(),
            |p| service.screener().screen_prompt(&p, &terms).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    c.final_summary();
}
