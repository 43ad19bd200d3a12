//! Identity settings: the admin token and the customer tokens' keys, read once at start and
//! checked there (a short or empty secret stops the server with a message), the secrets the
//! embedded mode generates and keeps in its data dir, and `orderflow token`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgAction, Args};
use contracts::value::Email;
use gateway::auth::tokens::{self, Mint};
use gateway::auth::{Authenticator, TokenSettings};
use time::OffsetDateTime;
use tracing::info;

/// How customers prove who they are, and whether they must. Its `Debug` hides the secret.
#[derive(Clone, Args)]
pub struct IdentitySettings {
    /// Secret of the HS256 customer tokens (at least 16 characters), the same in every
    /// process; embedded, generated and kept in `<data dir>/jwt-secret` when no key is set.
    #[arg(long, env = "ORDERFLOW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// An identity provider's public key, PEM: RSA for RS256 tokens, P-256 for ES256.
    #[arg(long, env = "ORDERFLOW_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,

    /// An identity provider's JWKS file (its RS256 and ES256 keys, by `kid`).
    #[arg(long, env = "ORDERFLOW_JWT_JWKS")]
    pub jwt_jwks: Option<PathBuf>,

    /// When set, customer tokens must have this `iss`; `orderflow token` sets it.
    #[arg(long, env = "ORDERFLOW_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// When set, customer tokens must have this `aud`; `orderflow token` sets it.
    #[arg(long, env = "ORDERFLOW_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Whether orders may be placed without a token (`false`: a customer token is needed).
    #[arg(long, env = "ORDERFLOW_ANONYMOUS_ORDERS", default_value_t = true, action = ArgAction::Set)]
    pub anonymous_orders: bool,
}

impl std::fmt::Debug for IdentitySettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("IdentitySettings")
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("jwt_public_key", &self.jwt_public_key)
            .field("jwt_jwks", &self.jwt_jwks)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("anonymous_orders", &self.anonymous_orders)
            .finish()
    }
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_public_key: None,
            jwt_jwks: None,
            jwt_issuer: None,
            jwt_audience: None,
            anonymous_orders: true,
        }
    }
}

impl IdentitySettings {
    /// Whether any key for customer tokens is set.
    pub fn has_key(&self) -> bool {
        self.jwt_secret.is_some() || self.jwt_public_key.is_some() || self.jwt_jwks.is_some()
    }

    /// The same settings, with the secret kept in `data_dir` (generated on first start) when
    /// no key is set: how the embedded mode always takes customer tokens.
    ///
    /// # Errors
    /// When the data dir cannot be read or written.
    pub fn with_kept_secret(&self, data_dir: &Path) -> anyhow::Result<Self> {
        if self.has_key() {
            return Ok(self.clone());
        }
        Ok(Self {
            jwt_secret: Some(kept_secret(data_dir, "jwt-secret", "JWT secret")?),
            ..self.clone()
        })
    }

