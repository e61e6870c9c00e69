//! What goes into a jitter buffer and what comes out: a packet's [`PacketMeta`], what
//! `push` did with it ([`Pushed`]), what `pop` plays ([`Playout`], [`Frame`]) and the
//! buffer's counters ([`JitterStats`]).

use crate::media::rtp::{RtpPacket, RtpTimestamp, Seq, Ssrc};

/// The header fields the buffer needs from a packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    pub ssrc: Ssrc,
    pub seq: Seq,
    pub timestamp: RtpTimestamp,
    pub marker: bool,
}

impl PacketMeta {
    pub fn of(p: &RtpPacket<'_>) -> PacketMeta {
        PacketMeta {
            ssrc: p.ssrc(),
            seq: p.seq(),
            timestamp: p.timestamp(),
            marker: p.marker(),
        }
    }
}

/// What `push` did with a packet.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    Stored,
    /// Stored after dropping what was buffered and starting over (new SSRC, timestamp jump).
    Resynced,
    /// Its frame is already buffered or was played.
    Duplicate,
    /// Its frame's playout time has passed.
    Late,
    /// Beyond the window while the buffer is full (nobody pops).
    Overflow,
    /// Payload larger than `max_payload`.
    TooLarge,
}

/// A frame lent out by `pop`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    pub seq: Seq,
    pub timestamp: RtpTimestamp,
    pub payload: &'a [u8],
}

/// What to play in this 20 ms tick.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Playout<'a> {
    Frame(Frame<'a>),
    /// A frame is due but absent (lost, late, or inserted to grow the delay): conceal it.
    Missing,
    /// Nothing is playing: no stream yet, still filling, or the stream paused.
    Idle,
}

/// Counters of a buffer since it was made.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets pushed.
    pub received: u64,
    /// Frames played.
    pub played: u64,
    /// Frames missing at their playout time (lost or late).
    pub concealed: u64,
    /// `Missing` returned without consuming a frame: delay growth and dry-buffer waits.
    pub stretched: u64,
    /// Frame positions skipped to shrink the delay (buffered or not).
    pub skipped: u64,
    pub late: u64,
    pub duplicates: u64,
    /// Packets dropped for overflow or size, and buffered frames flushed by a resync.
    pub dropped: u64,
    pub resyncs: u64,
}
