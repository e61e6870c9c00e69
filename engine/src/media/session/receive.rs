//! What one datagram from a side does to the session: an RTP packet is checked (payload type
//! negotiated, the side receiving, its source latched), counted, and then forwarded in place
//! to the other side (relay) or handed to the side's decoder (frame path); its RFC 4733
//! events become digits. An RTCP compound is checked the same way and forwarded only between
//! relayed sides, whose SSRCs it describes. Nothing here allocates, locks or logs.

use std::net::SocketAddr;
use std::time::Instant;

use super::events::Event;
use super::relay::{self, Route};
use super::stream::Payload;
use super::{latch, Action, DropReason, Session};
use crate::media::dtmf::EventPayload;
use crate::media::jitter::PacketMeta;
use crate::media::rtcp::parse_compound;
use crate::media::rtp::RtpPacketMut;
use crate::media::Side;

impl Session {
    pub(super) fn handle_rtp(
        &mut self,
        now: Instant,
        side: Side,
        from: SocketAddr,
        buf: &mut [u8],
    ) -> Action {
        let (i, o) = (side.index(), side.other().index());
        let decodes = self.decodes(side);
        let [a, b] = &mut self.streams;
        let (stream, other) = if i == 0 { (a, b) } else { (b, a) };
        let Some(stream) = stream.as_mut() else {
            return Action::Dropped(DropReason::Unconfigured);
        };
        let Ok(mut packet) = RtpPacketMut::parse(buf) else {
            stream.counters.invalid += 1;
            return Action::Dropped(DropReason::Malformed);
        };
        let Some(kind) = stream.classify(packet.payload_type()) else {
            stream.counters.invalid += 1;
            return Action::Dropped(DropReason::PayloadType);
        };
        if !stream.cfg.receives {
            stream.counters.inactive += 1;
            return Action::Dropped(DropReason::Inactive);
        }
        match stream.latch.check(false, from) {
            latch::Check::Learned => self.events.push(Event::Latched { side, from }),
            latch::Check::Known => {}
            latch::Check::Spoofed => {
                stream.counters.spoofed += 1;
                return Action::Dropped(DropReason::Spoofed);
            }
        }
        stream.on_rtp(now, self.t0, &packet.view());
        self.last_rtp = Some(now);
        self.timed_out = false;
        let route = self.routes[o];
        if kind == Payload::Event {
            // on either of the side's numbers (`classify`), so the event is read here rather
            // than by the receiver's own payload type check
            if let (Some(rx), Ok(e)) = (
                &mut stream.dtmf_rx,
                EventPayload::parse(packet.view().payload()),
            ) {
                let view = packet.view();
                rx.handle_event(now, view.timestamp(), view.marker(), e);
            }
        }
        let t0 = self.t0;
        let action = match (route, other.as_mut()) {
            (Route::Relay, Some(to)) => match relay::forward(&mut packet, kind, to, now, t0) {
                Some(target) => Action::Forward {
                    side: side.other(),
                    to: target,
                    len: buf_len(&packet),
                    rtcp: false,
                },
                None => Action::Consumed,
            },
            _ => {
                if kind == Payload::Audio && decodes {
                    if let Some(d) = &mut self.decode[i] {
                        let view = packet.view();
                        d.push(now, PacketMeta::of(&view), view.payload());
                    }
                }
                Action::Consumed
            }
        };
        if kind == Payload::Event {
            self.collect_digits(now, side);
        }
        action
    }

    pub(super) fn handle_rtcp(&mut self, side: Side, from: SocketAddr, buf: &mut [u8]) -> Action {
        let [a, b] = &mut self.streams;
        let (stream, other) = if side.index() == 0 { (a, b) } else { (b, a) };
        let Some(stream) = stream.as_mut() else {
            return Action::Dropped(DropReason::Unconfigured);
        };
        if parse_compound(buf).is_err() {
            stream.counters.invalid += 1;
            return Action::Dropped(DropReason::Malformed);
        }
        if !stream.cfg.receives {
            stream.counters.inactive += 1;
            return Action::Dropped(DropReason::Inactive);
        }
        if stream.latch.check(true, from) == latch::Check::Spoofed {
            stream.counters.spoofed += 1;
            return Action::Dropped(DropReason::Spoofed);
        }
        // relayed media keeps the senders' SSRCs, so their reports make sense to each other;
        // a transcoded side's reports are about the switch's stream and end here
        match (self.routes[side.other().index()], other.as_ref()) {
            (Route::Relay, Some(to)) if to.cfg.sends => match to.rtcp_target() {
                Some(target) => Action::Forward {
                    side: side.other(),
                    to: target,
                    len: buf.len(),
                    rtcp: !to.cfg.rtcp_mux,
                },
                None => Action::Consumed,
            },
            _ => Action::Consumed,
        }
    }

    /// Digits the side's receiver finished: events, and on a transcoded direction the digit
    /// again to the other side.
    pub(super) fn collect_digits(&mut self, now: Instant, side: Side) {
        let [a, b] = &mut self.streams;
        let (stream, other) = if side.index() == 0 { (a, b) } else { (b, a) };
        let Some(rx) = stream.as_mut().and_then(|s| s.dtmf_rx.as_mut()) else {
            return;
        };
        let resend = self.routes[side.other().index()] == Route::Transcode;
        while let Some(e) = rx.poll_event() {
            self.events.push(Event::Digit {
                side,
                digit: e.digit,
            });
            if resend {
                if let Some(tx) = other.as_mut().and_then(|o| o.dtmf_tx.as_mut()) {
                    let _ = tx.send(now, e.digit, e.duration);
                }
            }
        }
    }
}

fn buf_len(p: &RtpPacketMut<'_>) -> usize {
    p.view().as_bytes().len()
}
