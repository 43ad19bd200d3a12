//! An order as the client asked for it: either body shape of `POST /api/v1/orders`
//! ([`PlaceOrderBody`]) becomes one [`OrderRequest`], and back when a request is forwarded to
//! the process that places orders.
//!
//! Only the JSON types are checked here, every wrong one named at once; what the values mean
//! (an email, a quantity, a product in the catalog) is checked when the order is placed.

use api::{
    Field, FieldProblem, MAX_ORDER_LINES, MultiItemBody, OrderItemBody, PlaceOrderBody,
    SingleItemBody,
};
use contracts::value::Quantity;

/// An order as the client asked for it, not yet validated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderRequest {
    pub customer_email: String,
    pub items: Vec<RequestedLine>,
    pub payment_token: Option<String>,
}

/// One requested line, not yet validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedLine {
    pub product_id: String,
    pub quantity: i64,
}

impl RequestedLine {
    /// A line when both of its fields could be read.
    fn from_parts(product_id: Option<String>, quantity: Option<i64>) -> Option<Self> {
        Some(Self {
            product_id: product_id?,
            quantity: quantity?,
        })
    }
}

impl TryFrom<PlaceOrderBody> for OrderRequest {
    type Error = Vec<FieldProblem>;

    /// # Errors
    /// Every field that is missing or of the wrong JSON type, by its path in the body.
    fn try_from(body: PlaceOrderBody) -> Result<Self, Self::Error> {
        let mut read = FieldReader::default();
        let (customer_email, items, payment_token) = match body {
            PlaceOrderBody::Single(SingleItemBody {
                item_id,
                quantity,
                user_email,
                payment_token,
            }) => {
                let customer_email = read.text("user_email", user_email);
                let product_id = read.text("item_id", item_id);
                let quantity = read.quantity("quantity", quantity);
                let line = RequestedLine::from_parts(product_id, quantity);
                (customer_email, line.map(|line| vec![line]), payment_token)
            }
            PlaceOrderBody::Multi(MultiItemBody {
                customer_email,
                items,
                payment_token,
            }) => {
                let customer_email = read.text("customer_email", customer_email);
                (customer_email, read.items(items), payment_token)
            }
        };
        let payment_token = read.optional_text("payment_token", payment_token);
        match (customer_email, items) {
            (Some(customer_email), Some(items)) if read.problems.is_empty() => Ok(Self {
                customer_email,
                items,
                payment_token,
            }),
            _ => Err(read.problems),
        }
    }
}

/// The several-products shape, which holds any request: how a request is forwarded.
impl From<&OrderRequest> for PlaceOrderBody {
    fn from(request: &OrderRequest) -> Self {
        let items = request
            .items
            .iter()
            .map(|line| {
                Field::Valid(OrderItemBody {
                    product_id: line.product_id.clone().into(),
                    quantity: line.quantity.into(),
                })
            })
            .collect::<Vec<_>>();
        Self::Multi(MultiItemBody {
            customer_email: request.customer_email.clone().into(),
            items: items.into(),
            payment_token: request
                .payment_token
                .clone()
                .map_or(Field::Missing, Field::Valid),
        })
    }
}

const NOT_A_STRING: &str = "must be a string";

/// Takes the values out of a body's fields, and a problem for each field it cannot.
#[derive(Default)]
struct FieldReader {
    problems: Vec<FieldProblem>,
}

impl FieldReader {
    fn take<T>(
        &mut self,
        path: impl Into<String>,
        field: Field<T>,
        wrong_type: impl Into<String>,
    ) -> Option<T> {
        match field {
            Field::Valid(value) => return Some(value),
            Field::Missing => self.problems.push(FieldProblem::new(path, "is required")),
            Field::Invalid(_) => self.problems.push(FieldProblem::new(path, wrong_type)),
        }
        None
    }

    fn text(&mut self, path: impl Into<String>, field: Field<String>) -> Option<String> {
        self.take(path, field, NOT_A_STRING)
    }

    fn optional_text(&mut self, path: &str, field: Field<String>) -> Option<String> {
        match field {
            Field::Missing => None,
            present => self.text(path, present),
        }
    }

    fn quantity(&mut self, path: impl Into<String>, field: Field<i64>) -> Option<i64> {
        let wrong_type = format!("must be an integer between 1 and {}", Quantity::MAX);
        self.take(path, field, wrong_type)
    }

