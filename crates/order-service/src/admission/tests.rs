use std::time::Duration;

use tokio::time::Instant;

use super::gate::Gate;
use super::*;

fn fixed(limit: u64) -> AdmissionSettings {
    AdmissionSettings {
        limit: InFlightLimit::Fixed(limit),
        target: Duration::from_secs(3),
    }
}

fn auto() -> AdmissionSettings {
    AdmissionSettings {
        limit: InFlightLimit::Auto,
        target: Duration::from_secs(3),
    }
}

fn load(in_flight: u64, ended_per_second: f64) -> Load {
    Load {
        in_flight,
        ended_per_second,
    }
}

#[test]
fn an_order_is_admitted_below_the_limit_and_refused_at_it() {
    assert_eq!(fixed(20).decide(load(19, 0.0)), Ok(()));
    let refused = fixed(20).decide(load(20, 0.0)).expect_err("at the limit");
    assert_eq!((refused.in_flight, refused.limit), (20, 20));
    assert_eq!(
        refused.to_string(),
        "overloaded: 20 orders in flight, limit 20"
    );
}

#[test]
fn the_automatic_limit_is_what_ends_within_the_target_time_and_never_below_the_floor() {
    assert_eq!(auto().limit(180.0), 540);
    assert_eq!(auto().limit(0.0), MIN_AUTO_LIMIT);
    assert_eq!(auto().limit(1.5), MIN_AUTO_LIMIT);
    assert_eq!(fixed(20).limit(180.0), 20, "a fixed limit ignores the rate");
    assert_eq!(auto().decide(load(539, 180.0)), Ok(()));
    assert!(auto().decide(load(540, 180.0)).is_err());
}

#[test]
fn the_default_target_is_a_tenth_of_the_shortest_step_deadline() {
    let settings = AdmissionSettings::for_deadlines(&SagaDeadlines {
        stock: Duration::from_secs(30),
        payment: Duration::from_secs(20),
    });
    assert_eq!(settings.limit, InFlightLimit::Auto);
    assert_eq!(settings.target, Duration::from_secs(2));
}

#[test]
fn retry_after_is_the_time_the_excess_takes_to_end_in_whole_seconds_from_1_to_30() {
    let retry = |in_flight, rate| {
        fixed(100)
            .decide(load(in_flight, rate))
            .expect_err("refused")
            .retry_after
    };
    // 1 must end before one more fits: at 100/s, at once; still 1 s.
    assert_eq!(retry(100, 100.0), Duration::from_secs(1));
    // 251 must end at 50/s: 5.02 s, rounded up.
    assert_eq!(retry(350, 50.0), Duration::from_secs(6));
    assert_eq!(retry(100_000, 1.0), MAX_RETRY_AFTER);
    // Nothing ends: the target time.
    assert_eq!(retry(150, 0.0), Duration::from_secs(3));
}

#[test]
fn a_limit_is_auto_or_a_positive_number() {
    assert_eq!("auto".parse(), Ok(InFlightLimit::Auto));
    assert_eq!(" AUTO ".parse(), Ok(InFlightLimit::Auto));
    assert_eq!("20".parse(), Ok(InFlightLimit::Fixed(20)));
    for invalid in ["0", "-3", "many", ""] {
        assert!(invalid.parse::<InFlightLimit>().is_err(), "{invalid}");
    }
    assert_eq!(InFlightLimit::Fixed(20).to_string(), "20");
    assert_eq!(InFlightLimit::Auto.to_string(), "auto");
}

#[test]
fn the_completion_rate_is_measured_over_the_last_window() {
    let start = Instant::now();
    let at = |millis| start + Duration::from_millis(millis);
    let mut rate = CompletionRate::default();
    assert!(rate.per_second().abs() < f64::EPSILON, "no sample yet");
    rate.record(at(0), 0);
    assert!(rate.per_second().abs() < f64::EPSILON, "one sample");
    rate.record(at(250), 50);
    assert!((rate.per_second() - 200.0).abs() < 1e-9);
    // 100 more over the next 3.75 s; the window keeps the last 2 s and one sample before.
    for step in 2..=16 {
        rate.record(at(step * 250), 50 + 100 * (step - 1) / 15);
    }
    let per_second = rate.per_second();
    assert!((25.0..=30.0).contains(&per_second), "{per_second}");
    // Idle since: the rate falls to nothing once the window holds no ending.
    for step in 17..=26 {
        rate.record(at(step * 250), 150);
    }
    assert!(rate.per_second().abs() < f64::EPSILON);
}

#[test]
fn an_admitted_order_holds_its_place_until_it_is_placed_or_given_up() {
    let gate = Gate::new(fixed(2));
    let first = gate.admit().expect("room for two");
    let second = gate.admit().expect("room for one more");
    assert!(gate.admit().is_err(), "two are being placed");
    drop(second);
    assert_eq!(
        gate.status().in_flight,
        1,
        "a failed placement gives its place back"
    );
    first.placed();
    assert_eq!(gate.status().in_flight, 1, "a placed order stays in flight");
    let _third = gate.admit().expect("room for one more");
    assert!(gate.admit().is_err());
    gate.ended();
    assert_eq!(gate.status().in_flight, 1);
}

#[test]
fn a_sample_replaces_the_estimate_with_the_store_s_count_and_keeps_orders_being_placed() {
    let gate = Gate::new(fixed(10));
    let placing = gate.admit().expect("room");
    let now = Instant::now();
    // Another replica placed 8 orders: the store counts them.
    assert_eq!(gate.sample(Some(8), now).in_flight, 9);
    assert!(gate.admit().is_ok());
    // The count cannot be read: the estimate stands.
    assert_eq!(
        gate.sample(None, now + Duration::from_millis(250))
            .in_flight,
        9
    );
    drop(placing);
    // More sagas ended here than this process placed: never below zero.
    let gate = Gate::new(fixed(10));
    gate.ended();
    assert_eq!(gate.status().in_flight, 0);
}

#[test]
fn sagas_that_end_raise_the_rate_and_with_it_the_automatic_limit() {
    let gate = Gate::new(auto());
    let start = Instant::now();
    gate.sample(Some(0), start);
    for _ in 0..100 {
        gate.ended();
    }
    let status = gate.sample(Some(0), start + Duration::from_millis(500));
    assert!((status.ended_per_second - 200.0).abs() < 1e-9);
    assert_eq!(status.limit, 600);
    assert_eq!(
        status.to_string(),
        "0 orders in flight, limit 600, 200.0 sagas ended/s"
    );
}
