//! W3C trace context at the edges of a process: continue a `traceparent` that came in (an HTTP
//! header, a message's envelope), and read the current span's one to send on.
//!
//! Built on OpenTelemetry's `TraceContextPropagator` and `tracing-opentelemetry`; the spans
//! are `tracing` spans, so the code that runs inside them needs neither. Without the
//! OpenTelemetry layer in the process's subscriber every span has an empty context: nothing
//! is continued and [`current_traceparent`] is `None`, so callers keep what they had.
//!
//! Only `traceparent` travels (an envelope has no room for `tracestate`); a malformed one is
//! ignored, and the span starts a new trace. This crate owns no global state: it installs no
//! propagator and no subscriber.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The header (HTTP) and field (envelope, AMQP header) that carries the trace context.
pub const TRACEPARENT: &str = "traceparent";

/// The remote span a `traceparent` names, when it is a valid W3C trace context.
pub fn parse(traceparent: &str) -> Option<SpanContext> {
    let traceparent = traceparent.trim();
    if !well_formed(traceparent) {
        return None;
    }
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    let span = context.span().span_context().clone();
    span.is_valid().then_some(span)
}

/// The shape the W3C specification gives a `traceparent`: `version-trace_id-parent_id-flags`,
/// lowercase hex of 2, 32, 16 and 2 digits (a later version may append fields). The
/// propagator alone takes shorter ids (`00-abc-def-01`) and pads them.
fn well_formed(traceparent: &str) -> bool {
    let fields: Vec<&str> = traceparent.split('-').collect();
    let hex = |field: &str, digits: usize| {
        field.len() == digits
            && field
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    fields.len() >= 4
        && hex(fields[0], 2)
        && (fields.len() == 4 || fields[0] != "00")
        && hex(fields[1], 32)
        && hex(fields[2], 16)
        && hex(fields[3], 2)
}

/// The `traceparent` of the span active in `context`, if it has a valid one.
pub fn traceparent_of(context: &Context) -> Option<String> {
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// The `traceparent` of `span`: what a message or request sent from inside it carries.
pub fn traceparent_of_span(span: &tracing::Span) -> Option<String> {
    traceparent_of(&span.context())
}

/// The `traceparent` of the current span.
pub fn current_traceparent() -> Option<String> {
    traceparent_of_span(&tracing::Span::current())
}

/// Makes `span` a child of the remote span `traceparent` names, so that it continues that
/// trace. Call it before the span is first entered. A missing or malformed `traceparent`
/// changes nothing: the span starts a trace of its own (or joins its local parent's).
/// Returns whether the trace was continued.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) -> bool {
    let Some(remote) = traceparent.and_then(parse) else {
        return false;
    };
    span.set_parent(Context::new().with_remote_span_context(remote))
        .is_ok()
}

/// The trace id (32 hex digits) a `traceparent` belongs to, when it is valid.
pub fn trace_id(traceparent: &str) -> Option<String> {
    parse(traceparent).map(|span| span.trace_id().to_string())
}

#[cfg(test)]
mod tests;
