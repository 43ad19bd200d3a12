//! The counters analytics keeps, each per bucket and per dimension.

/// A counter kept per bucket. Its dimension (a text beside the value) says what it is counted
/// by: nothing (`""`), a cancel class, a currency, a product, or a product and a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Orders placed; no dimension.
    OrdersPlaced,
    /// Orders completed; no dimension.
    OrdersCompleted,
    /// Orders cancelled, by [`crate::CancelClass`] name.
    OrdersCancelled,
    /// Revenue of completed orders in minor units, by currency.
    RevenueMinor,
    /// Units sold in completed orders, by product id.
    ProductUnits,
    /// Revenue of completed orders' lines in minor units, by `product:currency`.
    ProductRevenueMinor,
    /// Payments captured; no dimension.
    PaymentsSucceeded,
    /// Payments declined; no dimension.
    PaymentsFailed,
    /// Payments refunded; no dimension.
    PaymentsRefunded,
    /// Reservations refused for want of stock, by the product that lacked it.
    StockOuts,
    /// Sum of placed → completed times in ms, counted at completion; no dimension.
    CompletionTimeMs,
    /// How many completions have a known placed → completed time; no dimension.
    CompletionsTimed,
}

impl Metric {
    pub const ALL: [Metric; 12] = [
        Metric::OrdersPlaced,
        Metric::OrdersCompleted,
        Metric::OrdersCancelled,
        Metric::RevenueMinor,
        Metric::ProductUnits,
        Metric::ProductRevenueMinor,
        Metric::PaymentsSucceeded,
        Metric::PaymentsFailed,
        Metric::PaymentsRefunded,
        Metric::StockOuts,
        Metric::CompletionTimeMs,
        Metric::CompletionsTimed,
    ];

    /// The stored (and API) name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::OrdersPlaced => "orders_placed",
            Metric::OrdersCompleted => "orders_completed",
            Metric::OrdersCancelled => "orders_cancelled",
            Metric::RevenueMinor => "revenue_minor",
            Metric::ProductUnits => "product_units",
            Metric::ProductRevenueMinor => "product_revenue_minor",
            Metric::PaymentsSucceeded => "payments_succeeded",
            Metric::PaymentsFailed => "payments_failed",
            Metric::PaymentsRefunded => "payments_refunded",
            Metric::StockOuts => "stock_outs",
            Metric::CompletionTimeMs => "completion_time_ms",
            Metric::CompletionsTimed => "completions_timed",
        }
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|metric| metric.name() == name)
    }
}

/// The dimension of [`Metric::ProductRevenueMinor`]: a product id holds no `:`.
pub(crate) fn product_currency(product_id: &str, currency: &str) -> String {
    format!("{product_id}:{currency}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_read_back() {
        for metric in Metric::ALL {
            assert_eq!(Metric::from_name(metric.name()), Some(metric));
        }
    }
}
