use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;

use super::*;

const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const INCOMING_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Runs `test` under a subscriber with the OpenTelemetry layer, as the binary installs it
/// (spans are made and sampled, and exported nowhere).
fn traced<T>(test: impl FnOnce() -> T) -> T {
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::with_default(subscriber, test)
}

fn parts(traceparent: &str) -> Vec<String> {
    traceparent.split('-').map(str::to_owned).collect()
}

#[test]
fn a_valid_traceparent_is_parsed_into_its_trace_and_span() {
    let span = parse(INCOMING).expect("a valid traceparent");
    assert_eq!(span.trace_id().to_string(), INCOMING_TRACE);
    assert_eq!(span.span_id().to_string(), "00f067aa0ba902b7");
    assert!(span.is_sampled());
    assert!(span.is_remote());
    assert_eq!(trace_id(INCOMING).as_deref(), Some(INCOMING_TRACE));
}

#[test]
fn malformed_traceparents_are_refused() {
    for malformed in [
        "",
        "garbage",
        "00-abc-def-01",
        // an all-zero trace id or span id is invalid by the specification
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        // version ff is forbidden
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    ] {
        assert!(parse(malformed).is_none(), "{malformed:?} was accepted");
    }
}

#[test]
fn a_continued_span_keeps_the_trace_id_and_gets_an_id_of_its_own() {
    let child = traced(|| {
        let span = tracing::info_span!("handle_message");
        assert!(continue_trace(&span, Some(INCOMING)));
        traceparent_of_span(&span).expect("the span's traceparent")
    });
    let fields = parts(&child);
    assert_eq!(fields[0], "00");
    assert_eq!(fields[1], INCOMING_TRACE);
    assert_ne!(
        fields[2], "00f067aa0ba902b7",
        "the child has its own span id"
    );
    assert_eq!(fields[3], "01", "sampled, like its parent");
}

#[test]
fn the_current_traceparent_is_the_entered_span_and_children_share_its_trace() {
    traced(|| {
        assert_eq!(current_traceparent(), None, "no span, no trace");
        let request = tracing::info_span!("http");
        continue_trace(&request, Some(INCOMING));
        let _entered = request.enter();
        let current = current_traceparent().expect("inside a span");
        assert_eq!(Some(current.clone()), traceparent_of_span(&request));
        let nested = tracing::info_span!("inner");
        let nested = traceparent_of_span(&nested).expect("a local child");
        assert_eq!(parts(&nested)[1], INCOMING_TRACE);
        assert_ne!(parts(&nested)[2], parts(&current)[2]);
    });
}

#[test]
fn a_malformed_traceparent_starts_a_new_trace() {
    traced(|| {
        let span = tracing::info_span!("handle_message");
        assert!(!continue_trace(&span, Some("00-not-a-trace-01")));
        let started = traceparent_of_span(&span).expect("a trace of its own");
        assert!(parse(&started).is_some(), "{started} is valid");
        assert_ne!(parts(&started)[1], INCOMING_TRACE);

        let other = tracing::info_span!("handle_message");
        assert!(!continue_trace(&other, None));
        let other = traceparent_of_span(&other).expect("a trace of its own");
        assert_ne!(
            parts(&other)[1],
            parts(&started)[1],
            "each root is its own trace"
        );
    });
}

#[test]
fn without_the_opentelemetry_layer_nothing_is_continued_or_made_up() {
    let subscriber = tracing_subscriber::registry();
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("handle_message");
        continue_trace(&span, Some(INCOMING));
        assert_eq!(traceparent_of_span(&span), None);
        let _entered = span.enter();
        assert_eq!(current_traceparent(), None);
    });
}
