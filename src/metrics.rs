//! Prometheus metrics, all named `clipguard_*`, served at `/metrics`. Every part of the
//! pipeline reports here through the functions below, so names and labels live in one place.
//! This module knows no domain type: callers pass plain labels and numbers.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    REGISTRY
        .register(Box::new(c.clone()))
        .expect("metric names are unique");
    c
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

fn gauge(name: &str, help: &str) -> IntGauge {
    register(IntGauge::new(name, help).expect("valid metric"))
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

/// Seconds, from 5 ms to 60 s: prompt checks at the low end, clips around 0.5 s, overload at
/// the top.
const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 2.0, 5.0, 15.0, 60.0,
];

fn histogram_vec(name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    register(
        HistogramVec::new(
            HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
            labels,
        )
        .expect("valid metric"),
    )
}

pub static POLICY_RELOADS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_policy_reloads_total",
        "Policy reloads by result (ok; refused: error, rules_removed, fixtures_failed)",
        &["result"],
    )
});

pub static POLICY_INFO: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "clipguard_policy_info",
        "The policy in force (value 1)",
        &["name", "version"],
    )
});

pub static MODEL_INFO: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    gauge_vec(
        "clipguard_model_info",
        "The models loaded, with their sha256 (value 1)",
        &["name", "kind", "sha256"],
    )
});

pub static CHECKS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_checks_total",
        "Decisions by kind (clip, prompt), origin (check, audit) and action",
        &["kind", "origin", "action"],
    )
});

pub static RULE_MATCHES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_rule_matches_total",
        "Rules matched, by rule and mode (enforce, shadow)",
        &["rule", "mode"],
    )
});

pub static RULE_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_rule_failures_total",
        "Rules whose evaluation failed (the decision failed closed to review)",
        &["rule"],
    )
});

pub static SCREENINGS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_screenings_total",
        "Clip screenings by result: ok, or the error code (corrupt, not_video, inference...)",
        &["result"],
    )
});

pub static STAGE_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        "clipguard_stage_duration_seconds",
        "Time per screening stage (probe, decode, sampling, nudity, faces, embedding, policy)",
        &["stage"],
    )
});

pub static CHECK_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram_vec(
        "clipguard_check_duration_seconds",
        "End-to-end time of a check request, upload included, by kind (clip, prompt)",
        &["kind"],
    )
});

pub static FRAMES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_frames_total",
        "Frames by fate: decoded, not_decoded (non-reference, skipped), sampled, analysed, duplicate (reused detections), over_budget",
        &["fate"],
    )
});

pub static QUEUE_DEPTH: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "clipguard_queue_depth",
        "Clips waiting for a screening worker",
    )
});

pub static IN_FLIGHT: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("clipguard_in_flight", "Clips being screened now"));

pub static REJECTIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_rejections_total",
        "Requests refused, by reason (busy, deadline, too_large, not_video, corrupt, unauthorized...)",
        &["reason"],
    )
});

pub static CACHE: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_cache_lookups_total",
        "Clip cache lookups: hit, joined (waited for a screening in flight), miss",
        &["outcome"],
    )
});

pub static REVIEWS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_reviews_total",
        "Reviews recorded by outcome (approve, reject)",
        &["outcome"],
    )
});

pub static CALLBACKS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_callback_attempts_total",
        "Callback attempts by outcome (delivered, retry, failed: given up)",
        &["outcome"],
    )
});

pub static HTTP_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_http_requests_total",
        "HTTP requests by route pattern, method and status",
        &["route", "method", "status"],
    )
});

pub static HTTP_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    register(
        Histogram::with_opts(
            HistogramOpts::new(
                "clipguard_http_request_duration_seconds",
                "HTTP request latency, all routes",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric"),
    )
});

pub static AUDIT_CLIPS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    counter(
        "clipguard_audit_clips_total",
        "Clips audited, by outcome (allow, review, block, error)",
        &["outcome"],
    )
});

pub static AUDITS_RUNNING: LazyLock<IntGauge> =
    LazyLock::new(|| gauge("clipguard_audits_running", "Audits in progress"));

pub static AUDIT_REMAINING: LazyLock<IntGauge> = LazyLock::new(|| {
    gauge(
        "clipguard_audit_clips_remaining",
        "Clips still to audit, over the audits in progress",
    )
});

/// One clip of an audit is done: `outcome` is its action, or "error".
pub fn audited(outcome: &str) {
    AUDIT_CLIPS.with_label_values(&[outcome]).inc();
    AUDIT_REMAINING.dec();
}

/// Marks `name`/`version` as the policy in force.
pub fn policy_loaded(name: &str, version: &str) {
    POLICY_INFO.reset();
    POLICY_INFO.with_label_values(&[name, version]).set(1);
}

