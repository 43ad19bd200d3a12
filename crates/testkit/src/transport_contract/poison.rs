//! Poison: a message that no handler can ever take is parked at once, and never holds back the
//! healthy messages around it.

use std::collections::HashSet;
use std::sync::Arc;

use contracts::Queue;

use super::{
    PATIENCE, TransportUnderTest, assert_stays_empty, charge_payment, publish, receive_up_to,
};

/// What a broken producer might put on a queue: JSON, but not an envelope.
const NOT_AN_ENVELOPE: &str = r#"{"message_id": "not-a-uuid", "type": "payment.charge"}"#;

/// A body that is not an envelope is dead-lettered at once with its decode error and its raw
/// body; the messages published before and after it are delivered well within a lease, as if
/// it were not there.
pub async fn a_body_that_is_not_an_envelope_is_parked_at_once_without_holding_back_others(
    transport: Arc<dyn TransportUnderTest>,
) {
    let before = charge_payment();
    let after = charge_payment();
    publish(transport.as_ref(), std::slice::from_ref(&before)).await;
    transport
        .put_raw(Queue::Payment, NOT_AN_ENVELOPE.as_bytes())
        .await;
    publish(transport.as_ref(), std::slice::from_ref(&after)).await;

    let consumer = transport.consumer(Queue::Payment);
    let deliveries = receive_up_to(consumer.as_ref(), 2, PATIENCE).await;
    let received: HashSet<_> = deliveries.iter().map(|d| d.envelope.message_id).collect();
    assert_eq!(
        received,
        HashSet::from([before.message_id, after.message_id]),
        "both healthy messages arrive within {PATIENCE:?}, not after a lease"
    );
    for delivery in &deliveries {
        consumer.ack(delivery).await.expect("ack");
    }
    assert_stays_empty(consumer.as_ref()).await;

    let dead_letters = transport.dead_letters();
    let parked = dead_letters.list().await.expect("list");
    assert_eq!(
        parked.len(),
        1,
        "only the undecodable body is parked: {parked:?}"
    );
    let parked = &parked[0];
    assert_eq!(parked.queue, Queue::Payment);
    assert!(
        parked.error.starts_with("cannot decode the envelope"),
        "{}",
        parked.error
    );
    assert_eq!(parked.envelope.message_type, "unknown");
    assert_eq!(
        parked.envelope.payload,
        serde_json::Value::String(NOT_AN_ENVELOPE.to_owned()),
        "the raw body is kept as it came"
    );
    assert_eq!(parked.attempts, 1, "its one delivery counts as an attempt");
    assert!(dead_letters.discard(&parked.id).await.expect("discard"));
    assert!(dead_letters.list().await.expect("list").is_empty());
}
