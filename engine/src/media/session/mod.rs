//! The media of one call the switch anchors: one or two sides, each with its own RTP port
//! pair on the switch; what one side sends, the other hears.
//!
//! Sans-IO like every engine machine: the media thread gives it datagrams (`handle_packet`,
//! with the side whose port took them and their source), the 20 ms clock (`poll_timeout`,
//! `handle_timeout`) and the call's commands (`configure` with each side's negotiated SDP,
//! `play`, `send_digit`, `set_sink`, `activate`); it answers with what to send where (the
//! `Action` of a packet, `poll_transmit`) and what the call's actor must know (`poll_event`).
//!
//! - Receiving (`receive.rs`): what one RTP or RTCP datagram from a side does.
//! - Latching (`latch.rs`): each side's RTP and RTCP sources are learnt from its first valid
//!   packets (RTP version 2 with a negotiated payload type, or RTCP), then held strictly;
//!   until then media goes to its SDP address. A new `configure` learns again.
//! - Relay (`relay.rs`): a side hears the other side forwarded in place (only the payload
//!   type rewritten) when both use the same codec, no sink is set and nothing plays to it.
//! - Frame path (`pipeline.rs`): otherwise the other side's packets go through a jitter
//!   buffer and its decoder (concealing losses), the sink, a resampler to the hearing side's
//!   rate and its encoder, into the switch's own RTP stream (own SSRC, sequence, timestamps),
//!   one packet per 20 ms tick. `clock.rs` keeps the routes and the tick.
//! - Feeds (`feed.rs`): a side may hear payloads made elsewhere (a conference's mix), sent
//!   in its own stream when their producer pushes them (`handle_feed`).
//! - Pace (`pace.rs`): the frame tick runs on its own clock, or a little before each tick
//!   of a mixer's ([`MixerClock`], `set_mixer_clock`), with the input jitter buffers steered
//!   for low latency: a conference participant's voice then waits for the mixer only that
//!   lead, and the mix goes out as soon as it is made.
//! - Timestamps: the switch's own stream to a side steps by exactly one frame per frame,
//!   whichever clock made it (the tick, a push), and leaves a gap only for frames missed; a
//!   marker starts a talk spurt only where the stream resumes after one.
//! - Sources (`source.rs`): a tone or recording played to a side replaces what it hears.
//! - DTMF: every RFC 4733 digit received is an [`Event::Digit`] (`events.rs`); relayed sides forward the
//!   event packets (payload type mapped), transcoded sides get the digit again from the
//!   switch's `DtmfSender`.
//! - Timeouts: once `activate`d, no RTP from either side for `timeout` (`hold_timeout` while
//!   a side is on hold) is one [`Event::MediaTimeout`].
//!
//! Allocation: `new` and `configure` allocate a side's state; the frame path's buffers
//! (jitter buffer, codecs, resamplers) are allocated when a side first needs them (by
//! `configure`, `play` or `set_sink`), so a relayed call stays a few kilobytes. Packets and
//! ticks never allocate, lock or log.

mod clock;
mod events;
mod feed;
mod latch;
mod pace;
mod pipeline;
mod receive;
mod relay;
mod source;
mod stream;

pub use events::Event;
pub use pace::MixerClock;
pub use pipeline::JitterFigures;
pub use relay::Route;
pub use source::Source;
pub use stream::{SideStats, StreamConfig};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use events::EventQueue;
use feed::Feeding;
use pipeline::{Decode, Encode};
use source::Playing;
use stream::Stream;

use super::dtmf::{Digit, DEFAULT_DURATION};
use super::rtp::{demux, PacketKind};
use super::srtp::{SRTCP_OVERHEAD, SRTP_OVERHEAD};
use super::{FrameSink, PayloadFeed, Side, FRAME, MAX_FRAME_SAMPLES};
use crate::entropy::Entropy;

/// Timeouts of a session.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// No RTP from either side this long, once active: [`Event::MediaTimeout`].
    pub timeout: Duration,
    /// The same while a side is on hold.
    pub hold_timeout: Duration,
}

