//! Blocks of loopback ports for the processes a test starts (a local cluster, the chaos run).
//!
//! A block is chosen below the kernel's ephemeral range (`ip_local_port_range`, where every
//! outgoing connection of the machine takes its source port), so that the block found free
//! is not taken by some client's connection before the processes bind it.

use std::net::TcpListener;

/// The kernel's ephemeral range, or Linux's default when it cannot be read.
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut bounds = text.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((bounds.next()??, bounds.next()??))
        })
        .unwrap_or((32_768, 60_999))
}

/// The first port of `width` consecutive loopback ports that are all free now, outside the
/// ephemeral range; blocks start at multiples of 100.
///
/// # Panics
/// When no such block is found after many tries.
pub fn free_block(width: u16) -> u16 {
    let (low, high) = ephemeral_range();
    // Below the range if there is room (the usual case), else above it; above 11000, clear of
    // the well-known ports of the servers tests use (Azurite's 10000 among them).
    let (first, last) = if low >= 11_000 + width + 100 {
        (11_000, low - width)
    } else {
        (high.saturating_add(1).max(11_000), u16::MAX - width)
    };
    let blocks = u32::from((last - first) / 100).max(1);
    for _ in 0..200 {
        let pick = u32::from_le_bytes(
            uuid::Uuid::new_v4().into_bytes()[..4]
                .try_into()
                .unwrap_or_default(),
        ) % blocks;
        let base = first + u16::try_from(pick * 100).unwrap_or(0);
        if (0..width).all(|offset| TcpListener::bind(("127.0.0.1", base + offset)).is_ok()) {
            return base;
        }
    }
    panic!("no free block of {width} ports between {first} and {last}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_free_and_outside_the_ephemeral_range() {
        let (low, high) = ephemeral_range();
        let base = free_block(26);
        assert!(base + 26 <= low || base > high, "{base} in {low}-{high}");
        for offset in 0..26 {
            TcpListener::bind(("127.0.0.1", base + offset)).expect("free");
        }
    }
}
