//! The order service's tables: event store, saga deadlines, catalog, idempotency keys, payment
//! tokens kept until their charge.

use std::time::Duration;

use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use order_domain::saga::SagaStep;
use rusqlite::params;
use store::order::{
    DueDeadline, IdempotencyKey, IdempotentRequest, OrderStore, OrderTx, Product, RecordedEvent,
};
use store_sql::order::{
    due_deadline, ensure_stream_at, idempotent_request, product, recorded_event,
};
use store_sql::value::{duration_millis, envelope_json, to_limit};

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;
use crate::rows::{execute, optional_row, optional_scalar, rows, scalar};
use crate::unit_of_work::SqliteTx;

/// The order service's storage on SQLite.
#[derive(Clone, Debug)]
pub struct SqliteOrderStore {
    pub(crate) database: SqliteDatabase,
}

impl SqliteOrderStore {
    pub fn new(database: SqliteDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl OrderStore for SqliteOrderStore {
    async fn begin(&self) -> store::Result<Box<dyn OrderTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn load(&self, order_id: OrderId) -> store::Result<Vec<RecordedEvent>> {
        self.database
            .read("load order stream", |connection| {
                rows(
                    connection,
                    "SELECT stream_version, envelope FROM events WHERE stream_id = ? ORDER BY stream_version",
                    [order_id.to_string()],
                )
            })?
            .iter()
            .map(recorded_event)
            .collect()
    }

    async fn products(&self) -> store::Result<Vec<Product>> {
        self.database
            .read("read catalog", |connection| {
                rows(
                    connection,
                    "SELECT sku, name, price_minor, currency FROM products ORDER BY sku",
                    [],
                )
            })?
            .iter()
            .map(product)
            .collect()
    }

    async fn due_deadlines(&self, max: usize) -> store::Result<Vec<DueDeadline>> {
        self.database
            .read("read due deadlines", |connection| {
                rows(
                    connection,
                    concat!(
                        "SELECT order_id, step FROM deadlines WHERE due_at <= ",
                        now_ms!(),
                        " ORDER BY due_at LIMIT ?"
                    ),
                    [to_limit(max)],
                )
            })?
            .iter()
            .map(due_deadline)
            .collect()
    }

    async fn postpone_deadlines(&self, by: Duration) -> store::Result<u64> {
        let postponed = self
            .database
            .write("postpone saga deadlines", |connection| {
                execute(
                    connection,
                    "UPDATE deadlines SET due_at = due_at + ?",
                    [duration_millis(by)],
                )
            })
            .await?;
        Ok(postponed as u64)
    }

    async fn orders_in_flight(&self) -> store::Result<u64> {
        let count: i64 = self.database.read("count orders in flight", |connection| {
            scalar(connection, "SELECT COUNT(*) FROM deadlines", [])
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn idempotent_request(
        &self,
        key: &IdempotencyKey,
        ttl: Duration,
    ) -> store::Result<Option<IdempotentRequest>> {
        self.database
            .read("read idempotency key", |connection| {
                optional_row(
                    connection,
                    concat!(
                        "SELECT request_hash, order_id FROM idempotency_keys ",
                        "WHERE scope = ? AND key = ? AND created_at > ",
                        now_ms!(),
                        " - ?"
                    ),
                    params![key.scope, key.key, duration_millis(ttl)],
                )
            })?
            .as_ref()
            .map(idempotent_request)
            .transpose()
    }

    async fn purge_idempotency_keys(&self, ttl: Duration) -> store::Result<u64> {
        let purged = self
            .database
            .write("purge expired idempotency keys", |connection| {
                execute(
                    connection,
                    concat!(
                        "DELETE FROM idempotency_keys WHERE created_at <= ",
                        now_ms!(),
                        " - ?"
                    ),
                    [duration_millis(ttl)],
                )
            })
            .await?;
        Ok(purged as u64)
    }
}

#[async_trait]
impl OrderTx for SqliteTx {
    async fn append(
        &mut self,
        order_id: OrderId,
        expected_version: u64,
        events: &[Envelope],
    ) -> store::Result<()> {
        let stream_id = order_id.to_string();
        let current: i64 = scalar(
            self.connection(),
            "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?",
            [&stream_id],
        )
        .or_store_error("read stream version")?;
        ensure_stream_at(current, expected_version)?;
        for (offset, envelope) in (1..).zip(events) {
            // The UNIQUE (stream_id, stream_version) constraint turns a concurrent append into
            // a Conflict even where the check above could race (it cannot on one writer).
            execute(
                self.connection(),
                concat!(
                    "INSERT INTO events (stream_id, stream_version, message_id, envelope, recorded_at) ",
                    "VALUES (?, ?, ?, ?, ",
                    now_ms!(),
                    ")"
                ),
                params![
                    stream_id,
                    current + offset,
                    envelope.message_id.to_string(),
                    envelope_json(envelope)?
                ],
            )
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
        execute(
            self.connection(),
            concat!(
                "INSERT INTO deadlines (order_id, step, due_at) VALUES (?, ?, ",
                now_ms!(),
                " + ?) ON CONFLICT (order_id) DO UPDATE SET step = excluded.step, due_at = excluded.due_at"
            ),
            params![order_id.to_string(), step.as_str(), duration_millis(after)],
        )
        .or_store_error("set saga deadline")?;
        Ok(())
    }

    async fn clear_deadline(
        &mut self,
        order_id: OrderId,
        only: Option<SagaStep>,
    ) -> store::Result<()> {
        execute(
            self.connection(),
            "DELETE FROM deadlines WHERE order_id = ?1 AND (?2 IS NULL OR step = ?2)",
            params![order_id.to_string(), only.map(SagaStep::as_str)],
        )
        .or_store_error("clear saga deadline")?;
        Ok(())
    }

    async fn remember_request(
        &mut self,
        key: &IdempotencyKey,
        request: &IdempotentRequest,
        ttl: Duration,
    ) -> store::Result<()> {
        // A taken key that has not expired updates nothing: that is the conflict.
        let remembered = execute(
            self.connection(),
            concat!(
                "INSERT INTO idempotency_keys (scope, key, request_hash, order_id, created_at) ",
                "VALUES (?1, ?2, ?3, ?4, ",
                now_ms!(),
                ") ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, ",
                "order_id = excluded.order_id, created_at = excluded.created_at ",
                "WHERE idempotency_keys.created_at <= excluded.created_at - ?5"
            ),
            params![
                key.scope,
                key.key,
                request.request_hash,
                request.order_id.to_string(),
                duration_millis(ttl)
            ],
        )
        .or_store_error("remember idempotency key")?;
        if remembered == 0 {
            return Err(store::StoreError::Conflict);
        }
        Ok(())
    }

    async fn keep_payment_token(&mut self, order_id: OrderId, token: &str) -> store::Result<()> {
        execute(
            self.connection(),
            concat!(
                "INSERT INTO payment_tokens (order_id, token, kept_at) VALUES (?, ?, ",
                now_ms!(),
                ")"
            ),
            params![order_id.to_string(), token],
        )
        .or_store_error("keep payment token")?;
        Ok(())
    }

    async fn take_payment_token(&mut self, order_id: OrderId) -> store::Result<Option<String>> {
        optional_scalar(
            self.connection(),
            "DELETE FROM payment_tokens WHERE order_id = ? RETURNING token",
            [order_id.to_string()],
        )
        .or_store_error("take payment token")
    }

    async fn upsert_product(&mut self, product: &Product) -> store::Result<()> {
        execute(
            self.connection(),
            "INSERT INTO products (sku, name, price_minor, currency) VALUES (?, ?, ?, ?) \
             ON CONFLICT (sku) DO UPDATE SET name = excluded.name, price_minor = excluded.price_minor, \
             currency = excluded.currency",
            params![
                product.sku.as_str(),
                product.name,
                product.price.minor(),
                product.price.currency()
            ],
        )
        .or_store_error("save product")?;
        Ok(())
    }
}
