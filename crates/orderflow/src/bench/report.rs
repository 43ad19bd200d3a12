//! What a run measured: counts, and latencies in HDR histograms (microseconds, 3 significant
//! digits), then the final report as text or JSON, with the bench's own cost.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The longest latency a histogram holds: ten minutes, in microseconds.
const MAX_MICROS: u64 = 600_000_000;

/// Counts and latencies, as the run goes.
pub(crate) struct Tally {
    pub(crate) accepted: u64,
    /// Refused POSTs by status (`422`, `503`, …), and `unreachable` for no answer.
    pub(crate) rejected: BTreeMap<String, u64>,
    /// Refusals the order was placed again after (`--retry-refused`), by status.
    pub(crate) retried: BTreeMap<String, u64>,
    pub(crate) completed: u64,
    pub(crate) cancelled: u64,
    /// Accepted orders whose end the bench did not see in time.
    pub(crate) unfinished: u64,
    /// Valid orders (ordinary, multi-item) that were cancelled all the same.
    pub(crate) valid_cancelled: u64,
    /// Orders meant to be cancelled (declined, more than the stock) that completed.
    pub(crate) invalid_completed: u64,
    /// POSTs answered `202`.
    pub(crate) post: Histogram<u64>,
    /// POSTs answered with a refusal (any other status).
    pub(crate) refused: Histogram<u64>,
    pub(crate) terminal: Histogram<u64>,
    pub(crate) accepted_to_terminal: Histogram<u64>,
    /// When each order was seen to end, since the run's start.
    pub(crate) ended_at: Vec<Duration>,
}

impl Tally {
    pub(crate) fn new() -> anyhow::Result<Self> {
        let histogram = || Histogram::new_with_max(MAX_MICROS, 3);
        Ok(Self {
            accepted: 0,
            rejected: BTreeMap::new(),
            retried: BTreeMap::new(),
            completed: 0,
            cancelled: 0,
            unfinished: 0,
            valid_cancelled: 0,
            invalid_completed: 0,
            post: histogram()?,
            refused: histogram()?,
            terminal: histogram()?,
            accepted_to_terminal: histogram()?,
            ended_at: Vec::new(),
        })
    }

    pub(crate) fn record(histogram: &mut Histogram<u64>, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS);
        histogram.saturating_record(micros.clamp(1, MAX_MICROS));
    }
}

/// Percentiles of one latency, in milliseconds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(histogram: &Histogram<u64>) -> Self {
        #[expect(clippy::cast_precision_loss, reason = "microseconds below 2^52")]
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            count: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.5)),
            p90_ms: ms(histogram.value_at_quantile(0.9)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// What the bench itself cost: so its share of the machine can be told from the server's.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Overhead {
    /// CPU seconds (user + system) this process used during the run; `None` where unknown.
    pub cpu_seconds: Option<f64>,
    /// CPU seconds per wall second: 1.0 is one core busy.
    pub cpu_share: Option<f64>,
    /// Events received on the order-updates stream.
    pub stream_messages: u64,
    /// Orders read one by one after the stream lagged or broke.
    pub order_reads: u64,
}

/// The final report of a run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    pub url: String,
    /// `closed (16 workers)` or `open (100/s)`.
    pub mode: String,
    pub elapsed_seconds: f64,
    pub accepted: u64,
    pub rejected: BTreeMap<String, u64>,
    /// Refusals after which the order was placed again (`--retry-refused`), by status; an
    /// order accepted in the end counts as accepted only.
    pub retried: BTreeMap<String, u64>,
    pub completed: u64,
    pub cancelled: u64,
    pub unfinished: u64,
    /// Valid orders (neither declined nor of more than the stock) that were cancelled: by a
    /// deadline, when a fault held the saga up too long.
    pub valid_cancelled: u64,
    /// Orders meant to be cancelled (declined, more than the stock) that completed.
    pub invalid_completed: u64,
    /// Sagas that ended (completed or cancelled) per second of the run.
    pub sagas_per_second: f64,
    /// How long orders were sent for (the run ends when every accepted order ended).
    pub load_seconds: f64,
    /// Sagas that ended while orders were being sent, per second of that time: what the
    /// server completes under the load, apart from what it drains after.
    pub sagas_per_second_during_load: f64,
    /// From the intended send time to the POST's `202`.
    pub post_latency: Latency,
    /// From the intended send time to a refusal (`503`, `422`, …).
    pub refused_latency: Latency,
    /// From the intended send time to the bench learning the order ended.
    pub terminal_latency: Latency,
    /// From the `202` to the bench learning the order ended.
    pub accepted_to_terminal_latency: Latency,
    pub overhead: Overhead,
}

