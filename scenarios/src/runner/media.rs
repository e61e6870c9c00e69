//! RTP for simulated calls: G.711 µ-law (PCMU) audio, 20 ms frames at 50 packets/s, both
//! ways, on a socket per call leg. The receiving side counts what arrived against the
//! sender's sequence numbers (loss) and against its timestamps (late: more than 40 ms behind
//! the packet's due time).
//!
//! Set up once per leg; each frame reuses the same buffer: no allocation, lock or log per
//! packet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::oneshot;

/// A packet later than this after its due time counts as late.
pub const LATE_AFTER: Duration = Duration::from_millis(40);
const FRAME: Duration = Duration::from_millis(20);
const SAMPLES: usize = 160;

/// What one leg's receiver counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpCount {
    pub expected: u64,
    pub received: u64,
    pub late: u64,
}

/// A running leg: stop it to get its counts.
pub struct Leg {
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<RtpCount>>,
}

impl Leg {
    /// Stops sending and receiving; the counts come on the returned channel.
    pub fn stop(mut self) -> Option<oneshot::Receiver<RtpCount>> {
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

/// Starts a leg on `socket` sending to `remote`.
pub fn start(socket: UdpSocket, remote: SocketAddr, ssrc: u32) -> Leg {
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
        let mut count = RtpCount::default();
        let mut first: Option<(u16, tokio::time::Instant)> = None;
        let mut highest: u64 = 0;
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
                    let _ = socket.try_send_to(&packet, remote);
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(SAMPLES as u32);
                }
                r = socket.recv_from(&mut rx) => {
                    let Ok((n, _)) = r else { continue };
                    if n < 12 || rx[0] >> 6 != 2 {
                        continue;
                    }
                    let now = tokio::time::Instant::now();
                    let s = u16::from_be_bytes([rx[2], rx[3]]);
                    let (first_seq, first_at) = *first.get_or_insert((s, now));
                    // packets since the first one (sequence numbers wrap at 65,536)
                    let index = u64::from(s.wrapping_sub(first_seq));
                    if index > 30_000 {
                        continue; // older than the first: reordered before it
                    }
                    count.received += 1;
                    highest = highest.max(index);
                    let due = first_at + FRAME * index as u32;
                    if now > due + LATE_AFTER {
                        count.late += 1;
                    }
                }
            }
        }
        if first.is_some() {
            count.expected = highest + 1;
        }
        let _ = done_tx.send(count);
    });
    Leg {
        stop: Some(stop_tx),
        done: Some(done_rx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_encodes_silence_and_extremes_as_g711_says() {
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_ulaw(-1), 0x7e);
        assert_eq!(linear_to_ulaw(32767), 0x80);
        assert_eq!(linear_to_ulaw(-32768), 0x00);
        assert_eq!(linear_to_ulaw(1000), 0xce);
    }

    #[tokio::test]
    async fn two_legs_exchange_fifty_packets_a_second_and_count_them() {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let la = start(a, ba, 1);
        let lb = start(b, aa, 2);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let ra = la.stop().unwrap().await.unwrap();
        let rb = lb.stop().unwrap().await.unwrap();
        for r in [ra, rb] {
            assert!((40..=60).contains(&r.received), "{r:?}");
            assert!(r.expected >= r.received);
            assert!(r.expected - r.received <= 2, "{r:?}");
        }
    }
}
