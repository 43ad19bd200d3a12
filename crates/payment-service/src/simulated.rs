//! A payment gateway that runs in-process, for the embedded mode and for tests: test card
//! tokens in the style of the big processors, a configurable latency and a configurable rate
//! of transient failures.
//!
//! Test tokens: [`DECLINED_TOKEN`] is always declined; [`HELD_TOKEN`] gets no answer until a
//! configured time after the gateway first saw the charge (each call until then fails as
//! unavailable, and the payment service retries), then it is captured: a payment that answers
//! after the saga's deadline, on demand. Any other token is captured.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use contracts::value::Money;
use rand::Rng as _;
use tokio::time::Instant;

use crate::ports::{ChargeOutcome, GatewayUnavailable, PaymentGateway};

/// The token that is always declined.
pub const DECLINED_TOKEN: &str = "tok_chargeDeclined";

/// The token whose charge gets no answer for [`SimulatedGatewaySettings::hold`], then is
/// captured.
pub const HELD_TOKEN: &str = "tok_chargeHeld";

/// How the simulated gateway behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimulatedGatewaySettings {
    /// How long each call takes.
    pub latency: Duration,
    /// The share of calls, from 0 to 1, that fail without an answer.
    pub transient_failure_rate: f64,
    /// How long a charge with [`HELD_TOKEN`] goes unanswered after the gateway first saw it.
    pub hold: Duration,
}

impl Default for SimulatedGatewaySettings {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            transient_failure_rate: 0.0,
            hold: Duration::from_secs(10),
        }
    }
}

/// The simulated gateway. Like a real one, it answers a repeated idempotency key with the
/// first answer instead of charging again.
#[derive(Debug, Default)]
pub struct SimulatedGateway {
    settings: SimulatedGatewaySettings,
    answered: Mutex<HashMap<String, ChargeOutcome>>,
    /// When each held charge was first asked for, by idempotency key.
    held_since: Mutex<HashMap<String, Instant>>,
}

impl SimulatedGateway {
    pub fn new(settings: SimulatedGatewaySettings) -> Self {
        Self {
            settings,
            answered: Mutex::default(),
            held_since: Mutex::default(),
        }
    }

    /// Whether the held charge under `key` is still unanswered.
    fn still_held(&self, key: &str) -> bool {
        let mut held_since = self
            .held_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let since = *held_since
            .entry(key.to_owned())
            .or_insert_with(Instant::now);
        since.elapsed() < self.settings.hold
    }

    async fn call(&self) -> Result<(), GatewayUnavailable> {
        if !self.settings.latency.is_zero() {
            tokio::time::sleep(self.settings.latency).await;
        }
        if rand::rng().random_bool(self.settings.transient_failure_rate.clamp(0.0, 1.0)) {
            return Err(GatewayUnavailable("simulated transient failure".to_owned()));
        }
        Ok(())
    }

    fn remember(&self, key: &str, outcome: ChargeOutcome) -> ChargeOutcome {
        let mut answered = self
            .answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        answered.entry(key.to_owned()).or_insert(outcome).clone()
    }
}

#[async_trait]
impl PaymentGateway for SimulatedGateway {
    async fn charge(
        &self,
        idempotency_key: &str,
        _amount: &Money,
        token: &str,
    ) -> Result<ChargeOutcome, GatewayUnavailable> {
        self.call().await?;
        if token == HELD_TOKEN && self.still_held(idempotency_key) {
            return Err(GatewayUnavailable(
                "the charge is held: no answer yet".to_owned(),
            ));
        }
        let outcome = if token == DECLINED_TOKEN {
            ChargeOutcome::Declined {
                reason: "card declined".to_owned(),
            }
        } else {
            ChargeOutcome::Captured
        };
        Ok(self.remember(idempotency_key, outcome))
    }

    async fn refund(
        &self,
        idempotency_key: &str,
        _amount: &Money,
    ) -> Result<(), GatewayUnavailable> {
        self.call().await?;
        self.remember(idempotency_key, ChargeOutcome::Captured);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price() -> Money {
        Money::new(100, "USD")
    }

    #[tokio::test]
    async fn the_declined_test_token_is_declined_and_others_are_captured() {
        let gateway = SimulatedGateway::default();
        let declined = gateway
            .charge("order-1", &price(), DECLINED_TOKEN)
            .await
            .expect("answered");
        assert!(
            matches!(declined, ChargeOutcome::Declined { .. }),
            "{declined:?}"
        );
        assert_eq!(
            gateway
                .charge("order-2", &price(), "tok_visa")
                .await
                .expect("answered"),
            ChargeOutcome::Captured
        );
    }

    #[tokio::test]
    async fn a_repeated_idempotency_key_gets_the_first_answer() {
        let gateway = SimulatedGateway::default();
        gateway
            .charge("order-1", &price(), DECLINED_TOKEN)
            .await
            .expect("answered");
        let again = gateway
            .charge("order-1", &price(), "tok_visa")
            .await
            .expect("answered");
        assert!(matches!(again, ChargeOutcome::Declined { .. }), "{again:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn every_call_takes_the_configured_latency_before_it_answers() {
        let latency = Duration::from_millis(700);
        let gateway = SimulatedGateway::new(SimulatedGatewaySettings {
            latency,
            ..SimulatedGatewaySettings::default()
        });
        let started = tokio::time::Instant::now();

        let charged = gateway.charge("order-1", &price(), "tok_visa").await;
        let charged_after = started.elapsed();
        gateway.refund("order-1", &price()).await.expect("refunded");

        assert_eq!(charged.expect("answered"), ChargeOutcome::Captured);
        assert_eq!(charged_after, latency);
        assert_eq!(started.elapsed(), latency * 2, "a refund takes as long");
    }

    #[tokio::test]
    async fn a_failure_rate_of_one_fails_every_call_without_an_answer() {
        let gateway = SimulatedGateway::new(SimulatedGatewaySettings {
            transient_failure_rate: 1.0,
            ..SimulatedGatewaySettings::default()
        });
        assert!(
            gateway
                .charge("order-1", &price(), "tok_visa")
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_charge_is_unanswered_until_its_hold_has_passed_then_captured() {
        let hold = Duration::from_millis(500);
        let gateway = SimulatedGateway::new(SimulatedGatewaySettings {
            hold,
            ..SimulatedGatewaySettings::default()
        });
        let amount = price();
        let charge = || gateway.charge("order-1", &amount, HELD_TOKEN);

        let first = charge().await;
        tokio::time::advance(hold - Duration::from_millis(1)).await;
        let just_before = charge().await;
        let other_order = gateway.charge("order-2", &price(), HELD_TOKEN).await;
        tokio::time::advance(Duration::from_millis(1)).await;
        let after = charge().await;

        assert!(first.is_err() && just_before.is_err(), "held");
        assert!(
            other_order.is_err(),
            "each charge is held from its own first call"
        );
        assert_eq!(after.expect("answered"), ChargeOutcome::Captured);
    }
}
