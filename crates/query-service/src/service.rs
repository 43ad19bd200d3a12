//! The read side's use cases: one order's view, listing and searching orders page by page, and
//! rebuilding every view from the kept events.
//!
//! Reads never write; a rebuild writes only views, each from its order's kept events.

use std::sync::Arc;

use order_domain::OrderStatus;
use serde::{Deserialize, Serialize};
use tracing::info;
use uuid::Uuid;

use crate::cache::MemoryViewCache;
use crate::error::{Error, Result};
use crate::projection::refresh_view;
use query_domain::{Cursor, OrderView};
use store::query::{OrderFilter, QueryStore, ViewCache};

/// Page size when the client asks for none.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The largest page a client may ask for; larger requests are cut down to it.
pub const MAX_PAGE_SIZE: usize = 100;

/// The read model (CQRS) of orders: projects `order.*` events into views (see its
/// [`transport::Handler`] implementation) and answers the read API from them.
#[derive(Clone)]
pub struct QueryService {
    pub(crate) store: Arc<dyn QueryStore>,
    pub(crate) cache: Arc<dyn ViewCache>,
}

/// What a client asks of `GET /api/v1/orders`. Blank values count as absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this customer's orders (case-insensitive).
    pub customer_email: Option<String>,
    /// Only orders in this status, e.g. `COMPLETED` (case-insensitive).
    pub status: Option<String>,
    /// Free text: part of an order id, a customer's email or a product id.
    #[serde(rename = "q")]
    pub text: Option<String>,
    /// Orders per page: 20 by default, at most 100.
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page, to get the page after it.
    pub cursor: Option<String>,
}

/// One page of orders, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderView>,
    /// Pass it as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl QueryService {
    /// A read model kept in `store`.
    pub fn new(store: Arc<dyn QueryStore>) -> Self {
        Self {
            store,
            cache: Arc::new(MemoryViewCache::default()),
        }
    }

    /// The same read model, with views cached in `cache` instead of in this process.
    pub fn with_cache(self, cache: Arc<dyn ViewCache>) -> Self {
        Self { cache, ..self }
    }

    /// The order's view; `None` until its `order.placed` has been projected.
    ///
    /// # Errors
    /// [`Error::Store`] when the read model cannot be read.
    pub async fn order(&self, order_id: Uuid) -> Result<Option<OrderView>> {
        if let Some(view) = self.cache.get(order_id).await {
            metrics::counter!("orderflow_view_cache_requests_total", "result" => "hit")
                .increment(1);
            return Ok(Some(view));
        }
        metrics::counter!("orderflow_view_cache_requests_total", "result" => "miss").increment(1);
        let view = self.store.view(order_id).await?;
        if let Some(view) = &view {
            self.cache.put(view).await;
        }
        Ok(view)
    }

    /// One page of the orders that match `query`, newest first.
    ///
    /// # Errors
    /// [`Error::InvalidCursor`] or [`Error::InvalidStatus`] for a query the client got wrong;
    /// [`Error::Store`] when the read model cannot be read.
    pub async fn list(&self, query: ListQuery) -> Result<OrderPage> {
        let limit = query
            .limit
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE);
        let before = non_blank(query.cursor)
            .map(|raw| raw.parse::<Cursor>())
            .transpose()?;
        let status = non_blank(query.status)
            .map(|raw| {
                OrderStatus::parse(&raw)
                    .map(|status| status.as_str().to_owned())
                    .ok_or(Error::InvalidStatus(raw))
            })
            .transpose()?;
        let filter = OrderFilter {
            customer_email: non_blank(query.customer_email).map(|email| email.to_lowercase()),
            status,
            text: non_blank(query.text),
            before: before.map(|cursor| (cursor.created_at_ms, cursor.order_id)),
            // One more than asked tells whether another page follows.
            limit: limit + 1,
        };
        let mut orders = self.store.list(&filter).await?;
        let next_cursor = if orders.len() > limit {
            orders.truncate(limit);
            orders.last().map(|view| Cursor::at(view).to_string())
        } else {
            None
        };
        Ok(OrderPage {
            orders,
            next_cursor,
        })
    }

    /// Folds every order's kept events into its view again, replacing the stored one, and
    /// returns how many views were written. The fold is the one that keeps views current, so
    /// a rebuild yields the views the read model already had (invariant 4): it repairs a read
    /// model written by an older build, and proves the read model converged.
    ///
    /// Each order is rebuilt in its own transaction, so events that arrive meanwhile are
    /// folded in either by the rebuild or by the projection, never lost.
    ///
    /// # Errors
    /// [`Error::Projection`] at the first order whose events cannot be decoded (the rebuild
    /// stops there rather than skip it); [`Error::Store`] when the read model cannot be read
    /// or written.
    pub async fn rebuild(&self) -> Result<usize> {
        let mut rebuilt = 0;
        for order_id in self.store.order_ids().await? {
            let mut tx = self.store.begin().await?;
            if let Some(view) = refresh_view(tx.as_mut(), order_id).await? {
                tx.commit().await?;
                self.cache.put(&view).await;
                rebuilt += 1;
            }
        }
        info!(orders = rebuilt, "read model rebuilt");
        Ok(rebuilt)
    }
}

impl std::fmt::Debug for QueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryService").finish_non_exhaustive()
    }
}

fn non_blank(value: Option<String>) -> Option<String> {
    value
        .map(|raw| raw.trim().to_owned())
        .filter(|trimmed| !trimmed.is_empty())
}

#[cfg(test)]
mod tests {
    use utoipa::IntoParams as _;

    use super::*;

    #[test]
    fn blank_filters_count_as_absent() {
        assert_eq!(non_blank(Some("  ".into())), None);
        assert_eq!(non_blank(Some(" a@b.c ".into())), Some("a@b.c".into()));
    }

    #[test]
    fn the_free_text_parameter_is_called_q_on_the_wire() {
        let query: ListQuery =
            serde_json::from_value(serde_json::json!({"q": "laptop"})).expect("a list query");
        assert_eq!(query.text.as_deref(), Some("laptop"));
        let names: Vec<String> = ListQuery::into_params(|| None)
            .into_iter()
            .map(|param| param.name)
            .collect();
        assert!(names.contains(&"q".to_owned()), "{names:?}");
    }
}
