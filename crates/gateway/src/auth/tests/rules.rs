//! What each caller may do, and how a refusal answers.

use super::*;

#[test]
fn an_anonymous_caller_may_not_list_or_cancel_and_a_customer_may_not_use_the_admin_api() {
    let ada = Caller::Customer(Customer {
        email: email("ada@example.com"),
        subject: "ada".to_owned(),
        token: "t".into(),
    });
    assert!(matches!(
        Caller::Anonymous.owner("list orders"),
        Err(ApiError::Unauthorized(_))
    ));
    assert_eq!(
        ada.owner("list orders").expect("allowed"),
        Some(&email("ada@example.com"))
    );
    assert_eq!(Caller::Admin.owner("list orders").expect("allowed"), None);
    assert!(matches!(
        ada.require_admin("x"),
        Err(ApiError::Forbidden(_))
    ));
    assert!(matches!(
        Caller::Anonymous.require_admin("x"),
        Err(ApiError::Unauthorized(_))
    ));
    assert!(Caller::Admin.require_admin("x").is_ok());
}

#[test]
fn idempotency_keys_are_scoped_to_the_customer_or_the_anonymous_callers_address() {
    let request = |address: &str| OrderRequest {
        customer_email: address.to_owned(),
        ..OrderRequest::default()
    };
    let ada = Caller::Customer(Customer {
        email: email("ada@example.com"),
        subject: "ada".to_owned(),
        token: "t".into(),
    });
    assert_eq!(
        ada.idempotency_scope(&request("ada@example.com")),
        "customer:ada@example.com"
    );
    assert_eq!(
        Caller::Anonymous.idempotency_scope(&request(" Ada@Example.com ")),
        "anonymous:ada@example.com"
    );
    assert_ne!(
        Caller::Anonymous.idempotency_scope(&request("ada@example.com")),
        Caller::Anonymous.idempotency_scope(&request("bob@example.com"))
    );
    assert_eq!(
        Caller::Admin.idempotency_scope(&request("ada@example.com")),
        "admin"
    );
}

fn single(user_email: Field<String>) -> PlaceOrderBody {
    PlaceOrderBody::Single(SingleItemBody {
        item_id: Field::Valid("product-002".to_owned()),
        quantity: Field::Valid(1),
        user_email,
        payment_token: Field::Missing,
    })
}

#[test]
fn a_customers_order_is_theirs_and_another_address_is_named_as_a_problem() {
    let auth = authenticator(&settings());
    let ada = Caller::Customer(Customer {
        email: email("ada@example.com"),
        subject: "ada".to_owned(),
        token: "t".into(),
    });
    let omitted = order_request(&auth, &ada, single(Field::Missing)).expect("an order");
    assert_eq!(omitted.customer_email, "ada@example.com");
    let same = order_request(&auth, &ada, single(Field::Valid("ADA@example.com".into())));
    assert!(same.is_ok(), "{same:?}");
    let Err(ApiError::Invalid(problems)) =
        order_request(&auth, &ada, single(Field::Valid("bob@example.com".into())))
    else {
        panic!("another address is accepted");
    };
    assert_eq!(problems[0].field, "user_email");
    let multi = PlaceOrderBody::Multi(MultiItemBody {
        customer_email: Field::Valid("bob@example.com".into()),
        items: Field::Missing,
        payment_token: Field::Missing,
    });
    let Err(ApiError::Invalid(problems)) = order_request(&auth, &ada, multi) else {
        panic!("another address is accepted");
    };
    assert!(problems.iter().any(|p| p.field == "items"), "{problems:?}");
}

#[test]
fn anonymous_orders_are_refused_when_they_are_off() {
    let closed = Authenticator::new(ADMIN_TOKEN, &settings(), false).expect("valid settings");
    let anonymous = order_request(
        &closed,
        &Caller::Anonymous,
        single(Field::Valid("a@b.co".into())),
    );
    assert!(
        matches!(anonymous, Err(ApiError::Unauthorized(_))),
        "{anonymous:?}"
    );
    let open = authenticator(&settings());
    assert!(
        order_request(
            &open,
            &Caller::Anonymous,
            single(Field::Valid("a@b.co".into()))
        )
        .is_ok()
    );
}

#[test]
fn a_refused_token_answers_401_with_a_bearer_challenge_saying_why() {
    let auth = authenticator(&settings());
    let expired = minted(SECRET, "ada@example.com", now() - time::Duration::days(1));
    let response = caller(&auth, &format!("Bearer {expired}"))
        .expect_err("refused")
        .into_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"orderflow\", error=\"invalid_token\", error_description=\"the token has expired\""
    );
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let anonymous = Caller::Anonymous
        .owner("list orders")
        .expect_err("refused")
        .into_response();
    assert_eq!(
        anonymous.headers()[header::WWW_AUTHENTICATE],
        "Bearer realm=\"orderflow\""
    );
    let malformed = caller(&auth, "Basic abc")
        .expect_err("refused")
        .into_response();
    assert!(
        malformed.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .expect("ascii")
            .contains("error=\"invalid_request\"")
    );
}
