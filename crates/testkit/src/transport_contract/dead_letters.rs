//! The dead-letter store: parking, listing, replaying and discarding.

use std::sync::Arc;

use contracts::Queue;

use super::{
    PATIENCE, TransportUnderTest, assert_stays_empty, charge_payment, publish, receive_one,
    receive_up_to,
};

/// A dead letter is parked with its error and attempts, listed, and replayed (with a fresh
/// attempt count) or discarded; unknown ids are reported as such.
pub async fn a_dead_letter_is_listed_then_replayed_or_discarded(
    transport: Arc<dyn TransportUnderTest>,
) {
    let first = charge_payment();
    let second = charge_payment();
    publish(transport.as_ref(), &[first.clone(), second.clone()]).await;
    let consumer = transport.consumer(Queue::Payment);
    let deliveries = receive_up_to(consumer.as_ref(), 2, PATIENCE).await;
    assert_eq!(deliveries.len(), 2, "both messages arrive");
    for delivery in &deliveries {
        let error = format!("card declined for {}", delivery.envelope.message_id);
        consumer
            .dead_letter(delivery, &error)
            .await
            .expect("dead-letter");
    }
    assert_stays_empty(consumer.as_ref()).await;

    let dead_letters = transport.dead_letters();
    let listed = dead_letters.list().await.expect("list");
    assert_eq!(listed.len(), 2, "both are parked: {listed:?}");
    for parked in &listed {
        assert_eq!(parked.queue, Queue::Payment);
        assert!(parked.id.starts_with("payment:"), "{}", parked.id);
        assert!(
            parked.envelope == first || parked.envelope == second,
            "parked as sent"
        );
        assert_eq!(
            parked.error,
            format!("card declined for {}", parked.envelope.message_id)
        );
        assert_eq!(
            parked.attempts, 1,
            "the failed delivery counts as an attempt"
        );
    }
    assert_eq!(
        dead_letters.list().await.expect("list again").len(),
        2,
        "listing leaves them parked"
    );

    let (replayed, discarded) = (&listed[0], &listed[1]);
    assert!(dead_letters.replay(&replayed.id).await.expect("replay"));
    let again = receive_one(consumer.as_ref()).await;
    assert_eq!(again.envelope, replayed.envelope);
    assert_eq!(again.attempts, 0, "a replay starts afresh");
    consumer.ack(&again).await.expect("ack");

    let remaining = dead_letters.list().await.expect("list");
    let ids: Vec<&str> = remaining.iter().map(|parked| parked.id.as_str()).collect();
    assert_eq!(ids, [discarded.id.as_str()]);
    assert!(dead_letters.discard(&discarded.id).await.expect("discard"));
    assert!(dead_letters.list().await.expect("list").is_empty());
    assert_stays_empty(consumer.as_ref()).await;

    assert!(!dead_letters.discard(&discarded.id).await.expect("discard"));
    assert!(!dead_letters.replay(&replayed.id).await.expect("replay"));
    assert!(
        !dead_letters
            .replay("payment:unknown")
            .await
            .expect("replay")
    );
    assert!(!dead_letters.discard("nonsense").await.expect("discard"));
}