impl Default for SessionConfig {
    /// rtpengine's defaults: 60 s, one hour on hold.
    fn default() -> Self {
        SessionConfig {
            timeout: Duration::from_secs(60),
            hold_timeout: Duration::from_secs(3600),
        }
    }
}

/// What to do with a packet `handle_packet` took.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send the first `len` bytes of the buffer (rewritten in place) from `side`'s port to
    /// `to`: its RTCP port when `rtcp`, else its RTP port.
    Forward {
        side: Side,
        to: SocketAddr,
        len: usize,
        rtcp: bool,
    },
    /// Taken in (frame path, statistics, a digit) or nobody to send it to now (hold).
    Consumed,
    Dropped(DropReason),
}

/// Why a packet was dropped.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The side is not set up yet (no SDP).
    Unconfigured,
    /// Not RTP or RTCP (STUN, DTLS, garbage) or a malformed header.
    Malformed,
    /// RTP with a payload type the side did not negotiate.
    PayloadType,
    /// From another source than the one the side latched to.
    Spoofed,
    /// The side's SDP says it does not send (recvonly, inactive).
    Inactive,
    /// SRTP or SRTCP that failed authentication or was a replay (or could not be protected
    /// for the side it was going to).
    Srtp,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::Unconfigured,
        DropReason::Malformed,
        DropReason::PayloadType,
        DropReason::Spoofed,
        DropReason::Inactive,
        DropReason::Srtp,
    ];

    /// A label for counters.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Unconfigured => "unconfigured",
            DropReason::Malformed => "malformed",
            DropReason::PayloadType => "payload_type",
            DropReason::Spoofed => "spoofed",
            DropReason::Inactive => "inactive",
            DropReason::Srtp => "srtp",
        }
    }
}

/// A packet the session made, in the buffer given to `poll_transmit`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Send from this side's port...
    pub side: Side,
    pub to: SocketAddr,
    pub len: usize,
    /// ...its RTCP port when set, else its RTP port.
    pub rtcp: bool,
}

/// Everything a session measured.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct SessionStats {
    /// By `Side::index`; `None` for a side not set up.
    pub sides: [Option<SideStats>; 2],
    /// A sink takes the call's frames.
    pub sink: bool,
}

impl SessionStats {
    pub fn side(&self, side: Side) -> Option<&SideStats> {
        self.sides[side.index()].as_ref()
    }
}

/// Bytes `poll_transmit` may need: an RTP header, the largest 20 ms payload (L16 at
/// 48 kHz) and an SRTP tag.
pub const MAX_TRANSMIT: usize = 12 + 2 * MAX_FRAME_SAMPLES + SRTP_OVERHEAD;

/// Room a receive buffer needs after the largest datagram it takes, so a packet relayed to
/// an SRTP side can be protected in place (the SRTCP index and tag; an SRTP tag is
/// shorter).
pub const RELAY_HEADROOM: usize = SRTCP_OVERHEAD;

/// Ticks the frame clock may fall behind before it skips ahead instead of catching up.
const MAX_TICK_LAG: u32 = 3;

const SIDES: [Side; 2] = [Side::Caller, Side::Callee];

/// Silence for a sink when a side has nothing to say.
static SILENCE: [i16; MAX_FRAME_SAMPLES] = [0; MAX_FRAME_SAMPLES];

