//! The relay fast path: what a side hears, and forwarding a packet of the other side in its
//! own buffer.
//!
//! A side hears the other side relayed when both use the same codec, no sink takes the call's
//! frames and nothing plays to it. Relaying touches one byte: the payload type, when the two
//! sides numbered the codec (or telephone-event) differently. SSRC, sequence numbers,
//! timestamps and payload stay the sender's, as rtpengine does for plain forwarding; except
//! toward a side that heard the switch's own stream before (ringback, a prompt, transcoded
//! audio): its packets are renumbered into that stream (SSRC, sequence and timestamp moved by
//! fixed offsets, the marker set where the source changed), because phones' jitter buffers
//! drop a new stream whose numbers run behind the one they were playing.

use std::net::SocketAddr;
use std::time::Instant;

use super::stream::{Payload, RelayMap, Stream};
use crate::media::rtp::{RtpPacketMut, RtpTimestamp, Seq};

/// What a side hears.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Nothing: no other side yet, or the side is not set up.
    Silent,
    /// The other side's packets, forwarded in place.
    Relay,
    /// The other side's audio through the frame path: decoded, resampled, encoded again in
    /// the side's codec, in the switch's own RTP stream.
    Transcode,
    /// A tone or recording the switch plays, in place of the other side.
    Source,
    /// Payloads made elsewhere (a conference's mix), from the side's `PayloadFeed`, in the
    /// switch's own RTP stream.
    Feed,
}

impl Route {
    /// The route of a side (`to`) given the other side (`from`), whether something plays to
    /// it, whether a feed gives it payloads and whether a sink takes the call's frames. What
    /// plays comes first (a prompt to a conference participant), then the feed.
    pub(super) fn of(
        to: Option<&Stream>,
        from: Option<&Stream>,
        playing: bool,
        fed: bool,
        sink: bool,
    ) -> Route {
        let Some(to) = to else {
            return Route::Silent;
        };
        if playing {
            return Route::Source;
        }
        if fed {
            return Route::Feed;
        }
        match from {
            None => Route::Silent,
            Some(from) if sink || from.cfg.codec != to.cfg.codec => Route::Transcode,
            Some(_) => Route::Relay,
        }
    }

    /// Whether the route runs the 20 ms frame clock (a feed's payloads go out when its
    /// producer pushes them).
    pub(super) fn ticks(self) -> bool {
        matches!(self, Route::Transcode | Route::Source)
    }

    /// Whether the route needs the side's own encoder.
    pub(super) fn encodes(self) -> bool {
        matches!(self, Route::Transcode | Route::Source)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Silent => "silent",
            Route::Relay => "relay",
            Route::Transcode => "transcode",
            Route::Source => "source",
            Route::Feed => "feed",
        }
    }
}

/// Readies a packet of the other side for `to` in place: its payload type as `to` numbered
/// it. Returns where to send it, or `None` when `to` takes nothing now (on hold, no address
/// yet, or no telephone-event negotiated).
pub(super) fn forward(
    packet: &mut RtpPacketMut<'_>,
    kind: Payload,
    to: &mut Stream,
    now: Instant,
    t0: Instant,
) -> Option<SocketAddr> {
    let target = to.rtp_target()?;
    let pt = match kind {
        Payload::Audio => to.pt,
        Payload::Event => to.te?,
    };
    if packet.payload_type() != pt {
        packet.set_payload_type(pt);
    }
    if to.generated {
        let map = match to.relay_map {
            Some(m) if m.source == packet.ssrc() => m,
            _ => {
                // this source joins the switch's stream where it stands now
                let m = RelayMap {
                    source: packet.ssrc(),
                    seq: to.peek_seq().0.wrapping_sub(packet.seq().0),
                    timestamp: to.clock(t0, now).0.wrapping_sub(packet.timestamp().0),
                };
                packet.set_marker(true);
                to.relay_map = Some(m);
                m
            }
        };
        let seq = Seq(packet.seq().0.wrapping_add(map.seq));
        packet.set_seq(seq);
        packet.set_timestamp(RtpTimestamp(
            packet.timestamp().0.wrapping_add(map.timestamp),
        ));
        packet.set_ssrc(to.ssrc);
        to.relayed_as(seq);
    }
    Some(target)
}
