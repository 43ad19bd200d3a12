//! The inventory service's tables in `inventory_service`: stock levels and reservations.
//!
//! Stock never goes below zero, however many consumers reserve at once: each line is a
//! conditional update (`... WHERE available >= $1`) that, under READ COMMITTED, waits for a
//! concurrent writer's row lock and then re-checks its condition on the committed row; CHECK
//! constraints back it. Transactions touching several products lock them in sku order first,
//! so two of them cannot deadlock. Transactions about one order are serialized from their
//! first read of its reservation on, as on SQLite.
//!
//! It never decides whether a reservation may move: the inventory service does, from the
//! reservation's status.

use async_trait::async_trait;
use contracts::StockLine;
use contracts::value::{OrderId, Sku};
use inventory_domain::{InsufficientStock, ReservationStatus, StockError, StockLevel};
use store::StoreError;
use store::inventory::{InventoryStore, InventoryTx};
use store_sql::inventory::{
    parse_reservation_lines, parse_reservation_status, reservation_lines_json, reserved_below_held,
    sku_stock_level, stock_level,
};
use store_sql::value::to_count;

use crate::database::PgDatabase;
use crate::error::SqlResultExt as _;
use crate::unit_of_work::PgTx;

/// [`InventoryStore`] on the inventory service's schema.
#[derive(Clone, Debug)]
pub struct PgInventoryStore {
    pub(crate) database: PgDatabase,
}

