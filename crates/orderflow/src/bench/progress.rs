//! The progress bar: accepted and ended orders per second, refreshed every second, on stderr
//! (indicatif draws nothing when stderr is not a terminal).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::load::Run;

/// Shows the progress of `run` until the returned task is aborted.
pub(crate) fn show(run: Arc<Run>) -> tokio::task::JoinHandle<()> {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}") {
        bar.set_style(style);
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        let (mut accepted_before, mut ended_before) = (0, 0);
        loop {
            ticks.tick().await;
            let accepted = run.accepted.load(Ordering::Relaxed);
            let ended = run.ended.load(Ordering::Relaxed);
            bar.set_message(format!(
                "accepted {accepted} ({}/s), ended {ended} ({}/s), in flight {}",
                accepted - accepted_before,
                ended - ended_before,
                accepted.saturating_sub(ended),
            ));
            bar.tick();
            (accepted_before, ended_before) = (accepted, ended);
        }
    })
}