/// The model files loaded: (name, kind, sha256) each.
pub fn models_loaded<'a>(models: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>) {
    MODEL_INFO.reset();
    for (name, kind, sha256) in models {
        MODEL_INFO.with_label_values(&[name, kind, sha256]).set(1);
    }
}

/// A screening ended: "ok", or its error code.
pub fn screening(result: &str) {
    SCREENINGS.with_label_values(&[result]).inc();
}

/// Time spent in one stage of a screening (probe, decode, an analyser...), or in the policy.
pub fn stage_time(stage: &str, seconds: f64) {
    STAGE_SECONDS.with_label_values(&[stage]).observe(seconds);
}

/// `n` frames met this fate in a screening.
pub fn frames(fate: &str, n: u64) {
    FRAMES.with_label_values(&[fate]).inc_by(n);
}

/// A decision was logged: `kind` clip or prompt, `origin` check or audit.
pub fn decided(kind: &str, origin: &str, action: &str) {
    CHECKS.with_label_values(&[kind, origin, action]).inc();
}

/// A rule matched in a logged decision; `mode` enforce or shadow.
pub fn rule_matched(rule: &str, mode: &str) {
    RULE_MATCHES.with_label_values(&[rule, mode]).inc();
}

/// A rule failed to evaluate in a logged decision.
pub fn rule_failed(rule: &str) {
    RULE_FAILURES.with_label_values(&[rule]).inc();
}

/// A review was recorded: approve or reject.
pub fn reviewed(outcome: &str) {
    REVIEWS.with_label_values(&[outcome]).inc();
}

/// A callback attempt: delivered, retry (failed, tried again later) or failed (given up).
pub fn callback_attempt(outcome: &str) {
    CALLBACKS.with_label_values(&[outcome]).inc();
}

/// A clip cache lookup: hit, joined or miss.
pub fn cache_lookup(outcome: &str) {
    CACHE.with_label_values(&[outcome]).inc();
}

/// Check latencies of the last hour, for the dashboard's percentiles (Prometheus histograms
/// are cumulative; this is the recent window, bounded in size).
type Window = std::sync::Mutex<std::collections::VecDeque<(Instant, &'static str, f64)>>;
static RECENT: LazyLock<Window> = LazyLock::new(Default::default);
const RECENT_MAX: usize = 100_000;
const HOUR: Duration = Duration::from_secs(3600);

/// A check request was answered after `seconds`.
pub fn check_finished(kind: &'static str, seconds: f64) {
    CHECK_SECONDS.with_label_values(&[kind]).observe(seconds);
    let mut recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    while recent
        .front()
        .is_some_and(|(t, _, _)| now.duration_since(*t) > HOUR || recent.len() >= RECENT_MAX)
    {
        recent.pop_front();
    }
    recent.push_back((now, kind, seconds));
}

/// Median, 95th percentile and count of a kind's check latencies over the last hour (ms).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RecentLatency {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

pub fn recent_latency(kind: &str) -> RecentLatency {
    let recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    let mut v: Vec<f64> = recent
        .iter()
        .filter(|(t, k, _)| *k == kind && now.duration_since(*t) <= HOUR)
        .map(|(_, _, s)| s * 1e3)
        .collect();
    if v.is_empty() {
        return RecentLatency::default();
    }
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    RecentLatency {
        count: v.len(),
        p50_ms: at(0.5),
        p95_ms: at(0.95),
    }
}

pub fn rejected(reason: &str) {
    REJECTIONS.with_label_values(&[reason]).inc();
}

/// The text exposition of every metric. Each family is forced first so it is listed (at
/// zero) before anything has happened, which dashboards and alerts rely on.
pub fn render() -> String {
    for f in [
        &POLICY_RELOADS,
        &CHECKS,
        &RULE_MATCHES,
        &RULE_FAILURES,
        &SCREENINGS,
        &FRAMES,
        &REJECTIONS,
        &CACHE,
        &REVIEWS,
        &CALLBACKS,
        &HTTP_REQUESTS,
        &AUDIT_CLIPS,
    ] {
        LazyLock::force(f);
    }
    LazyLock::force(&STAGE_SECONDS);
    LazyLock::force(&CHECK_SECONDS);
    LazyLock::force(&HTTP_SECONDS);
    LazyLock::force(&QUEUE_DEPTH);
    LazyLock::force(&IN_FLIGHT);
    LazyLock::force(&AUDITS_RUNNING);
    LazyLock::force(&AUDIT_REMAINING);
    prometheus::TextEncoder::new()
        .encode_to_string(&REGISTRY.gather())
        .unwrap_or_default()
}
