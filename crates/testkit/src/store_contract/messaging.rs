//! The inbox and the outbox, which every service's transaction carries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{OutboxEntry, OutboxReader};
use uuid::Uuid;

use super::{UnitOfWorkSource, message_about, new_order_id};

/// `mark_handled` says `true` the first time a message id is recorded and `false` after, in the
/// same transaction and in later ones.
pub async fn a_message_is_marked_handled_once(source: impl UnitOfWorkSource) {
    let message_id = Uuid::now_v7();
    let mut tx = source.begin_unit_of_work().await.expect("begin");
    assert!(tx.mark_handled(message_id).await.expect("mark handled"));
    assert!(
        !tx.mark_handled(message_id)
            .await
            .expect("mark handled again"),
        "a message recorded in this transaction is a duplicate"
    );
    tx.commit().await.expect("commit");

    let mut tx = source.begin_unit_of_work().await.expect("begin");
    assert!(
        !tx.mark_handled(message_id)
            .await
            .expect("mark handled after commit"),
        "a committed message is a duplicate"
    );
    assert!(
        tx.mark_handled(Uuid::now_v7())
            .await
            .expect("mark another handled"),
        "another message is not"
    );
}

/// `mark_all_handled` answers for each id in turn: `true` for one recorded now, `false` for one
/// handled in an earlier transaction or earlier in the same list.
pub async fn messages_marked_handled_together_are_answered_each_in_turn(
    source: impl UnitOfWorkSource,
) {
    let earlier = Uuid::now_v7();
    let mut tx = source.begin_unit_of_work().await.expect("begin");
    assert!(tx.mark_handled(earlier).await.expect("mark handled"));
    tx.commit().await.expect("commit");

    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = source.begin_unit_of_work().await.expect("begin");
    let fresh = tx
        .mark_all_handled(&[second, earlier, first, second])
        .await
        .expect("mark them handled");
    assert_eq!(fresh, [true, false, true, false]);
    assert!(
        !tx.mark_handled(first).await.expect("mark handled again"),
        "recorded together, recorded all the same"
    );
    tx.commit().await.expect("commit");

    let mut tx = source.begin_unit_of_work().await.expect("begin");
    assert_eq!(
        tx.mark_all_handled(&[first, Uuid::now_v7()])
            .await
            .expect("mark handled after commit"),
        [false, true]
    );
}

/// A message recorded in a transaction that was dropped is not handled.
pub async fn a_rolled_back_message_is_not_marked_handled(source: impl UnitOfWorkSource) {
    let message_id = Uuid::now_v7();
    let mut tx = source.begin_unit_of_work().await.expect("begin");
    assert!(tx.mark_handled(message_id).await.expect("mark handled"));
    drop(tx);

    let mut tx = source.begin_unit_of_work().await.expect("begin");
    assert!(
        tx.mark_handled(message_id).await.expect("mark handled"),
        "the rolled back record was forgotten"
    );
    tx.commit().await.expect("commit");
}