    /// The token settings, with the key files read.
    ///
    /// # Errors
    /// When a key file cannot be read.
    pub fn token_settings(&self) -> anyhow::Result<TokenSettings> {
        let read = |path: &Path| {
            std::fs::read(path).with_context(|| format!("read the JWT key file {}", path.display()))
        };
        Ok(TokenSettings {
            secret: self.jwt_secret.clone(),
            public_key_pem: self.jwt_public_key.as_deref().map(read).transpose()?,
            jwks_json: self
                .jwt_jwks
                .as_deref()
                .map(|path| read(path).map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
                .transpose()?,
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
        })
    }

    /// Who may call what, with `admin_token`; refuses short secrets and unreadable keys.
    ///
    /// # Errors
    /// When a secret is too short or a key cannot be read, with what to do about it.
    pub fn authenticator(&self, admin_token: &str) -> anyhow::Result<Arc<Authenticator>> {
        let tokens = self.token_settings()?;
        let authenticator = Authenticator::new(admin_token, &tokens, self.anonymous_orders)?;
        Ok(Arc::new(authenticator))
    }
}

/// A secret kept in `data_dir/file`, generated (64 hex characters) and written readable by
/// its owner only when missing. Its path is logged and printed, never the secret.
///
/// # Errors
/// When the data dir cannot be read or written.
pub fn kept_secret(data_dir: &Path, file: &str, what: &str) -> anyhow::Result<String> {
    store_sqlite::create_private_dir(data_dir)
        .with_context(|| format!("create {}", data_dir.display()))?;
    let path = data_dir.join(file);
    if let Ok(kept) = std::fs::read_to_string(&path) {
        let kept = kept.trim().to_owned();
        if !kept.is_empty() {
            info!(path = %path.display(), "{what} read from the data dir");
            return Ok(kept);
        }
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    write_private(&path, &secret)?;
    println!("{what} generated and kept in {}", path.display());
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    // The mode above applies only to a file created now.
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .with_context(|| format!("make {} private", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// `orderflow token`: mints a customer token for local use.
#[derive(Clone, Debug, Args)]
pub struct TokenArgs {
    /// The customer's email; their orders are the ones placed under it.
    #[arg(long)]
    pub email: String,
    /// How long the token is valid, e.g. `1h`, `30m`, `7d`.
    #[arg(long, value_parser = parse_ttl, default_value = "1h")]
    pub ttl: Duration,
    /// Data directory of an embedded server, to read its JWT secret from.
    #[arg(long, env = "ORDERFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub identity: IdentitySettings,
}

/// Mints the token `args` asks for, with the secret from the settings or the data dir.
///
/// # Errors
/// When there is no secret to sign with, or the email is not one.
pub fn mint_token(args: &TokenArgs) -> anyhow::Result<String> {
    let email = Email::parse(&args.email).map_err(anyhow::Error::msg)?;
    let secret = match &args.identity.jwt_secret {
        Some(secret) => secret.clone(),
        None => std::fs::read_to_string(args.data_dir.join("jwt-secret"))
            .map(|secret| secret.trim().to_owned())
            .with_context(|| {
                format!(
                    "no JWT secret: set ORDERFLOW_JWT_SECRET (or --jwt-secret), or start the \
                     embedded server once so that {} exists; tokens of an identity provider \
                     are minted by it",
                    args.data_dir.join("jwt-secret").display()
                )
            })?,
    };
    let mint = Mint {
        email: &email,
        subject: None,
        issued_at: OffsetDateTime::now_utc(),
        ttl: args.ttl,
        issuer: args.identity.jwt_issuer.as_deref(),
        audience: args.identity.jwt_audience.as_deref(),
    };
    Ok(tokens::mint(&secret, &mint)?)
}

/// `500ms`, `30s`, `15m`, `1h`, `7d`: a lifetime, never zero.
///
/// # Errors
/// When the text is not a number with one of those units.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` needs a unit: ms, s, m, h or d"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 1h"))?;
    let lifetime = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        "h" => Duration::from_secs(number.saturating_mul(3600)),
        "d" => Duration::from_secs(number.saturating_mul(86_400)),
        _ => return Err(format!("`{text}`: the unit must be ms, s, m, h or d")),
    };
    if lifetime.is_zero() {
        return Err(format!("`{text}`: a lifetime cannot be zero"));
    }
    Ok(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifetimes_are_read_with_their_unit() {
        assert_eq!(parse_ttl("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_ttl("60").is_err());
        assert!(parse_ttl("0h").is_err());
        assert!(parse_ttl("1w").is_err());
    }

    #[test]
    fn the_secret_is_not_shown_when_the_settings_are_debugged() {
        let settings = IdentitySettings {
            jwt_secret: Some("s3cret-of-some-length".to_owned()),
            ..IdentitySettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn a_kept_secret_is_generated_once_then_read_back() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let first = kept_secret(dir.path(), "jwt-secret", "JWT secret").expect("generated");
        let again = kept_secret(dir.path(), "jwt-secret", "JWT secret").expect("read back");
        assert_eq!(first, again);
        assert!(first.len() >= tokens::MIN_SECRET_LEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("jwt-secret"))
                .expect("the file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
        }
    }
}
