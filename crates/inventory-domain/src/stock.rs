use contracts::value::Sku;

/// Not enough stock of one product for one request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("insufficient stock for {sku}: requested {requested}, available {available}")]
pub struct InsufficientStock {
    pub sku: Sku,
    pub requested: u32,
    pub available: u32,
}

/// A stock operation the rules forbid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StockError {
    #[error("only {available} available")]
    Insufficient { available: u32 },
    #[error("only {reserved} reserved")]
    NotReserved { reserved: u32 },
    #[error(
        "an adjustment of {delta} would take available stock below zero (available {available})"
    )]
    BelowZero { delta: i64, available: u32 },
}

/// The stock of one product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockLevel {
    pub available: u32,
    pub reserved: u32,
    pub sold: u32,
    pub initial: u32,
    /// Net of every adjustment since the product was created (may be negative).
    pub restocked: i64,
}

impl StockLevel {
    pub fn new(initial: u32) -> Self {
        Self {
            available: initial,
            reserved: 0,
            sold: 0,
            initial,
            restocked: 0,
        }
    }

    /// Holds `quantity` units for an order.
    ///
    /// # Errors
    /// [`StockError::Insufficient`] when fewer are available.
    pub fn reserve(self, quantity: u32) -> Result<Self, StockError> {
        let available = self
            .available
            .checked_sub(quantity)
            .ok_or(StockError::Insufficient {
                available: self.available,
            })?;
        Ok(Self {
            available,
            reserved: self.reserved + quantity,
            ..self
        })
    }

    /// Gives back `quantity` held units.
    ///
    /// # Errors
    /// [`StockError::NotReserved`] when fewer are held.
    pub fn release(self, quantity: u32) -> Result<Self, StockError> {
        let reserved = self
            .reserved
            .checked_sub(quantity)
            .ok_or(StockError::NotReserved {
                reserved: self.reserved,
            })?;
        Ok(Self {
            available: self.available + quantity,
            reserved,
            ..self
        })
    }

    /// Turns `quantity` held units into sold ones.
    ///
    /// # Errors
    /// [`StockError::NotReserved`] when fewer are held.
    pub fn commit(self, quantity: u32) -> Result<Self, StockError> {
        let reserved = self
            .reserved
            .checked_sub(quantity)
            .ok_or(StockError::NotReserved {
                reserved: self.reserved,
            })?;
        Ok(Self {
            reserved,
            sold: self.sold + quantity,
            ..self
        })
    }

    /// Adds (or, when negative, removes) available units: a restock or a correction.
    ///
    /// # Errors
    /// [`StockError::BelowZero`] when available stock would become negative, and also when the
    /// units on hand (`available + reserved + sold`) would no longer fit in a `u32`.
    pub fn adjust(self, delta: i64) -> Result<Self, StockError> {
        let out_of_range = || StockError::BelowZero {
            delta,
            available: self.available,
        };
        let available = i64::from(self.available)
            .checked_add(delta)
            .and_then(|available| u32::try_from(available).ok())
            .ok_or_else(out_of_range)?;
        // Reserving, releasing and committing only move units between the three counts: capping
        // their sum here is what keeps those additions from overflowing.
        let on_hand = i64::from(available) + i64::from(self.reserved) + i64::from(self.sold);
        if delta > 0 && on_hand > i64::from(u32::MAX) {
            return Err(out_of_range());
        }
        let restocked = self.restocked.checked_add(delta).ok_or_else(out_of_range)?;
        Ok(Self {
            available,
            restocked,
            ..self
        })
    }

    /// `available + reserved + sold == initial + restocked`.
    pub fn is_conserved(&self) -> bool {
        i64::from(self.available) + i64::from(self.reserved) + i64::from(self.sold)
            == i64::from(self.initial) + self.restocked
    }
}
