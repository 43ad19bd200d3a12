//! The embedded mode's email sender: it only logs. The mailbox the dashboard shows is the
//! record of sent notifications, not this log.
//!
//! It never logs a full address: recipients are redacted.

use async_trait::async_trait;
use tracing::info;

use store::notification::Notification;

use crate::ports::{EmailSender, SendError};

/// Sends email by writing one log line per message, at info level, with the recipient
/// redacted.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogMailer;

impl LogMailer {
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl EmailSender for LogMailer {
    async fn send(&self, notification: &Notification) -> Result<(), SendError> {
        info!(
            order.id = %notification.order_id,
            message.id = %notification.message_id,
            email.recipient = %notification.recipient.redacted(),
            email.subject = %notification.subject,
            "email sent to the mailbox"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use contracts::value::{Email, OrderId};
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("log buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_log_names_the_subject_but_never_the_full_address() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let notification = Notification {
            order_id: OrderId::new(Uuid::now_v7()),
            message_id: Uuid::now_v7(),
            recipient: Email::parse("test@example.com").expect("a valid email"),
            subject: "Your order is confirmed".into(),
            body: "Hello".into(),
            sent_at: OffsetDateTime::UNIX_EPOCH,
        };

        LogMailer::new()
            .send(&notification)
            .await
            .expect("logging never fails");

        let log =
            String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8 log");
        assert!(log.contains("t***@example.com"), "{log}");
        assert!(log.contains("Your order is confirmed"), "{log}");
        assert!(!log.contains("test@example.com"), "{log}");
    }
}
