//! The notification service's table in `notification_service`: the record of every email
//! sent, one per causing message. Times are stored as unix milliseconds. It never sends
//! anything.

use std::time::Duration;

use async_trait::async_trait;
use contracts::value::OrderId;
use sqlx::Row as _;
use store::notification::{Claim, Notification, NotificationStore, NotificationTx};
use store_sql::notification::notification;
use store_sql::value::{duration_millis, to_limit, unix_millis};
use uuid::Uuid;

use crate::database::PgDatabase;
use crate::error::SqlResultExt as _;
use crate::unit_of_work::PgTx;

/// [`NotificationStore`] on the notification service's schema.
#[derive(Clone, Debug)]
pub struct PgNotificationStore {
    database: PgDatabase,
}

impl PgNotificationStore {
    /// A store on `database`, which must be the notification service's.
    pub fn new(database: PgDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl NotificationStore for PgNotificationStore {
    async fn begin(&self) -> store::Result<Box<dyn NotificationTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn sent(
        &self,
        order_id: Option<OrderId>,
        limit: usize,
    ) -> store::Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT order_id, message_id, recipient, subject, body, sent_at FROM notifications \
             WHERE ($1::text IS NULL OR order_id = $1) ORDER BY sent_at DESC, id DESC LIMIT $2",
        )
        .bind(order_id.map(|id| id.to_string()))
        .bind(to_limit(limit))
        .fetch_all(self.database.pool())
        .await
        .or_store_error("list sent notifications")?;
        rows.iter().map(notification).collect()
    }

    async fn was_sent(&self, message_id: Uuid) -> store::Result<bool> {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM notifications WHERE message_id = $1")
                .bind(message_id.to_string())
                .fetch_optional(self.database.pool())
                .await
                .or_store_error("look up sent notification")?;
        Ok(found.is_some())
    }

    async fn claim_sending(
        &self,
        message_id: Uuid,
        holder: Uuid,
        lease: Duration,
    ) -> store::Result<Claim> {
        // A row in conflict is locked and read as last committed, so two claims of one email
        // take turns, and a claim recorded as sent meanwhile is seen. Whether the email is
        // recorded is read in the same round trip, as of the statement's start (an email
        // recorded before claims existed has none): one recorded after that answers `Held`,
        // and the next claim `Sent`.
        let (claimed, sent): (bool, bool) = sqlx::query_as(concat!(
            "WITH recorded AS (SELECT EXISTS (SELECT 1 FROM notifications WHERE message_id = $1) AS sent), ",
            "claimed AS (INSERT INTO notification_claims (message_id, holder, expires_at, sent) \
             SELECT $1, $2, ",
            now_ms!(),
            " + $3, FALSE FROM recorded WHERE NOT recorded.sent ON CONFLICT (message_id) DO UPDATE \
             SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE NOT notification_claims.sent AND (notification_claims.holder = excluded.holder \
             OR notification_claims.expires_at <= ",
            now_ms!(),
            ") RETURNING 1) \
             SELECT EXISTS (SELECT 1 FROM claimed), (SELECT sent FROM recorded)"
        ))
        .bind(message_id.to_string())
        .bind(holder.to_string())
        .bind(duration_millis(lease))
        .fetch_one(self.database.pool())
        .await
        .or_store_error("claim a notification")?;
        Ok(match (claimed, sent) {
            (true, _) => Claim::Claimed,
            (false, true) => Claim::Sent,
            (false, false) => Claim::Held,
        })
    }

    async fn release_sending(&self, message_id: Uuid, holder: Uuid) -> store::Result<()> {
        sqlx::query(
            "DELETE FROM notification_claims WHERE message_id = $1 AND holder = $2 AND NOT sent",
        )
        .bind(message_id.to_string())
        .bind(holder.to_string())
        .execute(self.database.pool())
        .await
        .or_store_error("release a notification claim")?;
        Ok(())
    }

    async fn record_handled(&self, notification: &Notification) -> store::Result<bool> {
        // One statement, its own transaction: the inbox record, the email and the claim closed
        // for good. A concurrent record of the same message makes it wait for that one's
        // outcome, as `mark_handled` does.
        let handled: bool = bind_notification(
            sqlx::query(concat!(
            "WITH handled AS (INSERT INTO inbox (message_id, handled_at) VALUES ($1, ",
            now_ms!(),
            ") ON CONFLICT (message_id) DO NOTHING RETURNING message_id), ",
            "kept AS (INSERT INTO notifications (message_id, order_id, recipient, subject, body, sent_at) \
             SELECT message_id, $2, $3, $4, $5, $6 FROM handled ON CONFLICT (message_id) DO NOTHING), ",
            "closed AS (INSERT INTO notification_claims (message_id, holder, expires_at, sent) \
             SELECT message_id, '', 0, TRUE FROM handled \
             ON CONFLICT (message_id) DO UPDATE SET sent = TRUE) ",
            "SELECT EXISTS (SELECT 1 FROM handled)"
            )),
            notification,
        )
        .fetch_one(self.database.pool())
        .await
        .and_then(|row| row.try_get(0))
        .or_store_error("record a sent notification")?;
        Ok(handled)
    }
}

#[async_trait]
impl NotificationTx for PgTx {
    async fn record_sent(&mut self, notification: &Notification) -> store::Result<()> {
        bind_notification(
            sqlx::query(
                "INSERT INTO notifications (message_id, order_id, recipient, subject, body, sent_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (message_id) DO NOTHING",
            ),
            notification,
        )
        .execute(&mut *self.tx)
        .await
        .or_store_error("record sent notification")?;
        sqlx::query(
            "INSERT INTO notification_claims (message_id, holder, expires_at, sent) \
             VALUES ($1, '', 0, TRUE) ON CONFLICT (message_id) DO UPDATE SET sent = TRUE",
        )
        .bind(notification.message_id.to_string())
        .execute(&mut *self.tx)
        .await
        .or_store_error("close notification claim")?;
        Ok(())
    }
}

/// Binds `notification` as `$1` to `$6`: message id, order id, recipient, subject, body and
/// when it was sent.
fn bind_notification<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    notification: &'q Notification,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(notification.message_id.to_string())
        .bind(notification.order_id.to_string())
        .bind(notification.recipient.as_str())
        .bind(&notification.subject)
        .bind(&notification.body)
        .bind(unix_millis(notification.sent_at))
}
