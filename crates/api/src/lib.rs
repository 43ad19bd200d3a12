//! The public HTTP API's wire types: request bodies, query parameters and answers, each one
//! type that serde reads and writes and that the OpenAPI document describes, so the parser and
//! the document cannot drift apart. The server (the gateway, and the services that take these
//! types as input) and its clients (`api-client`) share them: one type per answer, serialized
//! by the one and deserialized by the other.
//!
//! Only JSON shapes are checked here: what a value means (an email, a quantity, a product in
//! the catalog) is the business of the service that takes it. No I/O, no async.

mod admin;
mod analytics;
mod catalog;
mod field;
mod list;
mod orders;
#[cfg(test)]
mod orders_properties;
mod problem;
mod updates;

pub use admin::{
    DEFAULT_NOTIFICATIONS, DeadLetter, DeadLetterReplayed, MAX_NOTIFICATIONS, MAX_STOCK_ADJUSTMENT,
    Notification, NotificationQuery, ProjectionRebuilt, StockAdjustment, StockView,
};
pub use analytics::{
    AnalyticsSeries, AnalyticsSummary, AnalyticsWindow, CancelledByReason, CompletionTimeSummary,
    CurrencyAmount, DEFAULT_TOP_PRODUCTS, MAX_SERIES_POINTS, MAX_TOP_PRODUCTS, PaymentSummary,
    ProductSales, ProductsQuery, SeriesBucket, SeriesPoint, SeriesQuery, SummaryQuery,
};
pub use catalog::CatalogItem;
/// The answer to `GET /api/v1/orders/{id}/events`, and what a dead letter holds.
pub use contracts::{Envelope, Queue};
pub use field::Field;
pub use list::{DEFAULT_PAGE_SIZE, ListQuery, MAX_PAGE_SIZE, MAX_SEARCH_TEXT_CHARS, OrderPage};
/// The status a [`ListQuery`] filters by.
pub use order_domain::OrderStatus;
pub use orders::{
    CancelAccepted, IDEMPOTENCY_KEY_MAX_LEN, MAX_ORDER_LINES, MultiItemBody, OrderAccepted,
    OrderItemBody, PlaceOrderBody, SingleItemBody,
};
pub use problem::{FieldProblem, ProblemDetails};
/// The answer to `GET /api/v1/orders/{id}`: the read model's view, computed by `query-domain`.
pub use query_domain::{OrderView, OrderViewItem, SagaHistoryEntry};
pub use updates::{LAGGED_EVENT, OrderUpdate, UPDATE_EVENT, UpdateNotice};
