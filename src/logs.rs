//! Where the service's logs go and in what shape: stderr, as text for people or as one JSON
//! object per line for log collectors (`log.format`). `RUST_LOG` chooses the levels. Traces,
//! when configured, go beside them to an OpenTelemetry collector ([`crate::traces`]).

use crate::config::{LogFormat, TracesConfig};
use crate::traces::{Exporter, TracesError};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Installs the global subscriber; `default_level` applies when `RUST_LOG` is not set. With
/// traces configured, the returned exporter must live until exit (dropping it sends the last
/// spans). Logging is installed even when the exporter cannot start.
pub fn init(
    format: LogFormat,
    default_level: &str,
    traces: &TracesConfig,
) -> Result<Option<Exporter>, TracesError> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_level))
        // The spans made for traces alone: a log line keeps the request's span.
        .add_directive(
            format!("{}=off", crate::traces::TARGET)
                .parse()
                .expect("a valid directive"),
        );
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Text => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter)
            .boxed(),
        // Fields at the top level, and the request's span (its id) in `span`.
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    };
    let (spans, exporter, failed) = match crate::traces::start(traces) {
        Ok(Some((tracer, exporter))) => (
            Some(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_location(false)
                    .with_threads(false)
                    .with_tracked_inactivity(false)
                    .with_filter(tracing_subscriber::filter::filter_fn(
                        crate::traces::exported,
                    )),
            ),
            Some(exporter),
            None,
        ),
        Ok(None) => (None, None, None),
        Err(e) => (None, None, Some(e)),
    };
    tracing_subscriber::registry()
        .with(lines)
        .with(spans)
        .init();
    match failed {
        Some(e) => Err(e),
        None => Ok(exporter),
    }
}
