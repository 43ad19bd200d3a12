//! The public HTTP API's wire types: request bodies, query parameters and answers, each one
//! type that serde reads and writes and that the OpenAPI document describes, so the parser and
//! the document cannot drift apart. The server (the gateway, and the services that take these
//! types as input) and clients of the API share them.
//!
//! Only JSON shapes are checked here: what a value means (an email, a quantity, a product in
//! the catalog) is the business of the service that takes it. No I/O, no async.

mod field;
mod list;
mod orders;
mod problem;

pub use field::Field;
pub use list::{DEFAULT_PAGE_SIZE, ListQuery, MAX_PAGE_SIZE};
pub use orders::{
    CancelAccepted, IDEMPOTENCY_KEY_MAX_LEN, MultiItemBody, OrderAccepted, OrderItemBody,
    PlaceOrderBody, SingleItemBody,
};
pub use problem::FieldProblem;
