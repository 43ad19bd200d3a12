//! The notification service's store: one notification per causing message.

use std::sync::Arc;

use contracts::value::{Email, OrderId};
use store::notification::{Notification, NotificationStore};
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
