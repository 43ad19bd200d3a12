//! The payment service's table in `payment_service`: one payment per order, ever. It never
//! talks to a payment gateway.

use async_trait::async_trait;
use contracts::value::OrderId;
use payment_domain::{Payment, PaymentStatus};
use store::payment::{PaymentStore, PaymentTx};
use store_sql::payment::payment;

use crate::database::PgDatabase;
use crate::error::SqlResultExt as _;
use crate::unit_of_work::PgTx;

/// [`PaymentStore`] on the payment service's schema.
#[derive(Clone, Debug)]
pub struct PgPaymentStore {
    database: PgDatabase,
}

impl PgPaymentStore {
    /// A store on `database`, which must be the payment service's.
    pub fn new(database: PgDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl PaymentStore for PgPaymentStore {
    async fn begin(&self) -> store::Result<Box<dyn PaymentTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn payment(&self, order_id: OrderId) -> store::Result<Option<Payment>> {
        sqlx::query(
            "SELECT payment_id, order_id, amount_minor, currency, status, failure_reason FROM payments \
             WHERE order_id = $1",
        )
        .bind(order_id.to_string())
        .fetch_optional(self.database.pool())
        .await
        .or_store_error("read payment")?
        .as_ref()
        .map(payment)
        .transpose()
    }

    async fn record_pending(&self, payments: &[Payment]) -> store::Result<Vec<bool>> {
        if payments.is_empty() {
            return Ok(Vec::new());
        }
        let mut orders = Vec::with_capacity(payments.len());
        let mut ids = Vec::with_capacity(payments.len());
        let mut amounts = Vec::with_capacity(payments.len());
        let mut currencies = Vec::with_capacity(payments.len());
        for payment in payments {
            orders.push(payment.order_id.to_string());
            ids.push(payment.payment_id.to_string());
            amounts.push(payment.amount.minor());
            currencies.push(payment.amount.currency());
        }
        // One statement, its own transaction. A concurrent insert for one of the orders waits
        // for the other and then skips it; the first of an order repeated here is the one kept.
        let recorded: Vec<String> = sqlx::query_scalar(concat!(
            "INSERT INTO payments (order_id, payment_id, amount_minor, currency, status, created_at, updated_at) ",
            "SELECT p.order_id, p.payment_id, p.amount_minor, p.currency, 'pending', ",
            now_ms!(),
            ", ",
            now_ms!(),
            " FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[]) ",
            "WITH ORDINALITY AS p(order_id, payment_id, amount_minor, currency, n) ORDER BY p.n ",
            "ON CONFLICT (order_id) DO NOTHING RETURNING order_id"
        ))
        .bind(&orders)
        .bind(ids)
        .bind(amounts)
        .bind(currencies)
        .fetch_all(self.database.pool())
        .await
        .or_store_error("record pending payments")?;
        let mut recorded: std::collections::HashSet<String> = recorded.into_iter().collect();
        Ok(orders.iter().map(|order| recorded.remove(order)).collect())
    }

    async fn payments(&self) -> store::Result<Vec<Payment>> {
        sqlx::query(
            "SELECT payment_id, order_id, amount_minor, currency, status, failure_reason FROM payments",
        )
        .fetch_all(self.database.pool())
        .await
        .or_store_error("read payments")?
        .iter()
        .map(payment)
        .collect()
    }
}

#[async_trait]
impl PaymentTx for PgTx {
    async fn insert_pending(&mut self, payment: &Payment) -> store::Result<bool> {
        // A concurrent insert for the same order waits for this one and then does nothing.
        let done = sqlx::query(concat!(
            "INSERT INTO payments (order_id, payment_id, amount_minor, currency, status, created_at, updated_at) ",
            "VALUES ($1, $2, $3, $4, 'pending', ",
            now_ms!(),
            ", ",
            now_ms!(),
            ") ON CONFLICT (order_id) DO NOTHING"
        ))
        .bind(payment.order_id.to_string())
        .bind(payment.payment_id.to_string())
        .bind(payment.amount.minor())
        .bind(payment.amount.currency())
        .execute(&mut *self.tx)
        .await
        .or_store_error("record pending payment")?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_status(
        &mut self,
        order_id: OrderId,
        status: PaymentStatus,
        failure_reason: Option<&str>,
    ) -> store::Result<()> {
        sqlx::query(concat!(
            "UPDATE payments SET status = $1, failure_reason = COALESCE($2, failure_reason), updated_at = ",
            now_ms!(),
            " WHERE order_id = $3"
        ))
        .bind(status.as_str())
        .bind(failure_reason)
        .bind(order_id.to_string())
        .execute(&mut *self.tx)
        .await
        .or_store_error("update payment")?;
        Ok(())
    }
}
