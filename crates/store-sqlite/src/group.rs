//! Group commit on a database's one writer connection.
//!
//! Units of work take the writer in turn, as before; each now runs inside a savepoint of a
//! transaction that several units share. A unit that ends keeps its work (`RELEASE`) or
//! undoes it (`ROLLBACK TO`), and the shared transaction commits as soon as no other unit is
//! waiting for the writer, or once it has grown old or large ([`MAX_AGE`], [`MAX_UNITS`]).
//! A unit's commit returns only when the shared transaction has committed, so nothing is
//! acknowledged, answered or relayed before it is as durable as its own `COMMIT` made it; if
//! the shared `COMMIT` fails, every unit in it fails, as its own would have.
//!
//! Alone, a unit commits at once, as before. Under load, each page the units touch (the
//! queue's, the inbox's, the outbox's, the hot rows') goes to the log once per group rather
//! than once per unit: SQLite's own log writes were the largest cost of the embedded mode.

use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::rows::execute;

/// How long a shared transaction may gather units before the next one to end commits it.
const MAX_AGE: Duration = Duration::from_millis(5);
/// How many kept units a shared transaction may gather before the next one to end commits it.
const MAX_UNITS: usize = 64;

/// What a kept unit learns of the shared transaction: committed, or why not.
pub(crate) type Verdict = oneshot::Receiver<Result<(), String>>;

/// The shared transaction on a writer connection, if one is open, and the units it holds.
#[derive(Debug, Default)]
pub(crate) struct Group {
    opened: Option<Instant>,
    kept: Vec<oneshot::Sender<Result<(), String>>>,
    wrote_outbox: bool,
}

/// What ending a unit did to its group.
pub(crate) struct Ended {
    /// For a unit that asked to be kept: the shared transaction's outcome, to wait for.
    pub(crate) verdict: Option<Verdict>,
    /// The shared transaction committed with outbox rows in it: the relay has work.
    pub(crate) outbox_committed: bool,
}

impl Group {
    /// Whether units' work is on the writer, not committed yet: what a reader must not see.
    pub(crate) fn is_open(&self) -> bool {
        self.opened.is_some()
    }

    /// Opens a unit on `connection`: a savepoint, in the shared transaction (begun with
    /// `begin` if none is open).
    pub(crate) fn open_unit(
        &mut self,
        connection: &Connection,
        begin: &str,
    ) -> rusqlite::Result<()> {
        if self.opened.is_some() && connection.is_autocommit() {
            self.finish(Err("SQLite ended the transaction".to_owned()));
        }
        if self.opened.is_none() {
            execute(connection, begin, [])?;
            self.opened = Some(Instant::now());
        }
        execute(connection, "SAVEPOINT unit", [])?;
        Ok(())
    }

    /// Ends the unit open on `connection`, keeping its work or undoing it, then commits the
    /// shared transaction unless one of `waiting` units will (it is neither old nor large).
    pub(crate) fn end_unit(
        &mut self,
        connection: &Connection,
        keep: bool,
        wrote_outbox: bool,
        waiting: usize,
    ) -> Ended {
        let kept = keep && execute(connection, "RELEASE unit", []).is_ok();
        if !kept && !connection.is_autocommit() {
            let _ = execute(connection, "ROLLBACK TO unit", []);
            let _ = execute(connection, "RELEASE unit", []);
        }
        let verdict = keep.then(|| {
            let (tell, verdict) = oneshot::channel();
            if kept {
                self.kept.push(tell);
                self.wrote_outbox |= wrote_outbox;
            } else {
                let _ = tell.send(Err("its savepoint could not be released".to_owned()));
            }
            verdict
        });
        let outbox_committed = if connection.is_autocommit() {
            // An I/O error or a full disk made SQLite roll the whole transaction back.
            self.finish(Err("SQLite rolled the transaction back".to_owned()));
            false
        } else if waiting == 0 || self.is_due() {
            self.commit(connection)
        } else {
            false
        };
        Ended {
            verdict,
            outbox_committed,
        }
    }

    /// Commits the shared transaction, if one is open, and tells its units; `true` when it
    /// committed outbox rows.
    pub(crate) fn commit(&mut self, connection: &Connection) -> bool {
        if self.opened.is_none() {
            return false;
        }
        let committed = execute(connection, "COMMIT", []).map(drop);
        if committed.is_err() && !connection.is_autocommit() {
            let _ = execute(connection, "ROLLBACK", []);
        }
        let wrote_outbox = self.wrote_outbox;
        let committed = committed.map_err(|error| error.to_string());
        let ok = committed.is_ok();
        self.finish(committed);
        ok && wrote_outbox
    }

