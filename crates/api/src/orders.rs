//! `/api/v1/orders`: the two shapes of the body that places an order, and the answers to
//! placing and cancelling one.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Field;

/// The longest `Idempotency-Key` header `POST /api/v1/orders` takes, in bytes.
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;

/// The most lines one order may have (before lines for the same product are merged): a body
/// of more is refused whole, without reading its lines one by one.
pub const MAX_ORDER_LINES: usize = 100;

/// The body of `POST /api/v1/orders`, in either shape.
///
/// The shape is told by `item_id` alone, so a body with mistakes in it is still read as the
/// shape its client meant, and each mistake can be named. A body with both `item_id` and
/// `items` is refused rather than read as one shape with the other dropped. Prices are never
/// part of it: they come from the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PlaceOrderBody {
    Single(SingleItemBody),
    Multi(MultiItemBody),
}

/// An order of one product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SingleItemBody {
    /// The product's id, e.g. `product-001`.
    #[schema(value_type = String, pattern = r"^[A-Za-z0-9_-]{1,64}$", example = "product-002")]
    pub item_id: Field<String>,
    #[schema(value_type = i64, minimum = 1, maximum = 1000, example = 1)]
    pub quantity: Field<i64>,
    #[schema(value_type = String, format = Email, max_length = 254, example = "ada@example.com")]
    pub user_email: Field<String>,
    /// A test card token; `tok_visa` when absent.
    #[serde(skip_serializing_if = "Field::is_missing")]
    #[schema(value_type = Option<String>, pattern = r"^tok_[A-Za-z0-9_]{0,60}$", example = "tok_visa")]
    pub payment_token: Field<String>,
}

/// An order of one or more products.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MultiItemBody {
    #[schema(value_type = String, format = Email, max_length = 254, example = "ada@example.com")]
    pub customer_email: Field<String>,
    /// 1 to 100 lines; lines for the same product are added up (at most 1000 units each).
    #[schema(value_type = Vec<OrderItemBody>, min_items = 1, max_items = 100)]
    pub items: Field<Vec<Field<OrderItemBody>>>,
    /// A test card token; `tok_visa` when absent.
    #[serde(skip_serializing_if = "Field::is_missing")]
    #[schema(value_type = Option<String>, pattern = r"^tok_[A-Za-z0-9_]{0,60}$", example = "tok_visa")]
    pub payment_token: Field<String>,
}

/// One line of an order of several products.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderItemBody {
    /// The product's id, e.g. `product-001`.
    #[schema(value_type = String, pattern = r"^[A-Za-z0-9_-]{1,64}$", example = "product-003")]
    pub product_id: Field<String>,
    #[schema(value_type = i64, minimum = 1, maximum = 1000, example = 1)]
    pub quantity: Field<i64>,
}

/// Why a body with both `item_id` and `items` is refused.
const BOTH_SHAPES: &str = "`item_id` (one product) and `items` (several products) are two \
    shapes of the body: send one of them, not both";

impl<'de> Deserialize<'de> for PlaceOrderBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let body = Value::deserialize(deserializer)?;
        let Value::Object(fields) = &body else {
            return Err(D::Error::custom("expected a JSON object"));
        };
        if fields.contains_key("item_id") && fields.contains_key("items") {
            return Err(D::Error::custom(BOTH_SHAPES));
        }
        let shape = if fields.contains_key("item_id") {
            SingleItemBody::deserialize(body).map(Self::Single)
        } else {
            MultiItemBody::deserialize(body).map(Self::Multi)
        };
        shape.map_err(D::Error::custom)
    }
}

/// The answer to an accepted order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderAccepted {
    pub message: String,
    pub order_id: Uuid,
    pub status: String,
}

/// The answer to a cancel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CancelAccepted {
    pub order_id: Uuid,
    pub status: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(body: Value) -> PlaceOrderBody {
        serde_json::from_value(body).expect("an object always reads")
    }

    #[test]
    fn a_body_with_an_item_id_is_the_single_item_shape() {
        let body = read(json!({"item_id": "product-001", "quantity": 2, "user_email": "a@b.co"}));
        let PlaceOrderBody::Single(order) = body else {
            panic!("read as the other shape: {body:?}");
        };
        assert_eq!(order.item_id, Field::Valid("product-001".to_owned()));
        assert_eq!(order.quantity, Field::Valid(2));
        assert_eq!(order.payment_token, Field::Missing);
    }

    #[test]
    fn a_body_without_an_item_id_is_the_several_items_shape_even_when_wrong() {
        let body = read(json!({"customer_email": 7, "items": [{"product_id": "p"}, 3]}));
        let PlaceOrderBody::Multi(order) = body else {
            panic!("read as the other shape: {body:?}");
        };
        assert_eq!(order.customer_email, Field::Invalid(json!(7)));
        let Field::Valid(items) = order.items else {
            panic!("items not read: {:?}", order.items);
        };
        assert_eq!(
            items,
            [
                Field::Valid(OrderItemBody {
                    product_id: Field::Valid("p".to_owned()),
                    quantity: Field::Missing,
                }),
                Field::Invalid(json!(3)),
            ]
        );
    }

    #[test]
    fn a_body_with_both_shapes_is_refused_naming_both() {
        let error = serde_json::from_value::<PlaceOrderBody>(json!({
            "item_id": "product-001", "quantity": 1, "user_email": "a@b.co",
            "customer_email": "c@d.co", "items": []
        }))
        .expect_err("two shapes at once");
        let message = error.to_string();
        assert!(
            message.contains("`item_id`") && message.contains("`items`"),
            "{message}"
        );
    }

    #[test]
    fn a_single_item_body_with_fields_of_the_other_shape_but_items_is_still_read() {
        let body = read(json!({
            "item_id": "product-001", "quantity": 1, "user_email": "a@b.co",
            "customer_email": "c@d.co"
        }));
        assert!(matches!(body, PlaceOrderBody::Single(_)), "{body:?}");
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        let error =
            serde_json::from_value::<PlaceOrderBody>(json!([1, 2])).expect_err("not an object");
        assert_eq!(error.to_string(), "expected a JSON object");
    }

    #[test]
    fn a_body_is_written_in_its_own_shape() {
        let sent =
            json!({"customer_email": "a@b.co", "items": [{"product_id": "p", "quantity": 1}]});
        let written = serde_json::to_value(read(sent.clone())).expect("serialize");
        assert_eq!(written, sent);
    }
}
