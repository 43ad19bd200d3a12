//! The product catalog: prices always come from here, never from the client.

use anyhow::Context as _;

use crate::OrderService;
use store::order::Product;

/// The demo catalog seeded on first start: `(sku, name, price in cents, initial stock)`.
pub const DEMO_CATALOG: [(&str, &str, i64, u32); 3] = [
    ("product-001", "Laptop", 99_999, 100),
    ("product-002", "Mouse", 2_599, 500),
    ("product-003", "Keyboard", 7_999, 300),
];

/// The demo catalog's initial stock, `(sku, units)`, for the inventory service to seed.
pub fn demo_stock() -> Vec<(&'static str, u32)> {
    DEMO_CATALOG
        .iter()
        .map(|(sku, _, _, stock)| (*sku, *stock))
        .collect()
}

impl OrderService {
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
                sku: sku.to_owned(),
                name: name.to_owned(),
                price_minor,
                currency: "USD".to_owned(),
            };
            tx.upsert_product(&product).await?;
        }
        tx.commit().await.context("seed catalog")?;
        Ok(())
    }
}
