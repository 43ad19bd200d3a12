//! The analytics aggregates' rules: what one event adds to the rolling counters, how an order's
//! placement and completion meet to give its completion time, how a cancellation's reason is
//! classed, and how time is cut into buckets.
//!
//! Pure: no I/O, no clock. Every event adds its own increments, at its own time, whatever
//! order the events arrive in, so the counters are a sum that does not depend on arrival
//! order; the one fact that needs two events (placed → completed time) is counted by
//! whichever of the two arrives second. Duplicates are the caller's to drop (its inbox).

mod aggregates;
mod bucket;
mod cancel;
mod increments;
mod metric;

pub use aggregates::{Aggregates, CounterKey, counter_rows};
pub use bucket::Bucket;
pub use cancel::CancelClass;
pub use increments::{Increment, OrderMoment, OrderTimes, completion, increments, millis, moment};
pub use metric::Metric;

/// The nearest-rank percentile position: the index (0-based) of the `percent`th percentile in
/// `count` sorted values; `None` when there are none.
pub fn percentile_index(count: u64, percent: u64) -> Option<u64> {
    if count == 0 {
        return None;
    }
    // ceil(percent / 100 × count) − 1, in integers.
    let rank = (percent * count).div_ceil(100);
    Some(rank.max(1) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_95th_percentile_of_twenty_values_is_the_nineteenth() {
        assert_eq!(percentile_index(20, 95), Some(18));
        assert_eq!(percentile_index(1, 95), Some(0));
        assert_eq!(percentile_index(100, 95), Some(94));
        assert_eq!(percentile_index(0, 95), None);
    }
}
