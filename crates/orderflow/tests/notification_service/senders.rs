//! The test doubles of the notification service's tests: email senders that record, take
//! their time or refuse, and a mailbox whose first transaction fails.

use super::*;

/// Accepts every email and remembers it.
#[derive(Default)]
pub(crate) struct RecordingSender {
    sent: Mutex<Vec<Notification>>,
}

impl RecordingSender {
    pub(crate) fn sent(&self) -> Vec<Notification> {
        self.sent.lock().expect("sent emails").clone()
    }
}

#[async_trait]
impl EmailSender for RecordingSender {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        self.sent
            .lock()
            .expect("sent emails")
            .push(notification.clone());
        Ok(())
    }
}

/// Takes a while to accept each email, as a mail server does, and remembers it.
#[derive(Default)]
pub(crate) struct SlowSender(pub(crate) RecordingSender);

#[async_trait]
impl EmailSender for SlowSender {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.0.send(notification).await
    }
}

/// Refuses every email, as a mail server that rejects the recipient would.
pub(crate) struct FailingSender;

#[async_trait]
impl EmailSender for FailingSender {
    async fn send(&self, _: &Notification) -> Result<(), SendError> {
        Err(SendError::Refused("550 mailbox unavailable".into()))
    }
}

/// Dies while sending, as a process killed in the middle of it would.
pub(crate) struct CrashingSender;

#[async_trait]
impl EmailSender for CrashingSender {
    async fn send(&self, _: &Notification) -> Result<(), SendError> {
        panic!("killed while sending");
    }
}

/// Cannot reach its mail server, as when the server is down.
pub(crate) struct UnreachableSender;

#[async_trait]
impl EmailSender for UnreachableSender {
    async fn send(&self, _: &Notification) -> Result<(), SendError> {
        Err(SendError::Unavailable("connection refused".into()))
    }
}

/// The real mailbox, whose first transaction fails with `fault`: as if the database were
/// briefly out of reach, or broke in a way no retry in place mends.
pub(crate) struct FirstRecordFails {
    pub(crate) store: SqliteNotificationStore,
    pub(crate) failed: AtomicBool,
    pub(crate) fault: fn() -> StoreError,
}

impl FirstRecordFails {
    pub(crate) fn new(store: SqliteNotificationStore, fault: fn() -> StoreError) -> Self {
        Self {
            store,
            failed: AtomicBool::new(false),
            fault,
        }
    }
}

#[async_trait]
impl NotificationStore for FirstRecordFails {
    async fn begin(&self) -> store::Result<Box<dyn NotificationTx>> {
        if !self.failed.swap(true, Ordering::SeqCst) {
            return Err((self.fault)());
        }
        self.store.begin().await
    }

    async fn sent(
        &self,
        order_id: Option<OrderId>,
        limit: usize,
    ) -> store::Result<Vec<Notification>> {
        self.store.sent(order_id, limit).await
    }

    async fn was_sent(&self, message_id: Uuid) -> store::Result<bool> {
        self.store.was_sent(message_id).await
    }

    async fn claim_sending(
        &self,
        message_id: Uuid,
        holder: Uuid,
        lease: Duration,
    ) -> store::Result<Claim> {
        self.store.claim_sending(message_id, holder, lease).await
    }

    async fn release_sending(&self, message_id: Uuid, holder: Uuid) -> store::Result<()> {
        self.store.release_sending(message_id, holder).await
    }
}
