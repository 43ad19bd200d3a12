//! The read side's use cases: one order's view, listing and searching orders page by page, and
//! rebuilding every view from the kept events.
//!
//! Reads never write; a rebuild writes only views, each from its order's kept events.

use std::sync::Arc;

use api::{DEFAULT_PAGE_SIZE, ListQuery, MAX_PAGE_SIZE, OrderPage};
use contracts::value::{Email, OrderId};
use tracing::info;

use crate::cache::MemoryViewCache;
use crate::error::Result;
use crate::projection::refresh_view;
use query_domain::{Cursor, OrderView};
use store::query::{OrderFilter, QueryStore, ViewCache};

/// The read model (CQRS) of orders: projects `order.*` events into views (see its
/// [`transport::Handler`] implementation) and answers the read API from them.
#[derive(Clone)]
pub struct QueryService {
    pub(crate) store: Arc<dyn QueryStore>,
    pub(crate) cache: Arc<dyn ViewCache>,
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
    /// [`Error::Store`](crate::Error::Store) when the read model cannot be read.
    pub async fn order(&self, order_id: OrderId) -> Result<Option<OrderView>> {
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

    /// One page of the orders that match `query`, newest first, among `owner`'s orders only
    /// when there is one (a customer's listing; `None` is the admin's, of every order). A
    /// page larger than [`MAX_PAGE_SIZE`] is cut down to it.
    ///
    /// # Errors
    /// [`Error::InvalidCursor`](crate::Error::InvalidCursor) for a cursor this API did not
    /// issue; [`Error::Store`](crate::Error::Store) when the read model cannot be read.
    pub async fn list(&self, query: ListQuery, owner: Option<&Email>) -> Result<OrderPage> {
        let limit = query
            .limit
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE);
        let before = non_blank(query.cursor)
            .map(|raw| raw.parse::<Cursor>())
            .transpose()?;
        let filter = OrderFilter {
            owner: owner.cloned(),
            customer_email: non_blank(query.customer_email).map(|email| email.to_lowercase()),
            status: query.status,
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
    /// [`Error::Projection`](crate::Error::Projection) at the first order whose events cannot
    /// be decoded (the rebuild stops there rather than skip it);
    /// [`Error::Store`](crate::Error::Store) when the read model cannot be read or written.
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
    use super::*;

    #[test]
    fn blank_filters_count_as_absent() {
        assert_eq!(non_blank(Some("  ".into())), None);
        assert_eq!(non_blank(Some(" a@b.c ".into())), Some("a@b.c".into()));
    }
}
