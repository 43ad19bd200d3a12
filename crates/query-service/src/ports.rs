//! What the query service needs from storage: the events it has seen per order and the views
//! folded from them.

use async_trait::async_trait;
use contracts::Envelope;
use store::{Result, UnitOfWork};
use uuid::Uuid;

use crate::view::OrderView;

/// Filters for listing orders; `None` means "any". Clients page with an opaque cursor, which
/// the service decodes into `before` (see [`crate::view::Cursor`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Exact address, compared in lowercase.
    pub customer_email: Option<String>,
    /// Exact status, e.g. `COMPLETED`.
    pub status: Option<String>,
    /// Free text, case-insensitive: a substring of the order id, the customer's email or a
    /// product id.
    pub text: Option<String>,
    /// Orders strictly older than this `(created_at ms, order id)` position.
    pub before: Option<(i64, Uuid)>,
    /// At most this many views.
    pub limit: usize,
}

/// The read model's storage.
#[async_trait]
pub trait QueryStore: Send + Sync {
    /// # Errors
    /// [`store::StoreError::Unavailable`] when the database cannot be reached.
    async fn begin(&self) -> Result<Box<dyn QueryTx>>;

    /// # Errors
    /// [`store::StoreError`] when the read fails.
    async fn view(&self, order_id: Uuid) -> Result<Option<OrderView>>;

    /// The views that pass `filter`, newest first (by creation time, then order id).
    ///
    /// # Errors
    /// [`store::StoreError`] when the read fails.
    async fn list(&self, filter: &OrderFilter) -> Result<Vec<OrderView>>;

    /// Every order id the read model has kept events for, for rebuilds.
    ///
    /// # Errors
    /// [`store::StoreError`] when the read fails.
    async fn order_ids(&self) -> Result<Vec<Uuid>>;
}

/// One transaction on the read model.
#[async_trait]
pub trait QueryTx: UnitOfWork {
    /// Keeps an order event; `false` when it was already kept.
    ///
    /// # Errors
    /// [`store::StoreError`] when the write fails.
    async fn keep_event(&mut self, envelope: &Envelope) -> Result<bool>;

    /// Every event kept for the order.
    ///
    /// # Errors
    /// [`store::StoreError`] when the read fails.
    async fn events(&mut self, order_id: Uuid) -> Result<Vec<Envelope>>;

    /// Replaces the order's view.
    ///
    /// # Errors
    /// [`store::StoreError`] when the write fails.
    async fn save_view(&mut self, view: &OrderView) -> Result<()>;
}