/// The media machine of one anchored call.
pub struct Session {
    t0: Instant,
    config: SessionConfig,
    entropy: Entropy,
    streams: [Option<Stream>; 2],
    /// By speaking side: its packets to frames, once it needed the frame path.
    decode: [Option<Box<Decode>>; 2],
    /// By speaking side: whether its `decode` runs now.
    decoding: [bool; 2],
    /// By hearing side: frames to its packets, once it needed the frame path.
    encode: [Option<Box<Encode>>; 2],
    /// By hearing side.
    sources: [Option<Playing>; 2],
    /// By hearing side.
    routes: [Route; 2],
    sink: Option<Box<dyn FrameSink>>,
    /// By hearing side: payloads made elsewhere (a conference's mix).
    feeds: [Option<Feeding>; 2],
    /// The mixer's clock the frame tick follows, if any.
    mixer_clock: Option<MixerClock>,
    next_tick: Option<Instant>,
    activated: Option<Instant>,
    last_rtp: Option<Instant>,
    timed_out: bool,
    events: EventQueue,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("routes", &self.routes)
            .field("sink", &self.sink.is_some())
            .field("feeds", &self.feeds.each_ref().map(|f| f.is_some()))
            .field("next_tick", &self.next_tick)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with no side set up yet.
    pub fn new(now: Instant, config: SessionConfig, entropy: Entropy) -> Session {
        Session {
            t0: now,
            config,
            entropy,
            streams: [None, None],
            decode: [None, None],
            decoding: [false; 2],
            encode: [None, None],
            sources: [None, None],
            routes: [Route::Silent; 2],
            sink: None,
            feeds: [None, None],
            mixer_clock: None,
            next_tick: None,
            activated: None,
            last_rtp: None,
            timed_out: false,
            events: EventQueue::default(),
        }
    }

    /// Sets up a side from its negotiated SDP, or takes a new one (re-INVITE, hold): learning
    /// its source starts over.
    pub fn configure(&mut self, now: Instant, side: Side, config: StreamConfig) {
        let i = side.index();
        let rate_changed = match &mut self.streams[i] {
            Some(s) => {
                let changed = s.cfg.codec.sample_rate() != config.codec.sample_rate();
                s.reconfigure(config);
                changed
            }
            None => {
                self.streams[i] = Some(Stream::new(config, &mut self.entropy));
                true
            }
        };
        if rate_changed {
            // a source plays at the side's rate: it starts again at the new one
            if let Some(p) = self.sources[i].take() {
                let rate = config.codec.sample_rate();
                self.sources[i] = Some(Playing::new(p.source().clone(), rate));
            }
        }
        self.refresh(now);
    }

    /// The call is answered: media timeouts count from now.
    pub fn activate(&mut self, now: Instant) {
        self.activated = Some(now);
        self.timed_out = false;
    }

    /// Plays `source` to `side` in place of what it hears (ignored for a side not set up).
    pub fn play(&mut self, now: Instant, side: Side, source: Source) {
        let Some(s) = &self.streams[side.index()] else {
            return;
        };
        let rate = s.cfg.codec.sample_rate();
        self.sources[side.index()] = Some(Playing::new(source, rate));
        if let Some(e) = &mut self.encode[side.index()] {
            e.restart();
        }
        self.refresh(now);
    }

    /// Stops what plays to `side`; it hears the other side again.
    pub fn stop_play(&mut self, now: Instant, side: Side) {
        if self.sources[side.index()].take().is_some() {
            self.refresh(now);
        }
    }

    /// Sends an RFC 4733 digit to `side` (ignored when it negotiated no telephone-event or
    /// too many digits wait).
    pub fn send_digit(&mut self, now: Instant, side: Side, digit: Digit) {
        if let Some(tx) = self.streams[side.index()]
            .as_mut()
            .and_then(|s| s.dtmf_tx.as_mut())
        {
            let _ = tx.send(now, digit, DEFAULT_DURATION);
        }
    }

    /// Gives the call's decoded frames, both sides at every tick, to `sink` (recording, the
    /// mixer); `None` takes it away.
    pub fn set_sink(&mut self, now: Instant, sink: Option<Box<dyn FrameSink>>) {
        self.sink = sink;
        self.refresh(now);
    }

    /// Gives `side` the payloads of `feed` in place of the other side (a conference
    /// participant hears the mix); what plays to it still comes first. `None` takes it away.
    /// The feed's payloads must be in the side's negotiated codec; they go out when the
    /// driver says the producer pushed them (`handle_feed`).
    pub fn set_feed(&mut self, now: Instant, side: Side, feed: Option<Box<dyn PayloadFeed>>) {
        self.feeds[side.index()] = feed.map(Feeding::new);
        self.refresh(now);
    }

