//! The order service's tables in `order_service`: event store, saga deadlines, catalog,
//! idempotency keys, payment tokens kept until their charge. It never decides anything: it stores what the order service decided.

use std::time::Duration;

use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use order_domain::saga::SagaStep;
use store::StoreError;
use store::order::{
    DueDeadline, IdempotencyKey, IdempotentRequest, OrderStore, OrderTx, Product, RecordedEvent,
};
use store_sql::order::{due_deadline, idempotent_request, product, recorded_event};
use store_sql::value::{duration_millis, envelope_json, to_limit};

use crate::database::PgDatabase;
use crate::error::SqlResultExt as _;
use crate::unit_of_work::PgTx;

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
        let Some((first, rest)) = events.split_first() else {
            return Ok(());
        };
        let expected = i64::try_from(expected_version).map_err(|_| StoreError::Conflict)?;
        // The version check and the first event in one statement: it inserts only when the
        // stream stands at `expected`. Two writers that both see it so race on the UNIQUE
        // (stream_id, stream_version) constraint: the second waits for the first and, if it
        // commits, fails with a unique violation, which is a Conflict too.
        let appended = sqlx::query(concat!(
            "INSERT INTO events (stream_id, stream_version, message_id, envelope, recorded_at) ",
            "SELECT $1, $2 + 1, $3, $4, ",
            now_ms!(),
            " WHERE (SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = $1) = $2"
        ))
        .bind(order_id.to_string())
        .bind(expected)
        .bind(first.message_id.to_string())
        .bind(envelope_json(first)?)
        .execute(&mut *self.tx)
        .await
        .or_store_error("append order event")?;
        if appended.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }
        for (offset, envelope) in (2..).zip(rest) {
            sqlx::query(concat!(
                "INSERT INTO events (stream_id, stream_version, message_id, envelope, recorded_at) ",
                "VALUES ($1, $2, $3, $4, ",
                now_ms!(),
                ")"
            ))
            .bind(order_id.to_string())
            .bind(expected + offset)
            .bind(envelope.message_id.to_string())
            .bind(envelope_json(envelope)?)
            .execute(&mut *self.tx)
            .await
            .or_store_error("append order event")?;
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
