//! The fault-injection setting, and its one-line form:
//! `seed=7,duplicate=0.3,republish=0.1,reorder=8:20ms,delay=0.2:300ms,drop_ack=0.1`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng as _;

/// The longest a delivery may be held back: far below the SQL queue's 60 s lease, so a held
/// delivery is never handed to another consumer meanwhile.
const LONGEST_DELAY: Duration = Duration::from_secs(10);
/// The widest reordering window.
const WIDEST_WINDOW: usize = 256;
/// How long a delivery waits for its reordering window to fill when no linger is given.
const DEFAULT_LINGER: Duration = Duration::from_millis(20);

/// Which faults to inject, and how often. Shares are probabilities from 0 to 1, drawn for
/// each delivery (or message published) on its own.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Faults {
    /// Fixes every decision; printed at start so a run can be repeated.
    pub seed: u64,
    /// Share of deliveries handed to a handler a second time (a copy, settled without the
    /// transport, handed out up to `max_delay` later by this or a sibling consumer).
    pub duplicate: f64,
    /// Share of published messages published a second time. RabbitMQ delivers both copies;
    /// the SQL queue keeps one, by design.
    pub republish: f64,
    /// Deliveries are held back until this many are ready (or `reorder_linger` passed) and
    /// handed out shuffled; 0 or 1 keeps their order.
    pub reorder_window: usize,
    /// How long a ready delivery waits for its window to fill.
    pub reorder_linger: Duration,
    /// Share of deliveries held back for a random time up to `max_delay`.
    pub delay: f64,
    pub max_delay: Duration,
    /// Share of acknowledgements replaced by an immediate redelivery through the transport,
    /// as if the ack had been lost. Below 1, or nothing would ever be acknowledged.
    pub drop_ack: f64,
}

impl Faults {
    /// No faults: every delivery passes as it came.
    pub fn none(seed: u64) -> Self {
        Self {
            seed,
            duplicate: 0.0,
            republish: 0.0,
            reorder_window: 0,
            reorder_linger: DEFAULT_LINGER,
            delay: 0.0,
            max_delay: Duration::ZERO,
            drop_ack: 0.0,
        }
    }

    fn validate(self) -> Result<Self, InvalidFaults> {
        for (name, share) in [
            ("duplicate", self.duplicate),
            ("republish", self.republish),
            ("delay", self.delay),
            ("drop_ack", self.drop_ack),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(InvalidFaults(format!(
                    "{name} must be from 0 to 1, not {share}"
                )));
            }
        }
        if self.drop_ack >= 1.0 {
            return Err(InvalidFaults(
                "drop_ack must be below 1, or no message is ever acknowledged".to_owned(),
            ));
        }
        if self.max_delay > LONGEST_DELAY || self.reorder_linger > LONGEST_DELAY {
            return Err(InvalidFaults(format!(
                "delays are at most {LONGEST_DELAY:?}, well inside a delivery's lease"
            )));
        }
        if self.reorder_window > WIDEST_WINDOW {
            return Err(InvalidFaults(format!(
                "the reorder window is at most {WIDEST_WINDOW}"
            )));
        }
        Ok(self)
    }
}

/// A fault-injection setting that cannot be used, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault injection setting: {0}")]
pub struct InvalidFaults(String);

impl FromStr for Faults {
    type Err = InvalidFaults;

