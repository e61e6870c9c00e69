//! Session tests on injected time and seeded entropy: a `Rig` drives a session the way a
//! media thread does (packets in, ticks, transmits and events out) and keeps what came out.

mod dtmf;
mod feeds;
mod frames;
mod hold;
mod latching;
mod relay;
mod sources;
mod srtp;
mod stats;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::media::codec::{Decoder, Encoder};
use crate::media::rtp::{write_header, Header, PayloadType, RtpPacket, RtpTimestamp, Seq, Ssrc};
use crate::media::tone::{Level, Sound, Tone, ToneGenerator};
use crate::media::{Codec, SampleRate};

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The caller's SDP address, and the callee's.
pub(super) const CALLER: &str = "192.0.2.10:4000";
pub(super) const CALLEE: &str = "192.0.2.20:5000";

pub(super) fn stream(remote: &str, codec: Codec, pt: u8, te: Option<u8>) -> StreamConfig {
    let remote = addr(remote);
    StreamConfig {
        remote,
        remote_rtcp: SocketAddr::new(remote.ip(), remote.port() + 1),
        rtcp_mux: false,
        codec,
        payload_type: pt,
        incoming_payload_type: pt,
        telephone_event: te,
        incoming_telephone_event: te,
        sends: true,
        receives: true,
        srtp: None,
    }
}

/// An RTP packet.
pub(super) fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut h = Header::new(
        PayloadType::new(pt).unwrap(),
        Seq(seq),
        RtpTimestamp(ts),
        Ssrc(ssrc),
    );
    h.marker = marker;
    let mut buf = vec![0u8; 12 + payload.len()];
    let n = write_header(&mut buf, &h).unwrap();
    buf[n..].copy_from_slice(payload);
    buf
}

/// A sine at `freq` and `dbfs`, `frames` 20 ms frames at `rate`.
pub(super) fn sine(freq: f32, dbfs: f32, rate: SampleRate, frames: usize) -> Vec<i16> {
    let tone = Tone::continuous(Sound::Single(freq), Level::dbfs(dbfs));
    let mut out = vec![0i16; frames * rate.frame_samples()];
    ToneGenerator::new(tone, rate).generate(&mut out);
    out
}

/// One side's phone: sends a stream of encoded frames from its own address.
pub(super) struct Phone {
    pub from: SocketAddr,
    pub codec: Codec,
    pub pt: u8,
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    encoder: Encoder,
}

impl Phone {
    pub fn new(from: &str, codec: Codec, pt: u8, ssrc: u32) -> Phone {
        Phone {
            from: addr(from),
            codec,
            pt,
            ssrc,
            seq: 1000,
            ts: 50_000,
            encoder: Encoder::new(codec),
        }
    }

    /// The next 20 ms packet carrying `pcm` (one frame at the codec's rate).
    pub fn packet(&mut self, pcm: &[i16]) -> Vec<u8> {
        let mut payload = vec![0u8; self.codec.frame_payload_bytes()];
        let n = self.encoder.encode(pcm, &mut payload);
        let p = rtp(self.pt, self.seq, self.ts, self.ssrc, false, &payload[..n]);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(self.codec.frame_timestamp_units());
        p
    }

    /// Skips a packet (lost on the way).
    pub fn lose(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(self.codec.frame_timestamp_units());
    }
}

/// What came out of a session.
#[derive(Debug, Clone)]
pub(super) struct Out {
    pub side: Side,
    pub to: SocketAddr,
    pub rtcp: bool,
    pub bytes: Vec<u8>,
}

pub(super) struct Rig {
    pub s: Session,
    pub t0: Instant,
    pub out: Vec<Out>,
    pub events: Vec<Event>,
}

impl Rig {
    pub fn new() -> Rig {
        Rig::with(SessionConfig::default())
    }

    pub fn with(config: SessionConfig) -> Rig {
        let t0 = Instant::now();
        Rig {
            s: Session::new(t0, config, Entropy::seeded(7)),
            t0,
            out: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn at(&self, ms_: u64) -> Instant {
        self.t0 + ms(ms_)
    }

    /// Two sides.
    pub fn call(caller: StreamConfig, callee: StreamConfig) -> Rig {
        let mut r = Rig::new();
        r.s.configure(r.t0, Side::Caller, caller);
        r.s.configure(r.t0, Side::Callee, callee);
        r
    }

    /// Gives a packet to the session at `now`; a forwarded one is kept in `out`.
    pub fn recv(&mut self, now: Instant, side: Side, from: SocketAddr, packet: &[u8]) -> Action {
        let mut buf = [0u8; 2048];
        buf[..packet.len()].copy_from_slice(packet);
        let a = self
            .s
            .handle_packet(now, side, from, false, &mut buf, packet.len());
        if let Action::Forward {
            side,
            to,
            len,
            rtcp,
        } = a
        {
            self.out.push(Out {
                side,
                to,
                rtcp,
                bytes: buf[..len].to_vec(),
            });
        }
        self.drain(now);
        a
    }

    /// Runs every deadline up to `now`, keeping what comes out.
    pub fn run_until(&mut self, now: Instant) {
        while let Some(at) = self.s.poll_timeout() {
            if at > now {
                break;
            }
            self.s.handle_timeout(at);
            self.drain(at);
        }
        self.drain(now);
    }

    fn drain(&mut self, now: Instant) {
        let mut buf = [0u8; MAX_TRANSMIT];
        while let Some(t) = self.s.poll_transmit(now, &mut buf) {
            self.out.push(Out {
                side: t.side,
                to: t.to,
                rtcp: t.rtcp,
                bytes: buf[..t.len].to_vec(),
            });
        }
        while let Some(e) = self.s.poll_event() {
            self.events.push(e);
        }
    }

    /// Takes what went to `side`.
    pub fn take(&mut self, side: Side) -> Vec<Out> {
        let (mine, rest) = std::mem::take(&mut self.out)
            .into_iter()
            .partition(|o| o.side == side);
        self.out = rest;
        mine
    }
}

/// Decodes packets of `codec` into one signal (in arrival order).
pub(super) fn decode_all(out: &[Out], codec: Codec) -> Vec<i16> {
    let mut dec = Decoder::new(codec);
    let mut pcm = Vec::new();
    let mut frame = vec![0i16; codec.sample_rate().frame_samples()];
    for o in out {
        let p = RtpPacket::parse(&o.bytes).unwrap();
        let n = dec.decode(p.payload(), &mut frame);
        pcm.extend_from_slice(&frame[..n]);
    }
    pcm
}
