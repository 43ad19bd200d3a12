//! The payment service's table: one payment per order, ever.

use async_trait::async_trait;
use contracts::value::OrderId;
use payment_domain::{Payment, PaymentStatus};
use rusqlite::params;
use store::payment::{PaymentStore, PaymentTx};
use store_sql::payment::payment;

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;
use crate::rows::{execute, optional_row, rows};
use crate::unit_of_work::SqliteTx;

/// The payment service's storage on SQLite.
#[derive(Clone, Debug)]
pub struct SqlitePaymentStore {
    database: SqliteDatabase,
}

impl SqlitePaymentStore {
    pub fn new(database: SqliteDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl PaymentStore for SqlitePaymentStore {
    async fn begin(&self) -> store::Result<Box<dyn PaymentTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn payment(&self, order_id: OrderId) -> store::Result<Option<Payment>> {
        self.database
            .read("read payment", |connection| {
                optional_row(
                    connection,
                    "SELECT payment_id, order_id, amount_minor, currency, status, failure_reason FROM payments WHERE order_id = ?",
                    [order_id.to_string()],
                )
            })?
            .as_ref()
            .map(payment)
            .transpose()
    }

    async fn payments(&self) -> store::Result<Vec<Payment>> {
        self.database
            .read("read payments", |connection| {
                rows(
                    connection,
                    "SELECT payment_id, order_id, amount_minor, currency, status, failure_reason FROM payments",
                    [],
                )
            })?
            .iter()
            .map(payment)
            .collect()
    }
}

#[async_trait]
impl PaymentTx for SqliteTx {
    async fn insert_pending(&mut self, payment: &Payment) -> store::Result<bool> {
        let inserted = execute(
            self.connection(),
            concat!(
                "INSERT INTO payments (order_id, payment_id, amount_minor, currency, status, created_at, updated_at) ",
                "VALUES (?, ?, ?, ?, 'pending', ",
                now_ms!(),
                ", ",
                now_ms!(),
                ") ON CONFLICT (order_id) DO NOTHING"
            ),
            params![
                payment.order_id.to_string(),
                payment.payment_id.to_string(),
                payment.amount.minor(),
                payment.amount.currency()
            ],
        )
        .or_store_error("record pending payment")?;
        Ok(inserted == 1)
    }

    async fn set_status(
        &mut self,
        order_id: OrderId,
        status: PaymentStatus,
        failure_reason: Option<&str>,
    ) -> store::Result<()> {
        execute(
            self.connection(),
            concat!(
                "UPDATE payments SET status = ?, failure_reason = COALESCE(?, failure_reason), updated_at = ",
                now_ms!(),
                " WHERE order_id = ?"
            ),
            params![status.as_str(), failure_reason, order_id.to_string()],
        )
        .or_store_error("update payment")?;
        Ok(())
    }
}
