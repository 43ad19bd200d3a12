//! The operator's files under `ops/` (Prometheus alert rules, the Grafana dashboard) name only
//! metrics the code emits, so a renamed metric cannot leave an alert that never fires.

use std::collections::BTreeSet;
use std::path::Path;

use crate::purity::source_files;

/// What a Prometheus histogram adds to its name.
const HISTOGRAM_SERIES: &[&str] = &["_bucket", "_sum", "_count"];

/// The `orderflow_*` names in `text`, whole words only.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("orderflow_") {
        let preceded_by_word = rest[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if !preceded_by_word {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// The metrics the workspace's code records: the names given to `counter!`, `gauge!` and
/// `histogram!`, with whether each is a histogram.
fn emitted() -> BTreeSet<(String, bool)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&crates).expect("read crates/") {
        let src = entry.expect("a crate folder").path().join("src");
        if !src.is_dir() {
            continue;
        }
        for text in source_files(&src).values() {
            for (macro_name, histogram) in [
                ("counter!(", false),
                ("gauge!(", false),
                ("histogram!(", true),
            ] {
                for (at, _) in text.match_indices(macro_name) {
                    let call = text[at + macro_name.len()..].trim_start();
                    if let Some(quoted) = call.strip_prefix('"')
                        && let Some(end) = quoted.find('"')
                    {
                        found.insert((quoted[..end].to_owned(), histogram));
                    }
                }
            }
        }
    }
    found
}

fn ops_file(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Names in `text` that no code emits; a histogram's series count as its name.
fn unknown_metrics(text: &str, emitted: &BTreeSet<(String, bool)>) -> Vec<String> {
    metric_names(text)
        .into_iter()
        .filter(|name| {
            let plain = emitted.iter().any(|(known, _)| known == name);
            let series_of_histogram = HISTOGRAM_SERIES.iter().any(|suffix| {
                name.strip_suffix(suffix).is_some_and(|base| {
                    emitted
                        .iter()
                        .any(|(known, histogram)| *histogram && known == base)
                })
            });
            !plain && !series_of_histogram
        })
        .collect()
}

#[test]
fn the_code_is_read_for_the_metrics_it_emits() {
    let emitted = emitted();
    for expected in [
        "orderflow_orders_placed_total",
        "orderflow_saga_step_seconds",
    ] {
        assert!(
            emitted.iter().any(|(name, _)| name == expected),
            "{expected} not found among {emitted:?}"
        );
    }
    assert_eq!(
        unknown_metrics("rate(orderflow_no_such_metric_total[5m])", &emitted),
        vec!["orderflow_no_such_metric_total".to_owned()]
    );
    assert_eq!(
        unknown_metrics("orderflow_orders_placed_total_bucket", &emitted),
        vec!["orderflow_orders_placed_total_bucket".to_owned()],
        "a counter has no buckets"
    );
}

#[test]
fn the_alert_rules_name_only_emitted_metrics() {
    let rules = ops_file("ops/prometheus/alerts.yml");
    assert!(metric_names(&rules).len() >= 5, "{rules}");
    assert_eq!(unknown_metrics(&rules, &emitted()), Vec::<String>::new());
}

#[test]
fn the_dashboard_is_json_and_names_only_emitted_metrics() {
    let text = ops_file("ops/grafana/orderflow-dashboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 8, "{} panels", panels.len());
    for panel in panels {
        let targets = panel["targets"].as_array().expect("each panel has targets");
        assert!(
            targets.iter().all(|target| target["expr"]
                .as_str()
                .is_some_and(|expr| expr.contains("orderflow_"))),
            "{panel}"
        );
    }
    assert_eq!(unknown_metrics(&text, &emitted()), Vec::<String>::new());
}
