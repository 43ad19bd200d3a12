//! Why an order was cancelled, in the classes analytics counts.

/// The class of a cancellation, read from `order.cancelled`'s reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CancelClass {
    /// A product did not have the stock asked for.
    Stock,
    /// The payment was declined.
    Payment,
    /// A step of the saga was not answered before its deadline.
    Timeout,
    /// The customer (or the admin) cancelled.
    Customer,
    /// A reason this build does not know (a newer build's, or an old one's).
    Other,
}

impl CancelClass {
    pub const ALL: [CancelClass; 5] = [
        CancelClass::Stock,
        CancelClass::Payment,
        CancelClass::Timeout,
        CancelClass::Customer,
        CancelClass::Other,
    ];

    /// The class of `reason`, by the wording the saga gives each (order-domain's `react`):
    /// the reason is the only place the event says why.
    pub fn of(reason: &str) -> CancelClass {
        if reason.starts_with("insufficient stock") {
            CancelClass::Stock
        } else if reason.starts_with("payment failed") {
            CancelClass::Payment
        } else if reason.starts_with("timed out") {
            CancelClass::Timeout
        } else if reason.starts_with("cancelled by the customer") {
            CancelClass::Customer
        } else {
            CancelClass::Other
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CancelClass::Stock => "stock",
            CancelClass::Payment => "payment",
            CancelClass::Timeout => "timeout",
            CancelClass::Customer => "customer",
            CancelClass::Other => "other",
        }
    }

    pub fn from_name(name: &str) -> Option<CancelClass> {
        CancelClass::ALL
            .into_iter()
            .find(|class| class.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_the_saga_gives_has_its_class() {
        let cases = [
            (
                "insufficient stock for product-001: requested 5, available 2",
                CancelClass::Stock,
            ),
            ("payment failed: card declined", CancelClass::Payment),
            (
                "timed out waiting for the stock reservation",
                CancelClass::Timeout,
            ),
            ("timed out waiting for the payment", CancelClass::Timeout),
            ("cancelled by the customer", CancelClass::Customer),
            ("something new", CancelClass::Other),
        ];
        for (reason, class) in cases {
            assert_eq!(CancelClass::of(reason), class, "{reason}");
            assert_eq!(CancelClass::from_name(class.name()), Some(class));
        }
    }
}
