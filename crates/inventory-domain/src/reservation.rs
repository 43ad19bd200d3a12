//! An order's reservation moves Held → Released or Held → Committed, once. Commands that arrive
//! again, or late, are answered from this state and never touch stock twice.

/// Where an order's reservation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationStatus {
    Held,
    Released,
    Committed,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Released => "released",
            ReservationStatus::Committed => "committed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Held, Self::Released, Self::Committed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// What to do with a request to reserve for an order that has this reservation, if any.
    pub fn on_reserve(current: Option<Self>) -> OnReserve {
        match current {
            None => OnReserve::Reserve,
            // Already answered once: answer the same again, without touching stock.
            Some(_) => OnReserve::AlreadyReserved,
        }
    }

    /// What to do with a request to release.
    pub fn on_release(current: Option<Self>) -> OnRelease {
        match current {
            Some(Self::Held) => OnRelease::Release,
            Some(Self::Released) => OnRelease::AlreadyReleased,
            // Sold stock is not given back by a saga compensation; nothing was held.
            Some(Self::Committed) | None => OnRelease::NothingHeld,
        }
    }

    /// What to do when the order completed.
    pub fn on_commit(current: Option<Self>) -> OnCommit {
        match current {
            Some(Self::Held) => OnCommit::Commit,
            _ => OnCommit::NothingHeld,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnReserve {
    Reserve,
    AlreadyReserved,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnRelease {
    Release,
    AlreadyReleased,
    NothingHeld,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnCommit {
    Commit,
    NothingHeld,
}
