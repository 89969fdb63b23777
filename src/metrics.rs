//! Prometheus metrics, all named `clipguard_*`, served at `/metrics`.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use std::sync::LazyLock;

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    REGISTRY
        .register(Box::new(c.clone()))
        .expect("metric names are unique");
    c
}

pub static POLICY_RELOADS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    register(
        IntCounterVec::new(
            Opts::new(
                "clipguard_policy_reloads_total",
                "Policy reloads by result (ok, error)",
            ),
            &["result"],
        )
        .expect("valid metric"),
    )
});

pub static POLICY_INFO: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    register(
        IntGaugeVec::new(
            Opts::new("clipguard_policy_info", "The policy in force (value 1)"),
            &["name", "version"],
        )
        .expect("valid metric"),
    )
});

/// Marks `name`/`version` as the policy in force.
pub fn policy_loaded(name: &str, version: &str) {
    POLICY_INFO.reset();
    POLICY_INFO.with_label_values(&[name, version]).set(1);
}

/// The text exposition of every metric.
pub fn render() -> String {
    LazyLock::force(&POLICY_RELOADS);
    prometheus::TextEncoder::new()
        .encode_to_string(&REGISTRY.gather())
        .unwrap_or_default()
}
