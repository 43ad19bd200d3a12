//! Given an order's reservation (or none), when a reserve, release or commit request arrives,
//! then stock is touched at most once.

use crate::ReservationStatus::{Committed, Held, Released};
use crate::{OnCommit, OnRelease, OnReserve, ReservationStatus};

const EVERY_STATUS: [ReservationStatus; 3] = [Held, Released, Committed];

#[test]
fn the_first_reserve_request_for_an_order_reserves() {
    assert_eq!(ReservationStatus::on_reserve(None), OnReserve::Reserve);
}

#[test]
fn a_repeated_reserve_request_is_answered_again_without_touching_stock() {
    for status in EVERY_STATUS {
        assert_eq!(
            ReservationStatus::on_reserve(Some(status)),
            OnReserve::AlreadyReserved,
            "{status:?}"
        );
    }
}

#[test]
fn a_held_reservation_is_released() {
    assert_eq!(
        ReservationStatus::on_release(Some(Held)),
        OnRelease::Release
    );
}

#[test]
fn a_repeated_release_request_changes_nothing() {
    assert_eq!(
        ReservationStatus::on_release(Some(Released)),
        OnRelease::AlreadyReleased
    );
}

#[test]
fn a_release_request_for_sold_or_unknown_stock_has_nothing_to_release() {
    assert_eq!(
        ReservationStatus::on_release(Some(Committed)),
        OnRelease::NothingHeld
    );
    assert_eq!(ReservationStatus::on_release(None), OnRelease::NothingHeld);
}

#[test]
fn a_held_reservation_is_committed_when_the_order_completes() {
    assert_eq!(ReservationStatus::on_commit(Some(Held)), OnCommit::Commit);
}

#[test]
fn only_a_held_reservation_can_be_committed() {
    for current in [None, Some(Released), Some(Committed)] {
        assert_eq!(
            ReservationStatus::on_commit(current),
            OnCommit::NothingHeld,
            "{current:?}"
        );
    }
}

#[test]
fn reservation_statuses_read_back_from_their_names() {
    for status in EVERY_STATUS {
        assert_eq!(ReservationStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(
        EVERY_STATUS.map(ReservationStatus::as_str),
        ["held", "released", "committed"]
    );
    assert_eq!(ReservationStatus::parse("HELD"), None);
}
