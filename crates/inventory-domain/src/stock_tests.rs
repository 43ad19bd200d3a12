//! Given a stock level, when units are reserved, released, committed or adjusted, then the level
//! (or the rejection) is this.

use contracts::value::Sku;

use crate::{InsufficientStock, StockError, StockLevel};

/// A product that started with 100 units and has 10 of them held for an order.
fn laptops_with_ten_reserved() -> StockLevel {
    StockLevel::new(100)
        .reserve(10)
        .expect("100 units are available")
}

fn level(available: u32, reserved: u32, sold: u32, initial: u32, restocked: i64) -> StockLevel {
    StockLevel {
        available,
        reserved,
        sold,
        initial,
        restocked,
    }
}

#[test]
fn a_new_product_has_all_its_stock_available() {
    let stock = StockLevel::new(100);

    assert_eq!(stock, level(100, 0, 0, 100, 0));
    assert!(stock.is_conserved());
}

#[test]
fn reserving_moves_units_from_available_to_reserved() {
    assert_eq!(laptops_with_ten_reserved(), level(90, 10, 0, 100, 0));
}

#[test]
fn reserving_everything_available_empties_the_shelf() {
    assert_eq!(
        StockLevel::new(100).reserve(100),
        Ok(level(0, 100, 0, 100, 0))
    );
}

#[test]
fn reserving_more_than_is_available_is_rejected_with_what_is_available() {
    assert_eq!(
        laptops_with_ten_reserved().reserve(91),
        Err(StockError::Insufficient { available: 90 })
    );
    assert_eq!(
        StockLevel::new(0).reserve(1),
        Err(StockError::Insufficient { available: 0 })
    );
}

#[test]
fn releasing_gives_held_units_back_to_available() {
    assert_eq!(
        laptops_with_ten_reserved().release(10),
        Ok(level(100, 0, 0, 100, 0))
    );
}

#[test]
fn releasing_more_than_is_held_is_rejected() {
    assert_eq!(
        laptops_with_ten_reserved().release(11),
        Err(StockError::NotReserved { reserved: 10 })
    );
}

#[test]
fn committing_turns_held_units_into_sold_ones() {
    assert_eq!(
        laptops_with_ten_reserved().commit(10),
        Ok(level(90, 0, 10, 100, 0))
    );
}

#[test]
fn committing_more_than_is_held_is_rejected() {
    assert_eq!(
        laptops_with_ten_reserved().commit(11),
        Err(StockError::NotReserved { reserved: 10 })
    );
    assert_eq!(
        StockLevel::new(100).commit(1),
        Err(StockError::NotReserved { reserved: 0 })
    );
}

#[test]
fn a_restock_adds_available_units_and_counts_them_as_restocked() {
    assert_eq!(
        laptops_with_ten_reserved().adjust(25),
        Ok(level(115, 10, 0, 100, 25))
    );
}

#[test]
fn a_correction_removes_available_units_and_counts_them_as_negative_restock() {
    assert_eq!(
        laptops_with_ten_reserved().adjust(-90),
        Ok(level(0, 10, 0, 100, -90))
    );
}

#[test]
fn a_correction_below_zero_is_rejected_and_cannot_touch_held_units() {
    assert_eq!(
        laptops_with_ten_reserved().adjust(-91),
        Err(StockError::BelowZero {
            delta: -91,
            available: 90
        })
    );
}

#[test]
fn an_adjustment_of_any_size_is_answered_without_overflowing() {
    let stock = laptops_with_ten_reserved();
    for delta in [
        i64::MAX,
        i64::MIN,
        i64::from(u32::MAX),
        -i64::from(u32::MAX),
    ] {
        assert_eq!(
            stock.adjust(delta),
            Err(StockError::BelowZero {
                delta,
                available: 90
            }),
            "{delta}"
        );
    }
}

#[test]
fn a_restock_that_would_hold_more_units_than_can_be_counted_is_rejected() {
    let full = level(u32::MAX - 10, 10, 0, u32::MAX, 0);

    assert_eq!(
        full.adjust(1),
        Err(StockError::BelowZero {
            delta: 1,
            available: u32::MAX - 10
        })
    );
    assert_eq!(full.adjust(0), Ok(full));
}

#[test]
fn a_level_that_lost_or_invented_units_is_not_conserved() {
    let stock = laptops_with_ten_reserved();

    assert!(stock.is_conserved());
    assert!(
        !StockLevel {
            available: 89,
            ..stock
        }
        .is_conserved()
    );
    assert!(!StockLevel { sold: 1, ..stock }.is_conserved());
    assert!(
        !StockLevel {
            restocked: 1,
            ..stock
        }
        .is_conserved()
    );
}

#[test]
fn insufficient_stock_reads_as_the_reason_an_order_is_cancelled() {
    let error = InsufficientStock {
        sku: Sku::parse("product-001").expect("a valid sku"),
        requested: 1000,
        available: 100,
    };

    assert_eq!(
        error.to_string(),
        "insufficient stock for product-001: requested 1000, available 100"
    );
}

#[test]
fn stock_errors_say_what_was_missing() {
    assert_eq!(
        StockError::Insufficient { available: 3 }.to_string(),
        "only 3 available"
    );
    assert_eq!(
        StockError::NotReserved { reserved: 0 }.to_string(),
        "only 0 reserved"
    );
    assert_eq!(
        StockError::BelowZero {
            delta: -5,
            available: 2
        }
        .to_string(),
        "an adjustment of -5 would take available stock below zero (available 2)"
    );
}
