//! The measures admission decides on, kept in memory by the process: orders in flight and the
//! rate at which sagas end. A POST only takes a lock for a few instructions; it never waits
//! for a database, so a refusal is answered at once.
//!
//! Orders in flight are the store's count as last sampled, plus the orders this process placed
//! since, minus the sagas it saw end since, plus the orders it is placing now (admitted, not
//! yet committed: they hold their place, so concurrent POSTs cannot all slip under the limit
//! at once). Each sample replaces the estimate with the store's count, which also counts
//! other replicas' orders and corrects any drift.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;

use super::{AdmissionSettings, AdmissionStatus, CompletionRate, Load, Overload};

/// Admission's measures and decision for one order service process.
#[derive(Debug)]
pub(crate) struct Gate {
    settings: AdmissionSettings,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Orders in flight in the store: as last counted, with this process's changes since.
    /// Signed: with replicas, this process may see more orders end than it placed.
    stored: i64,
    /// Orders admitted and being placed: not in the store yet.
    placing: u64,
    /// Sagas this process saw end since it started.
    ended: u64,
    rate: CompletionRate,
}

impl State {
    fn load(&self) -> Load {
        Load {
            in_flight: u64::try_from(self.stored).unwrap_or(0) + self.placing,
            ended_per_second: self.rate.per_second(),
        }
    }
}

/// An admitted order's place while it is being placed: given back when dropped, unless
/// [`Ticket::placed`] says the order was stored.
#[derive(Debug)]
pub(crate) struct Ticket<'a> {
    gate: &'a Gate,
    placed: bool,
}

impl Ticket<'_> {
    /// The order was committed: it is in flight in the store now.
    pub(crate) fn placed(mut self) {
        self.placed = true;
        let mut state = self.gate.lock();
        state.placing = state.placing.saturating_sub(1);
        state.stored += 1;
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.placed {
            let mut state = self.gate.lock();
            state.placing = state.placing.saturating_sub(1);
        }
    }
}

impl Gate {
    pub(crate) fn new(settings: AdmissionSettings) -> Self {
        Self {
            settings,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few counters, consistent after every statement.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits one more order, which holds its place until its ticket is dropped or placed.
    ///
    /// # Errors
    /// [`Overload`] when too many orders are in flight; it is counted in
    /// `orderflow_orders_refused_total`.
    pub(crate) fn admit(&self) -> Result<Ticket<'_>, Overload> {
        let mut state = self.lock();
        if let Err(overload) = self.settings.decide(state.load()) {
            drop(state);
            metrics::counter!("orderflow_orders_refused_total", "reason" => "sagas_in_flight")
                .increment(1);
            return Err(overload);
        }
        state.placing += 1;
        Ok(Ticket {
            gate: self,
            placed: false,
        })
    }

    /// A saga ended (completed or cancelled) in this process.
    pub(crate) fn ended(&self) {
        let mut state = self.lock();
        state.stored -= 1;
        state.ended += 1;
    }

    /// Records a sample taken at `at`: the store's count of orders in flight when it could be
    /// read (`None` keeps the estimate), and the sagas ended so far for the rate.
    pub(crate) fn sample(&self, stored: Option<u64>, at: Instant) -> AdmissionStatus {
        let mut state = self.lock();
        if let Some(stored) = stored {
            state.stored = i64::try_from(stored).unwrap_or(i64::MAX);
        }
        let ended = state.ended;
        state.rate.record(at, ended);
        self.status_of(&state)
    }

    /// What admission sees now.
    pub(crate) fn status(&self) -> AdmissionStatus {
        self.status_of(&self.lock())
    }

    fn status_of(&self, state: &State) -> AdmissionStatus {
        let load = state.load();
        AdmissionStatus {
            in_flight: load.in_flight,
            limit: self.settings.limit(load.ended_per_second),
            ended_per_second: load.ended_per_second,
        }
    }
}