/// Of concurrent transactions handling one message (a redelivery racing the first delivery),
/// exactly one records it.
pub async fn concurrent_deliveries_of_one_message_mark_it_handled_once(
    source: impl UnitOfWorkSource + 'static,
) {
    let source = Arc::new(source);
    let message_id = Uuid::now_v7();
    let deliveries: Vec<_> = (0..8)
        .map(|_| {
            let source = Arc::clone(&source);
            tokio::spawn(async move {
                let mut tx = source.begin_unit_of_work().await.expect("begin");
                let first = tx.mark_handled(message_id).await.expect("mark handled");
                tx.commit().await.expect("commit");
                first
            })
        })
        .collect();
    let mut firsts = 0;
    for delivery in deliveries {
        if delivery.await.expect("delivery task") {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1, "exactly one delivery handles the message");
}

/// The outbox hands out a message only once its transaction committed; a dropped transaction
/// leaves nothing.
pub async fn outbox_messages_are_pending_only_once_committed(
    source: impl UnitOfWorkSource,
    outbox: Arc<dyn OutboxReader>,
) {
    let message = message_about(new_order_id());
    let mut tx = source.begin_unit_of_work().await.expect("begin");
    tx.enqueue(&message).await.expect("enqueue");
    assert_eq!(outbox.lag().await.expect("lag"), 0, "not committed yet");
    assert!(
        outbox.pending(10).await.expect("pending").is_empty(),
        "an uncommitted message is not pending"
    );
    drop(tx);
    assert_eq!(outbox.lag().await.expect("lag"), 0, "rolled back");

    let mut tx = source.begin_unit_of_work().await.expect("begin");
    tx.enqueue(&message).await.expect("enqueue");
    tx.commit().await.expect("commit");
    let pending = outbox.pending(10).await.expect("pending");
    assert_eq!(envelopes(&pending), [message]);
    outbox
        .mark_published(&ids(&pending))
        .await
        .expect("mark published");
    assert_eq!(outbox.lag().await.expect("lag"), 0);
}

/// Pending messages come oldest first (several enqueued at once in their order), at most as many as asked, are handed out again (to the
/// same relay) and stay counted until marked published, and are gone once they are.
pub async fn pending_messages_come_in_commit_order_and_leave_once_published(
    source: impl UnitOfWorkSource,
    outbox: Arc<dyn OutboxReader>,
) {
    let order_id = new_order_id();
    let (first, second, third) = (
        message_about(order_id),
        message_about(order_id),
        message_about(order_id),
    );
    let mut tx = source.begin_unit_of_work().await.expect("begin");
    tx.enqueue(&first).await.expect("enqueue");
    tx.commit().await.expect("commit");
    let mut tx = source.begin_unit_of_work().await.expect("begin");
    // Several at once keep their order.
    tx.enqueue_all(&[second.clone(), third.clone()])
        .await
        .expect("enqueue all");
    tx.commit().await.expect("commit");
    assert_eq!(outbox.lag().await.expect("lag"), 3);

    let oldest = outbox.pending(2).await.expect("pending");
    assert_eq!(envelopes(&oldest), [first, second.clone()]);
    assert!(oldest[0].id < oldest[1].id, "ids grow in commit order");
    assert_eq!(
        ids(&outbox.pending(2).await.expect("pending again")),
        ids(&oldest),
        "a relay whose publish failed gets the same messages again"
    );
    assert_eq!(
        outbox.lag().await.expect("lag"),
        3,
        "read but not yet published"
    );
    outbox
        .mark_published(&ids(&oldest))
        .await
        .expect("mark published");
    assert_eq!(outbox.lag().await.expect("lag"), 1);

    let rest = outbox.pending(10).await.expect("pending");
    assert_eq!(envelopes(&rest), [third]);
    assert!(rest[0].id > oldest[1].id);
    outbox
        .mark_published(&ids(&rest))
        .await
        .expect("mark published");
    assert_eq!(outbox.lag().await.expect("lag"), 0);
    assert!(outbox.pending(10).await.expect("pending").is_empty());
    outbox
        .mark_published(&[])
        .await
        .expect("marking nothing published is fine");
}

/// `mark_published_then_pending` marks the batch given published and hands out the ones after
/// it, never one of the batch: a relay's step from one batch to the next.
pub async fn a_relay_marks_a_batch_published_while_reading_the_next(
    source: impl UnitOfWorkSource,
    outbox: Arc<dyn OutboxReader>,
) {
    let order_id = new_order_id();
    let [first, second, third] = [(); 3].map(|()| message_about(order_id));
    commit_enqueued(&source, &[first.clone(), second.clone()]).await;
    let batch = outbox
        .mark_published_then_pending(&[], 10)
        .await
        .expect("pending");
    assert_eq!(envelopes(&batch), [first, second]);

    commit_enqueued(&source, std::slice::from_ref(&third)).await;
    let next = outbox
        .mark_published_then_pending(&ids(&batch), 10)
        .await
        .expect("mark published, then pending");
    assert_eq!(
        envelopes(&next),
        [third],
        "the batch marked is not handed out again"
    );
    assert_eq!(outbox.lag().await.expect("lag"), 1, "the batch is gone");

    let after = outbox
        .mark_published_then_pending(&ids(&next), 10)
        .await
        .expect("mark the last published");
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(outbox.lag().await.expect("lag"), 0);
}

/// Enqueues `messages` in a transaction of their own, and commits it.
async fn commit_enqueued(source: &impl UnitOfWorkSource, messages: &[contracts::Envelope]) {
    let mut tx = source.begin_unit_of_work().await.expect("begin");
    tx.enqueue_all(messages).await.expect("enqueue all");
    tx.commit().await.expect("commit");
}

/// A relay waiting for new messages wakes soon after a transaction with outbox messages
/// commits, long before its polling timeout.
pub async fn a_commit_with_outbox_messages_wakes_a_waiting_relay(
    source: impl UnitOfWorkSource + 'static,
    outbox: Arc<dyn OutboxReader>,
) {
    const POLL: Duration = Duration::from_secs(20);
    // Start listening, and use up a wake-up left from earlier, if any.
    assert!(outbox.pending(10).await.expect("pending").is_empty());
    outbox.wait_for_new(Duration::from_millis(200)).await;

    let started = Instant::now();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut tx = source.begin_unit_of_work().await.expect("begin");
        tx.enqueue(&message_about(new_order_id()))
            .await
            .expect("enqueue");
        tx.commit().await.expect("commit");
    });
    while outbox.lag().await.expect("lag") == 0 {
        assert!(started.elapsed() < POLL, "the commit never became visible");
        outbox.wait_for_new(POLL).await;
    }
    assert!(
        started.elapsed() < POLL / 2,
        "woken by the commit, not by the polling timeout (after {:?})",
        started.elapsed()
    );
    writer.await.expect("writer task");
}

fn envelopes(entries: &[OutboxEntry]) -> Vec<contracts::Envelope> {
    entries.iter().map(|entry| entry.envelope.clone()).collect()
}

fn ids(entries: &[OutboxEntry]) -> Vec<i64> {
    entries.iter().map(|entry| entry.id).collect()
}