impl PgInventoryStore {
    /// A store on `database`, which must be the inventory service's.
    pub fn new(database: PgDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl InventoryStore for PgInventoryStore {
    async fn begin(&self) -> store::Result<Box<dyn InventoryTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn stock_levels(&self) -> store::Result<Vec<(Sku, StockLevel)>> {
        let rows = sqlx::query(
            "SELECT sku, available, reserved, sold, initial, restocked FROM stock ORDER BY sku",
        )
        .fetch_all(self.database.pool())
        .await
        .or_store_error("read stock levels")?;
        rows.iter().map(sku_stock_level).collect()
    }
}

impl PgTx {
    /// [`InventoryTx::reserve`] in one statement: every line taken and the reservation
    /// recorded, or, when a line is short, the lines taken given back.
    async fn reserve_at_once(
        &mut self,
        order_id: OrderId,
        lines: &[StockLine],
    ) -> store::Result<Result<(), InsufficientStock>> {
        let (skus, quantities) = skus_and_quantities(lines);
        // Each line's update is conditional, as on its own: under READ COMMITTED, a row
        // another writer changed is re-checked on its committed version.
        let taken: Vec<String> = sqlx::query_scalar(concat!(
            "WITH taken AS (UPDATE stock SET available = available - l.quantity, ",
            "reserved = reserved + l.quantity ",
            "FROM UNNEST($2::text[], $3::bigint[]) AS l(sku, quantity) ",
            "WHERE stock.sku = l.sku AND stock.available >= l.quantity RETURNING stock.sku), ",
            "held AS (INSERT INTO reservations (order_id, status, lines, updated_at) ",
            "SELECT $1, 'held', $4, ",
            now_ms!(),
            " WHERE (SELECT COUNT(*) FROM taken) = cardinality($2::text[])) ",
            "SELECT sku FROM taken"
        ))
        .bind(order_id.to_string())
        .bind(skus)
        .bind(quantities)
        .bind(reservation_lines_json(lines)?)
        .fetch_all(&mut *self.tx)
        .await
        .or_store_error("reserve stock")?;
        let Some(short) = first_not_in(lines, &taken) else {
            return Ok(Ok(()));
        };
        // All or nothing: give back what the other lines took.
        let given_back: Vec<StockLine> = lines
            .iter()
            .filter(|line| taken.iter().any(|sku| sku == line.product_id.as_str()))
            .cloned()
            .collect();
        self.move_reserved(&given_back, false).await?;
        Ok(Err(self.short_of(short).await?))
    }

    /// What a reservation short of `line` reports: the line, and what is available of it.
    async fn short_of(&mut self, line: &StockLine) -> store::Result<InsufficientStock> {
        let available: Option<i64> =
            sqlx::query_scalar("SELECT available FROM stock WHERE sku = $1")
                .bind(line.product_id.as_str())
                .fetch_optional(&mut *self.tx)
                .await
                .or_store_error("read available stock")?;
        Ok(InsufficientStock {
            sku: line.product_id.clone(),
            requested: line.quantity.get(),
            available: available
                .map(|available| to_count("available", available))
                .transpose()?
                .unwrap_or(0),
        })
    }

    /// Locks the stock rows of `lines` in sku order, so that transactions updating several
    /// products wait for each other instead of deadlocking.
    async fn lock_stock(&mut self, lines: &[StockLine]) -> store::Result<()> {
        if lines.len() < 2 {
            return Ok(());
        }
        let skus: Vec<&str> = lines.iter().map(|l| l.product_id.as_str()).collect();
        self.lock_skus(&skus).await
    }

    /// Locks the stock rows of `skus`, in sku order whatever their order here.
    async fn lock_skus(&mut self, skus: &[impl AsRef<str>]) -> store::Result<()> {
        let skus: Vec<&str> = skus.iter().map(AsRef::as_ref).collect();
        sqlx::query("SELECT sku FROM stock WHERE sku = ANY($1) ORDER BY sku FOR UPDATE")
            .bind(skus)
            .execute(&mut *self.tx)
            .await
            .or_store_error("lock stock")?;
        Ok(())
    }

    /// Gives the order's reservation `status` and moves every one of its lines from
    /// `reserved` to `sold` or back to `available`.
    async fn unreserve(
        &mut self,
        order_id: OrderId,
        status: ReservationStatus,
        to_sold: bool,
    ) -> store::Result<()> {
        // The status set and the lines read in one statement.
        let lines: String = sqlx::query_scalar(concat!(
            "UPDATE reservations SET status = $1, updated_at = ",
            now_ms!(),
            " WHERE order_id = $2 RETURNING lines"
        ))
        .bind(status.as_str())
        .bind(order_id.to_string())
        .fetch_one(&mut *self.tx)
        .await
        .or_store_error("update reservation")?;
        let lines = parse_reservation_lines(&lines)?;
        self.lock_stock(&lines).await?;
        self.move_reserved(&lines, to_sold).await
    }

    /// Moves each line's units from `reserved` to `sold`, or back to `available`: in one
    /// statement when no two lines are of one product.
    async fn move_reserved(&mut self, lines: &[StockLine], to_sold: bool) -> store::Result<()> {
        if lines.len() > 1 && distinct_products(lines) {
            let sql = if to_sold {
                "UPDATE stock SET reserved = reserved - l.quantity, sold = sold + l.quantity \
                 FROM UNNEST($1::text[], $2::bigint[]) AS l(sku, quantity) \
                 WHERE stock.sku = l.sku AND stock.reserved >= l.quantity RETURNING stock.sku"
            } else {
                "UPDATE stock SET reserved = reserved - l.quantity, \
                 available = available + l.quantity \
                 FROM UNNEST($1::text[], $2::bigint[]) AS l(sku, quantity) \
                 WHERE stock.sku = l.sku AND stock.reserved >= l.quantity RETURNING stock.sku"
            };
            let (skus, quantities) = skus_and_quantities(lines);
            let moved: Vec<String> = sqlx::query_scalar(sql)
                .bind(skus)
                .bind(quantities)
                .fetch_all(&mut *self.tx)
                .await
                .or_store_error("move reserved stock")?;
            return match first_not_in(lines, &moved) {
                Some(line) => Err(reserved_below_held(line)),
                None => Ok(()),
            };
        }
        let sql = if to_sold {
            "UPDATE stock SET reserved = reserved - $1, sold = sold + $1 \
             WHERE sku = $2 AND reserved >= $1"
        } else {
            "UPDATE stock SET reserved = reserved - $1, available = available + $1 \
             WHERE sku = $2 AND reserved >= $1"
        };
        for line in lines {
            let done = sqlx::query(sql)
                .bind(i64::from(line.quantity.get()))
                .bind(line.product_id.as_str())
                .execute(&mut *self.tx)
                .await
                .or_store_error("move reserved stock")?;
            if done.rows_affected() != 1 {
                return Err(reserved_below_held(line));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl InventoryTx for PgTx {
    async fn reservation(&mut self, order_id: OrderId) -> store::Result<Option<ReservationStatus>> {
        // A release racing the order's reservation waits for it, then sees it held.
        self.lock_order(order_id).await?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM reservations WHERE order_id = $1")
                .bind(order_id.to_string())
                .fetch_optional(&mut *self.tx)
                .await
                .or_store_error("read reservation")?;
        status.as_deref().map(parse_reservation_status).transpose()
    }

    async fn reserve(
        &mut self,
        order_id: OrderId,
        lines: &[StockLine],
    ) -> store::Result<Result<(), InsufficientStock>> {
        self.lock_stock(lines).await?;
        if distinct_products(lines) {
            return self.reserve_at_once(order_id, lines).await;
        }
        for (taken, line) in lines.iter().enumerate() {
            // The conditional update is what prevents oversell; the CHECK constraint backs it.
            let done = sqlx::query(
                "UPDATE stock SET available = available - $1, reserved = reserved + $1 \
                 WHERE sku = $2 AND available >= $1",
            )
            .bind(i64::from(line.quantity.get()))
            .bind(line.product_id.as_str())
            .execute(&mut *self.tx)
            .await
            .or_store_error("reserve stock")?;
            if done.rows_affected() == 0 {
                // All or nothing: give back what the lines before this one took.
                self.move_reserved(&lines[..taken], false).await?;
                return Ok(Err(self.short_of(line).await?));
            }
        }
        let lines = reservation_lines_json(lines)?;
        sqlx::query(concat!(
            "INSERT INTO reservations (order_id, status, lines, updated_at) VALUES ($1, 'held', $2, ",
            now_ms!(),
            ")"
        ))
        .bind(order_id.to_string())
        .bind(lines)
        .execute(&mut *self.tx)
        .await
        .or_store_error("record reservation")?;
        Ok(Ok(()))
    }

    async fn lock_orders_and_stock(
        &mut self,
        orders: &[OrderId],
        lines: &[&StockLine],
    ) -> store::Result<()> {
        let mut order_ids: Vec<String> = orders.iter().map(OrderId::to_string).collect();
        order_ids.sort_unstable();
        order_ids.dedup();
        self.lock_orders(&order_ids).await?;
        // A reservation's lines never change once it is made, and no reservation of these
        // orders can be made meanwhile: their locks are held.
        let held: Vec<String> =
            sqlx::query_scalar("SELECT lines FROM reservations WHERE order_id = ANY($1)")
                .bind(&order_ids)
                .fetch_all(&mut *self.tx)
                .await
                .or_store_error("read reservation lines")?;
        let mut skus: Vec<String> = lines
            .iter()
            .map(|line| line.product_id.as_str().to_owned())
            .collect();
        for held in &held {
            skus.extend(
                parse_reservation_lines(held)?
                    .into_iter()
                    .map(|line| line.product_id.as_str().to_owned()),
            );
        }
        skus.sort_unstable();
        skus.dedup();
        self.lock_skus(&skus).await
    }

    async fn release(&mut self, order_id: OrderId) -> store::Result<()> {
        self.unreserve(order_id, ReservationStatus::Released, false)
            .await
    }

    async fn commit_reservation(&mut self, order_id: OrderId) -> store::Result<()> {
        self.unreserve(order_id, ReservationStatus::Committed, true)
            .await
    }

    async fn adjust(
        &mut self,
        sku: &Sku,
        delta: i64,
    ) -> store::Result<Result<StockLevel, StockError>> {
        // Locked, so the level the rules check is the level the update changes.
        let row = sqlx::query(
            "SELECT available, reserved, sold, initial, restocked FROM stock WHERE sku = $1 \
             FOR UPDATE",
        )
        .bind(sku.as_str())
        .fetch_optional(&mut *self.tx)
        .await
        .or_store_error("read stock")?;
        let Some(row) = row else {
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "no stock for {sku}"
            )));
        };
        let adjusted = match stock_level(&row)?.adjust(delta) {
            Ok(level) => level,
            Err(rejected) => return Ok(Err(rejected)),
        };
        // Conditional on the level still allowing it: available never goes below zero.
        let done = sqlx::query(
            "UPDATE stock SET available = available + $1, restocked = restocked + $1 \
             WHERE sku = $2 AND available + $1 >= 0",
        )
        .bind(delta)
        .bind(sku.as_str())
        .execute(&mut *self.tx)
        .await
        .or_store_error("adjust stock")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(Ok(adjusted))
    }

    async fn create_stock(&mut self, sku: &Sku, initial: u32) -> store::Result<()> {
        sqlx::query(
            "INSERT INTO stock (sku, available, reserved, sold, initial, restocked) \
             VALUES ($1, $2, 0, 0, $2, 0) ON CONFLICT (sku) DO NOTHING",
        )
        .bind(sku.as_str())
        .bind(i64::from(initial))
        .execute(&mut *self.tx)
        .await
        .or_store_error("create stock")?;
        Ok(())
    }
}

/// Whether no two of `lines` are of one product: then one statement can update them all
/// (an update joins each row once).
fn distinct_products(lines: &[StockLine]) -> bool {
    let mut skus: Vec<&str> = lines.iter().map(|l| l.product_id.as_str()).collect();
    skus.sort_unstable();
    skus.windows(2).all(|pair| pair[0] != pair[1])
}

/// The products and quantities of `lines`, as arrays for `UNNEST`.
fn skus_and_quantities(lines: &[StockLine]) -> (Vec<&str>, Vec<i64>) {
    lines
        .iter()
        .map(|line| (line.product_id.as_str(), i64::from(line.quantity.get())))
        .unzip()
}

/// The first of `lines` whose product is not among `updated`.
fn first_not_in<'a>(lines: &'a [StockLine], updated: &[String]) -> Option<&'a StockLine> {
    lines
        .iter()
        .find(|line| !updated.iter().any(|sku| sku == line.product_id.as_str()))
}
