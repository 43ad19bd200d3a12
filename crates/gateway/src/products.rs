//! `/api/v1/products`: the catalog with available stock.

use api::CatalogItem;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use contracts::value::{format_minor, shown};
use serde::Serialize;

use crate::AppState;
use crate::error::ApiError;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/products", get(list_products))
        .route("/products/{id}", get(get_product))
        .route("/catalog", get(catalog_only))
}

/// A product with its price and the stock available now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ProductView {
    id: String,
    name: String,
    /// Decimal with two places.
    price: String,
    price_minor: i64,
    currency: String,
    available: u32,
}

async fn catalog(state: &AppState) -> Result<Vec<ProductView>, ApiError> {
    let (products, stock) = tokio::try_join!(state.orders.catalog(), state.stock.levels())?;
    Ok(products
        .into_iter()
        .map(|product| ProductView {
            available: stock
                .iter()
                .find(|level| level.product_id == product.id)
                .map_or(0, |level| level.available),
            price: format_minor(product.price_minor),
            id: product.id,
            name: product.name,
            price_minor: product.price_minor,
            currency: product.currency,
        })
        .collect())
}

/// The catalog alone, without stock: what the order service owns.
#[utoipa::path(get, path = "/api/v1/catalog", tag = "products", responses((status = 200, body = Vec<CatalogItem>)))]
pub(crate) async fn catalog_only(
    State(state): State<AppState>,
) -> Result<Json<Vec<CatalogItem>>, ApiError> {
    Ok(Json(state.orders.catalog().await?))
}

/// The catalog, with available stock.
#[utoipa::path(get, path = "/api/v1/products", tag = "products", responses((status = 200, body = Vec<ProductView>)))]
pub(crate) async fn list_products(
    State(state): State<AppState>,
) -> Result<Json<Vec<ProductView>>, ApiError> {
    Ok(Json(catalog(&state).await?))
}

/// One product, with available stock.
#[utoipa::path(
    get, path = "/api/v1/products/{id}", tag = "products",
    params(("id" = String, Path, description = "Product id, e.g. product-001")),
    responses(
        (status = 200, body = ProductView),
        (status = 404, body = crate::error::ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProductView>, ApiError> {
    catalog(&state)
        .await?
        .into_iter()
        .find(|product| product.id == id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no product with id {}", shown(&id))))
}
