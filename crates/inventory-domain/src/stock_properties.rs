//! Properties of stock: whatever operations arrive, with whatever quantities, stock is conserved,
//! nothing is oversold, and an order's reservation touches stock at most once each way.

use proptest::prelude::*;

use crate::{OnCommit, OnRelease, OnReserve, ReservationStatus, StockError, StockLevel};

#[derive(Clone, Copy, Debug)]
enum Operation {
    Reserve(u32),
    Release(u32),
    Commit(u32),
    Adjust(i64),
}

/// Mostly order-sized quantities, sometimes any `u32` at all.
fn quantity() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0..=200_u32, 1 => any::<u32>()]
}

fn delta() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -200..=200_i64,
        1 => any::<u32>().prop_map(i64::from),
        1 => any::<u32>().prop_map(|units| -i64::from(units)),
        1 => any::<i64>(),
    ]
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        3 => quantity().prop_map(Operation::Reserve),
        2 => quantity().prop_map(Operation::Release),
        2 => quantity().prop_map(Operation::Commit),
        1 => delta().prop_map(Operation::Adjust),
    ]
}

fn initial_stock() -> impl Strategy<Value = u32> {
    prop_oneof![4 => 0..=1000_u32, 1 => any::<u32>()]
}

/// What `operation` must do to `before`: the level it leads to, or the error that refuses it.
fn expected(before: StockLevel, operation: Operation) -> Result<StockLevel, StockError> {
    let StockLevel {
        available,
        reserved,
        sold,
        ..
    } = before;
    match operation {
        Operation::Reserve(units) if units > available => {
            Err(StockError::Insufficient { available })
        }
        Operation::Reserve(units) => Ok(StockLevel {
            available: available - units,
            reserved: reserved + units,
            ..before
        }),
        Operation::Release(units) | Operation::Commit(units) if units > reserved => {
            Err(StockError::NotReserved { reserved })
        }
        Operation::Release(units) => Ok(StockLevel {
            available: available + units,
            reserved: reserved - units,
            ..before
        }),
        Operation::Commit(units) => Ok(StockLevel {
            reserved: reserved - units,
            sold: sold + units,
            ..before
        }),
        Operation::Adjust(delta) => {
            let on_hand = i128::from(available) + i128::from(reserved) + i128::from(sold);
            let counted = 0..=i128::from(u32::MAX);
            let new_available = i128::from(available) + i128::from(delta);
            if !counted.contains(&new_available)
                || !counted.contains(&(on_hand + i128::from(delta)))
            {
                return Err(StockError::BelowZero { delta, available });
            }
            Ok(StockLevel {
                available: u32::try_from(new_available).expect("checked to be in range"),
                restocked: before.restocked + delta,
                ..before
            })
        }
    }
}

/// Applies `operations` to a new product's stock and checks every step against the rules.
fn run_operations(initial: u32, operations: &[Operation]) -> Result<(), TestCaseError> {
    let mut level = StockLevel::new(initial);
    let (mut reserved, mut sold, mut restocked) = (0_i128, 0_i128, 0_i128);

    for &operation in operations {
        let result = match operation {
            Operation::Reserve(units) => level.reserve(units),
            Operation::Release(units) => level.release(units),
            Operation::Commit(units) => level.commit(units),
            Operation::Adjust(delta) => level.adjust(delta),
        };
        // A refusal (never a wrapped count) exactly when the rules say so.
        prop_assert_eq!(
            &result,
            &expected(level, operation),
            "{:?} on {:?}",
            operation,
            level
        );
        // A refused operation leaves the level as it was: `level` is only replaced on success.
        let Ok(next) = result else { continue };
        match operation {
            Operation::Reserve(units) => reserved += i128::from(units),
            Operation::Release(units) => reserved -= i128::from(units),
            Operation::Commit(units) => {
                reserved -= i128::from(units);
                sold += i128::from(units);
            }
            Operation::Adjust(delta) => restocked += i128::from(delta),
        }
        level = next;

        prop_assert!(level.is_conserved(), "{:?} after {:?}", level, operation);
        prop_assert_eq!(
            i128::from(level.reserved),
            reserved,
            "reserves - releases - commits"
        );
        prop_assert_eq!(i128::from(level.sold), sold);
        prop_assert_eq!(i128::from(level.restocked), restocked);
        prop_assert_eq!(level.initial, initial);
    }
    Ok(())
}

proptest! {
    #[test]
    fn stock_is_conserved_and_never_oversold_whatever_the_operations(
        initial in initial_stock(),
        operations in proptest::collection::vec(operation(), 0..60),
    ) {
        run_operations(initial, &operations)?;
    }
}

#[derive(Clone, Copy, Debug)]
enum Request {
    Reserve,
    Release,
    Commit,
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::Reserve),
        Just(Request::Release),
        Just(Request::Commit)
    ]
}

/// One order's reservation of `units`, and the stock it is taken from.
struct OrderReservation {
    units: u32,
    level: StockLevel,
    status: Option<ReservationStatus>,
    reserves: u32,
    give_backs: u32,
}

impl OrderReservation {
    fn handle(&mut self, request: Request) -> Result<(), TestCaseError> {
        match request {
            Request::Reserve => match ReservationStatus::on_reserve(self.status) {
                OnReserve::Reserve => {
                    // Refused for lack of stock: nothing is recorded, a later request may retry.
                    if let Ok(next) = self.level.reserve(self.units) {
                        self.level = next;
                        self.status = Some(ReservationStatus::Held);
                        self.reserves += 1;
                    }
                }
                OnReserve::AlreadyReserved => prop_assert!(self.status.is_some()),
            },
            Request::Release => match ReservationStatus::on_release(self.status) {
                OnRelease::Release => {
                    self.level = self.level.release(self.units).expect("held units");
                    self.status = Some(ReservationStatus::Released);
                    self.give_backs += 1;
                }
                OnRelease::AlreadyReleased | OnRelease::NothingHeld => {}
            },
            Request::Commit => match ReservationStatus::on_commit(self.status) {
                OnCommit::Commit => {
                    self.level = self.level.commit(self.units).expect("held units");
                    self.status = Some(ReservationStatus::Committed);
                    self.give_backs += 1;
                }
                OnCommit::NothingHeld => {}
            },
        }
        prop_assert!(self.level.is_conserved());
        prop_assert!(self.reserves <= 1, "reserved {} times", self.reserves);
        prop_assert!(
            self.give_backs <= self.reserves,
            "released or sold {} times for {} reservations",
            self.give_backs,
            self.reserves
        );
        Ok(())
    }
}

proptest! {
    #[test]
    fn an_order_reservation_touches_stock_at_most_once_each_way_whatever_arrives(
        initial in 0..=20_u32,
        units in 1..=10_u32,
        requests in proptest::collection::vec(request(), 0..20),
    ) {
        let mut reservation = OrderReservation {
            units,
            level: StockLevel::new(initial),
            status: None,
            reserves: 0,
            give_backs: 0,
        };
        for &request in &requests {
            reservation.handle(request)?;
        }

        let OrderReservation { level, status, .. } = reservation;
        let held = if status == Some(ReservationStatus::Held) { units } else { 0 };
        let sold = if status == Some(ReservationStatus::Committed) { units } else { 0 };
        prop_assert_eq!((level.reserved, level.sold), (held, sold));
        prop_assert_eq!(level.available + level.reserved + level.sold, initial);
    }
}
