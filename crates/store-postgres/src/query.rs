//! The query service's tables in `query_service`: the order events it has kept and the views
//! folded from them, with the columns the read API filters, searches and pages on.
//!
//! Views are stored as JSON beside those columns; creation times as unix milliseconds. It
//! never folds events itself: views arrive finished from the query service. Transactions
//! folding one order are serialized from their read of its events on, as on SQLite.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use query_domain::{Cursor, OrderView};
use sqlx::Postgres;
use store::query::{OrderFilter, QueryStore, QueryTx};
use store_sql::query::{list_views_query, parse_view, search_text, view_json};
use store_sql::value::{envelope_json, parse_envelope, parse_order_id};

use crate::database::PgDatabase;
use crate::error::SqlResultExt as _;
use crate::unit_of_work::PgTx;

/// [`QueryStore`] on the query service's schema.
#[derive(Clone, Debug)]
pub struct PgQueryStore {
    pub(crate) database: PgDatabase,
}

impl PgQueryStore {
    /// A store on `database`, which must be the query service's.
    pub fn new(database: PgDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl QueryStore for PgQueryStore {
    async fn begin(&self) -> store::Result<Box<dyn QueryTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn view(&self, order_id: OrderId) -> store::Result<Option<OrderView>> {
        let view: Option<String> =
            sqlx::query_scalar("SELECT view FROM order_views WHERE order_id = $1")
                .bind(order_id.to_string())
                .fetch_optional(self.database.pool())
                .await
                .or_store_error("read order view")?;
        view.as_deref().map(parse_view).transpose()
    }

    async fn list(&self, filter: &OrderFilter) -> store::Result<Vec<OrderView>> {
        let views: Vec<String> = list_views_query::<Postgres>(filter)
            .build_query_scalar()
            .fetch_all(self.database.pool())
            .await
            .or_store_error("list order views")?;
        views.iter().map(|view| parse_view(view)).collect()
    }

    async fn order_ids(&self) -> store::Result<Vec<OrderId>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT order_id FROM view_events ORDER BY order_id")
                .fetch_all(self.database.pool())
                .await
                .or_store_error("list order ids")?;
        ids.iter().map(|id| parse_order_id(id)).collect()
    }
}

#[async_trait]
impl QueryTx for PgTx {
    async fn keep_event(&mut self, envelope: &Envelope) -> store::Result<bool> {
        let kept = sqlx::query(
            "INSERT INTO view_events (message_id, order_id, envelope) VALUES ($1, $2, $3) \
             ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(envelope.message_id.to_string())
        .bind(envelope.correlation_id.to_string())
        .bind(envelope_json(envelope)?)
        .execute(&mut *self.tx)
        .await
        .or_store_error("keep order event")?;
        Ok(kept.rows_affected() == 1)
    }

    async fn keep_events(&mut self, envelopes: &[&Envelope]) -> store::Result<()> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(envelopes.len());
        let mut orders = Vec::with_capacity(envelopes.len());
        let mut bodies = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            ids.push(envelope.message_id.to_string());
            orders.push(envelope.correlation_id.to_string());
            bodies.push(envelope_json(envelope)?);
        }
        sqlx::query(
            "INSERT INTO view_events (message_id, order_id, envelope) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) \
             ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(ids)
        .bind(orders)
        .bind(bodies)
        .execute(&mut *self.tx)
        .await
        .or_store_error("keep order events")?;
        Ok(())
    }

