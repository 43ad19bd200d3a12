//! The notification service's storage in its SQLite database: the record of every email sent,
//! one per causing message, which is also the embedded mode's mailbox.
//!
//! Times are stored as unix milliseconds. It never sends anything.

use std::time::Duration;

use async_trait::async_trait;
use contracts::value::OrderId;
use rusqlite::params;
use store::notification::{Claim, Notification, NotificationStore, NotificationTx};
use store_sql::notification::notification;
use store_sql::value::{duration_millis, to_limit, unix_millis};
use uuid::Uuid;

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;
use crate::rows::{execute, optional_scalar, rows};
use crate::unit_of_work::SqliteTx;

/// [`NotificationStore`] on the notification service's database.
#[derive(Clone, Debug)]
pub struct SqliteNotificationStore {
    database: SqliteDatabase,
}

impl SqliteNotificationStore {
    /// A store on `database`, which must be the notification service's.
    pub fn new(database: SqliteDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl NotificationStore for SqliteNotificationStore {
    async fn begin(&self) -> store::Result<Box<dyn NotificationTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn sent(
        &self,
        order_id: Option<OrderId>,
        limit: usize,
    ) -> store::Result<Vec<Notification>> {
        let order_id = order_id.map(|id| id.to_string());
        self.database
            .read("list sent notifications", |connection| {
                rows(
                    connection,
                    "SELECT order_id, message_id, recipient, subject, body, sent_at FROM notifications \
                     WHERE (?1 IS NULL OR order_id = ?1) ORDER BY sent_at DESC, id DESC LIMIT ?2",
                    params![order_id, to_limit(limit)],
                )
            })?
            .iter()
            .map(notification)
            .collect()
    }

    async fn was_sent(&self, message_id: Uuid) -> store::Result<bool> {
        let found: Option<i64> = self
            .database
            .read("look up sent notification", |connection| {
                optional_scalar(
                    connection,
                    "SELECT 1 FROM notifications WHERE message_id = ?",
                    [message_id.to_string()],
                )
            })?;
        Ok(found.is_some())
    }

    async fn claim_sending(
        &self,
        message_id: Uuid,
        holder: Uuid,
        lease: Duration,
    ) -> store::Result<Claim> {
        self.database
            .write("claim a notification", |connection| {
                let recorded: Option<i64> = optional_scalar(
                    connection,
                    "SELECT 1 FROM notifications WHERE message_id = ?",
                    [message_id.to_string()],
                )?;
                if recorded.is_some() {
                    return Ok(Claim::Sent);
                }
                let claimed = execute(
                    connection,
                    concat!(
                        "INSERT INTO notification_claims (message_id, holder, expires_at, sent) \
                         VALUES (?1, ?2, ",
                        now_ms!(),
                        " + ?3, FALSE) ON CONFLICT (message_id) DO UPDATE \
                         SET holder = excluded.holder, expires_at = excluded.expires_at \
                         WHERE NOT notification_claims.sent \
                         AND (notification_claims.holder = excluded.holder \
                         OR notification_claims.expires_at <= ",
                        now_ms!(),
                        ")"
                    ),
                    params![
                        message_id.to_string(),
                        holder.to_string(),
                        duration_millis(lease)
                    ],
                )?;
                if claimed == 1 {
                    return Ok(Claim::Claimed);
                }
                // On the one writer, the row that kept the claim out is as last committed.
                let sent: Option<bool> = optional_scalar(
                    connection,
                    "SELECT sent FROM notification_claims WHERE message_id = ?",
                    [message_id.to_string()],
                )?;
                Ok(if sent == Some(true) {
                    Claim::Sent
                } else {
                    Claim::Held
                })
            })
            .await
    }

    async fn release_sending(&self, message_id: Uuid, holder: Uuid) -> store::Result<()> {
        self.database
            .write("release a notification claim", |connection| {
                execute(
                    connection,
                    "DELETE FROM notification_claims WHERE message_id = ? AND holder = ? AND NOT sent",
                    params![message_id.to_string(), holder.to_string()],
                )
            })
            .await?;
        Ok(())
    }
}

#[async_trait]
impl NotificationTx for SqliteTx {
    async fn record_sent(&mut self, notification: &Notification) -> store::Result<()> {
        execute(
            self.connection(),
            "INSERT INTO notifications (message_id, order_id, recipient, subject, body, sent_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
            params![
                notification.message_id.to_string(),
                notification.order_id.to_string(),
                notification.recipient.as_str(),
                notification.subject,
                notification.body,
                unix_millis(notification.sent_at)
            ],
        )
        .or_store_error("record sent notification")?;
        execute(
            self.connection(),
            "INSERT INTO notification_claims (message_id, holder, expires_at, sent) \
             VALUES (?, '', 0, TRUE) ON CONFLICT (message_id) DO UPDATE SET sent = TRUE",
            [notification.message_id.to_string()],
        )
        .or_store_error("close notification claim")?;
        Ok(())
    }
}
