//! Which orders a seed writes: the n-th is always the same order (the mix draws from a hash of
//! n, not from a random source), so two seeds of the same size write the same history.
//!
//! Of every hundred orders, four have their card declined and two ask for more than any stock
//! (a full line of the first product); the rest are ordinary orders of one to three products,
//! one to three units each, that complete. Customers are 2,000 addresses, so each has many
//! orders. The orders are spread evenly over the days before now, the last a minute ago.

use anyhow::Context as _;
use contracts::value::{Email, Quantity};
use order_domain::PricedLine;
use payment_service::DECLINED_TOKEN;
use store::order::Product;
use time::{Duration, OffsetDateTime};

use super::simulation::OrderSpec;

/// The card every other order pays with.
const CARD: &str = "tok_visa";
/// How many distinct customers place the orders.
const CUSTOMERS: u64 = 2_000;

/// The orders of one seed.
pub(crate) struct Mix {
    catalog: Vec<Product>,
    orders: u64,
    first_at: OffsetDateTime,
    span: Duration,
}

impl Mix {
    /// `orders` orders of `catalog`, over the `days` before now.
    pub(crate) fn new(catalog: Vec<Product>, orders: u64, days: u32) -> anyhow::Result<Self> {
        anyhow::ensure!(!catalog.is_empty(), "no product to order");
        let last_at = OffsetDateTime::now_utc() - Duration::minutes(1);
        let span = Duration::days(i64::from(days.max(1)));
        Ok(Self {
            catalog,
            orders,
            first_at: last_at - span,
            span,
        })
    }

    /// The `n`-th order.
    pub(crate) fn order(&self, n: u64) -> anyhow::Result<OrderSpec> {
        let draw = splitmix64(n);
        let share = draw % 100;
        let customer = (draw >> 8) % CUSTOMERS;
        let customer_email = Email::parse(&format!("customer-{customer:04}@example.com"))
            .map_err(anyhow::Error::msg)
            .context("a seeded customer's email")?;
        let (lines, payment_token) = match share {
            0..4 => (self.lines(draw)?, DECLINED_TOKEN),
            4..6 => (vec![self.line(&self.catalog[0], Quantity::MAX)?], CARD),
            _ => (self.lines(draw)?, CARD),
        };
        let elapsed = self.span * (n as f64 / self.orders.max(1) as f64);
        Ok(OrderSpec {
            placed_at: self.first_at + elapsed,
            customer_email,
            lines,
            payment_token,
        })
    }

    /// One to three distinct products, one to three units each.
    fn lines(&self, draw: u64) -> anyhow::Result<Vec<PricedLine>> {
        let products = self.catalog.len() as u64;
        let count = 1 + (draw >> 20) % 3.min(products);
        let first = (draw >> 24) % products;
        (0..count)
            .map(|k| {
                let product = &self.catalog[((first + k) % products) as usize];
                let units = 1 + ((draw >> (32 + 2 * k)) % 3) as u32;
                self.line(product, units)
            })
            .collect()
    }

    fn line(&self, product: &Product, units: u32) -> anyhow::Result<PricedLine> {
        Ok(PricedLine {
            sku: product.sku.clone(),
            name: product.name.clone(),
            quantity: Quantity::new(units).map_err(anyhow::Error::msg)?,
            unit_price: product.price.clone(),
        })
    }
}

/// A well-mixed 64-bit hash of `n` (SplitMix64's finaliser).
fn splitmix64(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use contracts::value::{Money, Sku};

    use super::*;

    fn catalog() -> Vec<Product> {
        order_service::catalog::DEMO_CATALOG
            .iter()
            .map(|(sku, name, price, _)| Product {
                sku: Sku::parse(sku).expect("a demo sku is valid"),
                name: (*name).into(),
                price: Money::new(*price, "USD"),
            })
            .collect()
    }

    #[test]
    fn the_mix_is_mostly_ordinary_orders_with_some_declined_and_some_too_large() {
        let mix = Mix::new(catalog(), 10_000, 30).expect("a mix");
        let orders: Vec<OrderSpec> = (0..10_000)
            .map(|n| mix.order(n).expect("an order"))
            .collect();
        let declined = (orders.iter())
            .filter(|order| order.payment_token == DECLINED_TOKEN)
            .count();
        let too_large = (orders.iter())
            .filter(|order| order.lines[0].quantity.get() == Quantity::MAX)
            .count();
        assert!((300..500).contains(&declined), "{declined} declined");
        assert!((100..300).contains(&too_large), "{too_large} too large");
        let customers: std::collections::BTreeSet<&str> = (orders.iter())
            .map(|order| order.customer_email.as_str())
            .collect();
        assert!(customers.len() > 1_000, "{} customers", customers.len());
        assert!(
            orders
                .windows(2)
                .all(|pair| pair[0].placed_at <= pair[1].placed_at)
        );
    }

    #[test]
    fn the_same_index_is_the_same_order() {
        let mix = Mix::new(catalog(), 100, 30).expect("a mix");
        let (one, again) = (
            mix.order(42).expect("an order"),
            mix.order(42).expect("an order"),
        );
        assert_eq!(one.lines, again.lines);
        assert_eq!(one.customer_email, again.customer_email);
    }
}
