//! The notification service's store: one notification per causing message.

use std::sync::Arc;

use contracts::value::{Email, OrderId};
use store::notification::{Claim, Notification, NotificationStore};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::new_order_id;

/// A notification reads back as it was sent, and is recorded once however often its message
/// is recorded.
pub async fn a_notification_is_recorded_once_per_message(store: Arc<dyn NotificationStore>) {
    let sent = notification(new_order_id(), 0);
    record(&store, &[sent.clone(), sent.clone()]).await;
    record(&store, std::slice::from_ref(&sent)).await;

    assert_eq!(
        store.sent(None, 10).await.expect("sent"),
        std::slice::from_ref(&sent)
    );
    assert!(store.was_sent(sent.message_id).await.expect("was sent"));
    assert!(!store.was_sent(Uuid::now_v7()).await.expect("was sent"));
}

/// Notifications are listed newest first, for one order when asked, at most `limit`.
pub async fn sent_notifications_are_newest_first_filtered_by_order_and_limited(
    store: Arc<dyn NotificationStore>,
) {
    let (ada, bob) = (new_order_id(), new_order_id());
    let (first, second, third) = (
        notification(ada, 0),
        notification(bob, 1),
        notification(ada, 2),
    );
    record(&store, &[first.clone(), second.clone(), third.clone()]).await;

    assert_eq!(
        store.sent(None, 10).await.expect("sent"),
        [third.clone(), second, first.clone()]
    );
    assert_eq!(
        store.sent(Some(ada), 10).await.expect("sent"),
        [third.clone(), first]
    );
    assert_eq!(store.sent(None, 1).await.expect("sent"), [third]);
}

/// A notification recorded in a dropped transaction was not sent.
pub async fn a_dropped_notification_transaction_records_nothing(store: Arc<dyn NotificationStore>) {
    let sent = notification(new_order_id(), 0);
    let mut tx = store.begin().await.expect("begin");
    tx.record_sent(&sent).await.expect("record");
    drop(tx);

    assert!(!store.was_sent(sent.message_id).await.expect("was sent"));
    assert!(store.sent(None, 10).await.expect("sent").is_empty());
}

/// A claim keeps other holders from sending an email while it runs; its holder may claim it
/// again, and anyone may once it lapsed.
pub async fn a_claim_keeps_other_holders_out_until_it_lapses(store: Arc<dyn NotificationStore>) {
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let (held, lapsing) = (Uuid::now_v7(), Uuid::now_v7());

    assert_eq!(
        claim(&store, held, ada, LEASE).await,
        Claim::Claimed,
        "a new claim"
    );
    assert_eq!(
        claim(&store, held, bob, LEASE).await,
        Claim::Held,
        "held by another"
    );
    assert_eq!(
        claim(&store, held, ada, LEASE).await,
        Claim::Claimed,
        "its holder's again"
    );

    let lapsed = std::time::Duration::ZERO;
    assert_eq!(claim(&store, lapsing, ada, lapsed).await, Claim::Claimed);
    assert_eq!(
        claim(&store, lapsing, bob, LEASE).await,
        Claim::Claimed,
        "lapsed"
    );
    assert_eq!(
        claim(&store, lapsing, ada, LEASE).await,
        Claim::Held,
        "taken over"
    );
}

/// A claim given up by its holder is free at once; one given up by another is not.
pub async fn a_released_claim_is_free_for_another_holder(store: Arc<dyn NotificationStore>) {
    let (ada, bob, eve) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let message_id = Uuid::now_v7();
    assert_eq!(claim(&store, message_id, ada, LEASE).await, Claim::Claimed);

    store
        .release_sending(message_id, eve)
        .await
        .expect("release");
    assert_eq!(
        claim(&store, message_id, bob, LEASE).await,
        Claim::Held,
        "not eve's"
    );

    store
        .release_sending(message_id, ada)
        .await
        .expect("release");
    assert_eq!(
        claim(&store, message_id, bob, LEASE).await,
        Claim::Claimed,
        "given up"
    );
}

/// Once its email is recorded as sent, a message is never claimed again, even by the holder
/// of a claim that lapsed.
pub async fn a_recorded_email_is_never_claimed_again(store: Arc<dyn NotificationStore>) {
    let (ada, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let (claimed, unclaimed) = (
        notification(new_order_id(), 0),
        notification(new_order_id(), 1),
    );
    let lapsed = std::time::Duration::ZERO;
    assert_eq!(
        claim(&store, claimed.message_id, ada, lapsed).await,
        Claim::Claimed
    );

    record(&store, &[claimed.clone(), unclaimed.clone()]).await;

    for message_id in [claimed.message_id, unclaimed.message_id] {
        assert_eq!(
            claim(&store, message_id, ada, LEASE).await,
            Claim::Sent,
            "recorded"
        );
        assert_eq!(
            claim(&store, message_id, bob, LEASE).await,
            Claim::Sent,
            "recorded"
        );
        store
            .release_sending(message_id, ada)
            .await
            .expect("release");
        assert_eq!(
            claim(&store, message_id, bob, LEASE).await,
            Claim::Sent,
            "a sent claim stays"
        );
    }
}

/// A sent email recorded with its message is recorded once: the message's second record
/// answers `false` and changes nothing, and no holder can claim the email afterwards, even
/// the one that held it.
pub async fn an_email_recorded_with_its_message_is_recorded_once(
    store: Arc<dyn NotificationStore>,
) {
    let ada = Uuid::now_v7();
    let sent = notification(new_order_id(), 0);
    assert_eq!(
        claim(&store, sent.message_id, ada, LEASE).await,
        Claim::Claimed
    );

    assert!(
        store.record_handled(&sent).await.expect("record"),
        "first record"
    );
    let mut again = sent.clone();
    again.subject = "another subject".into();
    assert!(
        !store.record_handled(&again).await.expect("record"),
        "message handled already"
    );

    assert_eq!(
        store.sent(Some(sent.order_id), 10).await.expect("sent"),
        std::slice::from_ref(&sent)
    );
    assert!(store.was_sent(sent.message_id).await.expect("was sent"));
    assert_eq!(
        claim(&store, sent.message_id, ada, LEASE).await,
        Claim::Sent
    );
    assert!(
        !store
            .begin()
            .await
            .expect("begin")
            .mark_handled(sent.message_id)
            .await
            .expect("inbox"),
        "the message is in the inbox"
    );
}

/// Longer than any of these tests.
const LEASE: std::time::Duration = std::time::Duration::from_secs(600);

async fn claim(
    store: &Arc<dyn NotificationStore>,
    message_id: Uuid,
    holder: Uuid,
    lease: std::time::Duration,
) -> Claim {
    store
        .claim_sending(message_id, holder, lease)
        .await
        .expect("claim")
}

/// A notification sent `seconds` after a fixed time, with milliseconds (what is stored).
fn notification(order_id: OrderId, seconds: i64) -> Notification {
    Notification {
        order_id,
        message_id: Uuid::now_v7(),
        recipient: Email::parse("ada@example.com").expect("a valid email"),
        subject: format!("Your order {order_id} is confirmed"),
        body: "Thank you".into(),
        sent_at: OffsetDateTime::UNIX_EPOCH
            + Duration::days(20_000)
            + Duration::milliseconds(seconds * 1000 + 123),
    }
}

async fn record(store: &Arc<dyn NotificationStore>, notifications: &[Notification]) {
    let mut tx = store.begin().await.expect("begin");
    for notification in notifications {
        tx.record_sent(notification).await.expect("record");
    }
    tx.commit().await.expect("commit");
}
