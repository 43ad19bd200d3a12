//! Who a request's `Authorization` header makes the caller, and what each caller may do.
//! Tokens are minted here with the keys in `test_keys/` (made for these tests only).

use std::time::Duration;

use api::{Field, MultiItemBody, PlaceOrderBody, SingleItemBody};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse as _;
use contracts::value::Email;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use time::OffsetDateTime;

use super::tokens::{self, MIN_SECRET_LEN, Mint};
use super::*;

const ADMIN_TOKEN: &str = "an-admin-token-of-32-characters!";
const SECRET: &str = "a-jwt-secret-of-32-characters!!!";
const EC_PRIVATE: &str = include_str!("test_keys/ec-private.pem");
const EC_PUBLIC: &str = include_str!("test_keys/ec-public.pem");
const RSA_PRIVATE: &str = include_str!("test_keys/rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("test_keys/rsa-public.pem");
const JWKS: &str = include_str!("test_keys/jwks.json");

fn email(raw: &str) -> Email {
    Email::parse(raw).expect("a valid email")
}

fn settings() -> TokenSettings {
    TokenSettings {
        secret: Some(SECRET.to_owned()),
        ..TokenSettings::default()
    }
}

fn authenticator(tokens: &TokenSettings) -> Authenticator {
    Authenticator::new(ADMIN_TOKEN, tokens, true).expect("valid settings")
}

fn minted(secret: &str, customer: &str, issued_at: OffsetDateTime) -> String {
    let email = email(customer);
    let mint = Mint {
        email: &email,
        subject: None,
        issued_at,
        ttl: Duration::from_secs(3600),
        issuer: None,
        audience: None,
    };
    tokens::mint(secret, &mint).expect("a token")
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn signed(
    algorithm: Algorithm,
    kid: Option<&str>,
    key: &EncodingKey,
    claims: &serde_json::Value,
) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("a token")
}

fn claims(customer: &str) -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({"sub": "user-7", "email": customer, "iat": now, "exp": now + 600})
}

fn hmac_key(secret: &[u8]) -> EncodingKey {
    EncodingKey::from_secret(secret).expect("an HMAC key")
}

fn headers(authorization: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(authorization).expect("a header value"),
    );
    headers
}

fn caller(auth: &Authenticator, authorization: &str) -> Result<Caller, ApiError> {
    auth.caller(&headers(authorization))
}

fn refusal(result: Result<Caller, ApiError>) -> TokenError {
    match result {
        Err(ApiError::InvalidToken(why)) => why,
        other => panic!("not refused as an invalid token: {other:?}"),
    }
}

fn customer_email(result: Result<Caller, ApiError>) -> String {
    match result {
        Ok(Caller::Customer(customer)) => customer.email.as_str().to_owned(),
        other => panic!("not a customer: {other:?}"),
    }
}

#[test]
fn no_header_is_an_anonymous_caller() {
    let auth = authenticator(&settings());
    assert!(matches!(
        auth.caller(&HeaderMap::new()),
        Ok(Caller::Anonymous)
    ));
}

#[test]
fn the_admin_token_is_the_admin_whatever_the_case_of_the_scheme() {
    let auth = authenticator(&settings());
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let presented = caller(&auth, &format!("{scheme} {ADMIN_TOKEN}"));
        assert!(
            matches!(presented, Ok(Caller::Admin)),
            "{scheme}: {presented:?}"
        );
    }
}

#[test]
fn a_header_that_is_not_bearer_and_a_token_is_refused_as_malformed() {
    let auth = authenticator(&settings());
    for malformed in [
        "Basic YWRtaW46YWRtaW4=",
        "Bearer",
        "Bearer ",
        ADMIN_TOKEN,
        "Bearer a b",
    ] {
        assert_eq!(
            refusal(caller(&auth, malformed)),
            TokenError::MalformedHeader,
            "{malformed}"
        );
    }
}

