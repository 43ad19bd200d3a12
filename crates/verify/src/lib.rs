//! `orderflow verify`: checks the invariants of DESIGN.md §6 against the databases of every
//! service, in either mode, and reports each violation on a line of its own.
//!
//! It reads through the store ports' audit reads ([`store::audit`]) and the transport's
//! [`DeadLetters`], so the same checks run over SQLite files and PostgreSQL schemas alike; the
//! binary opens the adapters (read-only) and hands them over as [`Sources`]. It never writes.
//!
//! A verification of a running system sees orders in flight: an order is judged stuck only
//! once its deadline passed by [`Options::deadline_grace`], and checks that wait for a message
//! to land (compensations, sales, projections) only judge orders that have been quiet for
//! [`Options::settle`].

mod checks;
mod error;
mod facts;
mod report;

use std::sync::Arc;
use std::time::Duration;

use store::audit::{InventoryAudit, OrderAudit, QueryAudit};
use store::payment::PaymentStore;
use transport::DeadLetters;

pub use error::{Error, Result};
pub use report::{Checked, Kind, Report, Violation};

use checks::Limits;
use facts::Facts;

/// Where the dead letters are listed from, if they can be.
pub enum DeadLetterSource {
    Listed(Arc<dyn DeadLetters>),
    /// They cannot be listed here: the reason, shown in the report.
    NotChecked(String),
}

/// Every service's database, through the ports verify reads.
pub struct Sources {
    pub orders: Arc<dyn OrderAudit>,
    pub inventory: Arc<dyn InventoryAudit>,
    pub payments: Arc<dyn PaymentStore>,
    pub read_model: Arc<dyn QueryAudit>,
    pub dead_letters: DeadLetterSource,
}

/// How patient a verification is with work in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// How long after its deadline a waiting order counts as stuck (the timer polls, and
    /// runs late while the system is busy).
    pub deadline_grace: Duration,
    /// How long an order must have been quiet (no new event) before verify expects its
    /// compensations, sale and view to have landed.
    pub settle: Duration,
    /// Orders read per page of the event store and of the read model.
    pub page_size: usize,
}

impl Default for Options {
    /// Ten seconds of grace, five to settle, pages of 500 orders.
    fn default() -> Self {
        Self {
            deadline_grace: Duration::from_secs(10),
            settle: Duration::from_secs(5),
            page_size: 500,
        }
    }
}

/// Reads every source and checks every invariant.
///
/// # Errors
/// [`Error`] when a source cannot be read: then nothing was judged.
pub async fn verify(sources: &Sources, options: &Options) -> Result<Report> {
    let mut violations = Vec::new();
    let facts = Facts::read(sources, options.page_size.max(1), &mut violations).await?;
    let limits = Limits {
        grace: to_time(options.deadline_grace),
        settle: to_time(options.settle),
    };
    violations.extend(checks::all(&facts, limits));
    violations.sort_by(|a, b| (a.kind, &a.subject).cmp(&(b.kind, &b.subject)));
    let not_checked = match &sources.dead_letters {
        DeadLetterSource::Listed(_) => vec![],
        DeadLetterSource::NotChecked(reason) => vec![format!("dead letters ({reason})")],
    };
    Ok(Report {
        checked: Checked {
            orders: facts.orders.len() + facts.unreadable.len(),
            orders_in_progress: (facts.orders.values())
                .filter(|order| !order.status.is_terminal())
                .count(),
            products: facts.stock.len(),
            reservations: facts.reservations.len(),
            payments: facts.payments.len(),
            views: facts.views.len(),
            dead_letters: facts.dead_letters.as_ref().map(Vec::len),
        },
        violations,
        not_checked,
    })
}

fn to_time(duration: Duration) -> time::Duration {
    time::Duration::try_from(duration).unwrap_or(time::Duration::MAX)
}

#[cfg(test)]
mod checks_tests;
#[cfg(test)]
mod facts_tests;
