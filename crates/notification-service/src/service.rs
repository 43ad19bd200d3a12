//! The notification use cases: email the customer when an order completes or is cancelled,
//! and list what was sent (the mailbox).
//!
//! The email goes out before the transaction that records it: a crash between the two sends
//! it again on redelivery (at-least-once email is the accepted trade-off). Short of a crash,
//! each email goes out once:
//! - the record is checked before sending (by the claim itself, where there is one), so a
//!   message already handled sends nothing;
//! - two deliveries of one message at once in this process take turns, and the second finds
//!   the first's record;
//! - consumers in several processes claim the email in the store before sending it, for a
//!   lease: the one without the claim retries later and finds the record (a holder that died
//!   lets its claim lapse, and the redelivery sends); the sole process of an embedded data
//!   directory claims nothing, as nobody else can send from its store;
//! - an outage between sending and recording is waited out in place for a while, and then
//!   this process remembers the email as sent, so the redelivery only records it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use contracts::value::OrderId;
use contracts::{Envelope, Message};
use time::OffsetDateTime;
use tracing::{debug, info, warn};
use transport::{HandleError, Handler};
use uuid::Uuid;

use crate::compose::{self, NOTIFIED_TYPES};
use store::notification::{Claim, Notification, NotificationStore};

use crate::ports::{EmailSender, SendError};

/// How long recording a sent email is retried in place before the message is let go (and
/// its redelivery sends the email again).
const RECORD_PATIENCE: Duration = Duration::from_secs(30);
/// How long a claim to send an email keeps other processes from sending it: longer than a
/// send and its record take, short enough that the email of a process that died goes out
/// soon after.
const CLAIM_LEASE: Duration = Duration::from_secs(60);

/// Emails customers about their orders; consumes the notification queue.
#[derive(Clone)]
pub struct NotificationService {
    store: Arc<dyn NotificationStore>,
    sender: Arc<dyn EmailSender>,
    /// Who this process is when it claims an email in the store; `None` for the sole sender,
    /// which claims nothing.
    holder: Option<Uuid>,
    /// Messages whose email this process is sending right now.
    sending: Arc<Mutex<HashSet<Uuid>>>,
    /// Emails this process sent but could not record yet: their redelivery records them
    /// without sending again.
    unrecorded: Arc<Mutex<HashMap<Uuid, Notification>>>,
}

impl NotificationService {
    /// A service recording into `store` and sending through `sender`.
    pub fn new(store: Arc<dyn NotificationStore>, sender: Arc<dyn EmailSender>) -> Self {
        Self {
            store,
            sender,
            holder: Some(Uuid::now_v7()),
            sending: Arc::default(),
            unrecorded: Arc::default(),
        }
    }

    /// The service of the only process that can ever send from its store (the embedded mode
    /// locks its data directory): it claims no email in the store (a write per email), since
    /// no other process could send it, and an email whose sending a crash interrupted goes
    /// out as soon as its message comes back.
    #[must_use]
    pub fn sole_sender(mut self) -> Self {
        self.holder = None;
        self
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
        let Some(notification) = notification_for(envelope, &message, now_to_the_millisecond())
        else {
            return Ok(());
        };
        let Some(_turn) = Turn::take(&self.sending, envelope.message_id) else {
            return Err(HandleError::Unavailable(anyhow::anyhow!(
                "another consumer of this process is sending this notification"
            )));
        };
        let notification = match self.take_unrecorded(envelope.message_id) {
            Some(sent) => sent,
            None => {
                if !self.send(&notification).await? {
                    debug!("notification already sent; duplicate ignored");
                    return Ok(());
                }
                notification
            }
        };
        match self.record(&notification).await {
            Ok(true) => {}
            Ok(false) => {
                debug!("notification recorded concurrently; duplicate ignored");
                return Ok(());
            }
            Err(error) => {
                self.remember_unrecorded(notification);
                return Err(error);
            }
        }
        metrics::counter!("orderflow_notifications_sent_total", "type" => envelope.message_type.clone()).increment(1);
        info!(
            order.id = %notification.order_id,
            notification.recipient = %notification.recipient.redacted(),
            "customer notified"
        );
        Ok(())
    }
}

