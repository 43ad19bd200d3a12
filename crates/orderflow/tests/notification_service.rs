//! The notification service against its real SQLite mailbox, and on the embedded queue with
//! retries and dead letters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use contracts::value::{Email, OrderId};
use contracts::{
    Compensation, Envelope, Message, OrderCancelled, OrderCompleted, OrderInventoryReserved, Queue,
};
use notification_service::NotificationService;
use notification_service::ports::{EmailSender, SendError};
use store::StoreError;
use store::notification::{Claim, Notification, NotificationStore, NotificationTx};
use store_sqlite::{Databases, SqliteNotificationStore, SqliteQueue};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use transport::{
    DeadLetters as _, HandleError, Handler as _, Publisher as _, RetryPolicy, run_consumer,
};
use uuid::Uuid;

#[path = "notification_service/senders.rs"]
mod senders;

use senders::{
    CrashingSender, FailingSender, FirstRecordFails, RecordingSender, SlowSender, UnreachableSender,
};

struct TestApp {
    service: NotificationService,
    databases: Databases,
    _data_dir: TempDir,
}

async fn spawn_app(sender: Arc<dyn EmailSender>) -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let databases = Databases::open(data_dir.path())
        .await
        .expect("open the databases");
    let store = Arc::new(SqliteNotificationStore::new(databases.notification.clone()));
    TestApp {
        service: NotificationService::new(store, sender),
        databases,
        _data_dir: data_dir,
    }
}

impl TestApp {
    async fn mailbox(&self) -> Vec<Notification> {
        self.service
            .sent(None, 100)
            .await
            .expect("read the mailbox")
    }
}

fn ada() -> Email {
    Email::parse("ada@example.com").expect("a valid email")
}

fn new_order_id() -> OrderId {
    OrderId::new(Uuid::now_v7())
}

fn envelope(message: impl Into<Message>) -> Envelope {
    Envelope::build(uuid::Uuid::now_v7(), &message.into()).at(OffsetDateTime::now_utc())
}

fn order_completed(order_id: OrderId) -> Envelope {
    envelope(OrderCompleted {
        order_id,
        customer_email: ada(),
        items: Vec::new(),
        total_minor: 5_198,
        currency: "USD".into(),
        completed_at: OffsetDateTime::now_utc(),
    })
}

fn order_cancelled(order_id: OrderId) -> Envelope {
    envelope(OrderCancelled {
        order_id,
        customer_email: ada(),
        reason: "payment declined: card expired".into(),
        compensations: vec![Compensation::ReleaseStock],
        cancelled_at: OffsetDateTime::now_utc(),
    })
}

#[tokio::test]
async fn a_completed_order_sends_and_records_one_confirmation() {
    let sender = Arc::new(RecordingSender::default());
    let app = spawn_app(sender.clone()).await;
    let order_id = new_order_id();
    let completed = order_completed(order_id);

    app.service.handle(&completed).await.expect("handled");

    let mailbox = app.mailbox().await;
    assert_eq!(mailbox.len(), 1);
    assert_eq!(mailbox[0].order_id, order_id);
    assert_eq!(mailbox[0].message_id, completed.message_id);
    assert_eq!(mailbox[0].recipient.as_str(), "ada@example.com");
    assert_eq!(
        mailbox[0].subject,
        format!("Your order {order_id} is confirmed")
    );
    assert!(mailbox[0].body.contains("51.98 USD"), "{}", mailbox[0].body);
    assert_eq!(sender.sent(), mailbox, "what was sent is what was recorded");
}

#[tokio::test]
async fn the_same_message_again_sends_nothing_and_records_nothing_more() {
    let sender = Arc::new(RecordingSender::default());
    let app = spawn_app(sender.clone()).await;
    let completed = order_completed(new_order_id());

    app.service.handle(&completed).await.expect("handled");
    app.service
        .handle(&completed)
        .await
        .expect("the duplicate is acknowledged");

    assert_eq!(app.mailbox().await.len(), 1);
    assert_eq!(sender.sent().len(), 1);
}

