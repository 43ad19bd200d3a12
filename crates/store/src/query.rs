//! The query service's ports: the read model's storage (the events it has seen per order and
//! the views folded from them) and the cache of views in front of it.

use crate::{Result, UnitOfWork};
use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::{Email, OrderId};
use order_domain::OrderStatus;
use query_domain::OrderView;

/// Filters for listing orders; `None` means "any". Clients page with an opaque cursor, which
/// the service decodes into `before` (see [`query_domain::Cursor`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only this customer's orders, whatever the other filters ask: the caller's own address,
    /// for a customer; `None` for the admin.
    pub owner: Option<Email>,
    /// Exact address, compared in lowercase.
    pub customer_email: Option<String>,
    /// Exact status, parsed once at the edge.
    pub status: Option<OrderStatus>,
    /// Free text, case-insensitive: a substring of the order id, the customer's email or a
    /// product id.
    pub text: Option<String>,
    /// Orders strictly older than this `(created_at ms, order id)` position.
    pub before: Option<(i64, OrderId)>,
    /// At most this many views.
    pub limit: usize,
}

/// The read model's storage.
#[async_trait]
pub trait QueryStore: Send + Sync {
    /// # Errors
    /// [`crate::StoreError::Unavailable`] when the database cannot be reached.
    async fn begin(&self) -> Result<Box<dyn QueryTx>>;

    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn view(&self, order_id: OrderId) -> Result<Option<OrderView>>;

    /// The views that pass `filter`, newest first (by creation time, then order id).
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn list(&self, filter: &OrderFilter) -> Result<Vec<OrderView>>;

    /// Every order id the read model has kept events for, for rebuilds.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn order_ids(&self) -> Result<Vec<OrderId>>;
}

/// One transaction on the read model.
#[async_trait]
pub trait QueryTx: UnitOfWork {
    /// Keeps an order event; `false` when it was already kept.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn keep_event(&mut self, envelope: &Envelope) -> Result<bool>;

    /// Keeps several order events, in order; an adapter that can write them in one statement
    /// does.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn keep_events(&mut self, envelopes: &[&Envelope]) -> Result<()> {
        for envelope in envelopes {
            self.keep_event(envelope).await?;
        }
        Ok(())
    }

    /// Records each of `envelopes` in the inbox and keeps the order events of those recorded
    /// now: for each, whether it was new ([`UnitOfWork::mark_all_handled`]). An adapter that
    /// can do both in one statement does; by default, the two calls.
    ///
    /// # Errors
    /// [`crate::StoreError`] when a write fails.
    async fn handle_and_keep(&mut self, envelopes: &[&Envelope]) -> Result<Vec<bool>> {
        let ids: Vec<uuid::Uuid> = envelopes.iter().map(|e| e.message_id).collect();
        let fresh = self.mark_all_handled(&ids).await?;
        let kept: Vec<&Envelope> = envelopes
            .iter()
            .zip(&fresh)
            .filter_map(|(envelope, fresh)| fresh.then_some(*envelope))
            .collect();
        self.keep_events(&kept).await?;
        Ok(fresh)
    }

    /// Every event kept for the order.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn events(&mut self, order_id: OrderId) -> Result<Vec<Envelope>>;

    /// Every event kept for each of `order_ids` (in id order, without repeats), one list per
    /// order in the same order; an adapter that can read them in a few statements does.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn events_of(&mut self, order_ids: &[OrderId]) -> Result<Vec<Vec<Envelope>>> {
        let mut events = Vec::with_capacity(order_ids.len());
        for order_id in order_ids {
            events.push(self.events(*order_id).await?);
        }
        Ok(events)
    }

    /// Replaces the order's view.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn save_view(&mut self, view: &OrderView) -> Result<()>;

    /// Replaces several orders' views (one each); an adapter that can write them in one
    /// statement does.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn save_views(&mut self, views: &[OrderView]) -> Result<()> {
        for view in views {
            self.save_view(view).await?;
        }
        Ok(())
    }
}

/// Where order views are cached: in-process in the embedded mode, Redis when scaled out.
///
/// A cache is never the source of truth and never a reason to fail: an adapter that cannot
/// reach its store answers "miss" and forgets the write, and the read model answers instead.
///
/// Views only move forward (their history grows with every event), so a write never replaces a
/// view with a shorter history: two replicas that project the same order in turn, or a read that
/// repopulates the cache while a newer view is written, cannot leave an older view behind.
#[async_trait]
pub trait ViewCache: Send + Sync {
    /// The cached view, or `None` on a miss (or when the cache is unreachable).
    async fn get(&self, order_id: OrderId) -> Option<OrderView>;

    /// Caches `view` unless a view with a longer history is cached already.
    async fn put(&self, view: &OrderView);
}

/// The version a view is compared by: how many saga steps it has seen.
pub fn view_version(view: &OrderView) -> usize {
    view.history.len()
}