    /// Every item is read, so that every item's problems can be named; unless there are more
    /// than [`MAX_ORDER_LINES`], when that is the one problem named (a huge body is not
    /// answered with a problem per line).
    fn items(&mut self, items: Field<Vec<Field<OrderItemBody>>>) -> Option<Vec<RequestedLine>> {
        let items = match items {
            Field::Valid(items) if items.len() > MAX_ORDER_LINES => {
                let message = format!(
                    "an order has at most {MAX_ORDER_LINES} lines, got {}",
                    items.len()
                );
                self.problems.push(FieldProblem::new("items", message));
                return None;
            }
            Field::Valid(items) => items,
            Field::Missing => {
                let hint = "is required (or use `item_id`, `quantity` and `user_email`)";
                self.problems.push(FieldProblem::new("items", hint));
                return None;
            }
            Field::Invalid(_) => {
                self.problems
                    .push(FieldProblem::new("items", "must be an array"));
                return None;
            }
        };
        let lines: Vec<Option<RequestedLine>> = items
            .into_iter()
            .enumerate()
            .map(|(index, item)| match item {
                Field::Valid(OrderItemBody {
                    product_id,
                    quantity,
                }) => {
                    let product_id = self.text(format!("items[{index}].product_id"), product_id);
                    let quantity = self.quantity(format!("items[{index}].quantity"), quantity);
                    RequestedLine::from_parts(product_id, quantity)
                }
                Field::Missing | Field::Invalid(_) => {
                    let path = format!("items[{index}]");
                    self.problems
                        .push(FieldProblem::new(path, "must be an object"));
                    None
                }
            })
            .collect();
        lines.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn decode(body: Value) -> Result<OrderRequest, Vec<FieldProblem>> {
        let body: PlaceOrderBody = serde_json::from_value(body).expect("an object always reads");
        OrderRequest::try_from(body)
    }

    fn fields(problems: &[FieldProblem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    fn line(product_id: &str, quantity: i64) -> RequestedLine {
        RequestedLine {
            product_id: product_id.into(),
            quantity,
        }
    }

    #[test]
    fn the_single_item_shape_becomes_one_line() {
        let request =
            decode(json!({"item_id": "product-002", "quantity": 5, "user_email": "t@example.com"}))
                .expect("valid shape");
        assert_eq!(
            request,
            OrderRequest {
                customer_email: "t@example.com".into(),
                items: vec![line("product-002", 5)],
                payment_token: None,
            }
        );
    }

    #[test]
    fn the_several_items_shape_keeps_its_lines_and_payment_token() {
        let request = decode(json!({
            "customer_email": "t@example.com",
            "items": [{"product_id": "product-001", "quantity": 1}, {"product_id": "product-003", "quantity": 2}],
            "payment_token": "tok_visa"
        }))
        .expect("valid shape");
        assert_eq!(
            request.items,
            [line("product-001", 1), line("product-003", 2)]
        );
        assert_eq!(request.payment_token.as_deref(), Some("tok_visa"));
    }

    #[test]
    fn every_wrongly_typed_field_is_named() {
        let problems = decode(json!({
            "customer_email": 7,
            "items": [{"product_id": 1, "quantity": "x"}, {"product_id": "product-001", "quantity": 1.5}, 3],
            "payment_token": false
        }))
        .expect_err("invalid shape");
        assert_eq!(
            fields(&problems),
            [
                "customer_email",
                "items[0].product_id",
                "items[0].quantity",
                "items[1].quantity",
                "items[2]",
                "payment_token"
            ]
        );
        assert_eq!(problems[0].message, "must be a string");
        assert_eq!(
            problems[2].message,
            format!("must be an integer between 1 and {}", Quantity::MAX)
        );
        assert_eq!(problems[4].message, "must be an object");
    }

    #[test]
    fn every_missing_field_of_the_single_item_shape_is_named() {
        let problems = decode(json!({"item_id": null})).expect_err("invalid shape");
        assert_eq!(fields(&problems), ["user_email", "item_id", "quantity"]);
        assert!(problems.iter().all(|p| p.message == "is required"));
    }

    #[test]
    fn a_body_without_items_names_the_other_shape() {
        let problems = decode(json!({"customer_email": "a@b.co"})).expect_err("no items");
        assert_eq!(fields(&problems), ["items"]);
        assert!(problems[0].message.contains("item_id"), "{problems:?}");
        let problems =
            decode(json!({"customer_email": "a@b.co", "items": {}})).expect_err("not an array");
        assert_eq!(problems[0].message, "must be an array");
    }

    #[test]
    fn more_lines_than_an_order_may_have_are_one_problem_whatever_the_lines_hold() {
        let items = vec![json!({}); 87_000];
        let problems = decode(json!({"customer_email": "a@b.co", "items": items}))
            .expect_err("too many lines");
        assert_eq!(fields(&problems), ["items"]);
        assert_eq!(
            problems[0].message,
            format!("an order has at most {MAX_ORDER_LINES} lines, got 87000")
        );
        let items = vec![json!({"product_id": "product-001", "quantity": 1}); MAX_ORDER_LINES];
        let request = decode(json!({"customer_email": "a@b.co", "items": items}))
            .expect("as many lines as allowed");
        assert_eq!(request.items.len(), MAX_ORDER_LINES);
    }

    #[test]
    fn a_forwarded_request_reads_back_as_itself() {
        let request = OrderRequest {
            customer_email: "a@b.co".into(),
            items: vec![line("product-001", 1), line("product-002", 3)],
            payment_token: Some("tok_visa".into()),
        };
        let forwarded = serde_json::to_value(PlaceOrderBody::from(&request)).expect("serialize");
        assert_eq!(decode(forwarded), Ok(request));
    }
}

#[cfg(test)]
#[path = "order_request_properties.rs"]
mod properties;
