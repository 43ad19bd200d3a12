//! The notification service's port to the outside world: a way to send email. Its storage port
//! (the record of what was sent) is [`store::notification`].

use async_trait::async_trait;
use store::notification::Notification;

/// A send that failed; the message is retried, then dead-lettered.
#[derive(Debug, thiserror::Error)]
#[error("cannot send email: {0}")]
pub struct SendError(pub String);

/// Delivers an email (SMTP when scaled out; the mailbox log when embedded).
#[async_trait]
pub trait EmailSender: Send + Sync {
    /// # Errors
    /// [`SendError`] when the email was not accepted.
    async fn send(&self, notification: &Notification) -> Result<(), SendError>;
}
