//! Unit tests of the value types.

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
