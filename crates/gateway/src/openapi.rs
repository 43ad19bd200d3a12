//! The OpenAPI document at `/openapi.json` and a browsable UI at `/docs` (served from files
//! compiled into the binary: no CDN).

use std::collections::BTreeMap;

use axum::Router;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
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
        crate::analytics::summary,
        crate::analytics::timeseries,
        crate::analytics::products,
        crate::health::live,
        crate::health::ready,
        crate::health::metrics,
    ),
    modifiers(&BearerTokens, &EdgeAnswers),
    tags(
        (name = "orders", description = "Place, follow and cancel orders. Anonymous callers \
            place orders and read one by its id; customers (a bearer JWT) list and cancel their own; \
            the admin token lists and cancels every order"),
        (name = "products", description = "The catalog with available stock"),
        (name = "admin", description = "Operations; needs the admin token"),
        (name = "analytics", description = "Rolling aggregates of the event stream; needs the \
            admin token"),
        (name = "health", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

/// The two kinds of bearer token.
struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The installation's admin token (`ORDERFLOW_ADMIN_TOKEN`, or \
                         `<data dir>/admin-token`)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "customer_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A customer's JWT with `sub`, `email` and `exp` claims: HS256 with the \
                         installation's secret (`orderflow token`), or RS256/ES256 from an \
                         identity provider",
                    ))
                    .build(),
            ),
        );
    }
}

/// The refusals every admin route can answer.
pub(crate) struct AdminRefusals;

impl utoipa::IntoResponses for AdminRefusals {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ProblemDetails")))
                            .build(),
                    )
                    .build(),
            )
        };
        BTreeMap::from([
            (
                "401".to_owned(),
                problem("No token, or one that is not valid (`WWW-Authenticate: Bearer`)"),
            ),
            (
                "403".to_owned(),
                problem("A customer token: only the admin may"),
            ),
        ])
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
