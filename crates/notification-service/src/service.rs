//! The notification use cases: email the customer when an order completes or is cancelled,
//! and list what was sent (the mailbox).
//!
//! The email goes out before the transaction that records it: a crash between the two sends
//! it again on redelivery (at-least-once email is the accepted trade-off). The record is
//! checked before sending too, so a message that was already handled sends nothing.

use std::sync::Arc;

use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use time::OffsetDateTime;
use tracing::{debug, info};
use transport::{HandleError, Handler};

use crate::compose::{self, NOTIFIED_TYPES};
use store::notification::{Notification, NotificationStore};

use crate::ports::EmailSender;

/// Emails customers about their orders; consumes the notification queue.
#[derive(Clone)]
pub struct NotificationService {
    store: Arc<dyn NotificationStore>,
    sender: Arc<dyn EmailSender>,
}

impl NotificationService {
    /// A service recording into `store` and sending through `sender`.
    pub fn new(store: Arc<dyn NotificationStore>, sender: Arc<dyn EmailSender>) -> Self {
        Self { store, sender }
    }

    /// Sent notifications, newest first; only those for `order_id` when given.
    ///
    /// # Errors
    /// [`store::StoreError`] when the mailbox cannot be read.
    pub async fn sent(
        &self,
        order_id: Option<OrderId>,
        limit: usize,
    ) -> store::Result<Vec<Notification>> {
        self.store.sent(order_id, limit).await
    }
}

impl std::fmt::Debug for NotificationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationService")
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Handler for NotificationService {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        // Read first, whatever the type: a message this build cannot read is poison, and must
        // end in a dead letter rather than be acknowledged unread.
        let message = envelope.decode()?;
        if !NOTIFIED_TYPES.contains(&envelope.message_type.as_str()) {
            if !envelope.message_type.starts_with("order.") {
                return Err(HandleError::Rejected(anyhow::anyhow!(
                    "the notification service does not consume {}",
                    envelope.message_type
                )));
            }
            debug!("not a customer-facing event; ignored");
            return Ok(());
        }
        let Some(draft) = compose::draft(&message) else {
            return Ok(());
        };
        if self.store.was_sent(envelope.message_id).await? {
            debug!("notification already sent; duplicate ignored");
            return Ok(());
        }
        let notification = Notification {
            order_id: draft.order_id,
            message_id: envelope.message_id,
            recipient: draft.recipient,
            subject: draft.subject,
            body: draft.body,
            sent_at: now_to_the_millisecond(),
        };
        self.sender
            .send(&notification)
            .await
            .map_err(|error| HandleError::Rejected(anyhow::Error::new(error)))?;

        let mut tx = self.store.begin().await?;
        if !tx.mark_handled(envelope.message_id).await? {
            // Another consumer recorded it between our check and our send.
            debug!("notification recorded concurrently; duplicate ignored");
            return Ok(());
        }
        tx.record_sent(&notification).await?;
        tx.commit().await?;
        metrics::counter!("orderflow_notifications_sent_total", "type" => envelope.message_type.clone()).increment(1);
        info!(
            order.id = %notification.order_id,
            notification.recipient = %notification.recipient.redacted(),
            "customer notified"
        );
        Ok(())
    }
}

/// The store keeps milliseconds: a notification reads back exactly as it was sent.
fn now_to_the_millisecond() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond()).unwrap_or(now)
}
