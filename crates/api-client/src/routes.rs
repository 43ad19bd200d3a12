//! One method per route of the API, each taking and returning the `api` crate's types.

use api::{
    AnalyticsSeries, AnalyticsSummary, ProductSales, ProductsQuery, SeriesQuery, SummaryQuery,
};
use api::{
    CancelAccepted, CatalogItem, DeadLetter, DeadLetterReplayed, Envelope, ListQuery, Notification,
    NotificationQuery, OrderAccepted, OrderPage, OrderView, PlaceOrderBody, ProjectionRebuilt,
    StockAdjustment, StockView,
};
use reqwest::Method;
use uuid::Uuid;

use crate::client::ApiClient;
use crate::error::Result;

/// The header a replayed answer to an idempotent request carries.
const REPLAYED: &str = "idempotent-replayed";

/// The answer to placing an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub accepted: OrderAccepted,
    /// Whether this is the answer to an earlier request with the same Idempotency-Key: the
    /// order was placed then, not now.
    pub replayed: bool,
}

/// Every call may also fail with [`ClientError::Unreachable`](crate::ClientError::Unreachable)
/// or [`ClientError::Unexpected`](crate::ClientError::Unexpected); the problems each route
/// answers are named under its `# Errors`.
impl ApiClient {
    /// `POST /orders`: places an order, once per `idempotency_key` when one is given.
    ///
    /// # Errors
    /// A `422` problem listing every invalid field (`validation_failed`), or naming a key
    /// reused for another order (`idempotency_key_reused`).
    pub async fn place_order(
        &self,
        body: &PlaceOrderBody,
        idempotency_key: Option<&str>,
    ) -> Result<Placement> {
        let mut request = self.request(Method::POST, &["orders"]).json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let answer = self.send(request).await?;
        let replayed = answer.has_header(REPLAYED);
        Ok(Placement {
            accepted: answer.json()?,
            replayed,
        })
    }

    /// `GET /orders/{id}`: the order's view.
    ///
    /// # Errors
    /// A `404` problem for an unknown order.
    pub async fn order(&self, order_id: Uuid) -> Result<OrderView> {
        let id = order_id.to_string();
        let request = self.request(Method::GET, &["orders", &id]);
        self.send(request).await?.json()
    }

    /// `GET /orders`: one page of the orders that match `query` among those this client's
    /// token may see (a customer's own, or every order with the admin token), newest first.
    ///
    /// # Errors
    /// A `401` problem without a token, `422` for a limit out of range or a cursor this API
    /// did not issue.
    pub async fn list_orders(&self, query: &ListQuery) -> Result<OrderPage> {
        let request = self.request(Method::GET, &["orders"]).query(query);
        self.send(request).await?.json()
    }

    /// `POST /orders/{id}/cancel`: cancels an order that is not completed; with a customer
    /// token, only one of the customer's own orders.
    ///
    /// # Errors
    /// A `401` problem without a token, `404` for an unknown order or another customer's,
    /// `409` for a completed order.
    pub async fn cancel_order(&self, order_id: Uuid) -> Result<CancelAccepted> {
        let id = order_id.to_string();
        let request = self.request(Method::POST, &["orders", &id, "cancel"]);
        self.send(request).await?.json()
    }

    /// `GET /orders/{id}/events`: the order's events, oldest first.
    ///
    /// # Errors
    /// A `404` problem for an order without events.
    pub async fn order_events(&self, order_id: Uuid) -> Result<Vec<Envelope>> {
        let id = order_id.to_string();
        let request = self.request(Method::GET, &["orders", &id, "events"]);
        self.send(request).await?.json()
    }

    /// `GET /catalog`: the products on sale, without stock.
    ///
    /// # Errors
    /// Only the failures every call has.
    pub async fn catalog(&self) -> Result<Vec<CatalogItem>> {
        let request = self.request(Method::GET, &["catalog"]);
        self.send(request).await?.json()
    }

