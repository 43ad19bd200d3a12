//! The write transaction every service's `…Tx` port is implemented on, with the inbox and
//! outbox it always carries. It commits nothing on its own: dropping it rolls back.

use std::collections::HashSet;

use async_trait::async_trait;
use contracts::value::OrderId;
use contracts::{Envelope, Queue};
use sqlx::{Postgres, Transaction};
use store::UnitOfWork;
use store_sql::value::envelope_json;
use uuid::Uuid;

use crate::database::PgDatabase;
use crate::error::SqlResultExt as _;

/// A transaction on one service's schema, at READ COMMITTED: concurrent writers are kept
/// apart by row locks, conditional updates and unique constraints, not by the isolation level.
pub(crate) struct PgTx {
    pub(crate) tx: Transaction<'static, Postgres>,
    database: PgDatabase,
    wrote_outbox: bool,
}

impl PgTx {
    pub(crate) fn new(tx: Transaction<'static, Postgres>, database: PgDatabase) -> Self {
        Self {
            tx,
            database,
            wrote_outbox: false,
        }
    }

    /// Notes that this transaction wrote to the outbox: its commit wakes the relay.
    pub(crate) fn wrote_outbox(&mut self) {
        self.wrote_outbox = true;
    }

    /// Makes this transaction the only one of its service deciding about `order_id` until it
    /// ends: others wait here, then read what it committed. SQLite's single writer gives that
    /// for free; here a transaction-scoped advisory lock does, taken before the read that a
    /// decision is made from (later statements see what was committed meanwhile).
    pub(crate) async fn lock_order(&mut self, order_id: OrderId) -> store::Result<()> {
        // Two-key form: one key space per service, apart from the migrator's one-key lock.
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(lock_space(self.database.service()))
            .bind(order_id.to_string())
            .execute(&mut *self.tx)
            .await
            .or_store_error("lock order")?;
        Ok(())
    }

    /// [`PgTx::lock_order`] for several orders in one round trip, taken in the order given:
    /// callers give them in id order, so two transactions never wait for each other in a
    /// cycle.
    pub(crate) async fn lock_orders(&mut self, order_ids: &[String]) -> store::Result<()> {
        sqlx::query(
            "SELECT pg_advisory_xact_lock($1, hashtext(order_id)) \
             FROM UNNEST($2::text[]) WITH ORDINALITY AS o(order_id, n) ORDER BY n",
        )
        .bind(lock_space(self.database.service()))
        .bind(order_ids)
        .execute(&mut *self.tx)
        .await
        .or_store_error("lock orders")?;
        Ok(())
    }
}

fn lock_space(service: Queue) -> i32 {
    match service {
        Queue::Order => 1,
        Queue::Inventory => 2,
        Queue::Payment => 3,
        Queue::Notification => 4,
        Queue::Query => 5,
        Queue::Analytics => 6,
    }
}

#[async_trait]
impl UnitOfWork for PgTx {
    async fn mark_handled(&mut self, message_id: Uuid) -> store::Result<bool> {
        // A concurrent transaction recording the same message makes this one wait for its
        // outcome: `false` if it commits, a fresh record if it rolls back.
        let done = sqlx::query(concat!(
            "INSERT INTO inbox (message_id, handled_at) VALUES ($1, ",
            now_ms!(),
            ") ON CONFLICT (message_id) DO NOTHING"
        ))
        .bind(message_id.to_string())
        .execute(&mut *self.tx)
        .await
        .or_store_error("record message in inbox")?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_all_handled(&mut self, message_ids: &[Uuid]) -> store::Result<Vec<bool>> {
        // Recorded in id order, so that two transactions recording some of the same messages
        // wait for each other in one order, never in a cycle.
        let mut sorted: Vec<String> = message_ids.iter().map(Uuid::to_string).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let recorded: Vec<String> = sqlx::query_scalar(concat!(
            "INSERT INTO inbox (message_id, handled_at) SELECT message_id, ",
            now_ms!(),
            " FROM UNNEST($1::text[]) WITH ORDINALITY AS m(message_id, n) ORDER BY n",
            " ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
        ))
        .bind(sorted)
        .fetch_all(&mut *self.tx)
        .await
        .or_store_error("record messages in inbox")?;
        let mut recorded: HashSet<String> = recorded.into_iter().collect();
        // The first of repeated ids is the one recorded.
        Ok(message_ids
            .iter()
            .map(|id| recorded.remove(&id.to_string()))
            .collect())
    }

    async fn enqueue(&mut self, envelope: &Envelope) -> store::Result<()> {
        sqlx::query(concat!(
            "INSERT INTO outbox (message_id, envelope, created_at) VALUES ($1, $2, ",
            now_ms!(),
            ")"
        ))
        .bind(envelope.message_id.to_string())
        .bind(envelope_json(envelope)?)
        .execute(&mut *self.tx)
        .await
        .or_store_error("write outbox message")?;
        self.wrote_outbox = true;
        Ok(())
    }

    async fn enqueue_all(&mut self, envelopes: &[Envelope]) -> store::Result<()> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let (ids, bodies) = ids_and_bodies(envelopes)?;
        // One round trip for them all; ids are taken in the arrays' order.
        sqlx::query(concat!(
            "INSERT INTO outbox (message_id, envelope, created_at) SELECT message_id, envelope, ",
            now_ms!(),
            " FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS m(message_id, envelope, n)",
            " ORDER BY n"
        ))
        .bind(ids)
        .bind(bodies)
        .execute(&mut *self.tx)
        .await
        .or_store_error("write outbox messages")?;
        self.wrote_outbox = true;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> store::Result<()> {
        let Self {
            tx,
            database,
            wrote_outbox,
        } = *self;
        tx.commit().await.or_store_error("commit")?;
        if wrote_outbox {
            database.outbox_committed().notify_one();
        }
        Ok(())
    }
}

/// The message ids and JSON bodies of `envelopes`, as arrays for `UNNEST`.
pub(crate) fn ids_and_bodies(envelopes: &[Envelope]) -> store::Result<(Vec<String>, Vec<String>)> {
    let ids = envelopes.iter().map(|e| e.message_id.to_string()).collect();
    let bodies = envelopes
        .iter()
        .map(envelope_json)
        .collect::<store::Result<Vec<_>>>()?;
    Ok((ids, bodies))
}
