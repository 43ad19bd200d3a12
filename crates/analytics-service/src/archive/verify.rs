//! `orderflow archive verify`: every event the analytics database kept is in exactly one
//! archive file, the one the database says, and every file holds only kept events. Events kept
//! less than a grace ago may still wait for their file (a file is cut a minute after its first
//! event by default); those are counted, not reported.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use store::analytics::{AnalyticsStore, BlobStore};
use uuid::Uuid;

use crate::archive::decode;

/// The root every archive file is under.
pub const ARCHIVE_PREFIX: &str = "events";

/// What verify found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ArchiveReport {
    /// Files in blob storage.
    pub files: usize,
    /// Events found in them.
    pub archived: usize,
    /// Events kept less than the grace ago and not archived yet.
    pub pending: usize,
    /// One line each.
    pub violations: Vec<String>,
}

impl ArchiveReport {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for ArchiveReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} files, {} events archived, {} pending",
            self.files, self.archived, self.pending
        )?;
        for violation in &self.violations {
            writeln!(f, "violation: {violation}")?;
        }
        if self.is_clean() {
            writeln!(f, "every kept event is archived exactly once")?;
        }
        Ok(())
    }
}

/// Checks the archive in `blobs` against the analytics database in `store`.
///
/// # Errors
/// When either cannot be read (a file that is not a readable archive file is a violation).
pub async fn verify_archive(
    store: &dyn AnalyticsStore,
    blobs: &dyn BlobStore,
    grace_ms: i64,
) -> anyhow::Result<ArchiveReport> {
    let mut report = ArchiveReport::default();
    let recorded: BTreeMap<String, bool> = store
        .archive_files()
        .await?
        .into_iter()
        .map(|file| (file.name, file.written))
        .collect();
    let mut found_in: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
    let objects = blobs.list(ARCHIVE_PREFIX).await?;
    let mut stored = BTreeSet::new();
    for object in &objects {
        report.files += 1;
        stored.insert(object.path.clone());
        if !recorded.contains_key(&object.path) {
            report.violations.push(format!(
                "{}: a file the analytics database does not know",
                object.path
            ));
        }
        let Some(bytes) = blobs.get(&object.path).await? else {
            continue;
        };
        match decode(&bytes) {
            Ok(envelopes) => {
                for envelope in envelopes {
                    report.archived += 1;
                    found_in
                        .entry(envelope.message_id)
                        .or_default()
                        .push(object.path.clone());
                }
            }
            Err(error) => report.violations.push(format!(
                "{}: not a readable archive file: {error:#}",
                object.path
            )),
        }
    }
    for (name, written) in &recorded {
        if *written && !stored.contains(name) {
            report.violations.push(format!(
                "{name}: recorded as written but not in blob storage"
            ));
        }
    }
    let index = store.archive_index().await?;
    let kept: BTreeSet<Uuid> = index.iter().map(|(id, _, _)| *id).collect();
    for (id, file, age_ms) in &index {
        let found = found_in.get(id).map_or(&[][..], Vec::as_slice);
        match (file, found) {
            (_, [_, _, ..]) => report.violations.push(format!(
                "event {id} archived {} times: {}",
                found.len(),
                found.join(", ")
            )),
            (Some(name), [one]) if one == name => {}
            (Some(name), [other]) => report.violations.push(format!(
                "event {id} is in {other}, but the analytics database says {name}"
            )),
            (Some(name), []) if recorded.get(name) == Some(&false) && *age_ms < grace_ms => {
                report.pending += 1;
            }
            (Some(name), []) => report
                .violations
                .push(format!("event {id} is missing from its file {name}")),
            (None, [other]) => report.violations.push(format!(
                "event {id} is in {other}, but the analytics database has it unarchived"
            )),
            (None, []) if *age_ms < grace_ms => report.pending += 1,
            (None, []) => report.violations.push(format!(
                "event {id} not archived {} s after it was kept",
                age_ms / 1000
            )),
        }
    }
    for (id, files) in &found_in {
        if !kept.contains(id) {
            report.violations.push(format!(
                "event {id} archived in {} but never kept",
                files.join(", ")
            ));
        }
    }
    Ok(report)
}
