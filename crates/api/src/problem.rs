//! [`FieldProblem`]: one thing wrong with a request, as the problem+json body lists it.

use serde::{Deserialize, Serialize};

/// One problem with one field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldProblem {
    /// Where: a JSON path into the body (`items[1].quantity`), a query parameter, a header, or
    /// `body` / `query` for the whole of it.
    pub field: String,
    pub message: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