#[tokio::test]
async fn two_deliveries_of_one_message_at_once_send_one_email() {
    let sender = Arc::new(SlowSender::default());
    let app = spawn_app(sender.clone()).await;
    let completed = order_completed(OrderId::new(Uuid::now_v7()));

    // Two consumers of the queue got the same message (a redelivery, a second copy).
    let (first, second) = tokio::join!(
        app.service.handle(&completed),
        app.service.handle(&completed)
    );
    let mut outcomes = [first, second];
    outcomes.sort_by_key(Result::is_err);

    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    assert!(
        matches!(outcomes[1], Ok(()) | Err(HandleError::Unavailable(_))),
        "the other one is acknowledged or retried later, never charged: {outcomes:?}"
    );
    assert_eq!(sender.0.sent().len(), 1, "one email");
    assert_eq!(app.mailbox().await.len(), 1);
}

#[tokio::test]
async fn an_outage_between_sending_and_recording_does_not_send_the_email_again() {
    let sender = Arc::new(RecordingSender::default());
    let app = spawn_app(sender.clone()).await;
    let store = FirstRecordFails::new(
        SqliteNotificationStore::new(app.databases.notification.clone()),
        || StoreError::Unavailable(anyhow::anyhow!("database is busy")),
    );
    let service = NotificationService::new(Arc::new(store), sender.clone());
    let completed = order_completed(OrderId::new(Uuid::now_v7()));

    let first = service.handle(&completed).await;
    if first.is_err() {
        // As the consumer loop would: the message comes back.
        service.handle(&completed).await.expect("handled");
    }

    assert_eq!(sender.sent().len(), 1, "one email");
    assert_eq!(app.mailbox().await.len(), 1);
}

#[tokio::test]
async fn an_email_sent_but_not_recorded_is_recorded_not_sent_again_when_its_message_comes_back() {
    let sender = Arc::new(RecordingSender::default());
    let app = spawn_app(sender.clone()).await;
    let store = FirstRecordFails::new(
        SqliteNotificationStore::new(app.databases.notification.clone()),
        || StoreError::Unexpected(anyhow::anyhow!("disk I/O error")),
    );
    let service = NotificationService::new(Arc::new(store), sender.clone());
    let completed = order_completed(new_order_id());

    let first = service.handle(&completed).await;
    assert!(
        matches!(first, Err(HandleError::Rejected(_))),
        "the record failed: {first:?}"
    );
    assert_eq!(app.mailbox().await, Vec::new(), "not recorded yet");
    service.handle(&completed).await.expect("handled again");

    assert_eq!(sender.sent().len(), 1, "one email");
    assert_eq!(app.mailbox().await, sender.sent());
}

#[tokio::test]
async fn replicas_in_two_processes_given_one_message_at_once_send_one_email() {
    let sender = Arc::new(SlowSender::default());
    let app = spawn_app(sender.clone()).await;
    let store = || {
        Arc::new(SqliteNotificationStore::new(
            app.databases.notification.clone(),
        ))
    };
    // Each has its own name in the store, as the services of two processes do.
    let (one, other) = (
        NotificationService::new(store(), sender.clone()),
        NotificationService::new(store(), sender.clone()),
    );
    let completed = order_completed(new_order_id());

    let (first, second) = tokio::join!(one.handle(&completed), other.handle(&completed));
    let mut outcomes = [first, second];
    outcomes.sort_by_key(Result::is_err);
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    assert!(
        matches!(outcomes[1], Ok(()) | Err(HandleError::Unavailable(_))),
        "the other is retried later, never charged: {outcomes:?}"
    );
    for service in [&one, &other] {
        service
            .handle(&completed)
            .await
            .expect("the retry is acknowledged");
    }

    assert_eq!(sender.0.sent().len(), 1, "one email");
    assert_eq!(app.mailbox().await.len(), 1);
}