    async fn handle_and_keep(&mut self, envelopes: &[&Envelope]) -> store::Result<Vec<bool>> {
        if envelopes.is_empty() {
            return Ok(Vec::new());
        }
        // In message id order, as `mark_all_handled`: two transactions recording some of the
        // same messages wait for each other in one order. The first of a repeated id counts.
        let mut rows = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            rows.push((
                envelope.message_id.to_string(),
                envelope.correlation_id.to_string(),
                envelope_json(envelope)?,
            ));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows.dedup_by(|a, b| a.0 == b.0);
        let (mut ids, mut orders, mut bodies) = (Vec::new(), Vec::new(), Vec::new());
        for (id, order, body) in rows {
            ids.push(id);
            orders.push(order);
            bodies.push(body);
        }
        let recorded: Vec<String> = sqlx::query_scalar(concat!(
            "WITH fresh AS (INSERT INTO inbox (message_id, handled_at) SELECT m.message_id, ",
            now_ms!(),
            " FROM UNNEST($1::text[]) WITH ORDINALITY AS m(message_id, n) ORDER BY m.n",
            " ON CONFLICT (message_id) DO NOTHING RETURNING message_id), ",
            "kept AS (INSERT INTO view_events (message_id, order_id, envelope) ",
            "SELECT e.message_id, e.order_id, e.envelope ",
            "FROM UNNEST($1::text[], $2::text[], $3::text[]) AS e(message_id, order_id, envelope) ",
            "WHERE e.message_id IN (SELECT message_id FROM fresh) ",
            "ON CONFLICT (message_id) DO NOTHING) ",
            "SELECT message_id FROM fresh"
        ))
        .bind(ids)
        .bind(orders)
        .bind(bodies)
        .fetch_all(&mut *self.tx)
        .await
        .or_store_error("record and keep order events")?;
        let mut recorded: HashSet<String> = recorded.into_iter().collect();
        Ok(envelopes
            .iter()
            .map(|envelope| recorded.remove(&envelope.message_id.to_string()))
            .collect())
    }

    async fn events_of(&mut self, order_ids: &[OrderId]) -> store::Result<Vec<Vec<Envelope>>> {
        if order_ids.is_empty() {
            return Ok(Vec::new());
        }
        // Folds of one order take turns, and each reads the events the one before it kept:
        // otherwise two concurrent folds could each miss the other's event. The locks are
        // taken in the callers' (id) order.
        let ids: Vec<String> = order_ids.iter().map(ToString::to_string).collect();
        self.lock_orders(&ids).await?;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT order_id, envelope FROM view_events WHERE order_id = ANY($1) \
             ORDER BY order_id, message_id",
        )
        .bind(&ids)
        .fetch_all(&mut *self.tx)
        .await
        .or_store_error("read kept order events")?;
        let mut events: HashMap<String, Vec<Envelope>> = HashMap::with_capacity(ids.len());
        for (order_id, envelope) in &rows {
            events
                .entry(order_id.clone())
                .or_default()
                .push(parse_envelope(envelope)?);
        }
        Ok(ids
            .iter()
            .map(|id| events.remove(id).unwrap_or_default())
            .collect())
    }

    async fn events(&mut self, order_id: OrderId) -> store::Result<Vec<Envelope>> {
        Ok(self.events_of(&[order_id]).await?.pop().unwrap_or_default())
    }

    async fn save_views(&mut self, views: &[OrderView]) -> store::Result<()> {
        if views.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(views.len());
        let mut emails = Vec::with_capacity(views.len());
        let mut statuses = Vec::with_capacity(views.len());
        let mut created = Vec::with_capacity(views.len());
        let mut texts = Vec::with_capacity(views.len());
        let mut jsons = Vec::with_capacity(views.len());
        for view in views {
            ids.push(view.order_id.to_string());
            emails.push(view.customer_email.to_lowercase());
            statuses.push(view.status.clone());
            created.push(Cursor::at(view).created_at_ms);
            texts.push(search_text(view));
            jsons.push(view_json(view)?);
        }
        sqlx::query(
            "INSERT INTO order_views (order_id, customer_email, status, created_at, search_text, view) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[]) \
             ON CONFLICT (order_id) DO UPDATE SET customer_email = excluded.customer_email, \
             status = excluded.status, created_at = excluded.created_at, \
             search_text = excluded.search_text, view = excluded.view",
        )
        .bind(ids)
        .bind(emails)
        .bind(statuses)
        .bind(created)
        .bind(texts)
        .bind(jsons)
        .execute(&mut *self.tx)
        .await
        .or_store_error("save order views")?;
        Ok(())
    }

    async fn save_view(&mut self, view: &OrderView) -> store::Result<()> {
        self.save_views(std::slice::from_ref(view)).await
    }
}