    /// Reads `key=value` pairs separated by commas; a fault not named is off, and a missing
    /// seed is drawn at random (and shown by [`Display`](fmt::Display), to repeat the run).
    fn from_str(raw: &str) -> Result<Self, InvalidFaults> {
        let mut faults = Faults::none(rand::rng().random());
        for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| InvalidFaults(format!("`{pair}` is not key=value")))?;
            let (value, duration) = match value.split_once(':') {
                Some((value, duration)) => (value, Some(parse_duration(duration)?)),
                None => (value, None),
            };
            let takes_duration = matches!(key, "delay" | "reorder");
            if duration.is_some() && !takes_duration {
                return Err(InvalidFaults(format!("`{key}` takes no duration")));
            }
            match key {
                "seed" => faults.seed = parse(key, value)?,
                "duplicate" => faults.duplicate = parse(key, value)?,
                "republish" => faults.republish = parse(key, value)?,
                "drop_ack" => faults.drop_ack = parse(key, value)?,
                "delay" => {
                    faults.delay = parse(key, value)?;
                    faults.max_delay = duration.ok_or_else(|| {
                        InvalidFaults("delay needs its longest time, e.g. delay=0.2:300ms".into())
                    })?;
                }
                "reorder" => {
                    faults.reorder_window = parse(key, value)?;
                    faults.reorder_linger = duration.unwrap_or(DEFAULT_LINGER);
                }
                other => return Err(InvalidFaults(format!("unknown fault `{other}`"))),
            }
        }
        faults.validate()
    }
}

impl fmt::Display for Faults {
    /// The one-line form, which [`FromStr`] reads back to the same setting.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed={},duplicate={},republish={},reorder={}:{}ms,delay={}:{}ms,drop_ack={}",
            self.seed,
            self.duplicate,
            self.republish,
            self.reorder_window,
            self.reorder_linger.as_millis(),
            self.delay,
            self.max_delay.as_millis(),
            self.drop_ack
        )
    }
}

fn parse<T: FromStr>(key: &str, value: &str) -> Result<T, InvalidFaults> {
    value
        .parse()
        .map_err(|_| InvalidFaults(format!("`{value}` is not a valid {key}")))
}

/// `300ms` or `2s`.
fn parse_duration(raw: &str) -> Result<Duration, InvalidFaults> {
    let invalid = || InvalidFaults(format!("`{raw}` is not a duration such as 300ms or 2s"));
    if let Some(millis) = raw.strip_suffix("ms") {
        millis
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| invalid())
    } else if let Some(seconds) = raw.strip_suffix('s') {
        seconds
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| invalid())
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_line_form_is_read_and_written_back_the_same() {
        let faults: Faults = "seed=7,duplicate=0.3,reorder=8,delay=0.2:300ms,drop_ack=0.1"
            .parse()
            .expect("valid");

        assert_eq!(
            faults,
            Faults {
                seed: 7,
                duplicate: 0.3,
                republish: 0.0,
                reorder_window: 8,
                reorder_linger: DEFAULT_LINGER,
                delay: 0.2,
                max_delay: Duration::from_millis(300),
                drop_ack: 0.1,
            }
        );
        assert_eq!(faults.to_string().parse::<Faults>(), Ok(faults));
    }

    #[test]
    fn a_missing_seed_is_drawn_and_shown() {
        let first: Faults = "duplicate=0.5".parse().expect("valid");
        let second: Faults = "duplicate=0.5".parse().expect("valid");

        assert_ne!(first.seed, second.seed, "two draws of 64 bits collided");
        assert!(
            first
                .to_string()
                .starts_with(&format!("seed={},", first.seed))
        );
    }

    #[test]
    fn settings_that_cannot_work_are_refused_with_a_reason() {
        for (raw, reason) in [
            ("duplicate=2", "from 0 to 1"),
            ("drop_ack=1", "below 1"),
            ("delay=0.5", "longest time"),
            ("delay=0.5:1m", "not a duration"),
            ("delay=0.5:11s", "at most"),
            ("reorder=1000", "at most 256"),
            ("seed=x", "not a valid seed"),
            ("duplicate=0.1:5ms", "takes no duration"),
            ("lose=0.1", "unknown fault"),
            ("seed", "not key=value"),
        ] {
            let error = raw.parse::<Faults>().expect_err(raw).to_string();
            assert!(error.contains(reason), "{raw}: {error}");
        }
    }
}
