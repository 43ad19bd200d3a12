//! The consumer loop continues each message's trace: the handling span is a child of the
//! envelope's `traceparent`, and the envelope the handler sees carries the handling span's
//! context, so what the handler sends (`caused_by`) is a child of the handling.

use contracts::{Envelope, Message, StockReserved};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use time::OffsetDateTime;
use tracing_subscriber::layer::SubscriberExt as _;
use uuid::Uuid;

use crate::Delivery;
use crate::consumer::{in_handling_trace, message_span};

const SENDER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn delivery(traceparent: Option<&str>) -> Delivery {
    let message = Message::from(StockReserved {
        order_id: contracts::value::OrderId::new(Uuid::from_u128(7)),
    });
    Delivery {
        tag: 1,
        envelope: Envelope::build(Uuid::now_v7(), &message)
            .traceparent(traceparent.map(str::to_owned))
            .at(OffsetDateTime::UNIX_EPOCH),
        attempts: 0,
        redeliveries: 0,
    }
}

fn traced<T>(test: impl FnOnce() -> T) -> T {
    let provider = SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::with_default(subscriber, test)
}

fn field(traceparent: Option<&str>, index: usize) -> Option<String> {
    traceparent?.split('-').nth(index).map(str::to_owned)
}

#[test]
fn a_handler_sees_its_own_span_as_the_envelope_trace_in_the_senders_trace() {
    traced(|| {
        let delivery = delivery(Some(SENDER));
        let span = message_span("order", &delivery);
        let handled = in_handling_trace(&delivery.envelope, &span);
        let seen = handled.traceparent.as_deref();
        assert_eq!(field(seen, 1), field(Some(SENDER), 1), "the sender's trace");
        assert_ne!(
            field(seen, 2),
            field(Some(SENDER), 2),
            "the handling's own span"
        );
        assert_eq!(
            seen.map(str::to_owned),
            trace_context::traceparent_of_span(&span)
        );
        // Only the trace context changes.
        assert_eq!(
            Envelope {
                traceparent: delivery.envelope.traceparent.clone(),
                ..handled.into_owned()
            },
            delivery.envelope
        );
    });
}

#[test]
fn a_message_without_a_trace_is_handled_in_a_new_one() {
    traced(|| {
        let delivery = delivery(None);
        let span = message_span("order", &delivery);
        let handled = in_handling_trace(&delivery.envelope, &span);
        let trace = field(handled.traceparent.as_deref(), 1).expect("a trace of its own");
        assert_eq!(trace.len(), 32);
        assert_ne!(Some(trace), field(Some(SENDER), 1));
    });
}

#[test]
fn without_the_opentelemetry_layer_the_handler_gets_the_envelope_as_sent() {
    let subscriber = tracing_subscriber::registry();
    tracing::subscriber::with_default(subscriber, || {
        let delivery = delivery(Some(SENDER));
        let span = message_span("order", &delivery);
        let handled = in_handling_trace(&delivery.envelope, &span);
        assert!(matches!(handled, std::borrow::Cow::Borrowed(_)));
        assert_eq!(handled.traceparent.as_deref(), Some(SENDER));
    });
}
