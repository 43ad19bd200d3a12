//! `/api/v1/catalog`: the products the order service sells, without stock.

use serde::{Deserialize, Serialize};

/// A catalog entry, without stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CatalogItem {
    pub id: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
}
