//! The ports' own types turned into the API's answers (`api`), which the gateway serializes
//! and `api-client` reads back: a storage or transport type never reaches the wire as it is.

use api::{CatalogItem, DeadLetter, Notification, StockView};
use contracts::value::Sku;
use inventory_domain::StockLevel;
use store::order::Product;

pub(crate) fn catalog_item(product: Product) -> CatalogItem {
    CatalogItem {
        id: product.sku.into(),
        name: product.name,
        price_minor: product.price.minor(),
        currency: product.price.currency().to_owned(),
    }
}

pub(crate) fn stock_view(product_id: Sku, level: StockLevel) -> StockView {
    StockView {
        product_id: product_id.into(),
        available: level.available,
        reserved: level.reserved,
        sold: level.sold,
        initial: level.initial,
        restocked: level.restocked,
    }
}

pub(crate) fn sent_notification(sent: store::notification::Notification) -> Notification {
    Notification {
        order_id: sent.order_id.as_uuid(),
        message_id: sent.message_id,
        recipient: sent.recipient.into(),
        subject: sent.subject,
        body: sent.body,
        sent_at: sent.sent_at,
    }
}

pub(crate) fn dead_letter(parked: transport::DeadLetter) -> DeadLetter {
    DeadLetter {
        id: parked.id,
        queue: parked.queue,
        envelope: parked.envelope,
        error: parked.error,
        attempts: parked.attempts,
        dead_lettered_at: parked.dead_lettered_at,
    }
}
