//! Which offset of each assigned partition may be committed: the first one handed out and not
//! settled yet, or past the last one read when every one is settled. Events are handled out of
//! order (several consumer loops, retries held back), but a partition's committed offset only
//! ever moves over events that are stored, so a restart replays from there and nothing is
//! skipped. No I/O: the consumer asks, commits, and reports back.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// A commit asked for and not confirmed within this is asked for again.
const RECOMMIT_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(crate) struct Offsets {
    partitions: HashMap<i32, Partition>,
    /// Bumped on every assignment, so a delivery read before a partition was taken away and
    /// given back cannot settle the new assignment's offsets.
    generations: u64,
}

#[derive(Debug)]
struct Partition {
    generation: u64,
    /// Handed out, not settled.
    pending: BTreeSet<i64>,
    /// Past the last offset read.
    next: Option<i64>,
    /// The last position asked to be committed, and when.
    requested: Option<(i64, Instant)>,
    /// The last position the broker confirmed.
    confirmed: Option<i64>,
}

impl Partition {
    /// Where a consumer starting now should begin.
    fn position(&self) -> Option<i64> {
        self.pending.first().copied().or(self.next)
    }
}

impl Offsets {
    /// The partition is this consumer's now.
    pub(crate) fn assign(&mut self, partition: i32) {
        self.generations += 1;
        self.partitions.insert(
            partition,
            Partition {
                generation: self.generations,
                pending: BTreeSet::new(),
                next: None,
                requested: None,
                confirmed: None,
            },
        );
    }

    /// The partition was taken away: what was read from it is forgotten.
    pub(crate) fn revoke(&mut self, partition: i32) {
        self.partitions.remove(&partition);
    }

    /// The assignment `partition` is in now, if it is this consumer's.
    pub(crate) fn generation(&self, partition: i32) -> Option<u64> {
        self.partitions.get(&partition).map(|p| p.generation)
    }

    /// `offset` was read and is handed out; its generation, `None` (drop it) when the
    /// partition is not this consumer's.
    pub(crate) fn received(&mut self, partition: i32, offset: i64) -> Option<u64> {
        let state = self.partitions.get_mut(&partition)?;
        if state.next.is_none() && state.confirmed.is_none() {
            // The first offset an assignment reads is where the group stood: already committed
            // (or the reset point, which a restart finds again).
            state.confirmed = Some(offset);
        }
        state.pending.insert(offset);
        state.next = Some(state.next.map_or(offset + 1, |next| next.max(offset + 1)));
        Some(state.generation)
    }

    /// `offset` is settled (stored, or parked); `false` when it belongs to an assignment that
    /// is over.
    pub(crate) fn settled(&mut self, partition: i32, offset: i64, generation: u64) -> bool {
        match self.partitions.get_mut(&partition) {
            Some(state) if state.generation == generation => {
                state.pending.remove(&offset);
                true
            }
            _ => false,
        }
    }

    /// Positions to commit now: those past what was asked for, and those asked for a while
    /// ago and still not confirmed (the commit failed, or its answer was lost). Each is marked
    /// as asked for at `now`.
    pub(crate) fn due_commits(&mut self, now: Instant) -> Vec<(i32, i64)> {
        let mut due = Vec::new();
        for (&partition, state) in &mut self.partitions {
            let Some(position) = state.position() else {
                continue;
            };
            if state
                .confirmed
                .is_some_and(|confirmed| confirmed >= position)
            {
                continue;
            }
            let ask = match state.requested {
                None => true,
                Some((requested, at)) => {
                    requested < position || now.duration_since(at) >= RECOMMIT_AFTER
                }
            };
            if ask {
                state.requested = Some((position, now));
                due.push((partition, position));
            }
        }
        due.sort_unstable();
        due
    }

    /// Every position not confirmed yet, whatever was asked: for the last commit at close.
    pub(crate) fn unconfirmed(&self) -> Vec<(i32, i64)> {
        let mut all: Vec<(i32, i64)> = self
            .partitions
            .iter()
            .filter_map(|(&partition, state)| {
                let position = state.position()?;
                (state.confirmed.is_none_or(|confirmed| confirmed < position))
                    .then_some((partition, position))
            })
            .collect();
        all.sort_unstable();
        all
    }

