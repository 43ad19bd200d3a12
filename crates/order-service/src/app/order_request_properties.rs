//! Properties of reading a request to place an order: whatever JSON a client sends, it is
//! read into an [`OrderRequest`] or answered with problems, never a panic and never an empty
//! list of problems; and every request reads back as itself once forwarded.

use api::{FieldProblem, MAX_ORDER_LINES, PlaceOrderBody};
use contracts::arbitrary::json_value;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{OrderRequest, RequestedLine};

/// An object with the body's own field names, holding anything.
fn body_like() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "item_id",
        "quantity",
        "user_email",
        "customer_email",
        "items",
        "payment_token",
        "product_id",
    ]);
    let item = prop::collection::btree_map(
        prop::sample::select(vec!["product_id", "quantity"]),
        json_value(),
        0..3,
    )
    .prop_map(|fields| json!(fields));
    let value = prop_oneof![
        3 => json_value(),
        1 => prop::collection::vec(item, 0..(MAX_ORDER_LINES + 3)).prop_map(Value::from),
    ];
    prop::collection::btree_map(names, value, 0..7).prop_map(|fields| json!(fields))
}

/// What the gateway does with a body: JSON syntax, then its shape, then its fields.
fn read(bytes: &[u8]) -> Result<OrderRequest, Vec<FieldProblem>> {
    let json: Value = serde_json::from_slice(bytes)
        .map_err(|error| vec![FieldProblem::new("body", error.to_string())])?;
    let body: PlaceOrderBody = serde_json::from_value(json)
        .map_err(|error| vec![FieldProblem::new("body", error.to_string())])?;
    OrderRequest::try_from(body)
}

fn assert_read_or_named(result: &Result<OrderRequest, Vec<FieldProblem>>) {
    match result {
        // An empty list of lines is read: validation refuses it, beside every other problem
        // of the request (`{"customer_email": "", "items": []}` is read, then refused).
        Ok(request) => assert!(request.items.len() <= MAX_ORDER_LINES),
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a reason");
            // At most two problems a line, and the three top-level fields.
            assert!(
                problems.len() <= 2 * MAX_ORDER_LINES + 3,
                "{}",
                problems.len()
            );
            assert!(problems.iter().all(|problem| !problem.field.is_empty()));
        }
    }
}

fn request() -> impl Strategy<Value = OrderRequest> {
    let line = ("[a-z0-9-]{0,12}", any::<i64>()).prop_map(|(product_id, quantity)| RequestedLine {
        product_id,
        quantity,
    });
    (
        ".{0,20}",
        prop::collection::vec(line, 1..=MAX_ORDER_LINES),
        proptest::option::of("tok_[a-z]{0,8}"),
    )
        .prop_map(|(customer_email, items, payment_token)| OrderRequest {
            customer_email,
            items,
            payment_token,
        })
}

proptest! {
    #[test]
    fn any_bytes_are_read_or_answered_with_problems(
        bytes in prop::collection::vec(any::<u8>(), 0..200)
    ) {
        assert_read_or_named(&read(&bytes));
    }

    #[test]
    fn any_json_is_read_or_answered_with_problems(value in json_value()) {
        let bytes = serde_json::to_vec(&value).expect("serialize");
        assert_read_or_named(&read(&bytes));
    }

    #[test]
    fn any_object_with_the_body_fields_is_read_or_answered_with_problems(value in body_like()) {
        let bytes = serde_json::to_vec(&value).expect("serialize");
        let result = read(&bytes);
        assert_read_or_named(&result);
        if value.get("item_id").is_some() && value.get("items").is_some() {
            prop_assert!(result.is_err(), "both shapes at once were read: {value}");
        }
    }

    #[test]
    fn a_request_forwarded_as_json_reads_back_as_itself(request in request()) {
        let body = serde_json::to_vec(&PlaceOrderBody::from(&request)).expect("serialize");
        prop_assert_eq!(read(&body), Ok(request));
    }
}
