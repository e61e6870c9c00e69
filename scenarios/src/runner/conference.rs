//! RTP for conference participants: each sends its voice (a tone, silence, or the probe's
//! bursts; `crate::core::conference`) at 50 packets/s from the socket it receives the mix
//! on, towards the address in the switch's answer, and hands every packet of the mix to the
//! core's [`ParticipantMeter`].
//!
//! The probe's delay: a probe stores the time it sends the first packet of each burst in
//! its room's slot of [`ProbeClocks`] (shared by every shard of the run); a listener whose
//! meter sees a burst start reads the slot and records the difference. Both times come from
//! one clock in one process, so the delay is the bridge's: the probe's packet into the
//! switch, its jitter buffer, the mixer's tick, the send tick, back to the listener, plus
//! the runner's own wake-up on each side. Bursts are a second apart, far more than any
//! delay, so the slot still holds the burst that arrived. A probe starts bursting only once
//! it has settled in the conference (`Participant::probe_settle`).
//!
//! Set up once per participant (its second of voice is encoded once per voice and codec by
//! the shard and shared); each packet reuses the same buffers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use crate::core::conference::{Participant, Voice, PROBE_BURST};
use crate::core::stats::{ParticipantCounts, ParticipantMeter};

const FRAME: Duration = Duration::from_millis(20);
/// A delay longer than this is no delay of the burst in the slot (a probe that left).
const LONGEST_DELAY: Duration = Duration::from_millis(900);

/// When each room's probe last started a burst (µs since `epoch`; `u64::MAX`: never).
pub struct ProbeClocks {
    epoch: Instant,
    bursts: Box<[AtomicU64]>,
}

impl ProbeClocks {
    /// Slots for `rooms` rooms.
    pub fn new(rooms: u32) -> ProbeClocks {
        ProbeClocks {
            epoch: Instant::now(),
            bursts: (0..rooms).map(|_| AtomicU64::new(u64::MAX)).collect(),
        }
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn burst_started(&self, room: u32) {
        if let Some(slot) = self.bursts.get(room as usize) {
            slot.store(self.now_us(), Ordering::Release);
        }
    }

    /// How long ago the room's probe started its last burst.
    fn since_burst(&self, room: u32) -> Option<Duration> {
        let at = self.bursts.get(room as usize)?.load(Ordering::Acquire);
        (at != u64::MAX).then(|| Duration::from_micros(self.now_us().saturating_sub(at)))
    }
}

/// A running participant: stop it to get its counts.
pub struct Leg {
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<ParticipantCounts>>,
}

impl Leg {
    /// Stops sending and receiving; the counts come on the returned channel.
    pub fn stop(mut self) -> Option<oneshot::Receiver<ParticipantCounts>> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.done.take()
    }
}

/// Starts participant `p` on `socket`, sending `voice` (one second of its payloads, see
/// `Participant::voice`) in a loop to `remote` (the switch's answer) with `ssrc`.
pub fn start(
    socket: UdpSocket,
    remote: SocketAddr,
    p: &Participant,
    voice: Arc<[u8]>,
    ssrc: u32,
    clocks: Arc<ProbeClocks>,
) -> Leg {
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    let mut meter = ParticipantMeter::new(p, remote);
    let (room, probe) = (p.room, p.voice == Voice::Probe);
    let codec = p.codec;
    let settle = (p.probe_settle.as_millis() / FRAME.as_millis()) as usize;
    tokio::spawn(async move {
        let bytes = codec.frame_payload_bytes();
        let frames = (voice.len() / bytes.max(1)).max(1);
        // a probe's bursts are its frames 0 .. burst of each second; until it has settled it
        // sends the silence after them instead
        let burst = (PROBE_BURST.as_millis() / FRAME.as_millis()) as usize;
        let mut packet = vec![0u8; 12 + bytes];
        packet[0] = 0x80; // V=2
        packet[1] = codec.static_payload_type().unwrap_or(96);
        packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
        let (mut seq, mut ts, mut frame): (u16, u32, usize) = (0, 0, 0);
        let mut rx = [0u8; 1500];
        let epoch = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(FRAME);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                _ = tick.tick() => {
                    packet[2..4].copy_from_slice(&seq.to_be_bytes());
                    packet[4..8].copy_from_slice(&ts.to_be_bytes());
                    let mut k = frame % frames;
                    if probe && frame < settle && k < burst {
                        k = burst;
                    } else if probe && k == 0 {
                        clocks.burst_started(room);
                    }
                    let at = k * bytes;
                    packet[12..].copy_from_slice(&voice[at..at + bytes]);
                    let _ = socket.try_send_to(&packet, remote);
                    meter.handle_sent();
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(codec.frame_timestamp_units());
                    frame += 1;
                }
                r = socket.recv_from(&mut rx) => {
                    let Ok((n, from)) = r else { continue };
                    if meter.handle_packet(epoch.elapsed(), from, &rx[..n]) {
                        if let Some(d) = clocks.since_burst(room).filter(|d| *d < LONGEST_DELAY) {
                            meter.record_delay(d);
                        }
                    }
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
