//! The notification service's storage port: the record of every email sent.

use crate::{Result, UnitOfWork};
use async_trait::async_trait;
use contracts::value::{Email, OrderId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// An email as sent to a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub order_id: OrderId,
    /// The message that caused it; one notification per message.
    pub message_id: Uuid,
    pub recipient: Email,
    pub subject: String,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
}

/// The notifications sent (the mailbox, in embedded mode).
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// # Errors
    /// [`crate::StoreError::Unavailable`] when the database cannot be reached.
    async fn begin(&self) -> Result<Box<dyn NotificationTx>>;

    /// Sent notifications, newest first; only those for `order_id` when given.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn sent(&self, order_id: Option<OrderId>, limit: usize) -> Result<Vec<Notification>>;

    /// Whether a notification caused by `message_id` was already recorded: checked before
    /// sending, so a redelivered message does not email the customer again.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn was_sent(&self, message_id: Uuid) -> Result<bool>;
}

/// One transaction on the notification database.
#[async_trait]
pub trait NotificationTx: UnitOfWork {
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn record_sent(&mut self, notification: &Notification) -> Result<()>;
}
