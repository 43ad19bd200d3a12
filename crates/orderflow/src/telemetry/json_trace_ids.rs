//! JSON log lines with the trace they were written in: `trace_id` and `span_id` as the first
//! fields of the line, when the current span has a trace context, so a log search by trace id
//! finds every line of an order across processes.

use std::fmt;

use opentelemetry::trace::TraceContextExt as _;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// A JSON event format `F` whose lines also name the current trace and span.
pub(super) struct WithTraceIds<F> {
    inner: F,
}

impl<F> WithTraceIds<F> {
    pub(super) fn new(inner: F) -> Self {
        Self { inner }
    }
}

/// The trace and span ids of the span the event is written in, when it has a trace context.
fn current_ids() -> Option<(String, String)> {
    // The OpenTelemetry layer activates a span's context when the span is entered.
    let context = opentelemetry::Context::current();
    let span = context.span();
    let span = span.span_context();
    span.is_valid()
        .then(|| (span.trace_id().to_string(), span.span_id().to_string()))
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = current_ids() else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(
                writer,
                "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
            ),
            None => writer.write_str(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(write: impl FnOnce()) -> Vec<serde_json::Value> {
        let captured = Captured::default();
        let sink = captured.clone();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .event_format(WithTraceIds::new(tracing_subscriber::fmt::format().json()))
                    .with_writer(move || sink.clone()),
            )
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, write);
        let bytes = captured.0.lock().expect("lock").clone();
        String::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is JSON"))
            .collect()
    }

    #[test]
    fn a_line_written_in_a_traced_span_names_its_trace_and_span() {
        let lines = lines(|| {
            let span = tracing::info_span!("http");
            trace_context::continue_trace(
                &span,
                Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            );
            let _entered = span.enter();
            tracing::info!(order.id = "o-1", "order accepted");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(line["span_id"].as_str().map(str::len), Some(16));
        assert_ne!(
            line["span_id"], "00f067aa0ba902b7",
            "the request's own span"
        );
        assert_eq!(line["fields"]["message"], "order accepted");
        assert_eq!(line["span"]["name"], "http");
    }

    #[test]
    fn a_line_written_outside_any_span_has_no_trace_fields() {
        let lines = lines(|| tracing::info!("starting"));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].get("trace_id").is_none(), "{:?}", lines[0]);
        assert_eq!(lines[0]["fields"]["message"], "starting");
    }
}