impl NotificationService {
    /// Sends `notification` unless it is recorded as sent already (then `false`), claiming it
    /// first unless this is the sole sender; the claim is given up if the email did not go
    /// out.
    async fn send(&self, notification: &Notification) -> Result<bool, HandleError> {
        let message_id = notification.message_id;
        match self.holder {
            // The claim answers whether the email was sent too, in the same round trip.
            Some(holder) => match self
                .store
                .claim_sending(message_id, holder, CLAIM_LEASE)
                .await?
            {
                Claim::Claimed => {}
                Claim::Sent => return Ok(false),
                Claim::Held => {
                    return Err(HandleError::Unavailable(anyhow::anyhow!(
                        "another process is sending this notification"
                    )));
                }
            },
            None if self.store.was_sent(message_id).await? => return Ok(false),
            None => {}
        }
        if let Err(error) = self.sender.send(notification).await {
            if let Some(holder) = self.holder
                && let Err(release) = self.store.release_sending(message_id, holder).await
            {
                // The claim lapses on its own.
                warn!(error = %release, "cannot give up the claim of an unsent email");
            }
            return Err(match error {
                SendError::Unavailable(_) => HandleError::Unavailable(anyhow::Error::new(error)),
                SendError::Refused(_) => HandleError::Rejected(anyhow::Error::new(error)),
            });
        }
        metrics::counter!("orderflow_emails_sent_total").increment(1);
        Ok(true)
    }

    fn take_unrecorded(&self, message_id: Uuid) -> Option<Notification> {
        self.unrecorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&message_id)
    }

    fn remember_unrecorded(&self, notification: Notification) {
        self.unrecorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(notification.message_id, notification);
    }

    /// Records a sent email with its inbox entry; `false` when another consumer recorded it
    /// first. The email is out already: an outage is waited out here, for a while, rather
    /// than by a redelivery of the message, which would send the email again.
    async fn record(&self, notification: &Notification) -> Result<bool, HandleError> {
        let mut delay = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        loop {
            match self.store.record_handled(notification).await {
                Err(store::StoreError::Unavailable(error)) if waited < RECORD_PATIENCE => {
                    warn!(
                        error = format!("{error:#}"),
                        delay_ms = delay.as_millis(),
                        "cannot record a sent email yet; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                result => return result.map_err(HandleError::from),
            }
        }
    }
}

/// The right to send one message's email in this process, given back when dropped.
struct Turn<'a> {
    sending: &'a Mutex<HashSet<Uuid>>,
    message_id: Uuid,
}

impl<'a> Turn<'a> {
    /// The turn for `message_id`, or `None` while another consumer has it.
    fn take(sending: &'a Mutex<HashSet<Uuid>>, message_id: Uuid) -> Option<Self> {
        let taken = sending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(message_id);
        taken.then_some(Self {
            sending,
            message_id,
        })
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.sending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.message_id);
    }
}

/// The email that `envelope` (read as `message`) sends its customer, as the service records it
/// once sent at `sent_at`; `None` for a message that sends no email. `orderflow seed` records
/// its orders' emails with it, so they read as the service's own.
pub fn notification_for(
    envelope: &Envelope,
    message: &Message,
    sent_at: OffsetDateTime,
) -> Option<Notification> {
    let draft = compose::draft(message)?;
    Some(Notification {
        order_id: draft.order_id,
        message_id: envelope.message_id,
        recipient: draft.recipient,
        subject: draft.subject,
        body: draft.body,
        sent_at,
    })
}

/// The store keeps milliseconds: a notification reads back exactly as it was sent.
fn now_to_the_millisecond() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond()).unwrap_or(now)
}