#[test]
fn a_minted_token_names_its_customer() {
    let auth = authenticator(&settings());
    let token = minted(SECRET, "Ada@Example.com", now());
    assert_eq!(
        customer_email(caller(&auth, &format!("Bearer {token}"))),
        "ada@example.com"
    );
}

#[test]
fn a_token_signed_with_another_secret_or_altered_is_refused() {
    let auth = authenticator(&settings());
    let forged = minted("another-secret-of-32-characters!", "ada@example.com", now());
    assert_eq!(
        refusal(caller(&auth, &format!("Bearer {forged}"))),
        TokenError::BadSignature
    );

    let genuine = minted(SECRET, "ada@example.com", now());
    let (head, rest) = genuine.split_once('.').expect("a JWT");
    let (_, signature) = rest.split_once('.').expect("a JWT");
    let bob = claims("bob@example.com");
    let bobs_claims = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &bob, &hmac_key(b"x"))
        .expect("a token");
    let bobs_payload = bobs_claims.split('.').nth(1).expect("a payload");
    let altered = format!("{head}.{bobs_payload}.{signature}");
    assert_eq!(
        refusal(caller(&auth, &format!("Bearer {altered}"))),
        TokenError::BadSignature
    );
}

#[test]
fn an_expired_token_is_refused_as_expired() {
    let auth = authenticator(&settings());
    let yesterday = now() - time::Duration::days(1);
    let expired = minted(SECRET, "ada@example.com", yesterday);
    assert_eq!(
        refusal(caller(&auth, &format!("Bearer {expired}"))),
        TokenError::Expired
    );
}

#[test]
fn a_token_that_is_not_a_jwt_or_lacks_an_email_is_refused() {
    let auth = authenticator(&settings());
    assert_eq!(
        refusal(caller(&auth, "Bearer not-a-jwt")),
        TokenError::Malformed
    );
    let key = hmac_key(SECRET.as_bytes());
    let now = jsonwebtoken::get_current_timestamp();
    let no_email = signed(
        Algorithm::HS256,
        None,
        &key,
        &json!({"sub": "u", "exp": now + 60}),
    );
    assert!(matches!(
        refusal(caller(&auth, &format!("Bearer {no_email}"))),
        TokenError::Claims(_)
    ));
    let bad_email = signed(Algorithm::HS256, None, &key, &claims("not-an-email"));
    assert!(matches!(
        refusal(caller(&auth, &format!("Bearer {bad_email}"))),
        TokenError::Claims(_)
    ));
    let no_expiry = signed(
        Algorithm::HS256,
        None,
        &key,
        &json!({"sub": "u", "email": "a@b.co"}),
    );
    assert!(matches!(
        refusal(caller(&auth, &format!("Bearer {no_expiry}"))),
        TokenError::Claims(_)
    ));
}

#[test]
fn without_keys_no_customer_token_is_taken() {
    let auth = authenticator(&TokenSettings::default());
    assert!(!auth.takes_customer_tokens());
    let token = minted(SECRET, "ada@example.com", now());
    assert_eq!(
        refusal(caller(&auth, &format!("Bearer {token}"))),
        TokenError::NotAccepted
    );
}

#[test]
fn issuer_and_audience_are_checked_when_set() {
    let tokens = TokenSettings {
        issuer: Some("https://id.example.com".to_owned()),
        audience: Some("orderflow".to_owned()),
        ..settings()
    };
    let auth = authenticator(&tokens);
    let key = hmac_key(SECRET.as_bytes());
    let mut good = claims("ada@example.com");
    good["iss"] = json!("https://id.example.com");
    good["aud"] = json!(["orderflow", "other"]);
    let token = signed(Algorithm::HS256, None, &key, &good);
    assert_eq!(
        customer_email(caller(&auth, &format!("Bearer {token}"))),
        "ada@example.com"
    );
    for (claim, value) in [
        ("iss", json!("https://evil.example.com")),
        ("aud", json!("other")),
    ] {
        let mut wrong = good.clone();
        wrong[claim] = value;
        let token = signed(Algorithm::HS256, None, &key, &wrong);
        assert!(
            matches!(
                refusal(caller(&auth, &format!("Bearer {token}"))),
                TokenError::Claims(_)
            ),
            "{claim}"
        );
    }
    let unnamed = signed(Algorithm::HS256, None, &key, &claims("ada@example.com"));
    assert!(matches!(
        refusal(caller(&auth, &format!("Bearer {unnamed}"))),
        TokenError::Claims(_)
    ));
}

