//! Properties of reading the body of `POST /api/v1/orders`: any JSON reads as one of the two
//! shapes or is refused with a reason, never a panic; a body with both shapes' item fields is
//! always refused; and a body of either shape reads back as itself.

use contracts::arbitrary::json_value;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::{Field, MultiItemBody, OrderItemBody, PlaceOrderBody, SingleItemBody};

/// An object with the body's field names, holding anything.
fn body_like() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "item_id",
        "quantity",
        "user_email",
        "customer_email",
        "items",
        "payment_token",
    ]);
    prop::collection::btree_map(names, json_value(), 0..6).prop_map(|fields| json!(fields))
}

/// A field as a client may send it: valid, absent, or of another JSON type (a boolean, which
/// no field of the body is).
fn field<T: std::fmt::Debug + Clone>(
    valid: impl Strategy<Value = T>,
) -> impl Strategy<Value = Field<T>> {
    prop_oneof![
        3 => valid.prop_map(Field::Valid),
        1 => Just(Field::Missing),
        1 => any::<bool>().prop_map(|sent| Field::Invalid(json!(sent))),
    ]
}

fn body() -> impl Strategy<Value = PlaceOrderBody> {
    let single = (
        ".{0,12}",
        field(any::<i64>()),
        field(".{0,12}"),
        field(".{0,12}"),
    )
        .prop_map(|(item_id, quantity, user_email, payment_token)| {
            PlaceOrderBody::Single(SingleItemBody {
                item_id: Field::Valid(item_id),
                quantity,
                user_email,
                payment_token,
            })
        });
    let item = field(
        (field(".{0,12}"), field(any::<i64>())).prop_map(|(product_id, quantity)| OrderItemBody {
            product_id,
            quantity,
        }),
    );
    let multi = (
        field(".{0,12}"),
        field(prop::collection::vec(item, 0..4)),
        field(".{0,12}"),
    )
        .prop_map(|(customer_email, items, payment_token)| {
            PlaceOrderBody::Multi(MultiItemBody {
                customer_email,
                items,
                payment_token,
            })
        });
    prop_oneof![single, multi]
}

proptest! {
    #[test]
    fn any_bytes_read_as_a_body_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = serde_json::from_slice::<PlaceOrderBody>(&bytes);
    }

    #[test]
    fn any_json_reads_as_a_body_or_is_refused_with_a_reason(value in json_value()) {
        if let Err(error) = serde_json::from_value::<PlaceOrderBody>(value) {
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn a_body_with_item_id_and_items_is_always_refused(value in body_like()) {
        let both = value.get("item_id").is_some() && value.get("items").is_some();
        let read = serde_json::from_value::<PlaceOrderBody>(value);
        if both {
            prop_assert!(read.is_err());
        } else if let Ok(body) = read {
            // Absent fields and `null` are both missing: only a body read back is compared.
            let written = serde_json::to_value(&body).expect("serialize");
            prop_assert_eq!(serde_json::from_value::<PlaceOrderBody>(written).ok(), Some(body));
        }
    }

    #[test]
    fn a_body_of_either_shape_reads_back_as_itself(body in body()) {
        let written = serde_json::to_value(&body).expect("serialize");
        prop_assert_eq!(serde_json::from_value::<PlaceOrderBody>(written).expect("reads"), body);
    }
}