    /// The broker confirmed `position` for `partition`.
    pub(crate) fn confirmed(&mut self, partition: i32, position: i64) {
        if let Some(state) = self.partitions.get_mut(&partition) {
            state.confirmed = Some(state.confirmed.map_or(position, |c| c.max(position)));
        }
    }

    /// A commit failed: ask again at the next look.
    pub(crate) fn commit_failed(&mut self, partition: i32) {
        if let Some(state) = self.partitions.get_mut(&partition) {
            state.requested = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets_with(partition: i32) -> Offsets {
        let mut offsets = Offsets::default();
        offsets.assign(partition);
        offsets
    }

    #[test]
    fn nothing_is_committed_before_an_event_is_settled() {
        let mut offsets = offsets_with(0);
        offsets.received(0, 10);
        offsets.received(0, 11);
        assert_eq!(offsets.due_commits(Instant::now()), []);
    }

    #[test]
    fn the_committed_offset_stops_at_the_first_event_not_settled() {
        let mut offsets = offsets_with(0);
        let generation = offsets.received(0, 10).expect("assigned");
        offsets.received(0, 11);
        offsets.received(0, 12);
        offsets.settled(0, 11, generation);
        offsets.settled(0, 12, generation);
        assert_eq!(
            offsets.due_commits(Instant::now()),
            [],
            "10 is not stored yet"
        );
        offsets.settled(0, 10, generation);
        assert_eq!(offsets.due_commits(Instant::now()), [(0, 13)]);
    }

    #[test]
    fn a_commit_is_asked_once_and_again_only_when_unconfirmed_for_a_while() {
        let mut offsets = offsets_with(3);
        let generation = offsets.received(3, 0).expect("assigned");
        offsets.settled(3, 0, generation);
        let start = Instant::now();
        assert_eq!(offsets.due_commits(start), [(3, 1)]);
        assert_eq!(offsets.due_commits(start), []);
        assert_eq!(offsets.due_commits(start + RECOMMIT_AFTER), [(3, 1)]);
        offsets.confirmed(3, 1);
        assert_eq!(offsets.due_commits(start + RECOMMIT_AFTER * 3), []);
        assert_eq!(offsets.unconfirmed(), []);
    }

    #[test]
    fn a_failed_commit_is_asked_again_at_once() {
        let mut offsets = offsets_with(1);
        let generation = offsets.received(1, 5).expect("assigned");
        offsets.settled(1, 5, generation);
        let now = Instant::now();
        assert_eq!(offsets.due_commits(now), [(1, 6)]);
        offsets.commit_failed(1);
        assert_eq!(offsets.due_commits(now), [(1, 6)]);
    }

    #[test]
    fn partitions_are_committed_each_by_its_own_progress() {
        let mut offsets = Offsets::default();
        offsets.assign(0);
        offsets.assign(1);
        let first = offsets.received(0, 0).expect("assigned");
        let second = offsets.received(1, 0).expect("assigned");
        offsets.received(1, 1);
        offsets.settled(0, 0, first);
        offsets.settled(1, 1, second);
        assert_eq!(offsets.due_commits(Instant::now()), [(0, 1)]);
        assert_eq!(offsets.unconfirmed(), [(0, 1)]);
    }

    #[test]
    fn a_revoked_partition_is_neither_read_nor_settled_nor_committed() {
        let mut offsets = offsets_with(0);
        let old = offsets.received(0, 0).expect("assigned");
        offsets.revoke(0);
        assert_eq!(offsets.received(0, 1), None);
        assert!(!offsets.settled(0, 0, old));
        offsets.assign(0);
        assert!(
            !offsets.settled(0, 0, old),
            "a delivery of the old assignment settles nothing of the new one"
        );
        assert_eq!(offsets.due_commits(Instant::now()), []);
    }
}