    /// Whether a side has a feed.
    pub fn is_fed(&self) -> bool {
        self.feeds.iter().any(Option::is_some)
    }

    /// The producer of the feeds pushed payloads at `now` (a mixer ticked): a fed side's go
    /// out with the next `poll_transmit`s (call it until `None`); a fed side that hears a
    /// prompt now drops them, so it hears the current mix once the prompt ends.
    pub fn handle_feed(&mut self, now: Instant) {
        for side in SIDES {
            let i = side.index();
            let Some(f) = &mut self.feeds[i] else {
                continue;
            };
            if self.routes[i] == Route::Feed {
                f.push(now);
            } else {
                f.discard();
            }
        }
    }

    /// Follows a mixer's clock (a conference participant) or, with `None`, the session's
    /// own again: with a clock, the frame tick falls `clock.lead` before each of the mixer's
    /// ticks, and the input jitter buffers steer by slack
    /// ([`JitterConfig::low_latency`](super::jitter::JitterConfig::low_latency)), so a
    /// voice frame is decoded as late as it can be and taken by the mixer at once. Their
    /// buffers start afresh.
    pub fn set_mixer_clock(&mut self, now: Instant, clock: Option<MixerClock>) {
        if self.mixer_clock == clock {
            return;
        }
        self.mixer_clock = clock;
        self.next_tick = self.next_tick.map(|_| self.first_tick(now));
        self.refresh(now);
    }

    /// The one source a port of `side` takes packets from now: the source its RTP port
    /// (`rtcp` false) or its RTCP port latched to, `None` while it learns (no packet yet, or
    /// a new SDP opened learning again) and for the RTCP port of a side with rtcp-mux (its
    /// RTCP comes to the RTP port). A media thread may `connect` the port's socket to it:
    /// the kernel then refuses every other source, as strict source would.
    pub fn peer(&self, side: Side, rtcp: bool) -> Option<SocketAddr> {
        let s = self.streams[side.index()].as_ref()?;
        match (rtcp, s.cfg.rtcp_mux) {
            (false, _) => s.latch.rtp(),
            (true, false) => s.latch.rtcp(),
            (true, true) => None,
        }
    }

    /// What the routes of both sides are now.
    pub fn route(&self, side: Side) -> Route {
        self.routes[side.index()]
    }

