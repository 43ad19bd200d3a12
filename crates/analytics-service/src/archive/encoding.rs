//! An archive file's name and bytes. Both are functions of its events alone, so a file written
//! again is the same object.

use std::io::{Read as _, Write as _};

use contracts::Envelope;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use store::analytics::Unarchived;
use time::OffsetDateTime;

/// The name of the file whose first event (in archive order) is `first`.
pub fn file_name(first: &Unarchived) -> String {
    let at =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(first.occurred_at_ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "events/date={:04}-{:02}-{:02}/hour={:02}/{:013}-{}.ndjson.gz",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        first.occurred_at_ms,
        first.message_id
    )
}

/// The file's bytes: each envelope's JSON on a line of its own, gzip-compressed (no
/// timestamp in the header, so the same events always give the same bytes).
///
/// # Errors
/// When an envelope cannot be serialized.
pub fn encode(envelopes: &[Envelope]) -> anyhow::Result<Vec<u8>> {
    // The text first, then compressed in one write: the encoder readies its whole output
    // buffer on every write, and serde_json writes each string in pieces (a tenth of the
    // embedded server's CPU under load went there, measured).
    let mut text = Vec::with_capacity(envelopes.len() * 512);
    for envelope in envelopes {
        serde_json::to_writer(&mut text, envelope)?;
        text.push(b'\n');
    }
    let mut gzip = GzEncoder::new(Vec::with_capacity(text.len() / 4), Compression::default());
    gzip.write_all(&text)?;
    Ok(gzip.finish()?)
}

/// The envelopes of a file's bytes.
///
/// # Errors
/// When the bytes are not gzip, or a line is not an envelope.
pub fn decode(bytes: &[u8]) -> anyhow::Result<Vec<Envelope>> {
    let mut text = String::new();
    GzDecoder::new(bytes).read_to_string(&mut text)?;
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| Ok(serde_json::from_str(line)?))
        .collect()
}

#[cfg(test)]
mod tests {
    use contracts::value::OrderId;
    use contracts::{Message, StockReserved};
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    fn envelope(n: u128) -> Envelope {
        let message = Message::from(StockReserved {
            order_id: OrderId::new(Uuid::from_u128(n)),
        });
        Envelope::build(Uuid::from_u128(100 + n), &message).at(datetime!(2026-12-03 09:59:59 UTC))
    }

    #[test]
    fn a_file_is_named_for_the_date_and_hour_of_its_first_event() {
        let first = Unarchived {
            message_id: Uuid::from_u128(7),
            occurred_at_ms: 1_764_755_999_000,
            bytes: 10,
        };
        assert_eq!(
            file_name(&first),
            "events/date=2025-12-03/hour=09/1764755999000-00000000-0000-0000-0000-000000000007.ndjson.gz"
        );
    }

    #[test]
    fn the_same_events_give_the_same_bytes_and_read_back() {
        let events = vec![envelope(1), envelope(2)];
        let bytes = encode(&events).expect("encode");
        assert_eq!(encode(&events).expect("encode again"), bytes);
        assert_eq!(decode(&bytes).expect("decode"), events);
    }
}
