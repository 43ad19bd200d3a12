//! The blob store contract suite: what every adapter of the analytics archive's [`BlobStore`]
//! port (a local directory, Azure Blob Storage) must do for the archiver and `archive verify`.
//!
//! Each function checks one behaviour on an empty store of its own and panics (with what was
//! expected) when the adapter misbehaves; the adapter's tests run every function under the
//! function's own name, once per backend.

use store::analytics::{BlobEntry, BlobStore};

/// Where the archiver writes: `events/date=…/hour=…/<ms>-<id>.ndjson.gz`.
const FILE: &str = "events/date=2026-12-03/hour=10/1764756012345-0193a1b2.ndjson.gz";

/// Bytes that are not text: every byte value, and more than one small request's worth.
fn binary(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|n| (n as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A written object reads back byte for byte; a name never written reads as `None`.
pub async fn a_written_object_reads_back_byte_for_byte(store: &dyn BlobStore) {
    let bytes = binary(300_000, 7);
    store.put(FILE, bytes.clone()).await.expect("put");
    assert_eq!(store.get(FILE).await.expect("get"), Some(bytes));
    assert_eq!(
        store
            .get("events/date=2026-12-03/hour=10/none.ndjson.gz")
            .await
            .expect("get a missing object"),
        None
    );
}

/// A name written again (the archiver rewriting a file it claimed, after a crash between the
/// write and its record) is one object, holding the last bytes: never a second object.
pub async fn writing_a_name_again_replaces_it_and_never_adds_a_second_object(
    store: &dyn BlobStore,
) {
    let first = binary(1_000, 1);
    store.put(FILE, first.clone()).await.expect("put");
    store
        .put(FILE, first.clone())
        .await
        .expect("the same bytes again");
    assert_eq!(
        store.list("events").await.expect("list"),
        [BlobEntry {
            path: FILE.to_owned(),
            size: 1_000
        }]
    );
    let second = binary(10, 2);
    store.put(FILE, second.clone()).await.expect("other bytes");
    assert_eq!(store.get(FILE).await.expect("get"), Some(second));
    assert_eq!(
        store.list("events").await.expect("list"),
        [BlobEntry {
            path: FILE.to_owned(),
            size: 10
        }]
    );
}

/// A listing holds exactly the objects under its prefix (whole path segments: `events` does
/// not hold `events-old/…`), at every depth, ordered by path, each with its size.
pub async fn a_listing_holds_exactly_the_objects_under_its_prefix_by_path(store: &dyn BlobStore) {
    let under = [
        "events/date=2026-12-03/hour=11/b.ndjson.gz",
        "events/date=2026-12-03/hour=10/c.ndjson.gz",
        "events/date=2026-12-02/hour=23/a.ndjson.gz",
        "events/date=2026-12-03/hour=10/a.ndjson.gz",
    ];
    for (n, path) in under.iter().enumerate() {
        store
            .put(path, binary(n + 1, 0))
            .await
            .expect("put under the prefix");
    }
    store
        .put("events-old/a.ndjson.gz", b"x".to_vec())
        .await
        .expect("put beside the prefix");
    store
        .put("other/events/a.ndjson.gz", b"y".to_vec())
        .await
        .expect("put elsewhere");

    let mut expected: Vec<BlobEntry> = under
        .iter()
        .enumerate()
        .map(|(n, path)| BlobEntry {
            path: (*path).to_owned(),
            size: n as u64 + 1,
        })
        .collect();
    expected.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(store.list("events").await.expect("list"), expected);
    assert_eq!(
        store
            .list("events/date=2026-12-03/hour=10")
            .await
            .expect("list an hour")
            .iter()
            .map(|entry| entry.path.as_str())
            .collect::<Vec<_>>(),
        [
            "events/date=2026-12-03/hour=10/a.ndjson.gz",
            "events/date=2026-12-03/hour=10/c.ndjson.gz"
        ]
    );
    assert!(
        store
            .list("nothing")
            .await
            .expect("list an empty prefix")
            .is_empty()
    );
}
