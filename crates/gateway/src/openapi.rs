//! The OpenAPI document at `/openapi.json` and a browsable UI at `/docs` (served from files
//! compiled into the binary: no CDN).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Orderflow API", description = "Event-driven order processing: place orders, follow their saga."),
    paths(
        crate::orders::place_order,
        crate::orders::get_order,
        crate::orders::list_orders,
        crate::orders::cancel_order,
        crate::orders::order_events,
        crate::products::list_products,
        crate::products::get_product,
        crate::products::catalog_only,
        crate::admin::stock_levels,
        crate::admin::adjust_stock,
        crate::admin::list_dead_letters,
        crate::admin::replay_dead_letter,
        crate::admin::discard_dead_letter,
        crate::admin::notifications,
        crate::admin::rebuild_projection,
        crate::health::live,
        crate::health::ready,
        crate::health::metrics,
    ),
    modifiers(&AdminToken),
    tags(
        (name = "orders", description = "Place, follow and cancel orders"),
        (name = "products", description = "The catalog with available stock"),
        (name = "admin", description = "Operations; needs the admin token"),
        (name = "health", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
