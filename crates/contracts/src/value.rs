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
mod tests {
    use super::*;

    #[test]
    fn quantities_outside_one_to_a_thousand_are_rejected() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(1001).is_err());
        assert_eq!(Quantity::new(1000).map(Quantity::get), Ok(1000));
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        for bad in [
            "", "a", "@b.c", "a@b", "a@.b", "a@b.", "a b@c.d", "a@b..c", "a@b@c.d",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            Email::parse("Test@Example.com").map(|e| e.to_string()),
            Ok("test@example.com".into())
        );
    }

    #[test]
    fn emails_with_control_or_invisible_formatting_characters_are_refused() {
        for bad in [
            "a\u{202E}moc.elpmaxe@b.co",
            "ad\u{200B}a@example.com",
            "ada@exa\u{2066}mple.com",
            "ada\u{0}@example.com",
            "ada@example.com\u{7}",
            "\u{FEFF}ada@example.com",
        ] {
            let message = Email::parse(bad).expect_err(bad);
            assert!(
                !message.chars().any(is_hidden),
                "the message quotes a hidden character: {message:?}"
            );
        }
    }

    #[test]
    fn an_error_quotes_a_long_input_only_in_part() {
        let message = Sku::parse(&"x".repeat(50_000)).expect_err("too long");
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("49936 more characters"), "{message}");
        assert_eq!(shown("plain"), "plain");
    }

    #[test]
    fn product_ids_and_emails_are_held_to_their_lengths() {
        assert!(Sku::parse(&"p".repeat(Sku::MAX_LEN)).is_ok());
        assert!(Sku::parse(&"p".repeat(Sku::MAX_LEN + 1)).is_err());
        let local = "a".repeat(Email::MAX_LEN - "@b.co".len());
        assert!(Email::parse(&format!("{local}@b.co")).is_ok());
        assert!(Email::parse(&format!("{local}a@b.co")).is_err());
    }

    #[test]
    fn redaction_keeps_only_the_first_letter_and_the_domain() {
        let email = Email::parse("test@example.com").expect("a valid email");
        assert_eq!(email.redacted(), "t***@example.com");
    }

    #[test]
    fn an_order_id_reads_back_from_its_text_and_anything_else_is_refused() {
        let id = OrderId::new(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001));
        assert_eq!(id.to_string().parse::<OrderId>(), Ok(id));
        assert_eq!(
            "order-1".parse::<OrderId>(),
            Err("`order-1` is not an order id".to_owned())
        );
    }

    #[test]
    fn amounts_in_one_currency_add_up_and_multiply() {
        let price = Money::new(2_599, "USD");
        assert_eq!(price.checked_mul(3), Ok(Money::new(7_797, "USD")));
        assert_eq!(
            price.checked_add(&Money::new(1, "USD")),
            Ok(Money::new(2_600, "USD"))
        );
        assert_eq!(price.checked_mul(0), Ok(Money::new(0, "USD")));
    }

    #[test]
    fn amounts_that_overflow_are_an_error_rather_than_a_wrapped_number() {
        let huge = Money::new(i64::MAX / 2 + 1, "USD");
        assert_eq!(huge.checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(huge.checked_add(&huge), Err(MoneyError::Overflow));
        assert_eq!(
            Money::new(i64::MIN, "USD").checked_add(&Money::new(-1, "USD")),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn amounts_in_different_currencies_are_not_added() {
        assert_eq!(
            Money::new(100, "USD").checked_add(&Money::new(100, "EUR")),
            Err(MoneyError::CurrencyMismatch {
                left: "USD".into(),
                right: "EUR".into()
            })
        );
    }

    #[test]
    fn money_shows_as_a_decimal_with_its_currency() {
        assert_eq!(Money::new(12_995, "EUR").to_string(), "129.95 EUR");
    }

    #[test]
    fn minor_units_format_with_two_places() {
        assert_eq!(format_minor(123_456), "1234.56");
        assert_eq!(format_minor(5), "0.05");
        assert_eq!(format_minor(-250), "-2.50");
    }
}