    /// Takes a datagram that arrived on `side`'s RTP port (`rtcp`: on its RTCP port) from
    /// `from`, in `buf[..len]`; a relayed packet is rewritten there. When the side speaks
    /// SRTP the packet is authenticated and decrypted in place first; when the side it is
    /// relayed to does, it is protected in place last, so `buf` should have
    /// [`RELAY_HEADROOM`] bytes after `len` (a packet that does not fit is dropped).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        side: Side,
        from: SocketAddr,
        rtcp: bool,
        buf: &mut [u8],
        len: usize,
    ) -> Action {
        let len = len.min(buf.len());
        let Some(stream) = self.streams[side.index()].as_mut() else {
            return Action::Dropped(DropReason::Unconfigured);
        };
        let kind = if rtcp {
            PacketKind::Rtcp
        } else {
            demux(&buf[..len])
        };
        let len = match kind {
            PacketKind::Rtp | PacketKind::Rtcp => stream.open(kind == PacketKind::Rtcp, buf, len),
            _ => Some(len),
        };
        let Some(len) = len else {
            return Action::Dropped(DropReason::Srtp);
        };
        let mut action = match kind {
            PacketKind::Rtcp => self.handle_rtcp(side, from, &mut buf[..len]),
            PacketKind::Rtp => self.handle_rtp(now, side, from, &mut buf[..len]),
            _ => {
                stream.counters.invalid += 1;
                Action::Dropped(DropReason::Malformed)
            }
        };
        if let Action::Forward {
            side: to, len: out, ..
        } = &mut action
        {
            if let Some(s) = &mut self.streams[to.index()] {
                s.sent(len);
                match s.seal(kind == PacketKind::Rtcp, buf, *out) {
                    Some(n) => *out = n,
                    None => return Action::Dropped(DropReason::Srtp),
                }
            }
            if let Some(s) = &mut self.streams[side.index()] {
                s.counters.relayed += 1;
            }
        }
        action
    }

    /// The next packet the session made (frame path, DTMF) into `buf` (at least
    /// [`MAX_TRANSMIT`] bytes), or `None`. Call after `handle_timeout` until `None`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        loop {
            let mut made = None;
            for side in SIDES {
                made = self
                    .transmit_audio(now, side, buf)
                    .or_else(|| self.transmit_digit(now, side, buf));
                if made.is_some() {
                    break;
                }
            }
            let mut t = made?;
            // the switch's own packets are RTP; a side that speaks SRTP gets them protected
            // (a failure cannot happen with a buffer of MAX_TRANSMIT: the packet is lost)
            let Some(s) = self.streams[t.side.index()].as_mut() else {
                return Some(t);
            };
            if let Some(n) = s.seal(false, buf, t.len) {
                t.len = n;
                return Some(t);
            }
        }
    }

    /// When `handle_timeout` (and then `poll_transmit`) has work: the next 20 ms tick, a DTMF
    /// packet, a digit's end, the media timeout.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut at = self.next_tick;
        let mut earliest = |t: Option<Instant>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        for s in self.streams.iter().flatten() {
            earliest(s.dtmf_rx.as_ref().and_then(|r| r.poll_timeout()));
            if s.cfg.sends {
                earliest(s.dtmf_tx.as_ref().and_then(|t| t.poll_timeout()));
            }
        }
        earliest(self.media_deadline());
        at
    }

    /// Runs what is due at `now`: one frame tick, digit ends, the media timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(at) = self.next_tick.filter(|&t| t <= now) {
            let behind = now.saturating_duration_since(at);
            let at = if behind > FRAME * MAX_TICK_LAG {
                // the thread stalled: drop the missed ticks rather than burst them out (on the
                // mixer's clock still, if it follows one)
                match &self.mixer_clock {
                    Some(c) => c.frame_tick_at_or_before(now),
                    None => now,
                }
            } else {
                at
            };
            self.tick(at);
            self.next_tick = self.next_tick.map(|_| at + FRAME);
        }
        for side in SIDES {
            if let Some(rx) = self.streams[side.index()]
                .as_mut()
                .and_then(|s| s.dtmf_rx.as_mut())
            {
                rx.handle_timeout(now);
            }
            self.collect_digits(now, side);
        }
        if let Some(deadline) = self.media_deadline() {
            if now >= deadline {
                self.timed_out = true;
                let since = self.last_rtp.max(self.activated).unwrap_or(now);
                self.events.push(Event::MediaTimeout {
                    idle: now.saturating_duration_since(since),
                });
            }
        }
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// The input jitter buffer of `side`, when its packets take the frame path.
    pub fn jitter_figures(&self, side: Side) -> Option<JitterFigures> {
        self.decode[side.index()]
            .as_ref()
            .map(|d| d.jitter_figures())
    }

    pub fn stats(&self) -> SessionStats {
        let side = |i: usize| {
            let concealed = self.decode[i].as_ref().map_or(0, |d| d.concealed());
            self.streams[i]
                .as_ref()
                .map(|s| s.stats(self.routes[i], concealed))
        };
        SessionStats {
            sides: [side(0), side(1)],
            sink: self.sink.is_some(),
        }
    }

    /// When silence becomes a media timeout, if it can.
    fn media_deadline(&self) -> Option<Instant> {
        let activated = self.activated?;
        if self.timed_out {
            return None;
        }
        let hold = self.streams.iter().flatten().any(|s| s.cfg.on_hold());
        let limit = if hold {
            self.config.hold_timeout
        } else {
            self.config.timeout
        };
        let since = self.last_rtp.map_or(activated, |t| t.max(activated));
        Some(since + limit)
    }
}

#[cfg(test)]
mod tests;
