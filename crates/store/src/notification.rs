//! The notification service's ports: the record of every email sent, and the sender that
//! delivers an email (over SMTP, or only to the log).

use std::time::Duration;

use async_trait::async_trait;
use contracts::value::{Email, OrderId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Result, UnitOfWork};

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

    /// Claims the sending of the email `message_id` causes for `holder`, for `lease` by the
    /// database's clock, so that consumers in several processes that got the same message at
    /// once do not both send it. [`Claim::Claimed`] when `holder` has the claim: a new one, its
    /// own again, or one whose holder let it lapse; [`Claim::Held`] while another holder's
    /// claim runs; [`Claim::Sent`] for good once the email is recorded as sent
    /// ([`NotificationTx::record_sent`]). A claim that meets a record being written may answer
    /// `Held` rather than `Sent`: asked again, it answers `Sent`.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn claim_sending(&self, message_id: Uuid, holder: Uuid, lease: Duration)
    -> Result<Claim>;

    /// Gives up `holder`'s claim on `message_id`'s email, which it did not send (the mail
    /// server refused it or could not be reached): another consumer may send it at once.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn release_sending(&self, message_id: Uuid, holder: Uuid) -> Result<()>;

    /// Records the message `notification.message_id` handled and its email sent, in one
    /// transaction; `false`, recording nothing, when the message was handled already. By
    /// default a transaction of [`UnitOfWork::mark_handled`] and
    /// [`NotificationTx::record_sent`]; a store whose statements are round trips does it in
    /// one.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails: nothing was recorded.
    async fn record_handled(&self, notification: &Notification) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !tx.mark_handled(notification.message_id).await? {
            return Ok(false);
        }
        tx.record_sent(notification).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// What [`NotificationStore::claim_sending`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The holder may send the email.
    Claimed,
    /// Another holder's claim runs: try again later.
    Held,
    /// The email is recorded as sent: nothing to send.
    Sent,
}

/// One transaction on the notification database.
#[async_trait]
pub trait NotificationTx: UnitOfWork {
    /// Records `notification` as sent; its claim, if any, is never given again.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn record_sent(&mut self, notification: &Notification) -> Result<()>;
}

/// A send that failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The mail server cannot be reached or asks to try later (a 4xx answer): retried
    /// without end, an outage apart, so an outage loses no email.
    #[error("cannot send email yet: {0}")]
    Unavailable(String),
    /// The mail server refused this email for good (a 5xx answer, a bad address): it uses up
    /// an attempt, and ends in a dead letter.
    #[error("email refused: {0}")]
    Refused(String),
}

/// Delivers an email: over SMTP when a server is configured, else only to the mailbox log.
#[async_trait]
pub trait EmailSender: Send + Sync {
    /// # Errors
    /// [`SendError`] when the email was not accepted.
    async fn send(&self, notification: &Notification) -> std::result::Result<(), SendError>;
}
