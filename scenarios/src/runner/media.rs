//! RTP for simulated calls: G.711 µ-law (PCMU) audio, 20 ms frames at 50 packets/s, both
//! ways, on a socket per call leg. A leg is symmetric, as a phone behind NAT must be for a
//! switch to latch on it: it sends from the socket it receives on, to the address in the
//! other side's SDP. What arrives is counted by the core's [`LegMeter`]: loss and lateness
//! (more than 40 ms past the playout time a jitter buffer started by the stream's first
//! packet gives it) per SSRC, and whether the packets came from the other phone or from the
//! switch's relay.
//!
//! Set up once per leg; each frame reuses the same buffer: no allocation, lock or log per
//! packet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use crate::core::stats::{LegCounts, LegMeter};

const FRAME: Duration = Duration::from_millis(20);
const SAMPLES: usize = 160;

/// A running leg: stop it to get its counts.
pub struct Leg {
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<LegCounts>>,
}

impl Leg {
    /// Stops sending and receiving; the counts come on the returned channel.
    pub fn stop(mut self) -> Option<oneshot::Receiver<LegCounts>> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.done.take()
    }
}

/// One second of a 400 Hz tone in µ-law, 8 kHz: the audio every leg sends (real G.711).
fn tone() -> Arc<[u8; 8000]> {
    let mut out = [0u8; 8000];
    for (i, b) in out.iter_mut().enumerate() {
        let s = (f64::sin(2.0 * std::f64::consts::PI * 400.0 * i as f64 / 8000.0) * 8000.0) as i16;
        *b = linear_to_ulaw(s);
    }
    Arc::new(out)
}

/// ITU-T G.711 µ-law encoding of one 16-bit linear sample (the reference encoder's
/// 14-bit form).
pub fn linear_to_ulaw(pcm: i16) -> u8 {
    const SEG_END: [i32; 8] = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
    let mut v = i32::from(pcm) >> 2;
    let mask: u8 = if v < 0 {
        v = -v;
        0x7f
    } else {
        0xff
    };
    v = v.min(8159) + 0x21;
    match SEG_END.iter().position(|&end| v <= end) {
        Some(seg) => (((seg as i32) << 4 | ((v >> (seg + 1)) & 0x0f)) as u8) ^ mask,
        None => 0x7f ^ mask,
    }
}

/// Starts a leg on `socket` sending to `remote` (the other side's SDP); `peer` is the socket
/// the other phone sends from, when its signalling said.
pub fn start(socket: UdpSocket, remote: SocketAddr, peer: Option<SocketAddr>, ssrc: u32) -> Leg {
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    let audio = tone();
    tokio::spawn(async move {
        let mut packet = [0u8; 12 + SAMPLES];
        packet[0] = 0x80; // V=2
        packet[1] = 0; // PT 0 = PCMU
        packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
        let mut seq: u16 = 0;
        let mut ts: u32 = 0;
        let mut rx = [0u8; 1500];
        let mut meter = LegMeter::new(remote, peer);
        let epoch = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(FRAME);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                _ = tick.tick() => {
                    packet[2..4].copy_from_slice(&seq.to_be_bytes());
                    packet[4..8].copy_from_slice(&ts.to_be_bytes());
                    let at = (ts as usize) % (8000 - SAMPLES);
                    packet[12..].copy_from_slice(&audio[at..at + SAMPLES]);
                    // a refused send (no route to a NAT address) is a packet lost on its way
                    let _ = socket.try_send_to(&packet, remote);
                    meter.handle_sent();
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(SAMPLES as u32);
                }
                r = socket.recv_from(&mut rx) => {
                    let Ok((n, from)) = r else { continue };
                    meter.handle_packet(epoch.elapsed(), from, &rx[..n]);
                }
            }
        }
        let _ = done_tx.send(meter.counts());
    });
    Leg {
        stop: Some(stop_tx),
        done: Some(done_rx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::stats::Origin;

    #[test]
    fn ulaw_encodes_silence_and_extremes_as_g711_says() {
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_ulaw(-1), 0x7e);
        assert_eq!(linear_to_ulaw(32767), 0x80);
        assert_eq!(linear_to_ulaw(-32768), 0x00);
        assert_eq!(linear_to_ulaw(1000), 0xce);
    }

    #[tokio::test]
    async fn two_legs_exchange_fifty_packets_a_second_and_count_them_as_direct() {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let la = start(a, ba, Some(ba), 1);
        let lb = start(b, aa, Some(aa), 2);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let ra = la.stop().unwrap().await.unwrap();
        let rb = lb.stop().unwrap().await.unwrap();
        for r in [ra, rb] {
            assert!((40..=60).contains(&r.received), "{r:?}");
            assert!((40..=60).contains(&r.sent), "{r:?}");
            assert!(r.expected >= r.received);
            assert!(r.expected - r.received <= 2, "{r:?}");
            assert_eq!(r.origin, Origin::Direct, "{r:?}");
        }
    }

    /// A stand-in for an anchoring switch: two relay sockets, each side latched on the source
    /// of the first packet it receives (until then it sends nowhere: the phones' SDP names an
    /// unreachable NAT address), then every packet relayed to the other side's latched source
    /// from the relay socket of that side.
    async fn latching_relay() -> (SocketAddr, SocketAddr) {
        let x = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let y = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addrs = (x.local_addr().unwrap(), y.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut bx, mut by) = ([0u8; 1500], [0u8; 1500]);
            let (mut lx, mut ly): (Option<SocketAddr>, Option<SocketAddr>) = (None, None);
            loop {
                tokio::select! {
                    r = x.recv_from(&mut bx) => {
                        let Ok((n, from)) = r else { return };
                        lx.get_or_insert(from);
                        if let Some(to) = ly {
                            let _ = y.send_to(&bx[..n], to).await;
                        }
                    }
                    r = y.recv_from(&mut by) => {
                        let Ok((n, from)) = r else { return };
                        ly.get_or_insert(from);
                        if let Some(to) = lx {
                            let _ = x.send_to(&by[..n], to).await;
                        }
                    }
                }
            }
        });
        addrs
    }

    #[tokio::test]
    async fn nat_legs_through_a_latching_relay_get_audio_and_count_it_as_relayed() {
        let (rx, ry) = latching_relay().await;
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        // each sends to its side of the relay (what the switch's SDP said) and names its own
        // socket as the peer's
        let la = start(a, rx, Some(ba), 1);
        let lb = start(b, ry, Some(aa), 2);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let ra = la.stop().unwrap().await.unwrap();
        let rb = lb.stop().unwrap().await.unwrap();
        for r in [ra, rb] {
            assert_eq!(r.origin, Origin::Relayed, "{r:?}");
            assert!((35..=60).contains(&r.received), "{r:?}");
            assert!(r.expected - r.received <= 2, "{r:?}");
        }
    }

    #[tokio::test]
    async fn a_leg_sending_to_an_address_nothing_answers_is_silent_and_all_lost() {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let nat = "10.255.255.1:40000".parse().unwrap();
        let la = start(a, nat, Some("127.0.0.1:9".parse().unwrap()), 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let r = la.stop().unwrap().await.unwrap();
        assert_eq!(r.origin, Origin::Silent);
        assert!(
            r.sent >= 10 && r.expected == r.sent && r.received == 0,
            "{r:?}"
        );
    }
}