#[tokio::test]
async fn an_email_a_replica_could_not_send_is_sent_by_another_at_once() {
    let sender = Arc::new(RecordingSender::default());
    let app = spawn_app(sender.clone()).await;
    let store = || {
        Arc::new(SqliteNotificationStore::new(
            app.databases.notification.clone(),
        ))
    };
    let cut_off = NotificationService::new(store(), Arc::new(UnreachableSender));
    let connected = NotificationService::new(store(), sender.clone());
    let completed = order_completed(new_order_id());

    let outcome = cut_off.handle(&completed).await;
    assert!(
        matches!(outcome, Err(HandleError::Unavailable(_))),
        "{outcome:?}"
    );
    connected
        .handle(&completed)
        .await
        .expect("its claim was given up");

    assert_eq!(sender.sent().len(), 1);
    assert_eq!(app.mailbox().await, sender.sent());
}

#[tokio::test]
async fn a_claim_left_by_a_crashed_replica_holds_the_others_back_but_not_a_sole_process() {
    let sender = Arc::new(RecordingSender::default());
    let app = spawn_app(sender.clone()).await;
    let store = || {
        Arc::new(SqliteNotificationStore::new(
            app.databases.notification.clone(),
        ))
    };
    let completed = order_completed(new_order_id());
    let crashing = NotificationService::new(store(), Arc::new(CrashingSender));
    let envelope = completed.clone();
    let crashed = tokio::spawn(async move { crashing.handle(&envelope).await }).await;
    assert!(crashed.is_err(), "the process died while sending");

    let replica = NotificationService::new(store(), sender.clone());
    let outcome = replica.handle(&completed).await;
    assert!(
        matches!(outcome, Err(HandleError::Unavailable(_))),
        "{outcome:?}"
    );
    assert_eq!(sender.sent(), Vec::new());
    // The sole process of a data directory claims nothing: no other process sends from its
    // store, so it never waits for a claim to lapse.
    let sole = NotificationService::new(store(), sender.clone()).sole_sender();
    sole.handle(&completed).await.expect("sent at once");

    assert_eq!(sender.sent().len(), 1);
}

#[tokio::test]
async fn a_cancelled_order_sends_the_reason() {
    let sender = Arc::new(RecordingSender::default());
    let app = spawn_app(sender.clone()).await;
    let order_id = new_order_id();

    app.service
        .handle(&order_cancelled(order_id))
        .await
        .expect("handled");

    let mailbox = app.mailbox().await;
    assert_eq!(mailbox.len(), 1);
    assert_eq!(
        mailbox[0].subject,
        format!("Your order {order_id} was cancelled")
    );
    assert!(
        mailbox[0].body.contains("payment declined: card expired"),
        "{}",
        mailbox[0].body
    );
}

#[tokio::test]
async fn other_messages_are_acknowledged_without_an_email() {
    let sender = Arc::new(RecordingSender::default());
    let app = spawn_app(sender.clone()).await;
    let order_id = new_order_id();

    let reserved = envelope(OrderInventoryReserved {
        order_id,
        reserved_at: OffsetDateTime::now_utc(),
    });
    app.service.handle(&reserved).await.expect("acknowledged");

    assert_eq!(sender.sent(), Vec::new());
    assert_eq!(app.mailbox().await, Vec::new());
}

#[tokio::test]
async fn a_message_it_cannot_read_or_does_not_consume_is_rejected_not_ignored() {
    let sender = Arc::new(RecordingSender::default());
    let app = spawn_app(sender.clone()).await;
    let reserved = envelope(OrderInventoryReserved {
        order_id: OrderId::new(Uuid::now_v7()),
        reserved_at: OffsetDateTime::now_utc(),
    });
    let unknown_type = Envelope {
        message_type: "shipment.teleported".into(),
        ..reserved.clone()
    };
    let future_version = Envelope {
        schema_version: 99,
        ..reserved.clone()
    };
    let not_its_own = envelope(contracts::ReleaseStock {
        order_id: OrderId::new(Uuid::now_v7()),
    });

    for poison in [unknown_type, future_version, not_its_own] {
        let outcome = app.service.handle(&poison).await;
        assert!(
            matches!(outcome, Err(HandleError::Rejected(_))),
            "{}: {outcome:?}",
            poison.message_type
        );
    }
    assert_eq!(sender.sent(), Vec::new());
}

