//! A media session driven by arbitrary commands and datagrams: sides configured with any
//! codec, payload types, directions and addresses; packets of any bytes (RTP-looking ones
//! built from the input too) from the SDP address or elsewhere, on RTP or RTCP ports; tones,
//! recordings, digits, a sink; time moving by 0-255 ms a step. It must not panic; every
//! packet it sends fits the buffer, goes from a side that is set up, and a forwarded packet
//! is never longer than what came in.

#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use switchboard_engine::entropy::Entropy;
use switchboard_engine::media::dtmf::Digit;
use switchboard_engine::media::session::{
    Action, Session, SessionConfig, Source, StreamConfig, MAX_TRANSMIT,
};
use switchboard_engine::media::tone::{Ringback, Tone};
use switchboard_engine::media::{Codec, FrameSink, SampleRate, Side};

struct Null;

impl FrameSink for Null {
    fn frame(&mut self, _: Side, _: SampleRate, _: &[i16]) {}
}

const CODECS: [Codec; 5] = [
    Codec::Pcmu,
    Codec::Pcma,
    Codec::G722,
    Codec::L16(SampleRate::NARROW),
    Codec::L16(SampleRate::WIDE),
];

fn addr(b: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, b & 3], 4000 + u16::from(b & 3) * 2))
}

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut now = t0;
    let config = SessionConfig {
        timeout: Duration::from_millis(500),
        hold_timeout: Duration::from_millis(1500),
    };
    let mut s = Session::new(t0, config, Entropy::seeded(3));
    let mut configured = [false; 2];
    let mut buf = [0u8; 1600];
    let mut out = [0u8; MAX_TRANSMIT];
    let mut rest = data;
    while let [op, a, b, tail @ ..] = rest {
        rest = tail;
        let side = if a & 1 == 0 { Side::Caller } else { Side::Callee };
        now += Duration::from_millis(u64::from(*b));
        match op % 10 {
            0 => {
                let remote = if a & 2 == 0 { addr(*b) } else { "0.0.0.0:0".parse().unwrap() };
                s.configure(
                    now,
                    side,
                    StreamConfig {
                        remote,
                        remote_rtcp: addr(b.wrapping_add(1)),
                        rtcp_mux: a & 4 != 0,
                        codec: CODECS[usize::from(b % 5)],
                        payload_type: a >> 1,
                        // a renumbering answer now and then
                        incoming_payload_type: if a & 64 != 0 { b >> 1 } else { a >> 1 },
                        telephone_event: (a & 8 != 0).then_some(b ^ a),
                        incoming_telephone_event: (a & 8 != 0).then_some(*b),
                        sends: a & 16 != 0,
                        receives: a & 32 != 0,
                        // SRTP has a target of its own (srtp_unprotect)
                        srtp: None,
                    },
                );
                configured[side.index()] = true;
            }
            1 | 2 | 3 => {
                // a datagram of the next `b` bytes, made RTP-like (version 2) when asked
                let n = usize::from(*b).min(rest.len());
                buf[..n].copy_from_slice(&rest[..n]);
                rest = &rest[n..];
                if op % 10 != 3 && n > 1 {
                    buf[0] = 0x80 | (buf[0] & 0x3f);
                    buf[1] &= if a & 2 == 0 { 0x7f } else { 0xff };
                }
                let from = addr(a >> 2);
                let rtcp = op % 10 == 3;
                match s.handle_packet(now, side, from, rtcp, &mut buf, n) {
                    Action::Forward { side: to, len, .. } => {
                        assert!(len <= n);
                        assert!(configured[to.index()]);
                    }
                    Action::Consumed | Action::Dropped(_) => {}
                }
            }
            4 => s.activate(now),
            5 => {
                let source = match a % 4 {
                    0 => Source::Tone(Ringback::for_country(u16::from(*b))),
                    1 => Source::Tone(Tone::BEEP),
                    2 => Source::Tone(Tone::CHIME),
                    _ => Source::Pcm {
                        samples: Arc::from(vec![i16::from(*b) * 100; usize::from(*b) * 7]),
                        rate: if b & 1 == 0 { SampleRate::NARROW } else { SampleRate::WIDE },
                    },
                };
                s.play(now, side, source);
            }
            6 => s.stop_play(now, side),
            7 => {
                if let Some(d) = Digit::from_event(b & 15) {
                    s.send_digit(now, side, d);
                }
            }
            8 => s.set_sink(now, (a & 1 == 0).then(|| Box::new(Null) as Box<dyn FrameSink>)),
            _ => {
                // run everything due: the thread's loop
                let mut guard = 0;
                while let Some(at) = s.poll_timeout().filter(|&at| at <= now) {
                    s.handle_timeout(now.max(at));
                    guard += 1;
                    if guard > 1000 {
                        break;
                    }
                    while let Some(t) = s.poll_transmit(now, &mut out) {
                        assert!(t.len <= out.len());
                        assert!(configured[t.side.index()]);
                    }
                }
            }
        }
        while let Some(t) = s.poll_transmit(now, &mut out) {
            assert!(t.len <= out.len());
        }
        while s.poll_event().is_some() {}
        let _ = s.stats();
    }
});
