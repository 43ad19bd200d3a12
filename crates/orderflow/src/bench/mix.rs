//! The order mix: which kind the n-th order is, and its body. Kinds are spread evenly over
//! the run (a low-discrepancy sequence), so a short run has the mix a long one has, and two
//! runs place the same orders.

use api::{Field, MultiItemBody, OrderItemBody, PlaceOrderBody};
use contracts::value::Quantity;

/// The card token the simulated payment gateway declines.
const DECLINED_TOKEN: &str = "tok_chargeDeclined";
/// Laptops: ordered `Quantity::MAX` at a time, more than any stock there is.
const SCARCE_PRODUCT: &str = "product-001";
/// What ordinary orders buy; `--restock` tops these up.
pub(crate) const STOCKED_PRODUCTS: [&str; 2] = ["product-002", "product-003"];

/// The shares of each kind of order; the rest are ordinary one-line orders.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Mix {
    /// Orders whose payment is declined (cancelled after stock was reserved).
    pub decline_share: f64,
    /// Orders of more than any stock (cancelled at the reservation).
    pub insufficient_share: f64,
    /// Orders of two products (completed).
    pub multi_item_share: f64,
}

/// What an order is meant to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Ordinary,
    MultiItem,
    Declined,
    Insufficient,
}

impl Kind {
    /// Whether an order of this kind completes when nothing goes wrong: ordinary and
    /// multi-item orders are valid, a declined card and more than the stock are not.
    pub(crate) fn completes(self) -> bool {
        matches!(self, Kind::Ordinary | Kind::MultiItem)
    }
}

impl Mix {
    /// The kind of the `n`-th order.
    pub(crate) fn kind(&self, n: u64) -> Kind {
        // The fractional parts of n·φ fill [0, 1) evenly, in any prefix of the sequence.
        const GOLDEN: f64 = 0.618_033_988_749_895;
        #[expect(
            clippy::cast_precision_loss,
            reason = "order counts stay far below 2^52"
        )]
        let point = (n as f64 * GOLDEN).fract();
        let mut bound = self.decline_share;
        if point < bound {
            return Kind::Declined;
        }
        bound += self.insufficient_share;
        if point < bound {
            return Kind::Insufficient;
        }
        bound += self.multi_item_share;
        if point < bound {
            return Kind::MultiItem;
        }
        Kind::Ordinary
    }

    /// The body of the `n`-th order.
    pub(crate) fn body(&self, n: u64) -> PlaceOrderBody {
        let email = format!("bench-{}@example.com", n % 1000);
        let stocked = STOCKED_PRODUCTS[usize::from(n % 2 == 1)];
        let (lines, token) = match self.kind(n) {
            Kind::Ordinary => (vec![line(stocked, 1)], None),
            Kind::MultiItem => (
                vec![line(STOCKED_PRODUCTS[0], 1), line(STOCKED_PRODUCTS[1], 2)],
                None,
            ),
            Kind::Declined => (vec![line(stocked, 1)], Some(DECLINED_TOKEN)),
            Kind::Insufficient => (vec![line(SCARCE_PRODUCT, i64::from(Quantity::MAX))], None),
        };
        PlaceOrderBody::Multi(MultiItemBody {
            customer_email: Field::Valid(email),
            items: Field::Valid(lines.into_iter().map(Field::Valid).collect()),
            payment_token: token.map_or(Field::Missing, |t| Field::Valid(t.to_owned())),
        })
    }
}

fn line(product_id: &str, quantity: i64) -> OrderItemBody {
    OrderItemBody {
        product_id: Field::Valid(product_id.to_owned()),
        quantity: Field::Valid(quantity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_places_each_kind_in_its_share() {
        let mix = Mix {
            decline_share: 0.1,
            insufficient_share: 0.2,
            multi_item_share: 0.3,
        };
        let count = |kind| (0..1000).filter(|n| mix.kind(*n) == kind).count();
        for (kind, expected) in [
            (Kind::Declined, 100),
            (Kind::Insufficient, 200),
            (Kind::MultiItem, 300),
            (Kind::Ordinary, 400),
        ] {
            assert!(
                count(kind).abs_diff(expected) <= 3,
                "{kind:?}: {}",
                count(kind)
            );
        }
    }

    #[test]
    fn without_shares_every_order_is_ordinary() {
        let mix = Mix::default();
        assert!((0..100).all(|n| mix.kind(n) == Kind::Ordinary));
    }
}
