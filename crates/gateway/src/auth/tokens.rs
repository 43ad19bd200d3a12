//! Customer tokens: bearer JWTs whose `sub` and `email` claims say who the customer is.
//!
//! They are verified with a shared secret (HS256, the tokens `orderflow token` mints) and/or
//! with an identity provider's public keys (RS256 or ES256, from a PEM file or a JWKS file).
//! A key decides its algorithm: a token whose header names another one is refused, so a
//! public key can never be used as an HMAC secret.

use std::fmt;
use std::time::Duration;

use contracts::value::Email;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The shortest admin token or JWT secret accepted, in bytes: anything shorter can be guessed.
pub const MIN_SECRET_LEN: usize = 16;
/// Clock skew allowed when checking `exp`, in seconds.
const LEEWAY_SECS: u64 = 30;

/// How customer tokens are checked: the keys, and the issuer and audience they must name.
#[derive(Clone, Default)]
pub struct TokenSettings {
    /// The HS256 secret (`ORDERFLOW_JWT_SECRET`).
    pub secret: Option<String>,
    /// A PEM public key (RSA for RS256, P-256 for ES256).
    pub public_key_pem: Option<Vec<u8>>,
    /// A JWKS document: its RS256 and ES256 signing keys.
    pub jwks_json: Option<String>,
    /// When set, a token's `iss` must be this.
    pub issuer: Option<String>,
    /// When set, a token's `aud` must hold this.
    pub audience: Option<String>,
}

impl fmt::Debug for TokenSettings {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TokenSettings")
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("public_key", &self.public_key_pem.is_some())
            .field("jwks", &self.jwks_json.is_some())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// Why the token settings cannot be used; the server refuses to start with them.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "the JWT secret is {0} bytes long: it must be at least {MIN_SECRET_LEN} (e.g. `openssl rand -hex 32`)"
    )]
    ShortSecret(usize),
    #[error("the JWT public key is neither an RSA nor an EC public key in PEM: {0}")]
    PublicKey(jsonwebtoken::errors::Error),
    #[error("the JWKS file is not a JWK set: {0}")]
    Jwks(serde_json::Error),
    #[error("the JWKS file holds no RS256 or ES256 signing key")]
    NoUsableJwk,
}

/// Why a presented token is refused. Its text is the problem's detail.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the Authorization header must be `Bearer <token>`")]
    MalformedHeader,
    #[error("the bearer token is not the admin token, and not a JWT")]
    Malformed,
    #[error("the bearer token is not the admin token, and this server accepts no customer tokens")]
    NotAccepted,
    #[error("the token is signed with {0}, or with a key this server does not know")]
    UnknownKey(String),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token's {0}")]
    Claims(String),
}

/// Who a verified token says the customer is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerClaims {
    pub subject: String,
    pub email: Email,
}

/// The claims Orderflow reads and mints; others are ignored.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    email: String,
    #[serde(default, skip_deserializing)]
    exp: u64,
    #[serde(default, skip_deserializing)]
    iat: u64,
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
}

struct VerifyingKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verifies customer tokens with the configured keys.
pub struct TokenVerifier {
    keys: Vec<VerifyingKey>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algorithms: Vec<Algorithm> = self.keys.iter().map(|key| key.algorithm).collect();
        formatter
            .debug_struct("TokenVerifier")
            .field("algorithms", &algorithms)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// The verifier of `settings`; `None` when they name no key (no customer tokens).
    ///
    /// # Errors
    /// [`SettingsError`] for a short secret, or a key or JWKS file that cannot be read.
    pub fn new(settings: &TokenSettings) -> Result<Option<Self>, SettingsError> {
        let mut keys = Vec::new();
        if let Some(secret) = &settings.secret {
            check_secret(secret)?;
            keys.push(VerifyingKey {
                kid: None,
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret.as_bytes())
                    .map_err(SettingsError::PublicKey)?,
            });
        }
        if let Some(pem) = &settings.public_key_pem {
            keys.push(pem_key(pem)?);
        }
        if let Some(jwks) = &settings.jwks_json {
            keys.extend(jwks_keys(jwks)?);
        }
        if keys.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        }))
    }

    /// The customer a token names, once its signature, expiry, issuer and audience check out.
    ///
    /// # Errors
    /// [`TokenError`], saying what is wrong with the token.
    pub fn verify(&self, token: &str) -> Result<CustomerClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let candidates = self.keys.iter().filter(|key| {
            key.algorithm == header.alg
                && (header.kid.is_none() || key.kid.is_none() || key.kid == header.kid)
        });
        let mut tried = false;
        for candidate in candidates {
            tried = true;
            match jsonwebtoken::decode::<Claims>(
                token,
                &candidate.key,
                &self.validation(candidate.algorithm),
            ) {
                Ok(data) => return customer(data.claims),
                // Another key of the same algorithm may have signed it.
                Err(error) if matches!(error.kind(), ErrorKind::InvalidSignature) => {}
                Err(error) => return Err(refusal(&error)),
            }
        }
        Err(if tried {
            TokenError::BadSignature
        } else {
            TokenError::UnknownKey(format!("{:?}", header.alg))
        })
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        let mut required = vec!["exp", "sub"];
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

