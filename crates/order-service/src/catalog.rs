//! The product catalog: prices always come from here, never from the client.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use contracts::value::{Money, Sku};

use crate::OrderService;
use store::order::Product;

/// How long the catalog read to price an order is used again: a change to the products table
/// (by an operator, or another process) prices new orders within this.
pub const CATALOG_TTL: Duration = Duration::from_secs(1);

/// The demo catalog seeded on first start: `(sku, name, price in cents, initial stock)`.
pub const DEMO_CATALOG: [(&str, &str, i64, u32); 3] = [
    ("product-001", "Laptop", 99_999, 100),
    ("product-002", "Mouse", 2_599, 500),
    ("product-003", "Keyboard", 7_999, 300),
];

/// The demo catalog's initial stock, `(sku, units)`, for the inventory service to seed.
///
/// # Errors
/// When a demo sku is not a valid product id.
pub fn demo_stock() -> anyhow::Result<Vec<(Sku, u32)>> {
    DEMO_CATALOG
        .iter()
        .map(|(sku, _, _, stock)| Ok((demo_sku(sku)?, *stock)))
        .collect()
}

fn demo_sku(raw: &str) -> anyhow::Result<Sku> {
    Sku::parse(raw).map_err(anyhow::Error::msg)
}

/// The catalog as last read to price orders, read again once [`CATALOG_TTL`] old: placing an
/// order costs no read of the whole catalog. An empty catalog is never kept (a replica that
/// starts before the first one seeded it would refuse every product).
#[derive(Debug, Default)]
pub(crate) struct CatalogCache {
    read: Mutex<Option<(Instant, Arc<[Product]>)>>,
}

impl CatalogCache {
    fn fresh(&self) -> Option<Arc<[Product]>> {
        self.read()
            .as_ref()
            .filter(|(at, _)| at.elapsed() < CATALOG_TTL)
            .map(|(_, products)| products.clone())
    }

    fn keep(&self, at: Instant, products: Arc<[Product]>) {
        *self.read() = (!products.is_empty()).then_some((at, products));
    }

    /// Reads the catalog again next time: it was just written.
    fn forget(&self) {
        *self.read() = None;
    }

    fn read(&self) -> MutexGuard<'_, Option<(Instant, Arc<[Product]>)>> {
        self.read.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl OrderService {
    /// The catalog to price an order from: as read at most [`CATALOG_TTL`] ago.
    pub(crate) async fn pricing_catalog(&self) -> store::Result<Arc<[Product]>> {
        if let Some(products) = self.catalog.fresh() {
            return Ok(products);
        }
        // Timed from before the read, so nothing is kept longer than the TTL after it.
        let at = Instant::now();
        let products: Arc<[Product]> = self.store.products().await?.into();
        self.catalog.keep(at, products.clone());
        Ok(products)
    }

    /// The catalog, ordered by sku.
    ///
    /// # Errors
    /// When the catalog cannot be read.
    pub async fn products(&self) -> store::Result<Vec<Product>> {
        self.store.products().await
    }

    /// Seeds the demo catalog when the catalog is empty (first start).
    ///
    /// # Errors
    /// When the catalog cannot be read or written.
    pub async fn seed_demo_catalog(&self) -> anyhow::Result<()> {
        if !self
            .store
            .products()
            .await
            .context("read catalog")?
            .is_empty()
        {
            return Ok(());
        }
        let mut tx = self.store.begin().await?;
        for (sku, name, price_minor, _) in DEMO_CATALOG {
            let product = Product {
                sku: demo_sku(sku)?,
                name: name.to_owned(),
                price: Money::new(price_minor, "USD"),
            };
            tx.upsert_product(&product).await?;
        }
        tx.commit().await.context("seed catalog")?;
        self.catalog.forget();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_stock_names_every_demo_product_by_a_valid_sku() {
        let stock = demo_stock().expect("the demo skus are valid");
        let skus: Vec<&str> = stock.iter().map(|(sku, _)| sku.as_str()).collect();
        assert_eq!(skus, ["product-001", "product-002", "product-003"]);
        assert_eq!(stock[0].1, 100);
    }
}