    /// `GET /admin/stock` (admin): every product's stock.
    ///
    /// # Errors
    /// A `401` problem without the right admin token.
    pub async fn stock_levels(&self) -> Result<Vec<StockView>> {
        let request = self.admin_request(Method::GET, &["admin", "stock"]);
        self.send(request).await?.json()
    }

    /// `POST /admin/products/{id}/stock` (admin): adds or removes available units.
    ///
    /// # Errors
    /// A `401` problem without the right admin token, `404` for an unknown product, `422`
    /// for an adjustment out of range or one that would make stock negative.
    pub async fn adjust_stock(
        &self,
        product_id: &str,
        adjustment: StockAdjustment,
    ) -> Result<StockView> {
        let request = self
            .admin_request(Method::POST, &["admin", "products", product_id, "stock"])
            .json(&adjustment);
        self.send(request).await?.json()
    }

    /// `GET /admin/notifications` (admin): emails sent, newest first.
    ///
    /// # Errors
    /// A `401` problem without the right admin token.
    pub async fn notifications(&self, query: &NotificationQuery) -> Result<Vec<Notification>> {
        let request = self
            .admin_request(Method::GET, &["admin", "notifications"])
            .query(query);
        self.send(request).await?.json()
    }

    /// `GET /analytics/summary` (admin): totals and rates over a window back from now.
    ///
    /// # Errors
    /// A `401` problem without the right admin token.
    pub async fn analytics_summary(&self, query: &SummaryQuery) -> Result<AnalyticsSummary> {
        let request = self
            .admin_request(Method::GET, &["analytics", "summary"])
            .query(query);
        self.send(request).await?.json()
    }

    /// `GET /analytics/timeseries` (admin): one counter per minute or hour.
    ///
    /// # Errors
    /// A `401` problem without the right admin token, `422` for an unknown metric or a range
    /// too long.
    pub async fn analytics_series(&self, query: &SeriesQuery) -> Result<AnalyticsSeries> {
        let request = self
            .admin_request(Method::GET, &["analytics", "timeseries"])
            .query(query);
        self.send(request).await?.json()
    }

    /// `GET /analytics/products` (admin): the best sellers over a window.
    ///
    /// # Errors
    /// A `401` problem without the right admin token, `422` for a limit out of range.
    pub async fn analytics_products(&self, query: &ProductsQuery) -> Result<Vec<ProductSales>> {
        let request = self
            .admin_request(Method::GET, &["analytics", "products"])
            .query(query);
        self.send(request).await?.json()
    }

    /// `GET /admin/dead-letters` (admin): parked messages, oldest first.
    ///
    /// # Errors
    /// A `401` problem without the right admin token.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        let request = self.admin_request(Method::GET, &["admin", "dead-letters"]);
        self.send(request).await?.json()
    }

    /// `POST /admin/dead-letters/{id}/replay` (admin): puts a parked message back on its
    /// queue.
    ///
    /// # Errors
    /// A `401` problem without the right admin token, `404` for an unknown dead letter.
    pub async fn replay_dead_letter(&self, id: &str) -> Result<DeadLetterReplayed> {
        let request = self.admin_request(Method::POST, &["admin", "dead-letters", id, "replay"]);
        self.send(request).await?.json()
    }

    /// `DELETE /admin/dead-letters/{id}` (admin): deletes a parked message for good.
    ///
    /// # Errors
    /// A `401` problem without the right admin token, `404` for an unknown dead letter.
    pub async fn discard_dead_letter(&self, id: &str) -> Result<()> {
        let request = self.admin_request(Method::DELETE, &["admin", "dead-letters", id]);
        self.send(request).await.map(drop)
    }

    /// `POST /admin/projections/rebuild` (admin): folds every order view again from the
    /// read model's events.
    ///
    /// # Errors
    /// A `401` problem without the right admin token.
    pub async fn rebuild_projection(&self) -> Result<ProjectionRebuilt> {
        let request = self.admin_request(Method::POST, &["admin", "projections", "rebuild"]);
        self.send(request).await?.json()
    }
}
