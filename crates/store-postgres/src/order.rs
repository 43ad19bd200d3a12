//! The order service's tables in `order_service`: event store, saga deadlines, catalog,
//! idempotency keys, payment tokens kept until their charge. It never decides anything: it stores what the order service decided.

use std::time::Duration;

use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use order_domain::saga::SagaStep;
use store::StoreError;
use store::order::{
    DeadlineChange, DecisionWrites, DueDeadline, IdempotencyKey, IdempotentRequest, OrderStore,
    OrderTx, Product, RecordedEvent,
};
use store_sql::order::{due_deadline, idempotent_request, product, recorded_event};
use store_sql::value::{duration_millis, to_limit};

use crate::database::PgDatabase;
use crate::error::SqlResultExt as _;
use crate::unit_of_work::{PgTx, ids_and_bodies};

/// [`OrderStore`] on the order service's schema.
#[derive(Clone, Debug)]
pub struct PgOrderStore {
    pub(crate) database: PgDatabase,
}

impl PgOrderStore {
    /// A store on `database`, which must be the order service's.
    pub fn new(database: PgDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl OrderStore for PgOrderStore {
    async fn begin(&self) -> store::Result<Box<dyn OrderTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn load(&self, order_id: OrderId) -> store::Result<Vec<RecordedEvent>> {
        sqlx::query(
            "SELECT stream_version, envelope FROM events WHERE stream_id = $1 \
             ORDER BY stream_version",
        )
        .bind(order_id.to_string())
        .fetch_all(self.database.pool())
        .await
        .or_store_error("load order stream")?
        .iter()
        .map(recorded_event)
        .collect()
    }

    async fn products(&self) -> store::Result<Vec<Product>> {
        sqlx::query("SELECT sku, name, price_minor, currency FROM products ORDER BY sku")
            .fetch_all(self.database.pool())
            .await
            .or_store_error("read catalog")?
            .iter()
            .map(product)
            .collect()
    }

    async fn due_deadlines(&self, max: usize) -> store::Result<Vec<DueDeadline>> {
        sqlx::query(concat!(
            "SELECT order_id, step FROM deadlines WHERE due_at <= ",
            now_ms!(),
            " ORDER BY due_at LIMIT $1"
        ))
        .bind(to_limit(max))
        .fetch_all(self.database.pool())
        .await
        .or_store_error("read due deadlines")?
        .iter()
        .map(due_deadline)
        .collect()
    }

    async fn postpone_deadlines(&self, by: Duration) -> store::Result<u64> {
        let postponed = sqlx::query("UPDATE deadlines SET due_at = due_at + $1")
            .bind(duration_millis(by))
            .execute(self.database.pool())
            .await
            .or_store_error("postpone saga deadlines")?;
        Ok(postponed.rows_affected())
    }

    async fn orders_in_flight(&self) -> store::Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deadlines")
            .fetch_one(self.database.pool())
            .await
            .or_store_error("count orders in flight")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn idempotent_request(
        &self,
        key: &IdempotencyKey,
        ttl: Duration,
    ) -> store::Result<Option<IdempotentRequest>> {
        sqlx::query(concat!(
            "SELECT request_hash, order_id FROM idempotency_keys ",
            "WHERE scope = $1 AND key = $2 AND created_at > ",
            now_ms!(),
            " - $3"
        ))
        .bind(&key.scope)
        .bind(&key.key)
        .bind(duration_millis(ttl))
        .fetch_optional(self.database.pool())
        .await
        .or_store_error("read idempotency key")?
        .as_ref()
        .map(idempotent_request)
        .transpose()
    }

    async fn purge_idempotency_keys(&self, ttl: Duration) -> store::Result<u64> {
        let purged = sqlx::query(concat!(
            "DELETE FROM idempotency_keys WHERE created_at <= ",
            now_ms!(),
            " - $1"
        ))
        .bind(duration_millis(ttl))
        .execute(self.database.pool())
        .await
        .or_store_error("purge expired idempotency keys")?;
        Ok(purged.rows_affected())
    }
}

#[async_trait]
impl OrderTx for PgTx {
    async fn append(
        &mut self,
        order_id: OrderId,
        expected_version: u64,
        events: &[Envelope],
    ) -> store::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let expected = i64::try_from(expected_version).map_err(|_| StoreError::Conflict)?;
        let (ids, bodies) = ids_and_bodies(events)?;
        // The version check and the events in one statement: it inserts only when the stream
        // stands at `expected`. Two writers that both see it so race on the UNIQUE
        // (stream_id, stream_version) constraint: the second waits for the first and, if it
        // commits, fails with a unique violation, which is a Conflict too.
        let appended = sqlx::query(concat!(
            "INSERT INTO events (stream_id, stream_version, message_id, envelope, recorded_at) ",
            "SELECT $1, $2 + e.n, e.message_id, e.envelope, ",
            now_ms!(),
            " FROM UNNEST($3::text[], $4::text[]) WITH ORDINALITY AS e(message_id, envelope, n)",
            " WHERE (SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = $1) = $2",
            " ORDER BY e.n"
        ))
        .bind(order_id.to_string())
        .bind(expected)
        .bind(ids)
        .bind(bodies)
        .execute(&mut *self.tx)
        .await
        .or_store_error("append order events")?;
        if appended.rows_affected() != events.len() as u64 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    async fn set_deadline(
        &mut self,
        order_id: OrderId,
        step: SagaStep,
        after: Duration,
    ) -> store::Result<()> {
        sqlx::query(concat!(
            "INSERT INTO deadlines (order_id, step, due_at) VALUES ($1, $2, ",
            now_ms!(),
            " + $3) ON CONFLICT (order_id) DO UPDATE SET step = excluded.step, due_at = excluded.due_at"
        ))
        .bind(order_id.to_string())
        .bind(step.as_str())
        .bind(duration_millis(after))
        .execute(&mut *self.tx)
        .await
        .or_store_error("set saga deadline")?;
        Ok(())
    }

    async fn clear_deadline(
        &mut self,
        order_id: OrderId,
        only: Option<SagaStep>,
    ) -> store::Result<()> {
        sqlx::query(
            "DELETE FROM deadlines WHERE order_id = $1 AND ($2::text IS NULL OR step = $2)",
        )
        .bind(order_id.to_string())
        .bind(only.map(SagaStep::as_str))
        .execute(&mut *self.tx)
        .await
        .or_store_error("clear saga deadline")?;
        Ok(())
    }

    async fn remember_request(
        &mut self,
        key: &IdempotencyKey,
        request: &IdempotentRequest,
        ttl: Duration,
    ) -> store::Result<()> {
        // A taken key that has not expired updates nothing: that is the conflict. A writer
        // racing for the same key waits here for the other's commit, then updates nothing.
        let remembered = sqlx::query(concat!(
            "INSERT INTO idempotency_keys (scope, key, request_hash, order_id, created_at) ",
            "VALUES ($1, $2, $3, $4, ",
            now_ms!(),
            ") ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, ",
            "order_id = excluded.order_id, created_at = excluded.created_at ",
            "WHERE idempotency_keys.created_at <= excluded.created_at - $5"
        ))
        .bind(&key.scope)
        .bind(&key.key)
        .bind(&request.request_hash)
        .bind(request.order_id.to_string())
        .bind(duration_millis(ttl))
        .execute(&mut *self.tx)
        .await
        .or_store_error("remember idempotency key")?;
        if remembered.rows_affected() == 0 {
            return Err(store::StoreError::Conflict);
        }
        Ok(())
    }

    async fn keep_payment_token(&mut self, order_id: OrderId, token: &str) -> store::Result<()> {
        sqlx::query(concat!(
            "INSERT INTO payment_tokens (order_id, token, kept_at) VALUES ($1, $2, ",
            now_ms!(),
            ")"
        ))
        .bind(order_id.to_string())
        .bind(token)
        .execute(&mut *self.tx)
        .await
        .or_store_error("keep payment token")?;
        Ok(())
    }

    async fn take_payment_token(&mut self, order_id: OrderId) -> store::Result<Option<String>> {
        sqlx::query_scalar("DELETE FROM payment_tokens WHERE order_id = $1 RETURNING token")
            .bind(order_id.to_string())
            .fetch_optional(&mut *self.tx)
            .await
            .or_store_error("take payment token")
    }

    async fn follow_decision(
        &mut self,
        order_id: OrderId,
        writes: &DecisionWrites<'_>,
    ) -> store::Result<()> {
        // A decision that sends nothing and keeps its deadline (a repeated reply) writes
        // nothing here: no round trip, as `enqueue_all` of nothing makes none.
        if writes.outgoing.is_empty()
            && writes.keep_token.is_none()
            && writes.deadline == DeadlineChange::Keep
        {
            return Ok(());
        }
        let (ids, bodies) = ids_and_bodies(writes.outgoing)?;
        let (set_step, after, clear, only) = match writes.deadline {
            DeadlineChange::Keep => (None, None, false, None),
            DeadlineChange::Set { step, after } => (
                Some(step.as_str()),
                Some(duration_millis(after)),
                false,
                None,
            ),
            DeadlineChange::Clear { only } => (None, None, true, only.map(SagaStep::as_str)),
        };
        // Each part writes only when its parameters ask for it; no two touch the same row.
        sqlx::query(concat!(
            "WITH sent AS (INSERT INTO outbox (message_id, envelope, created_at) ",
            "SELECT m.message_id, m.envelope, ",
            now_ms!(),
            " FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS m(message_id, envelope, n) ORDER BY m.n), ",
            "kept AS (INSERT INTO payment_tokens (order_id, token, kept_at) SELECT $1, $4, ",
            now_ms!(),
            " WHERE $4::text IS NOT NULL), ",
            "scheduled AS (INSERT INTO deadlines (order_id, step, due_at) SELECT $1, $5, ",
            now_ms!(),
            " + $6 WHERE $5::text IS NOT NULL ",
            "ON CONFLICT (order_id) DO UPDATE SET step = excluded.step, due_at = excluded.due_at), ",
            "cleared AS (DELETE FROM deadlines WHERE $7 AND order_id = $1 AND ($8::text IS NULL OR step = $8)) ",
            "SELECT 1"
        ))
        .bind(order_id.to_string())
        .bind(ids)
        .bind(bodies)
        .bind(writes.keep_token)
        .bind(set_step)
        .bind(after)
        .bind(clear)
        .bind(only)
        .execute(&mut *self.tx)
        .await
        .or_store_error("write a decision's messages and deadline")?;
        if !writes.outgoing.is_empty() {
            self.wrote_outbox();
        }
        Ok(())
    }

    async fn upsert_product(&mut self, product: &Product) -> store::Result<()> {
        sqlx::query(
            "INSERT INTO products (sku, name, price_minor, currency) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sku) DO UPDATE SET name = excluded.name, \
             price_minor = excluded.price_minor, currency = excluded.currency",
        )
        .bind(product.sku.as_str())
        .bind(&product.name)
        .bind(product.price.minor())
        .bind(product.price.currency())
        .execute(&mut *self.tx)
        .await
        .or_store_error("save product")?;
        Ok(())
    }
}
