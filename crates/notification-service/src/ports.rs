//! The notification service's port to the outside world: a way to send email. Its storage port
//! (the record of what was sent) is [`store::notification`].

use async_trait::async_trait;
use store::notification::Notification;

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
    async fn send(&self, notification: &Notification) -> Result<(), SendError>;
}
