//! Traces: OpenTelemetry spans of each check, exported over OTLP/HTTP (protobuf) to a
//! collector when one is configured (`traces.endpoint`, or the standard
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`).
//!
//! A check's trace is the HTTP request's span (with its `request_id`), then `check`, and
//! under it `intake` (the clip put on disk), `screen` (on a miss of the signals cache) with a
//! span per stage the screening timed (`probe`, `decode`, `sampling` and each analyser's, the
//! names of `clipguard_stage_seconds`), a span per decision-time stage, `policy` and `log`.
//!
//! The spans are `tracing` spans of [`TARGET`], which the log lines never show (so a log line
//! keeps the request's span and id) and which nothing makes when traces are off: then they
//! cost a callsite check each and nothing is exported.

use crate::config::TracesConfig;
use crate::vocab::StageTimings;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The target of the spans made for traces alone.
pub const TARGET: &str = "clipguard::traces";

/// The instrumentation scope the spans are reported under.
const SCOPE: &str = "clipguard";

/// The environment variables that turn export on without `traces.endpoint` (read by the
/// exporter itself, as the OpenTelemetry specification says).
const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// Whether spans are exported: set once, when the exporter starts.
static ON: AtomicBool = AtomicBool::new(false);

#[derive(Debug, thiserror::Error)]
pub enum TracesError {
    #[error("cannot export traces to {endpoint}: {reason}")]
    Exporter { endpoint: String, reason: String },
}

/// The running exporter. Dropping it sends the spans still batched and stops it.
pub struct Exporter {
    provider: SdkTracerProvider,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        ON.store(false, Ordering::Relaxed);
        if let Err(e) = self.provider.shutdown() {
            eprintln!("traces: the last spans were not sent: {e}");
        }
    }
}

/// Where spans go: `traces.endpoint` (the collector's base URL; spans go to its
/// `/v1/traces`), else what the standard variables say, else nowhere (None: traces off).
fn endpoint(cfg: &TracesConfig) -> Option<Option<String>> {
    if let Some(base) = cfg.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
        return Some(Some(format!(
            "{}/v1/traces",
            base.trim().trim_end_matches('/')
        )));
    }
    ENDPOINT_VARS
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|e| !e.trim().is_empty()))
        .then_some(None)
}

/// Starts the exporter when traces are configured: its tracer (for the `tracing` layer that
/// turns spans into OpenTelemetry ones), and the handle that flushes it at exit.
pub fn start(
    cfg: &TracesConfig,
) -> Result<Option<(opentelemetry_sdk::trace::Tracer, Exporter)>, TracesError> {
    let Some(endpoint) = endpoint(cfg) else {
        return Ok(None);
    };
    let shown = endpoint
        .clone()
        .unwrap_or_else(|| "the OTEL_EXPORTER_OTLP endpoint".into());
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary);
    if let Some(url) = endpoint {
        builder = builder.with_endpoint(url);
    }
    let exporter = builder.build().map_err(|e| TracesError::Exporter {
        endpoint: shown,
        reason: e.to_string(),
    })?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| SCOPE.into());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    ON.store(true, Ordering::Relaxed);
    Ok(Some((provider.tracer(SCOPE), Exporter { provider })))
}

/// Whether spans are being exported.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Whether a `tracing` span or event belongs in traces: the spans of [`TARGET`] and the HTTP
/// request's span above them (clipguard's own spans), never log events.
pub fn exported(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with(SCOPE)
}

/// A span under `parent` for each stage the screening timed, from the times it measured
/// (`Signals::timings`, which the stage metrics read too). The analysers work frame by frame
/// while the clip decodes, so a stage's time is the sum of its pieces: its span starts with
/// the screening and lasts that sum, and the spans overlap as the work did.
pub fn screening(parent: &tracing::Span, started: SystemTime, timings: &StageTimings) {
    if !enabled() {
        return;
    }
    let context = parent.context();
    let tracer = opentelemetry::global::tracer(SCOPE);
    for (stage, ms) in timings.all() {
        if ms <= 0.0 {
            continue;
        }
        let mut span = tracer
            .span_builder(stage.to_string())
            .with_start_time(started)
            .with_attributes([KeyValue::new("clipguard.stage_ms", ms)])
            .start_with_context(&tracer, &context);
        span.end_with_timestamp(started + Duration::from_secs_f64(ms / 1e3));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_names_the_collector_and_its_traces_path() {
        let at = |e: &str| {
            endpoint(&TracesConfig {
                endpoint: Some(e.into()),
            })
        };
        assert_eq!(
            at("http://collector:4318"),
            Some(Some("http://collector:4318/v1/traces".into()))
        );
        assert_eq!(
            at(" http://collector:4318/ "),
            Some(Some("http://collector:4318/v1/traces".into()))
        );
        // Unset or blank: the standard variables decide, and without them traces are off.
        let from_env = ENDPOINT_VARS
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|e| !e.trim().is_empty()))
            .then_some(None);
        assert_eq!(at("  "), from_env);
        assert_eq!(endpoint(&TracesConfig::default()), from_env);
    }
}
