//! The archive: every streamed event, exactly once per event id, in immutable files of
//! newline-delimited JSON (one envelope a line), gzip-compressed, partitioned by the hour the
//! event occurred in (`events/date=YYYY-MM-DD/hour=HH/<first event's ms>-<its id>.ndjson.gz`),
//! in blob storage behind the [`BlobStore`] port.
//!
//! Exactly once: a file is first *claimed* in the analytics database (its name recorded and its
//! events assigned to it, in one transaction: an event is assigned to one file only), then
//! written, then marked written. A process that dies in between leaves a claimed file not
//! marked written: the next round writes it again, whole, under the same name, from the same
//! events in the same order, so an object store that kept the first write is overwritten with
//! the same bytes, and no event lands in two files. A written file is never written again.
//!
//! A file is cut for an hour when its events not yet archived reach the size limit (events or
//! bytes), when the first of them was kept longer ago than the age limit, and on graceful
//! shutdown.

mod encoding;
mod rebuild;
mod run;
mod verify;

pub use encoding::{decode, encode, file_name};
pub use rebuild::{RebuildReport, rebuild_from_archive};
pub use run::{ArchiveRound, ArchiveSettings, run_archiver};
pub use verify::{ARCHIVE_PREFIX, ArchiveReport, verify_archive};

/// The port archive files are written through (kept in `store`, beside the other ports).
pub use store::analytics::{BlobEntry, BlobStore};
