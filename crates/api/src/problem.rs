//! The problem+json body (RFC 9457) every error answer of the API has, and [`FieldProblem`]:
//! one thing wrong with a request, as that body lists it.

use serde::{Deserialize, Serialize};

/// The problem+json body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProblemDetails {
    /// A URI reference naming the kind of problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, snake_case: what clients branch on.
    pub code: String,
    /// For validation errors: every problem, by field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_problem_without_field_problems_is_read_and_written_without_the_list() {
        let sent = json!({
            "type": "/problems/not-found", "title": "Not found", "status": 404,
            "detail": "no order with id 1", "code": "not_found"
        });
        let problem: ProblemDetails = serde_json::from_value(sent.clone()).expect("a problem");
        assert!(problem.errors.is_empty());
        assert_eq!(serde_json::to_value(&problem).expect("serialize"), sent);
    }
}