#[test]
fn an_identity_providers_rs256_and_es256_tokens_verify_with_its_public_keys() {
    let rsa = authenticator(&TokenSettings {
        public_key_pem: Some(RSA_PUBLIC.as_bytes().to_vec()),
        ..TokenSettings::default()
    });
    let rsa_key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("an RSA key");
    let token = signed(Algorithm::RS256, None, &rsa_key, &claims("ada@example.com"));
    assert_eq!(
        customer_email(caller(&rsa, &format!("Bearer {token}"))),
        "ada@example.com"
    );

    let ec_key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).expect("an EC key");
    let es256 = signed(
        Algorithm::ES256,
        Some("ec-1"),
        &ec_key,
        &claims("bob@example.com"),
    );
    let ec = authenticator(&TokenSettings {
        public_key_pem: Some(EC_PUBLIC.as_bytes().to_vec()),
        ..TokenSettings::default()
    });
    assert_eq!(
        customer_email(caller(&ec, &format!("Bearer {es256}"))),
        "bob@example.com"
    );
    let jwks = authenticator(&TokenSettings {
        jwks_json: Some(JWKS.to_owned()),
        ..TokenSettings::default()
    });
    assert_eq!(
        customer_email(caller(&jwks, &format!("Bearer {es256}"))),
        "bob@example.com"
    );
    let unknown_kid = signed(
        Algorithm::ES256,
        Some("ec-2"),
        &ec_key,
        &claims("bob@example.com"),
    );
    assert!(matches!(
        refusal(caller(&jwks, &format!("Bearer {unknown_kid}"))),
        TokenError::UnknownKey(_)
    ));
}

#[test]
fn a_public_key_is_never_taken_as_an_hmac_secret() {
    let auth = authenticator(&TokenSettings {
        public_key_pem: Some(RSA_PUBLIC.as_bytes().to_vec()),
        ..TokenSettings::default()
    });
    let key = hmac_key(RSA_PUBLIC.as_bytes());
    let confused = signed(Algorithm::HS256, None, &key, &claims("eve@example.com"));
    assert!(matches!(
        refusal(caller(&auth, &format!("Bearer {confused}"))),
        TokenError::UnknownKey(_)
    ));
}

#[test]
fn short_or_empty_secrets_are_refused_at_start() {
    for short in ["", "   ", "fifteen-chars!!"] {
        assert!(
            matches!(
                Authenticator::new(short, &settings(), true),
                Err(AuthSetupError::ShortAdminToken(_))
            ),
            "{short:?}"
        );
        let tokens = TokenSettings {
            secret: Some(short.to_owned()),
            ..TokenSettings::default()
        };
        assert!(
            matches!(
                Authenticator::new(ADMIN_TOKEN, &tokens, true),
                Err(AuthSetupError::Tokens(SettingsError::ShortSecret(_)))
            ),
            "{short:?}"
        );
    }
    assert!(Authenticator::new(&"x".repeat(MIN_SECRET_LEN), &settings(), true).is_ok());
    let unreadable = TokenSettings {
        jwks_json: Some("{}".to_owned()),
        ..TokenSettings::default()
    };
    assert!(Authenticator::new(ADMIN_TOKEN, &unreadable, true).is_err());
}

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
