//! The analytics API's reads: a window's totals and rates, one counter's series, the best
//! sellers. Reads never write. "Now" is this process's clock, passed in so tests fix it.

use std::collections::BTreeMap;

use analytics_domain::{Bucket, CancelClass, Metric, millis};
use api::{
    AnalyticsSeries, AnalyticsSummary, AnalyticsWindow, CancelledByReason, CompletionTimeSummary,
    CurrencyAmount, DEFAULT_TOP_PRODUCTS, MAX_SERIES_POINTS, MAX_TOP_PRODUCTS, PaymentSummary,
    ProductSales, ProductsQuery, SeriesBucket, SeriesPoint, SeriesQuery,
};
use contracts::value::format_minor;
use store::analytics::Total;
use time::OffsetDateTime;

use crate::AnalyticsService;
use crate::error::{Error, Result};

impl AnalyticsService {
    /// Totals and rates over `window` back from now.
    ///
    /// # Errors
    /// [`Error::Store`] when the analytics database cannot be read.
    pub async fn summary(&self, window: AnalyticsWindow) -> Result<AnalyticsSummary> {
        self.summary_at(window, OffsetDateTime::now_utc()).await
    }

    /// [`Self::summary`] as of `now`.
    ///
    /// # Errors
    /// [`Error::Store`] when the analytics database cannot be read.
    pub async fn summary_at(
        &self,
        window: AnalyticsWindow,
        now: OffsetDateTime,
    ) -> Result<AnalyticsSummary> {
        let (bucket, from_ms, to_ms) = window_range(window, now);
        let totals = self.store.totals(bucket, from_ms, to_ms).await?;
        let times = self.store.completion_times(from_ms, to_ms).await?;
        let sum = |metric: Metric| -> i64 {
            totals
                .iter()
                .filter(|total| total.metric == metric)
                .map(|total| total.value)
                .sum()
        };
        let cancelled = |class: CancelClass| -> i64 {
            totals
                .iter()
                .filter(|t| t.metric == Metric::OrdersCancelled && t.dimension == class.name())
                .map(|t| t.value)
                .sum()
        };
        let succeeded = sum(Metric::PaymentsSucceeded);
        let failed = sum(Metric::PaymentsFailed);
        #[expect(
            clippy::cast_precision_loss,
            reason = "a rate: payment counts far below 2^52"
        )]
        let decline_rate =
            (succeeded + failed > 0).then(|| failed as f64 / (succeeded + failed) as f64);
        let average_ms = (times.count > 0)
            .then(|| times.total_ms / i64::try_from(times.count).unwrap_or(i64::MAX));
        Ok(AnalyticsSummary {
            window,
            from: at(from_ms),
            to: now,
            orders_placed: sum(Metric::OrdersPlaced),
            orders_completed: sum(Metric::OrdersCompleted),
            orders_cancelled: sum(Metric::OrdersCancelled),
            cancelled_by_reason: CancelledByReason {
                stock: cancelled(CancelClass::Stock),
                payment: cancelled(CancelClass::Payment),
                timeout: cancelled(CancelClass::Timeout),
                customer: cancelled(CancelClass::Customer),
                other: cancelled(CancelClass::Other),
            },
            revenue: totals
                .iter()
                .filter(|total| total.metric == Metric::RevenueMinor)
                .map(|total| amount(&total.dimension, total.value))
                .collect(),
            completion_time: CompletionTimeSummary {
                orders: times.count,
                average_ms,
                p95_ms: times.p95_ms,
            },
            payments: PaymentSummary {
                succeeded,
                failed,
                refunded: sum(Metric::PaymentsRefunded),
                decline_rate,
            },
            stock_outs: sum(Metric::StockOuts),
        })
    }

    /// One counter per bucket.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown metric, a range that ends before it starts or that
    /// holds more than [`MAX_SERIES_POINTS`] buckets; [`Error::Store`] when the analytics
    /// database cannot be read.
    pub async fn series(&self, query: SeriesQuery) -> Result<AnalyticsSeries> {
        self.series_at(query, OffsetDateTime::now_utc()).await
    }

    /// [`Self::series`] as of `now`.
    ///
    /// # Errors
    /// As [`Self::series`].
    pub async fn series_at(
        &self,
        query: SeriesQuery,
        now: OffsetDateTime,
    ) -> Result<AnalyticsSeries> {
        let metric = Metric::from_name(query.metric.trim()).ok_or_else(|| Error::Invalid {
            field: "metric",
            message: format!(
                "must be one of {}",
                Metric::ALL.map(Metric::name).join(", ")
            ),
        })?;
        let series_bucket = query.bucket.unwrap_or_default();
        let bucket = match series_bucket {
            SeriesBucket::Minute => Bucket::Minute,
            SeriesBucket::Hour => Bucket::Hour,
        };
        let to = query.to.unwrap_or(now);
        let default_span = match bucket {
            Bucket::Minute => time::Duration::HOUR,
            Bucket::Hour => time::Duration::DAY,
        };
        let from = query.from.unwrap_or(to - default_span);
        if from >= to {
            return Err(Error::Invalid {
                field: "from",
                message: "must be before `to`".to_owned(),
            });
        }
        let from_ms = bucket.start_of(millis(from));
        let to_ms = millis(to);
        if (to_ms - from_ms + bucket.millis() - 1) / bucket.millis() > MAX_SERIES_POINTS {
            return Err(Error::Invalid {
                field: "from",
                message: format!(
                    "at most {MAX_SERIES_POINTS} buckets of {} between `from` and `to`",
                    bucket.name()
                ),
            });
        }
        let points = self
            .store
            .series(bucket, metric, from_ms, to_ms)
            .await?
            .into_iter()
            .map(|point| SeriesPoint {
                start: at(point.start_ms),
                dimension: point.dimension,
                value: point.value,
            })
            .collect();
        Ok(AnalyticsSeries {
            metric: metric.name().to_owned(),
            bucket: series_bucket,
            from: at(from_ms),
            to,
            points,
        })
    }

    /// The products that sold the most units in completed orders over a window.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a `limit` outside `1..=`[`MAX_TOP_PRODUCTS`]; [`Error::Store`]
    /// when the analytics database cannot be read.
    pub async fn products(&self, query: ProductsQuery) -> Result<Vec<ProductSales>> {
        self.products_at(query, OffsetDateTime::now_utc()).await
    }

    /// [`Self::products`] as of `now`.
    ///
    /// # Errors
    /// As [`Self::products`].
    pub async fn products_at(
        &self,
        query: ProductsQuery,
        now: OffsetDateTime,
    ) -> Result<Vec<ProductSales>> {
        let limit = query.limit.unwrap_or(DEFAULT_TOP_PRODUCTS);
        if !(1..=MAX_TOP_PRODUCTS).contains(&limit) {
            return Err(Error::Invalid {
                field: "limit",
                message: format!("must be between 1 and {MAX_TOP_PRODUCTS}, got {limit}"),
            });
        }
        let window = query.window.unwrap_or(AnalyticsWindow::OneDay);
        let (bucket, from_ms, to_ms) = window_range(window, now);
        let totals = self.store.totals(bucket, from_ms, to_ms).await?;
        Ok(top_products(&totals, limit))
    }
}