/// Refuses a secret short enough to be guessed.
///
/// # Errors
/// [`SettingsError::ShortSecret`].
pub fn check_secret(secret: &str) -> Result<(), SettingsError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(SettingsError::ShortSecret(secret.len()));
    }
    Ok(())
}

fn customer(claims: Claims) -> Result<CustomerClaims, TokenError> {
    if claims.sub.trim().is_empty() {
        return Err(TokenError::Claims("`sub` claim is empty".to_owned()));
    }
    let email = Email::parse(&claims.email)
        .map_err(|_| TokenError::Claims("`email` claim is not an email address".to_owned()))?;
    Ok(CustomerClaims {
        subject: claims.sub,
        email,
    })
}

fn refusal(error: &jsonwebtoken::errors::Error) -> TokenError {
    match error.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidIssuer => TokenError::Claims("issuer is not the one expected".into()),
        ErrorKind::InvalidAudience => TokenError::Claims("audience is not this server".into()),
        ErrorKind::ImmatureSignature => TokenError::Claims("`nbf` is in the future".into()),
        ErrorKind::MissingRequiredClaim(claim) => {
            TokenError::Claims(format!("`{claim}` claim is missing"))
        }
        ErrorKind::InvalidClaimFormat(claim) => {
            TokenError::Claims(format!("`{claim}` claim is not of the right type"))
        }
        ErrorKind::Json(_) => TokenError::Claims("claims lack `sub` or `email`".into()),
        _ => TokenError::Malformed,
    }
}

/// A PEM public key: RSA keys verify RS256, EC (P-256) keys ES256.
fn pem_key(pem: &[u8]) -> Result<VerifyingKey, SettingsError> {
    let (algorithm, key) = match DecodingKey::from_rsa_pem(pem) {
        Ok(key) => (Algorithm::RS256, key),
        Err(_) => (
            Algorithm::ES256,
            DecodingKey::from_ec_pem(pem).map_err(SettingsError::PublicKey)?,
        ),
    };
    Ok(VerifyingKey {
        kid: None,
        algorithm,
        key,
    })
}

/// The RS256 and ES256 signing keys of a JWKS document; encryption keys and other
/// algorithms are left out.
fn jwks_keys(json: &str) -> Result<Vec<VerifyingKey>, SettingsError> {
    let set: JwkSet = serde_json::from_str(json).map_err(SettingsError::Jwks)?;
    let keys: Vec<VerifyingKey> = set
        .keys
        .iter()
        .filter(|jwk| jwk.common.public_key_use != Some(PublicKeyUse::Encryption))
        .filter_map(|jwk| {
            let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
                (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
                (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                    if ec.curve == EllipticCurve::P256 =>
                {
                    Algorithm::ES256
                }
                _ => return None,
            };
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some(VerifyingKey {
                kid: jwk.common.key_id.clone(),
                algorithm,
                key,
            })
        })
        .collect();
    if keys.is_empty() {
        return Err(SettingsError::NoUsableJwk);
    }
    Ok(keys)
}

/// What a minted token says.
#[derive(Clone, Debug)]
pub struct Mint<'a> {
    pub email: &'a Email,
    /// `sub`; the email when absent.
    pub subject: Option<&'a str>,
    /// `iat`; the token expires `ttl` after it.
    pub issued_at: OffsetDateTime,
    pub ttl: Duration,
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
}

/// Mints an HS256 customer token with `secret`, as `orderflow token` does for local use.
///
/// # Errors
/// [`SettingsError::ShortSecret`] for a secret that would be refused when verifying.
pub fn mint(secret: &str, mint: &Mint<'_>) -> Result<String, SettingsError> {
    check_secret(secret)?;
    let now = u64::try_from(mint.issued_at.unix_timestamp()).unwrap_or(0);
    let claims = Claims {
        sub: mint.subject.unwrap_or(mint.email.as_str()).to_owned(),
        email: mint.email.as_str().to_owned(),
        exp: now.saturating_add(mint.ttl.as_secs()),
        iat: now,
        iss: mint.issuer.map(str::to_owned),
        aud: mint.audience.map(str::to_owned),
    };
    let key = EncodingKey::from_secret(secret.as_bytes()).map_err(SettingsError::PublicKey)?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(SettingsError::PublicKey)
}
