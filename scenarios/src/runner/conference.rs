//! RTP for conference participants: each sends its voice (a tone, silence, or the probe's
//! bursts; `crate::core::conference`) at 50 packets/s from the socket it receives the mix
//! on, towards the address in the switch's answer, and hands every packet of the mix to the
//! core's [`ParticipantMeter`].
//!
//! The probe's delay: a probe stores the time it sends the first packet of each burst in
//! its room's slot of [`ProbeClocks`] (shared by every shard of the run); a listener whose
//! meter sees a burst start reads the slot and records the difference. Both times come from
//! one clock (the system's real-time clock), so the delay is the bridge's: the probe's packet
//! into the switch, its jitter buffer, the mixer's tick, the send tick, back to the listener.
//! The arrival is the kernel's receive timestamp of the packet (`SO_TIMESTAMPNS`, on Linux),
//! not the moment the runner got round to reading it: the runner's own wake-ups on the
//! receive side are left out of the delay and counted apart (its lateness, every packet), as
//! is its lateness sending (how long after each 20 ms tick was due a packet went out; a
//! late probe packet is timed from its real send). Elsewhere, or where the kernel gives no
//! timestamp, the arrival is the read. Bursts are a second apart, far more than any delay,
//! so the slot still holds the burst that arrived. A probe starts bursting only once it has
//! settled in the conference (`Participant::probe_settle`).
//!
//! Set up once per participant (its second of voice is encoded once per voice and codec by
//! the shard and shared); each packet reuses the same buffers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchboard_engine::media::Codec;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use crate::core::conference::{Participant, Voice, PROBE_BURST};
use crate::core::stats::{ParticipantCounts, ParticipantMeter};

mod stamp;

const FRAME: Duration = Duration::from_millis(20);
/// A delay longer than this is no delay of the burst in the slot (a probe that left).
const LONGEST_DELAY: Duration = Duration::from_millis(900);

/// When each room's probe last started a burst (ns of the real-time clock, the clock of the
/// kernel's receive timestamps; `u64::MAX`: never), and each room's probe's codec.
pub struct ProbeClocks {
    bursts: Box<[AtomicU64]>,
    /// Set once per probe call (not per packet), read once per participant at its end.
    codecs: Mutex<Box<[Option<Codec>]>>,
}

/// Now on the real-time clock, in ns since the Unix epoch.
fn real_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl ProbeClocks {
    /// Slots for `rooms` rooms.
    pub fn new(rooms: u32) -> ProbeClocks {
        ProbeClocks {
            bursts: (0..rooms).map(|_| AtomicU64::new(u64::MAX)).collect(),
            codecs: Mutex::new(vec![None; rooms as usize].into_boxed_slice()),
        }
    }

    fn burst_started(&self, room: u32) {
        if let Some(slot) = self.bursts.get(room as usize) {
            slot.store(real_now(), Ordering::Release);
        }
    }

    /// How long before `at` (real-time ns) the room's probe started its last burst.
    fn since_burst(&self, room: u32, at: u64) -> Option<Duration> {
        let sent = self.bursts.get(room as usize)?.load(Ordering::Acquire);
        (sent != u64::MAX).then(|| Duration::from_nanos(at.saturating_sub(sent)))
    }

    fn set_codec(&self, room: u32, codec: Codec) {
        if let Ok(mut codecs) = self.codecs.lock() {
            if let Some(slot) = codecs.get_mut(room as usize) {
                *slot = Some(codec);
            }
        }
    }

    fn codec(&self, room: u32) -> Option<Codec> {
        self.codecs
            .lock()
            .ok()?
            .get(room as usize)
            .copied()
            .flatten()
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
    if probe {
        clocks.set_codec(room, codec);
    }
    let stamped = stamp::enable(&socket);
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
                due = tick.tick() => {
                    meter.record_send_lateness(due.elapsed());
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
                r = stamp::recv(&socket, &mut rx, stamped) => {
                    let Ok((n, from, arrived)) = r else { continue };
                    let read = real_now();
                    let arrived = arrived.filter(|&a| a <= read).unwrap_or(read);
                    let late = Duration::from_nanos(read - arrived);
                    if stamped {
                        meter.record_lateness(late);
                    }
                    // the meter times the mix (jitter, lateness) by its arrival too
                    let now = epoch.elapsed().saturating_sub(late);
                    if meter.handle_packet(now, from, &rx[..n]) {
                        if let Some(d) = clocks
                            .since_burst(room, arrived)
                            .filter(|d| *d < LONGEST_DELAY)
                        {
                            meter.record_delay(d, d + late);
                        }
                    }
                }
            }
        }
        meter.set_probe_codec(clocks.codec(room));
        let _ = done_tx.send(meter.counts());
    });
    Leg {
        stop: Some(stop_tx),
        done: Some(done_rx),
    }
}
