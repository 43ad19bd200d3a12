//! `orderflow seed`: finished orders written in bulk through the store ports, into a data
//! directory and into PostgreSQL, that the read model lists and `orderflow verify` finds
//! clean; and the data directory's lock, which keeps a second process out.

mod embedded;
mod lock;
mod scaled;

use std::time::Duration;

use orderflow::seed::{SeedOptions, Seeded};
use orderflow::verify::{Options, Report};

/// Verify judges every order at once: seeded orders are finished.
pub(crate) const AT_ONCE: Options = Options {
    deadline_grace: Duration::ZERO,
    settle: Duration::ZERO,
    page_size: 97,
};

/// `orders` orders, in batches small enough that a test writes several.
pub(crate) fn options(orders: u64) -> SeedOptions {
    SeedOptions {
        orders,
        batch_size: 64,
        days: 30,
        progress: false,
    }
}

/// Asserts what any seed of `orders` orders wrote, and that verify checked all of it clean.
#[track_caller]
pub(crate) fn assert_seeded_clean(seeded: &Seeded, report: &Report, orders: u64) {
    assert_eq!(seeded.completed + seeded.cancelled, orders, "{seeded}");
    assert!(seeded.cancelled > 0, "{seeded}");
    assert!(seeded.completed > 8 * seeded.cancelled, "{seeded}");
    assert_eq!(seeded.notifications, orders, "{seeded}");
    assert!(report.is_clean(), "{report}");
    let checked = &report.checked;
    assert_eq!(checked.orders as u64, orders, "{report}");
    assert_eq!(checked.views as u64, orders, "{report}");
    assert_eq!(checked.orders_in_progress, 0, "{report}");
    assert_eq!(checked.products, 3, "{report}");
}
