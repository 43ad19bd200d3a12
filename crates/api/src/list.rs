//! `GET /api/v1/orders`: the query parameters that list and search orders, and the page it
//! answers.

use order_domain::OrderStatus;
use query_domain::OrderView;
use serde::{Deserialize, Serialize};

/// Page size when the client asks for none.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: usize = 100;
/// The longest free-text search (`q`), in characters: longer text is refused, not searched.
pub const MAX_SEARCH_TEXT_CHARS: usize = 200;

/// What a client asks of `GET /api/v1/orders`: the query string the gateway reads, and what
/// the query service lists by. Blank text values count as absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this customer's orders (case-insensitive).
    pub customer_email: Option<String>,
    /// Only orders in this status: `PENDING`, `INVENTORY_RESERVED`, `PAID`, `COMPLETED` or
    /// `CANCELLED` (case-insensitive).
    #[param(value_type = Option<String>)]
    pub status: Option<OrderStatus>,
    /// Free text: part of an order id, a customer's email or a product id; at most 200
    /// characters.
    #[serde(rename = "q")]
    #[param(max_length = 200)]
    pub text: Option<String>,
    /// Orders per page: 20 by default, at most 100.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page, to get the page after it.
    pub cursor: Option<String>,
}

/// One page of orders, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderPage {
    pub orders: Vec<OrderView>,
    /// Pass it as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use utoipa::IntoParams as _;

    use super::*;

    #[test]
    fn the_status_is_read_once_into_an_order_status_in_any_case() {
        let query: ListQuery =
            serde_json::from_value(json!({"status": "completed"})).expect("a list query");
        assert_eq!(query.status, Some(OrderStatus::Completed));
        assert_eq!(
            serde_json::to_value(&query).expect("serialize")["status"],
            "COMPLETED"
        );
    }

    #[test]
    fn an_unknown_status_is_refused_by_name() {
        let error = serde_json::from_value::<ListQuery>(json!({"status": "SHIPPED"}))
            .expect_err("no such status");
        assert_eq!(error.to_string(), "unknown status `SHIPPED`");
    }

    #[test]
    fn the_free_text_parameter_is_called_q_on_the_wire() {
        let query: ListQuery =
            serde_json::from_value(json!({"q": "laptop"})).expect("a list query");
        assert_eq!(query.text.as_deref(), Some("laptop"));
        let names: Vec<String> = ListQuery::into_params(|| None)
            .into_iter()
            .map(|param| param.name)
            .collect();
        assert_eq!(names, ["customer_email", "status", "q", "limit", "cursor"]);
    }

    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        let params = serde_json::to_value(ListQuery::into_params(|| None)).expect("serialize");
        let schema = |name: &str| {
            params
                .as_array()
                .and_then(|all| all.iter().find(|param| param["name"] == name))
                .map(|param| param["schema"].clone())
                .unwrap_or_default()
        };
        assert_eq!(schema("q")["maxLength"], MAX_SEARCH_TEXT_CHARS);
        assert_eq!(schema("limit")["minimum"], 1);
        assert_eq!(schema("limit")["maximum"], MAX_PAGE_SIZE);
    }
}
