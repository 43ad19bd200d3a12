//! `/api/v1/analytics` (admin only): totals and rates over a recent window, one counter's
//! series per minute or hour, and the best-selling products. Counters are summed over whole
//! buckets: a window starts at the start of the bucket its first moment falls in.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The windows a summary or product ranking covers, back from now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum AnalyticsWindow {
    #[serde(rename = "15m")]
    FifteenMinutes,
    #[default]
    #[serde(rename = "1h")]
    OneHour,
    #[serde(rename = "24h")]
    OneDay,
    #[serde(rename = "7d")]
    SevenDays,
}

impl AnalyticsWindow {
    /// The window's length in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            AnalyticsWindow::FifteenMinutes => 15 * 60_000,
            AnalyticsWindow::OneHour => 3_600_000,
            AnalyticsWindow::OneDay => 24 * 3_600_000,
            AnalyticsWindow::SevenDays => 7 * 24 * 3_600_000,
        }
    }

    /// The name in the query string: `15m`, `1h`, `24h` or `7d`.
    pub fn name(self) -> &'static str {
        match self {
            AnalyticsWindow::FifteenMinutes => "15m",
            AnalyticsWindow::OneHour => "1h",
            AnalyticsWindow::OneDay => "24h",
            AnalyticsWindow::SevenDays => "7d",
        }
    }
}

/// The bucket size of a series.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum SeriesBucket {
    #[default]
    #[serde(rename = "1m")]
    Minute,
    #[serde(rename = "1h")]
    Hour,
}

/// The query of `GET /api/v1/analytics/summary`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// `15m`, `1h` (the default), `24h` or `7d`, back from now.
    #[param(value_type = Option<AnalyticsWindow>)]
    pub window: Option<AnalyticsWindow>,
}

/// The most buckets one series answers: a day of minutes.
pub const MAX_SERIES_POINTS: i64 = 1440;

/// The query of `GET /api/v1/analytics/timeseries`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// The counter: `orders_placed`, `orders_completed`, `orders_cancelled` (by reason class),
    /// `revenue_minor` (by currency), `product_units` (by product), `product_revenue_minor` (by
    /// `product:currency`), `payments_succeeded`, `payments_failed`, `payments_refunded`,
    /// `stock_outs` (by product), `completion_time_ms` (sum of placed → completed times),
    /// `completions_timed` (how many completions that sum covers).
    pub metric: String,
    /// `1m` (the default) or `1h`.
    #[param(value_type = Option<SeriesBucket>)]
    pub bucket: Option<SeriesBucket>,
    /// RFC 3339; by default an hour (1m) or a day (1h) before `to`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<OffsetDateTime>,
    /// RFC 3339, exclusive; now by default. At most 1440 buckets from `from`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<OffsetDateTime>,
}

/// Products ranked when a client asks for no `limit`.
pub const DEFAULT_TOP_PRODUCTS: usize = 10;
/// The most products one ranking lists.
pub const MAX_TOP_PRODUCTS: usize = 100;

/// The query of `GET /api/v1/analytics/products`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductsQuery {
    /// `15m`, `1h`, `24h` (the default) or `7d`, back from now.
    #[param(value_type = Option<AnalyticsWindow>)]
    pub window: Option<AnalyticsWindow>,
    /// How many products, most units sold first: 10 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

/// An amount in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CurrencyAmount {
    pub currency: String,
    /// In minor units (cents).
    pub amount_minor: i64,
    /// As a decimal with two places.
    pub amount: String,
}

/// Cancelled orders by the class of their reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CancelledByReason {
    pub stock: i64,
    pub payment: i64,
    pub timeout: i64,
    pub customer: i64,
    pub other: i64,
}

/// Placed → completed times of the orders completed in the window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CompletionTimeSummary {
    /// Completed orders whose placement was seen too.
    pub orders: u64,
    pub average_ms: Option<i64>,
    /// Nearest-rank 95th percentile.
    pub p95_ms: Option<i64>,
}

/// Payment outcomes in the window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentSummary {
    pub succeeded: i64,
    pub failed: i64,
    pub refunded: i64,
    /// `failed / (succeeded + failed)`; absent without any payment.
    pub decline_rate: Option<f64>,
}

/// The answer to `GET /api/v1/analytics/summary`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnalyticsSummary {
    pub window: AnalyticsWindow,
    /// Start of the first bucket counted.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub to: OffsetDateTime,
    pub orders_placed: i64,
    pub orders_completed: i64,
    pub orders_cancelled: i64,
    pub cancelled_by_reason: CancelledByReason,
    /// Revenue of the orders completed, per currency.
    pub revenue: Vec<CurrencyAmount>,
    pub completion_time: CompletionTimeSummary,
    pub payments: PaymentSummary,
    /// Reservations refused for want of stock.
    pub stock_outs: i64,
}

/// One bucket of a series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeriesPoint {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub start: OffsetDateTime,
    /// What the value is counted by (a currency, a product, a reason class); empty for none.
    pub dimension: String,
    pub value: i64,
}

/// The answer to `GET /api/v1/analytics/timeseries`: buckets nothing was counted in are
/// absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnalyticsSeries {
    pub metric: String,
    pub bucket: SeriesBucket,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub to: OffsetDateTime,
    pub points: Vec<SeriesPoint>,
}

/// One product's sales in completed orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductSales {
    pub product_id: String,
    pub units: i64,
    pub revenue: Vec<CurrencyAmount>,
}
