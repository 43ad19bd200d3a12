//! `SqliteNotificationStore` against a real database file: the record of emails sent.

use contracts::Queue;
use contracts::value::{Email, OrderId};
use store::notification::{Notification, NotificationStore as _};
use store_sqlite::{SqliteDatabase, SqliteNotificationStore};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

async fn open_store() -> (SqliteNotificationStore, TempDir) {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let database = SqliteDatabase::open(data_dir.path(), Queue::Notification)
        .await
        .expect("open the notification database");
    (SqliteNotificationStore::new(database), data_dir)
}

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

async fn record(store: &SqliteNotificationStore, notifications: &[Notification]) {
    let mut tx = store.begin().await.expect("begin");
    for notification in notifications {
        tx.record_sent(notification).await.expect("record");
    }
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn a_recorded_notification_reads_back_as_it_was_sent() {
    let (store, _dir) = open_store().await;
    let sent = notification(OrderId::new(Uuid::now_v7()), 0);

    record(&store, std::slice::from_ref(&sent)).await;

    assert_eq!(
        store.sent(None, 10).await.expect("read"),
        std::slice::from_ref(&sent)
    );
    assert!(store.was_sent(sent.message_id).await.expect("look up"));
    assert!(!store.was_sent(Uuid::now_v7()).await.expect("look up"));
}

#[tokio::test]
async fn recording_the_same_message_twice_keeps_one_notification() {
    let (store, _dir) = open_store().await;
    let sent = notification(OrderId::new(Uuid::now_v7()), 0);

    record(&store, &[sent.clone(), sent.clone()]).await;
    record(&store, std::slice::from_ref(&sent)).await;

    assert_eq!(store.sent(None, 10).await.expect("read").len(), 1);
}

#[tokio::test]
async fn nothing_is_recorded_when_the_transaction_is_dropped() {
    let (store, _dir) = open_store().await;
    let sent = notification(OrderId::new(Uuid::now_v7()), 0);
    let mut tx = store.begin().await.expect("begin");
    tx.record_sent(&sent).await.expect("record");
    drop(tx);

    assert!(!store.was_sent(sent.message_id).await.expect("look up"));
}

#[tokio::test]
async fn sent_notifications_are_newest_first_filtered_by_order_and_limited() {
    let (store, _dir) = open_store().await;
    let (ada, bob) = (OrderId::new(Uuid::now_v7()), OrderId::new(Uuid::now_v7()));
    let (first, second, third) = (
        notification(ada, 0),
        notification(bob, 1),
        notification(ada, 2),
    );
    record(&store, &[first.clone(), second.clone(), third.clone()]).await;

    assert_eq!(
        store.sent(None, 10).await.expect("read"),
        [third.clone(), second.clone(), first.clone()]
    );
    assert_eq!(
        store.sent(Some(ada), 10).await.expect("read"),
        [third.clone(), first]
    );
    assert_eq!(store.sent(None, 1).await.expect("read"), [third]);
}
