//! `cargo bench --bench meaning`: a prompt check through the service with the text encoder
//! (multilingual-e5-small, 4-bit, one ONNX Runtime thread) and the shipped text categories,
//! as `/v1/prompts/check` decides it: the persons and term stages, the meaning stage (the
//! prompt embedded and scored against every category's head) and the default policy.
//! Budget: 15 ms median (issue 29); without the encoder this route took microseconds.

#[path = "../tests/common/mod.rs"]
mod common;

use clipguard::vocab::CheckRequest;
use criterion::Criterion;
use std::time::Duration;

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let service = common::service(common::config());
    let request = |prompt: &str| CheckRequest {
        prompt: Some(prompt.into()),
        user: Some("bob".into()),
        ..Default::default()
    };
    // First use loads the encoder and trains the heads (reported, not measured below).
    let t0 = std::time::Instant::now();
    service.check_prompt(&request("a cat on a sofa")).unwrap();
    println!(
        "first prompt (encoder loaded, categories embedded): {:?}",
        t0.elapsed()
    );
    let mut g = c.benchmark_group("meaning");
    g.sample_size(50).measurement_time(Duration::from_secs(10));
    for (name, prompt) in [
        ("prompt_short", "un gato en el sofá"),
        (
            "prompt_typical",
            "a cinematic shot of a teenage girl playing soccer in the rain, slow motion, golden hour",
        ),
    ] {
        let r = request(prompt);
        g.bench_function(name, |b| b.iter(|| service.check_prompt(&r).unwrap()));
    }
    g.finish();
    c.final_summary();
}