/// The bucket size a window is summed in, and the range of bucket starts it covers: from the
/// bucket holding `now - window` to the one holding `now`, both included.
fn window_range(window: AnalyticsWindow, now: OffsetDateTime) -> (Bucket, i64, i64) {
    let bucket = match window {
        AnalyticsWindow::SevenDays => Bucket::Hour,
        _ => Bucket::Minute,
    };
    let now_ms = millis(now);
    let from_ms = bucket.start_of(now_ms - window.millis());
    let to_ms = bucket.start_of(now_ms) + bucket.millis();
    (bucket, from_ms, to_ms)
}

/// Products by units sold, most first (then by id), with their revenue per currency.
fn top_products(totals: &[Total], limit: usize) -> Vec<ProductSales> {
    let mut sales: BTreeMap<String, ProductSales> = BTreeMap::new();
    for total in totals {
        match total.metric {
            Metric::ProductUnits => {
                sales
                    .entry(total.dimension.clone())
                    .or_insert_with(|| empty_sales(&total.dimension))
                    .units += total.value;
            }
            Metric::ProductRevenueMinor => {
                let Some((product_id, currency)) = total.dimension.split_once(':') else {
                    continue;
                };
                sales
                    .entry(product_id.to_owned())
                    .or_insert_with(|| empty_sales(product_id))
                    .revenue
                    .push(amount(currency, total.value));
            }
            _ => {}
        }
    }
    let mut ranked: Vec<ProductSales> = sales.into_values().collect();
    ranked.sort_by(|a, b| {
        b.units
            .cmp(&a.units)
            .then_with(|| a.product_id.cmp(&b.product_id))
    });
    ranked.truncate(limit);
    ranked
}

fn empty_sales(product_id: &str) -> ProductSales {
    ProductSales {
        product_id: product_id.to_owned(),
        units: 0,
        revenue: Vec::new(),
    }
}

fn amount(currency: &str, minor: i64) -> CurrencyAmount {
    CurrencyAmount {
        currency: currency.to_owned(),
        amount_minor: minor,
        amount: format_minor(minor),
    }
}

/// The moment `ms` unix milliseconds name.
fn at(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