impl Report {
    pub(crate) fn new(
        url: String,
        mode: String,
        (elapsed, load): (Duration, Duration),
        tally: &Tally,
        overhead: Overhead,
    ) -> Self {
        let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
        let load_seconds = load.as_secs_f64().max(f64::EPSILON);
        #[expect(clippy::cast_precision_loss, reason = "order counts below 2^52")]
        let ended = (tally.completed + tally.cancelled) as f64;
        #[expect(clippy::cast_precision_loss, reason = "order counts below 2^52")]
        let ended_during_load = tally.ended_at.iter().filter(|at| **at <= load).count() as f64;
        Self {
            url,
            mode,
            elapsed_seconds: seconds,
            accepted: tally.accepted,
            rejected: tally.rejected.clone(),
            retried: tally.retried.clone(),
            completed: tally.completed,
            cancelled: tally.cancelled,
            unfinished: tally.unfinished,
            valid_cancelled: tally.valid_cancelled,
            invalid_completed: tally.invalid_completed,
            sagas_per_second: ended / seconds,
            load_seconds: load.as_secs_f64(),
            sagas_per_second_during_load: ended_during_load / load_seconds,
            post_latency: Latency::of(&tally.post),
            refused_latency: Latency::of(&tally.refused),
            terminal_latency: Latency::of(&tally.terminal),
            accepted_to_terminal_latency: Latency::of(&tally.accepted_to_terminal),
            overhead,
        }
    }

    /// Whether every accepted order was seen to end.
    pub fn every_order_ended(&self) -> bool {
        self.unfinished == 0 && self.accepted == self.completed + self.cancelled
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "orderflow bench against {} — {}, {:.1} s",
            self.url, self.mode, self.elapsed_seconds
        )?;
        writeln!(f, "accepted   {}", self.accepted)?;
        let rejected: Vec<String> = self
            .rejected
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        writeln!(
            f,
            "rejected   {} ({})",
            self.rejected.values().sum::<u64>(),
            rejected.join(", ")
        )?;
        if !self.retried.is_empty() {
            let retried: Vec<String> = self
                .retried
                .iter()
                .map(|(s, n)| format!("{s}: {n}"))
                .collect();
            writeln!(
                f,
                "retried    {} refusals, placed again ({})",
                self.retried.values().sum::<u64>(),
                retried.join(", ")
            )?;
        }
        writeln!(f, "completed  {}", self.completed)?;
        writeln!(f, "cancelled  {}", self.cancelled)?;
        writeln!(f, "unfinished {}", self.unfinished)?;
        if self.valid_cancelled + self.invalid_completed > 0 {
            writeln!(
                f,
                "unexpected {} valid orders cancelled, {} invalid orders completed",
                self.valid_cancelled, self.invalid_completed
            )?;
        }
        writeln!(
            f,
            "sagas/s    {:.1} ({:.1} during the {:.1} s of load)",
            self.sagas_per_second, self.sagas_per_second_during_load, self.load_seconds
        )?;
        writeln!(f, "latency (ms)             p50      p90      p99      max")?;
        for (name, latency) in [
            ("POST accepted", &self.post_latency),
            ("POST refused", &self.refused_latency),
            ("POST→terminal", &self.terminal_latency),
            ("accepted→terminal", &self.accepted_to_terminal_latency),
        ] {
            if latency.count == 0 {
                continue;
            }
            writeln!(
                f,
                "{name:<19} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
                latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.max_ms
            )?;
        }
        let cpu = match (self.overhead.cpu_seconds, self.overhead.cpu_share) {
            (Some(seconds), Some(share)) => {
                format!("{seconds:.2} CPU s ({:.0} % of a core)", share * 100.0)
            }
            _ => "CPU time unknown".to_owned(),
        };
        write!(
            f,
            "bench overhead: {cpu}, {} stream messages, {} order reads",
            self.overhead.stream_messages, self.overhead.order_reads
        )
    }
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat` (Linux).
pub(crate) fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after its closing ')'.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel reports them in USER_HZ, 100 per second on Linux.
    #[expect(clippy::cast_precision_loss, reason = "ticks below 2^52")]
    Some(ticks as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_used_some_cpu_time() {
        let spent = cpu_seconds().expect("linux reports CPU time");
        assert!(spent >= 0.0);
    }

    #[test]
    fn a_report_counts_ended_sagas_per_second() -> anyhow::Result<()> {
        let mut tally = Tally::new()?;
        tally.accepted = 4;
        tally.completed = 3;
        tally.cancelled = 1;
        tally.ended_at = [200, 900, 1100, 1900].map(Duration::from_millis).to_vec();
        Tally::record(&mut tally.post, Duration::from_millis(5));
        Tally::record(&mut tally.refused, Duration::from_millis(2));
        let overhead = Overhead {
            cpu_seconds: None,
            cpu_share: None,
            stream_messages: 0,
            order_reads: 0,
        };
        let report = Report::new(
            "u".into(),
            "m".into(),
            (Duration::from_secs(2), Duration::from_secs(1)),
            &tally,
            overhead,
        );
        assert!((report.sagas_per_second - 2.0).abs() < 1e-9);
        assert!(
            (report.sagas_per_second_during_load - 2.0).abs() < 1e-9,
            "2 ended during the 1 s of load"
        );
        assert!(report.every_order_ended());
        assert!((report.post_latency.p50_ms - 5.0).abs() < 0.1);
        assert!((report.refused_latency.max_ms - 2.0).abs() < 0.1);
        assert_eq!(report.refused_latency.count, 1);
        Ok(())
    }
}
