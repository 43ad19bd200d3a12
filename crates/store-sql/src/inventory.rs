//! The inventory service's rows and columns: stock levels, and a reservation's status and lines
//! (a JSON list of `[sku, quantity]` pairs).

use contracts::StockLine;
use contracts::value::{Quantity, Sku};
use inventory_domain::{ReservationStatus, StockLevel};
use store::StoreError;

use crate::{SqlRow, corrupt};

/// A row of `stock` (`available`, `reserved`, `sold`, `initial`, `restocked`).
///
/// # Errors
/// [`StoreError::Unexpected`] when a column is unreadable or a count is out of range.
pub fn stock_level(row: &impl SqlRow) -> store::Result<StockLevel> {
    Ok(StockLevel {
        available: row.count("available")?,
        reserved: row.count("reserved")?,
        sold: row.count("sold")?,
        initial: row.count("initial")?,
        restocked: row.integer("restocked")?,
    })
}

/// A row of `stock` with its `sku`.
///
/// # Errors
/// As [`stock_level`].
pub fn sku_stock_level(row: &impl SqlRow) -> store::Result<(Sku, StockLevel)> {
    Ok((row.sku("sku")?, stock_level(row)?))
}

/// A reservation's `status` column.
///
/// # Errors
/// [`StoreError::Unexpected`] when it is no status.
pub fn parse_reservation_status(raw: &str) -> store::Result<ReservationStatus> {
    ReservationStatus::parse(raw).ok_or_else(|| corrupt("reservation status", raw))
}

/// A reservation's lines as the JSON its `lines` column holds.
///
/// # Errors
/// [`StoreError::Unexpected`] when they cannot be serialized.
pub fn reservation_lines_json(lines: &[StockLine]) -> store::Result<String> {
    let pairs: Vec<(&Sku, Quantity)> = lines
        .iter()
        .map(|line| (&line.product_id, line.quantity))
        .collect();
    serde_json::to_string(&pairs).map_err(|e| StoreError::Unexpected(e.into()))
}

/// A reservation's `lines` column, as [`reservation_lines_json`] wrote it.
///
/// # Errors
/// [`StoreError::Unexpected`] when it is not a list of lines, each a valid product id and
/// quantity.
pub fn parse_reservation_lines(raw: &str) -> store::Result<Vec<StockLine>> {
    let pairs: Vec<(Sku, Quantity)> =
        serde_json::from_str(raw).map_err(|e| corrupt("reservation lines", e))?;
    Ok(pairs
        .into_iter()
        .map(|(product_id, quantity)| StockLine {
            product_id,
            quantity,
        })
        .collect())
}

/// A held reservation's line that the product's reserved stock cannot cover: the stock and the
/// reservation disagree, which only a bug can do.
pub fn reserved_below_held(line: &StockLine) -> StoreError {
    corrupt(
        "stock",
        format!(
            "{} has less reserved than a held reservation",
            line.product_id
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeRow;

    fn line(sku: &str, units: u32) -> StockLine {
        StockLine {
            product_id: Sku::parse(sku).expect("a valid sku"),
            quantity: Quantity::new(units).expect("a valid quantity"),
        }
    }

    #[test]
    fn a_stock_row_maps_to_its_level_and_a_negative_count_is_corrupt() {
        let row = FakeRow::default()
            .with("sku", "product-001")
            .with("available", 7)
            .with("reserved", 2)
            .with("sold", 1)
            .with("initial", 5)
            .with("restocked", 5);
        let (sku, level) = sku_stock_level(&row).expect("a stock level");
        assert_eq!(sku.as_str(), "product-001");
        assert_eq!(
            level,
            StockLevel {
                available: 7,
                reserved: 2,
                sold: 1,
                initial: 5,
                restocked: 5,
            }
        );
        let broken = FakeRow::default()
            .with("available", -1)
            .with("reserved", 0)
            .with("sold", 0)
            .with("initial", 0)
            .with("restocked", 0);
        assert!(matches!(
            stock_level(&broken),
            Err(StoreError::Unexpected(_))
        ));
    }

    #[test]
    fn reservation_lines_come_back_from_their_json_in_order_and_invalid_lines_are_corrupt() {
        let lines = vec![line("product-002", 1), line("product-001", 3)];
        let json = reservation_lines_json(&lines).expect("json");
        assert_eq!(json, r#"[["product-002",1],["product-001",3]]"#);
        assert_eq!(parse_reservation_lines(&json).expect("lines"), lines);
        for corrupt in ["{}", r#"[["product 002",1]]"#, r#"[["product-002",0]]"#] {
            assert!(
                matches!(
                    parse_reservation_lines(corrupt),
                    Err(StoreError::Unexpected(_))
                ),
                "{corrupt}"
            );
        }
    }

    #[test]
    fn a_reservation_status_is_parsed_or_corrupt() {
        assert_eq!(
            parse_reservation_status("held").expect("a status"),
            ReservationStatus::Held
        );
        assert!(matches!(
            parse_reservation_status("lost"),
            Err(StoreError::Unexpected(_))
        ));
        assert_eq!(
            reserved_below_held(&line("product-001", 1)).to_string(),
            "corrupt stock: product-001 has less reserved than a held reservation"
        );
    }
}
