//! Who may place an order, and for whom: a customer places orders under the address their
//! token names (an omitted address is theirs, another one is refused), the admin and
//! anonymous callers under the address in the body, anonymous callers only while the server
//! takes anonymous orders.

use api::{Field, FieldProblem, PlaceOrderBody};
use contracts::value::Email;
use order_service::OrderRequest;

use crate::auth::{Authenticator, Caller};
use crate::error::ApiError;

/// The order `caller` asks for with `body`.
///
/// # Errors
/// [`ApiError::Unauthorized`] for an anonymous caller when anonymous orders are off;
/// [`ApiError::Invalid`] for fields of the wrong JSON type, or a customer's order for another
/// address (naming the body's email field).
pub(crate) fn order_request(
    auth: &Authenticator,
    caller: &Caller,
    mut body: PlaceOrderBody,
) -> Result<OrderRequest, ApiError> {
    let customer = match caller {
        Caller::Anonymous if !auth.anonymous_orders => {
            return Err(ApiError::Unauthorized(
                "this server takes no anonymous orders: send a customer token as \
                 `Authorization: Bearer <token>`"
                    .to_owned(),
            ));
        }
        Caller::Customer(customer) => Some(&customer.email),
        Caller::Anonymous | Caller::Admin => None,
    };
    let Some(own) = customer else {
        return OrderRequest::try_from(body).map_err(ApiError::Invalid);
    };
    let (field_name, email) = match &mut body {
        PlaceOrderBody::Single(single) => ("user_email", &mut single.user_email),
        PlaceOrderBody::Multi(multi) => ("customer_email", &mut multi.customer_email),
    };
    if email.is_missing() {
        *email = Field::Valid(own.as_str().to_owned());
    }
    let request = OrderRequest::try_from(body).map_err(ApiError::Invalid)?;
    // An address that is not one at all is the order service's to name, with the rest.
    match Email::parse(&request.customer_email) {
        Ok(asked) if &asked != own => Err(ApiError::Invalid(vec![FieldProblem::new(
            field_name,
            format!("must be the address your token names, {own}, or be left out; got {asked}"),
        )])),
        _ => Ok(request),
    }
}
