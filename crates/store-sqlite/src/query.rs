//! The query service's storage in its SQLite database: the order events it has kept and the
//! views folded from them, with the columns the read API filters, searches and pages on.
//!
//! Views are stored as JSON beside those columns; creation times as unix milliseconds. It
//! never folds events itself: views arrive finished from the query service.

use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use query_domain::{Cursor, OrderView};
use rusqlite::params;
use rusqlite::types::ToSql;
use store::query::{OrderFilter, QueryStore, QueryTx};
use store_sql::query::{Bind, list_views_sql, parse_view, search_text, view_json};
use store_sql::value::{envelope_json, parse_envelope, parse_order_id};

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;
use crate::rows::{column, execute, optional_scalar};
use crate::unit_of_work::SqliteTx;

/// [`QueryStore`] on the query service's database.
#[derive(Clone, Debug)]
pub struct SqliteQueryStore {
    pub(crate) database: SqliteDatabase,
}

impl SqliteQueryStore {
    /// A store on `database`, which must be the query service's.
    pub fn new(database: SqliteDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl QueryStore for SqliteQueryStore {
    async fn begin(&self) -> store::Result<Box<dyn QueryTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn view(&self, order_id: OrderId) -> store::Result<Option<OrderView>> {
        let view: Option<String> = self.database.read("read order view", |connection| {
            optional_scalar(
                connection,
                "SELECT view FROM order_views WHERE order_id = ?",
                [order_id.to_string()],
            )
        })?;
        view.as_deref().map(parse_view).transpose()
    }

    async fn list(&self, filter: &OrderFilter) -> store::Result<Vec<OrderView>> {
        let (sql, binds) = list_views_sql(filter);
        let binds: Vec<&dyn ToSql> = binds
            .iter()
            .map(|bind| match bind {
                Bind::Text(text) => text as &dyn ToSql,
                Bind::Integer(integer) => integer as &dyn ToSql,
            })
            .collect();
        let views: Vec<String> = self.database.read("list order views", |connection| {
            column(connection, &sql, binds.as_slice())
        })?;
        views.iter().map(|view| parse_view(view)).collect()
    }

    async fn order_ids(&self) -> store::Result<Vec<OrderId>> {
        let ids: Vec<String> = self.database.read("list order ids", |connection| {
            column(
                connection,
                "SELECT DISTINCT order_id FROM view_events ORDER BY order_id",
                [],
            )
        })?;
        ids.iter().map(|id| parse_order_id(id)).collect()
    }
}

#[async_trait]
impl QueryTx for SqliteTx {
    async fn keep_event(&mut self, envelope: &Envelope) -> store::Result<bool> {
        let kept = execute(
            self.connection(),
            "INSERT INTO view_events (message_id, order_id, envelope) VALUES (?, ?, ?) \
             ON CONFLICT (message_id) DO NOTHING",
            params![
                envelope.message_id.to_string(),
                envelope.correlation_id.to_string(),
                envelope_json(envelope)?
            ],
        )
        .or_store_error("keep order event")?;
        Ok(kept == 1)
    }

    async fn events(&mut self, order_id: OrderId) -> store::Result<Vec<Envelope>> {
        let envelopes: Vec<String> = column(
            self.connection(),
            "SELECT envelope FROM view_events WHERE order_id = ? ORDER BY message_id",
            [order_id.to_string()],
        )
        .or_store_error("read kept order events")?;
        envelopes
            .iter()
            .map(|envelope| parse_envelope(envelope))
            .collect()
    }

    async fn save_view(&mut self, view: &OrderView) -> store::Result<()> {
        let json = view_json(view)?;
        execute(
            self.connection(),
            "INSERT INTO order_views (order_id, customer_email, status, created_at, search_text, view) \
             VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (order_id) DO UPDATE SET customer_email = excluded.customer_email, \
             status = excluded.status, created_at = excluded.created_at, \
             search_text = excluded.search_text, view = excluded.view",
            params![
                view.order_id.to_string(),
                view.customer_email.to_lowercase(),
                view.status,
                Cursor::at(view).created_at_ms,
                search_text(view),
                json
            ],
        )
        .or_store_error("save order view")?;
        Ok(())
    }
}