    fn is_due(&self) -> bool {
        self.kept.len() >= MAX_UNITS || self.opened.is_some_and(|at| at.elapsed() >= MAX_AGE)
    }

    fn finish(&mut self, outcome: Result<(), String>) {
        for tell in self.kept.drain(..) {
            let _ = tell.send(outcome.clone());
        }
        self.opened = None;
        self.wrote_outbox = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> Connection {
        let connection = Connection::open_in_memory().expect("open");
        execute(&connection, "CREATE TABLE t (v INTEGER PRIMARY KEY)", []).expect("create");
        connection
    }

    fn count(connection: &Connection) -> i64 {
        connection
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .expect("count")
    }

    /// One unit on `connection`: opened, `sql` run in it, then ended as asked.
    fn unit(
        group: &mut Group,
        connection: &Connection,
        sql: &str,
        (keep, wrote_outbox, waiting): (bool, bool, usize),
    ) -> Ended {
        group.open_unit(connection, "BEGIN").expect("open");
        execute(connection, sql, []).expect("write");
        group.end_unit(connection, keep, wrote_outbox, waiting)
    }

    fn outcome(mut verdict: Verdict) -> Result<(), String> {
        verdict.try_recv().expect("decided")
    }

    #[test]
    fn with_a_unit_waiting_the_transaction_stays_open_and_the_last_commits_for_all() {
        let connection = database();
        let mut group = Group::default();
        let first = unit(
            &mut group,
            &connection,
            "INSERT INTO t VALUES (1)",
            (true, false, 1),
        );
        let mut first = first.verdict.expect("kept");
        assert!(
            first.try_recv().is_err(),
            "not decided while another unit waits"
        );
        assert!(group.is_open());

        let second = unit(
            &mut group,
            &connection,
            "INSERT INTO t VALUES (2)",
            (true, true, 0),
        );

        assert!(!group.is_open());
        assert!(second.outbox_committed);
        assert_eq!(outcome(first), Ok(()));
        assert_eq!(outcome(second.verdict.expect("kept")), Ok(()));
        assert_eq!(count(&connection), 2);
    }

    #[test]
    fn a_unit_undone_takes_only_its_own_work_with_it() {
        let connection = database();
        let mut group = Group::default();
        let kept = unit(
            &mut group,
            &connection,
            "INSERT INTO t VALUES (1)",
            (true, false, 1),
        )
        .verdict
        .expect("kept");
        let undone = unit(
            &mut group,
            &connection,
            "INSERT INTO t VALUES (2)",
            (false, false, 0),
        );

        assert!(undone.verdict.is_none());
        assert_eq!(outcome(kept), Ok(()));
        let values: Vec<i64> = connection
            .prepare("SELECT v FROM t")
            .expect("prepare")
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(values, [1]);
    }

    #[test]
    fn a_failed_commit_fails_every_unit_of_the_transaction() {
        let connection = database();
        execute(
            &connection,
            "CREATE TABLE child (v INTEGER REFERENCES t (v) DEFERRABLE INITIALLY DEFERRED)",
            [],
        )
        .expect("create");
        execute(&connection, "PRAGMA foreign_keys = ON", []).expect("pragma");
        let mut group = Group::default();
        let first = unit(
            &mut group,
            &connection,
            "INSERT INTO t VALUES (1)",
            (true, false, 1),
        )
        .verdict
        .expect("kept");
        // Only checked at COMMIT: the shared transaction cannot commit.
        let second = unit(
            &mut group,
            &connection,
            "INSERT INTO child VALUES (7)",
            (true, true, 0),
        );

        assert!(!second.outbox_committed);
        assert!(outcome(first).is_err());
        assert!(outcome(second.verdict.expect("kept")).is_err());
        assert_eq!(count(&connection), 0);
        assert!(!group.is_open());
    }

    #[test]
    fn an_old_transaction_commits_even_with_units_waiting() {
        let connection = database();
        let mut group = Group::default();
        group.open_unit(&connection, "BEGIN").expect("open");
        execute(&connection, "INSERT INTO t VALUES (1)", []).expect("insert");
        std::thread::sleep(MAX_AGE);
        let ended = group.end_unit(&connection, true, false, 3);

        assert_eq!(outcome(ended.verdict.expect("kept")), Ok(()));
        assert!(!group.is_open());
    }
}
