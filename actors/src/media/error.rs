//! Why the media plane could not start or open a session.

use std::net::SocketAddr;
use std::ops::RangeInclusive;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    #[error("cannot bind RTP on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no free RTP port pair in {}-{}", range.start(), range.end())]
    NoPorts { range: RangeInclusive<u16> },
    #[error("cannot start media thread {index}: {source}")]
    Thread {
        index: usize,
        source: std::io::Error,
    },
}
