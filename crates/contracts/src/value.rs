//! Validated value types shared by the domains. Their fields are private: a value that exists
//! is valid.
//!
//! Message payloads hold them: `OrderId`, `Sku`, `Quantity` and `Email` read and write the very
//! JSON string or number they wrap, and reading one checks it. `Money` has no JSON form; its two
//! parts travel as separate fields.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Identity of an order. On the wire it is its UUID.
///
/// This crate never makes one up: the order service draws the UUID (a v7) and wraps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(Uuid);

impl OrderId {
    pub const fn new(id: Uuid) -> Self {
        Self(id)
    }

    pub const fn as_uuid(self) -> Uuid {
        self.0
    }
}

impl FromStr for OrderId {
    type Err = String;

    /// # Errors
    /// When `raw` is not a UUID.
    fn from_str(raw: &str) -> Result<Self, String> {
        raw.parse()
            .map(Self)
            .map_err(|_| format!("`{}` is not an order id", shown(raw)))
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A product's stock-keeping unit, e.g. `product-001`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    /// The longest product id, in bytes.
    pub const MAX_LEN: usize = 64;

    /// # Errors
    /// When empty, longer than [`Sku::MAX_LEN`], or not made of ASCII letters, digits, `-` and
    /// `_`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!("`{}` is not a valid product id", shown(raw)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<Sku> for String {
    fn from(sku: Sku) -> String {
        sku.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How many units of a product one order line asks for: 1 to 1000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    /// The most units one line may ask for.
    pub const MAX: u32 = 1000;

    /// # Errors
    /// When `units` is not in `1..=Quantity::MAX`.
    pub fn new(units: u32) -> Result<Self, String> {
        if (1..=Self::MAX).contains(&units) {
            Ok(Self(units))
        } else {
            Err(format!(
                "quantity must be between 1 and {}, got {units}",
                Self::MAX
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Quantity {
    type Error = String;
    fn try_from(units: u32) -> Result<Self, String> {
        Self::new(units)
    }
}

impl From<Quantity> for u32 {
    fn from(quantity: Quantity) -> u32 {
        quantity.0
    }
}

/// An amount of money in minor units (cents) of a currency. On the wire its two parts travel
/// as separate fields (`total_minor` and `currency`), so it has no JSON form of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Money {
    minor: i64,
    currency: String,
}

impl Money {
    pub fn new(minor: i64, currency: impl Into<String>) -> Self {
        Self {
            minor,
            currency: currency.into(),
        }
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// The sum of two amounts in one currency.
    ///
    /// # Errors
    /// [`MoneyError::CurrencyMismatch`] when the currencies differ, [`MoneyError::Overflow`]
    /// when the sum does not fit.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency.clone(),
                right: other.currency.clone(),
            });
        }
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency.clone()))
    }

    /// The amount `factor` times over, e.g. a unit price times a line's quantity.
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] when the product does not fit.
    pub fn checked_mul(&self, factor: u32) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_mul(i64::from(factor))
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency.clone()))
    }
}

/// Arithmetic on [`Money`] that has no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("the amount is too large")]
    Overflow,
    #[error("amounts in {left} and {right} cannot be added")]
    CurrencyMismatch { left: String, right: String },
}

/// Formats minor units as a decimal with two places: `1250` is `12.50`.
pub fn format_minor(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", format_minor(self.minor), self.currency)
    }
}

/// A customer's email address, checked for a plausible shape (one `@`, a dotted domain) and
/// for characters that would change how it reads: control characters, and the invisible ones
/// that reorder or hide text (bidirectional overrides such as U+202E, zero-width characters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// The longest address, in bytes (RFC 5321's limit on a path, less its angle brackets).
    pub const MAX_LEN: usize = 254;

    /// # Errors
    /// When the address is longer than [`Email::MAX_LEN`], has a control or invisible
    /// formatting character, or has no local part, no `@`, or no dotted domain.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let invalid = || format!("`{}` is not a valid email address", shown(raw));
        if raw.chars().any(is_hidden) {
            return Err(format!(
                "`{}` is not a valid email address: it has control or invisible formatting \
                 characters",
                shown(raw)
            ));
        }
        let trimmed = raw.trim();
        if trimmed.len() > Self::MAX_LEN || trimmed.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let (local, domain) = trimmed.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(trimmed.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address with its local part hidden but for its first letter, for logs:
    /// `a***@example.com`.
    pub fn redacted(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or_default();
        let first = local.chars().next().map(String::from).unwrap_or_default();
        format!("{first}***@{domain}")
    }
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Control characters, and the invisible characters that reorder or hide text: the
/// bidirectional marks, embeddings, overrides and isolates, and zero-width characters.
fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// The longest part of a client's input an error message quotes, in characters.
const SHOWN_CHARS: usize = 64;

/// `raw` as an error message quotes it: hidden characters escaped (`\u{202e}`), so a message
/// reads as it is, and at most [`SHOWN_CHARS`] characters of it, so a huge input is not sent
/// back whole.
pub fn shown(raw: &str) -> String {
    let mut shown = String::new();
    for (count, c) in raw.chars().enumerate() {
        if count == SHOWN_CHARS {
            let rest = raw.chars().count() - SHOWN_CHARS;
            shown.push_str(&format!("… ({rest} more characters)"));
            break;
        }
        if is_hidden(c) {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    shown
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
