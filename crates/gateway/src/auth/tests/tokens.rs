//! Which tokens verify, and how the others are refused.

use super::*;

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
