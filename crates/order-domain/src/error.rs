use contracts::value::MoneyError;

use crate::OrderStatus;

/// A business rejection of a command. Never an infrastructure failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("the order has already been placed")]
    AlreadyPlaced,
    #[error("the order does not exist")]
    NotPlaced,
    #[error("an order needs at least one item")]
    NoItems,
    #[error("the order's total cannot be computed: {0}")]
    Total(#[from] MoneyError),
    #[error("an order in state {from} cannot {action}")]
    IllegalTransition {
        from: OrderStatus,
        action: &'static str,
    },
}
