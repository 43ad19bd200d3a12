//! The OpenAPI document at `/openapi.json` and a browsable UI at `/docs` (served from files
//! compiled into the binary: no CDN).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;
use crate::openapi_answers::EdgeAnswers;

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
        crate::updates::order_updates,
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
    modifiers(&AdminToken, &EdgeAnswers),
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn references(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                if let Some(Value::String(target)) = fields.get("$ref") {
                    found.push(target.clone());
                }
                fields.values().for_each(|field| references(field, found));
            }
            Value::Array(items) => items.iter().for_each(|item| references(item, found)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_and_answer_the_document_refers_to_is_in_it() {
        let document = serde_json::to_value(ApiDoc::openapi()).expect("serialize the document");
        let mut found = Vec::new();
        references(&document, &mut found);
        assert!(found.contains(&"#/components/schemas/PlaceOrderBody".to_owned()));
        for target in found {
            let (kind, name) = target
                .strip_prefix("#/components/")
                .and_then(|rest| rest.split_once('/'))
                .unwrap_or(("schemas", &target));
            assert!(
                document["components"][kind].get(name).is_some(),
                "{target} is referred to but not in the document"
            );
        }
    }
}
