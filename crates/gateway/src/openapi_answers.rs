//! The answers the edge can give on any route, added to each operation of the OpenAPI document
//! where they apply, so that the document lists every status a route can answer without each
//! route repeating them: the limits' `408` and `429`, `413` and `422` where a body or a query
//! string is read, `500` and `503` where a service is called (who may call what, `401` and
//! `403`, each route states itself). Each is
//! described once, under `components/responses`, and referred to.

use utoipa::Modify;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Adds the edge's answers to every operation.
pub(crate) struct EdgeAnswers;

/// Each answer: its status, its name under `components/responses`, and what it means.
const ANSWERS: [(&str, &str, &str); 7] = [
    ("404", "NotFound", "No such resource"),
    (
        "408",
        "RequestTimeout",
        "Not answered within the request timeout (the body read included)",
    ),
    ("413", "PayloadTooLarge", "The body is larger than 256 KiB"),
    (
        "422",
        "Invalid",
        "Invalid: malformed JSON, another content type, or an invalid field or query parameter, each listed",
    ),
    (
        "429",
        "TooManyRequests",
        "Too many requests from this client; `Retry-After` says when to come back",
    ),
    (
        "500",
        "InternalError",
        "An internal error; its cause is logged, never shown",
    ),
    (
        "503",
        "Unavailable",
        "A service or database this call needs is unavailable",
    ),
];

impl Modify for EdgeAnswers {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (status, name, description) in ANSWERS {
            components
                .responses
                .insert(name.to_owned(), problem(status, description));
        }
        for (path, item) in &mut openapi.paths.paths {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                add_answers(path, operation);
            }
        }
    }
}

fn add_answers(path: &str, operation: &mut Operation) {
    let has_query = operation.parameters.iter().flatten().any(|parameter| {
        matches!(parameter, RefOr::T(parameter)
            if matches!(parameter.parameter_in, utoipa::openapi::path::ParameterIn::Query))
    });
    let has_path_id = path.contains('{');
    let has_body = operation.request_body.is_some();
    let calls_a_service = path.starts_with("/api/");
    let mut add = |status: &str| {
        let Some((_, name, _)) = ANSWERS.iter().find(|(known, _, _)| *known == status) else {
            return;
        };
        let reference = Ref::new(format!("#/components/responses/{name}"));
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(RefOr::Ref(reference));
    };
    add("408");
    add("429");
    if has_body {
        add("413");
        add("422");
    }
    if has_query {
        add("422");
    }
    if has_path_id && calls_a_service {
        add("404");
    }
    if calls_a_service {
        add("500");
        add("503");
    }
}

/// A problem+json answer; a `429` also documents its `Retry-After` header.
fn problem(status: &str, description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ProblemDetails")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", content);
    if status == "429" {
        let seconds = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .build();
        let header = HeaderBuilder::new()
            .schema(Some(seconds))
            .description(Some("Seconds to wait before the next request"))
            .build();
        response = response.header("Retry-After", header);
    }
    RefOr::T(response.build())
}