#[tokio::test]
async fn the_mailbox_lists_one_orders_notifications_newest_first() {
    let sender = Arc::new(RecordingSender::default());
    let app = spawn_app(sender.clone()).await;
    let (ada, bob) = (new_order_id(), new_order_id());
    for event in [
        order_completed(ada),
        order_cancelled(bob),
        order_cancelled(ada),
    ] {
        app.service.handle(&event).await.expect("handled");
        // Distinct milliseconds, so "newest first" has one answer.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let for_ada = app
        .service
        .sent(Some(ada), 10)
        .await
        .expect("read the mailbox");
    let subjects: Vec<&str> = for_ada.iter().map(|n| n.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            format!("Your order {ada} was cancelled"),
            format!("Your order {ada} is confirmed")
        ]
    );
    assert_eq!(
        app.service
            .sent(None, 2)
            .await
            .expect("read the mailbox")
            .len(),
        2
    );
}

#[tokio::test]
async fn a_sender_that_fails_rejects_the_message_and_records_nothing() {
    let app = spawn_app(Arc::new(FailingSender)).await;

    let outcome = app.service.handle(&order_completed(new_order_id())).await;

    let Err(HandleError::Rejected(cause)) = outcome else {
        panic!("expected a rejection, got {outcome:?}");
    };
    assert!(
        format!("{cause:#}").contains("550 mailbox unavailable"),
        "{cause:#}"
    );
    assert_eq!(app.mailbox().await, Vec::new());
}

#[tokio::test]
async fn a_mail_server_out_of_reach_is_an_outage_waited_out_not_a_fault_of_the_message() {
    let app = spawn_app(Arc::new(UnreachableSender)).await;

    let outcome = app.service.handle(&order_completed(new_order_id())).await;

    let Err(HandleError::Unavailable(cause)) = outcome else {
        panic!("expected an outage, got {outcome:?}");
    };
    assert!(
        format!("{cause:#}").contains("connection refused"),
        "{cause:#}"
    );
    assert_eq!(app.mailbox().await, Vec::new());
}

#[tokio::test]
async fn a_message_whose_email_keeps_failing_is_dead_lettered_after_three_attempts() {
    let app = spawn_app(Arc::new(FailingSender)).await;
    let queue = SqliteQueue::new(app.databases.clone());
    let completed = order_completed(new_order_id());
    queue
        .publish(std::slice::from_ref(&completed))
        .await
        .expect("publish");
    let policy = RetryPolicy {
        max_attempts: 3,
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn(run_consumer(
        Arc::new(queue.consumer(Queue::Notification)),
        Arc::new(app.service.clone()),
        policy,
        transport::OutageReporter::unheard(),
        shutdown.clone(),
    ));

    let dead_letters = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let parked = queue.list().await.expect("list dead letters");
            if !parked.is_empty() {
                break parked;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the message is dead-lettered in time");
    shutdown.cancel();
    consumer.await.expect("the consumer stops cleanly");

    assert_eq!(dead_letters.len(), 1);
    let parked = &dead_letters[0];
    assert_eq!(parked.queue, Queue::Notification);
    assert_eq!(parked.envelope, completed);
    assert_eq!(parked.attempts, 3);
    assert!(
        parked.error.contains("550 mailbox unavailable"),
        "{}",
        parked.error
    );
    assert_eq!(
        queue.depth(Queue::Notification).await.expect("queue depth"),
        0
    );
    assert_eq!(app.mailbox().await, Vec::new());
}
