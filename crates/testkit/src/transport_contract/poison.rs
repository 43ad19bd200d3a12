//! Poison: a message that no handler can ever take is parked at once, and never holds back the
//! healthy messages around it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use contracts::{Envelope, Message, Queue};
use transport::{HandleError, Handler};
use uuid::Uuid;

use super::retries::RunningConsumer;
use super::{
    PATIENCE, QUIET, TransportUnderTest, assert_stays_empty, charge_payment, publish,
    receive_up_to, retry_policy,
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

/// Decodes every message as a service does, and rejects charges in the currency `XXX` as a
/// service rejects what its rules refuse; records the messages it handled.
#[derive(Default)]
struct DecodingHandler {
    handled: Mutex<Vec<Uuid>>,
}

#[async_trait]
impl Handler for DecodingHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        if let Message::ChargePayment(charge) = envelope.decode()?
            && charge.currency == "XXX"
        {
            return Err(HandleError::Rejected(anyhow::anyhow!(
                "the handler refuses currency XXX"
            )));
        }
        self.handled
            .lock()
            .expect("handled")
            .push(envelope.message_id);
        Ok(())
    }
}

/// A well-formed envelope of `charge_payment()`'s shape, changed by `spoil`.
fn spoiled(spoil: impl FnOnce(&mut Envelope)) -> Envelope {
    let mut envelope = charge_payment();
    spoil(&mut envelope);
    envelope
}

/// Every shape of poison that is an envelope — an unknown type, a schema version newer than
/// this build, a payload that does not match its schema, a message its handler refuses — is
/// dead-lettered after the policy's attempts with an error naming its cause, and the healthy
/// messages queued among them are handled once each, none of them parked.
pub async fn every_shape_of_poison_is_dead_lettered_with_its_cause_and_healthy_messages_pass(
    transport: Arc<dyn TransportUnderTest>,
) {
    let poison = [
        (
            spoiled(|e| e.message_type = "payment.teleport".to_owned()),
            "unknown message type",
        ),
        (spoiled(|e| e.schema_version = 99), "newer than"),
        (
            spoiled(|e| e.payload["amount_minor"] = serde_json::json!("a lot")),
            "does not match its schema",
        ),
        (
            spoiled(|e| e.payload["currency"] = serde_json::json!("XXX")),
            "refuses currency XXX",
        ),
    ];
    let healthy = [charge_payment(), charge_payment(), charge_payment()];
    publish(transport.as_ref(), &healthy[..1]).await;
    for (envelope, _) in &poison {
        let body = serde_json::to_vec(envelope).expect("an envelope serializes");
        transport.put_raw(Queue::Payment, &body).await;
    }
    publish(transport.as_ref(), &healthy[1..]).await;

    let handler = Arc::new(DecodingHandler::default());
    let dead_letters = transport.dead_letters();
    let running = RunningConsumer::start(transport.as_ref(), Queue::Payment, handler.clone());
    let deadline = Instant::now() + PATIENCE;
    while dead_letters.list().await.expect("list").len() < poison.len() && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Long enough for a wrongly repeated or parked healthy message to show.
    tokio::time::sleep(QUIET).await;
    running.stop().await;

    let handled = handler.handled.lock().expect("handled").clone();
    let mut expected: Vec<Uuid> = healthy.iter().map(|e| e.message_id).collect();
    let mut handled_sorted = handled.clone();
    expected.sort_unstable();
    handled_sorted.sort_unstable();
    assert_eq!(
        handled_sorted, expected,
        "each healthy message is handled once"
    );
    let parked = dead_letters.list().await.expect("list");
    assert_eq!(
        parked.len(),
        poison.len(),
        "exactly the poison is parked: {parked:?}"
    );
    for (envelope, cause) in &poison {
        let entry = parked
            .iter()
            .find(|p| p.envelope.message_id == envelope.message_id)
            .unwrap_or_else(|| panic!("{} is parked", envelope.message_type));
        assert_eq!(&entry.envelope, envelope, "parked as it came");
        assert!(
            entry.error.contains(cause),
            "{:?} names {cause:?}",
            entry.error
        );
        assert_eq!(entry.attempts, retry_policy().max_attempts);
    }
    let distinct: HashSet<_> = parked.iter().map(|p| p.id.clone()).collect();
    assert_eq!(
        distinct.len(),
        parked.len(),
        "each dead letter has its own id"
    );
}
