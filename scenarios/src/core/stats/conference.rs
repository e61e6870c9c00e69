//! What a conference participant hears: the mix's packets (loss, lateness, jitter, frames
//! missing from its timeline), whether the mix holds the room's other talkers and not the
//! participant's own voice, and when the room's probe bursts arrive.
//!
//! Sans-IO: the runner hands each datagram of the participant's socket to
//! [`ParticipantMeter::handle_packet`] with its arrival time (an offset from any fixed
//! instant). Audio checks stay cheap: from one second after the first packet, once a second,
//! five consecutive frames (100 ms) are decoded (after one frame to settle the decoder, which
//! G.722 needs after a gap) and measured by Goertzel at the room's talkers' frequencies. A
//! frequency is *present* in a window when it carries at least a tenth of the window's power
//! and is louder than -50 dBFS. A participant *hears* the others when another talker is
//! present in at least half its windows; it *hears itself* when its own tone is present in
//! any window. Listeners of a probe decode every frame and look for the probe's tone in each:
//! the first frame holding it after at least 200 ms without it is an onset
//! ([`ParticipantMeter::handle_packet`] returns true), timed by the runner against the
//! probe's send time ([`ParticipantMeter::record_delay`]): once by the packet's arrival (the
//! kernel's receive timestamp where the runner has one), once by the moment the runner read
//! it. The runner's own lateness, reading each packet after its arrival and sending each
//! packet after its 20 ms tick was due, is counted apart, and the delays are kept per pair of
//! the probe's codec and the listener's.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_engine::media::codec::Decoder;
use switchboard_engine::media::rtp::{demux, PacketKind, RtpPacket};
use switchboard_engine::media::tone::{block_dbfs, goertzel_power};
use switchboard_engine::media::{Codec, SampleRate, MAX_FRAME_SAMPLES};

use super::histogram::Histogram;
use super::rtp::{LegCounts, LegMeter};
use crate::core::conference::{Participant, PROBE_HZ};

/// Frames measured per window.
const WINDOW_FRAMES: usize = 5;
/// The first window starts this long after the first packet (the join tone is over).
const WARM_UP: Duration = Duration::from_secs(1);
/// One window per this much time.
const WINDOW_EVERY: Duration = Duration::from_secs(1);
/// A frequency is present when it carries at least this share of the power (dB)...
const PRESENT_SHARE_DB: f64 = -10.0;
/// ...and is louder than this (dBFS).
const PRESENT_FLOOR_DBFS: f64 = -50.0;
/// Frames without the probe's tone before the next frame with it is an onset (200 ms).
const PROBE_QUIET_FRAMES: u32 = 10;
/// The most talker frequencies a participant listens for.
const MAX_FREQS: usize = crate::core::conference::MAX_TALKERS as usize;

/// What one participant counted when its call ended.
#[derive(Debug, Clone)]
pub struct ParticipantCounts {
    pub room: u32,
    /// Its packets, as a call leg counts them (origin is meaningless here).
    pub rtp: LegCounts,
    /// Frames missing from the mix's timeline (timestamps that no packet brought).
    pub missing_frames: u64,
    /// Packets whose timestamp was more than a second off the mix's timeline.
    pub timestamp_jumps: u64,
    /// Interarrival jitter of the mix at the end (RFC 3550 §6.4.1).
    pub jitter: Duration,
    /// Windows measured; in how many another talker was present; in how many its own tone.
    pub windows: u64,
    pub heard_windows: u64,
    pub self_windows: u64,
    /// The room has talkers other than this participant (it should hear someone).
    pub should_hear: bool,
    /// It talks (it could hear itself).
    pub talks: bool,
    /// Delays of the probe's bursts, from the probe's send to the onset's arrival here (the
    /// kernel's receive timestamp; the runner's reading it where there is none).
    pub delays: Histogram,
    /// The same bursts from the probe's send to the runner's reading the onset packet.
    pub delays_read: Histogram,
    /// Every packet of the mix: from its arrival (the kernel's timestamp) to the runner's
    /// reading it. Empty without kernel timestamps.
    pub lateness: Histogram,
    /// Every packet it sent: how long after its 20 ms tick was due the runner sent it.
    pub send_lateness: Histogram,
    /// Its codec, and the codec of its room's probe (once the probe's call has started).
    pub codec: Codec,
    pub probe_codec: Option<Codec>,
}

impl ParticipantCounts {
    /// It heard another talker in at least half its windows.
    pub fn heard(&self) -> bool {
        self.windows > 0 && self.heard_windows * 2 >= self.windows
    }

    /// Its own tone came back in some window.
    pub fn heard_itself(&self) -> bool {
        self.self_windows > 0
    }
}

/// What the participants of one conference room (or of all) counted.
#[derive(Debug, Clone, Default)]
pub struct RoomTotals {
    /// Participants' calls started (each dial of a participant counts).
    pub dialled: u64,
    /// Calls that reported audio counts: answered, with their media started.
    pub joined: u64,
    /// Packets the participants sent, expected from the mix, received, late.
    pub sent: u64,
    pub expected: u64,
    pub received: u64,
    pub late: u64,
    /// Frames missing from the mix's timeline (ticks with no packet).
    pub missing_frames: u64,
    /// Packets stamped more than a second off the mix's timeline.
    pub timestamp_jumps: u64,
    /// Sum and highest of the participants' jitter at the end of their calls (µs).
    pub jitter_sum_us: u64,
    pub jitter_max_us: u64,
    /// Participants with measured windows that should hear another talker, and those who
    /// did; talkers with measured windows, and those who heard themselves.
    pub listeners: u64,
    pub heard: u64,
    pub talkers: u64,
    pub self_heard: u64,
    /// Delays of the probe's bursts through the bridge, by arrival and by the runner's read.
    pub delays: Histogram,
    pub delays_read: Histogram,
    /// The runner's lateness reading the mix's packets and sending its own.
    pub lateness: Histogram,
    pub send_lateness: Histogram,
    /// The probe's delays per pair of the probe's codec and the listener's.
    pub by_codec: Vec<CodecDelays>,
}

/// The probe's delays between a probe of one codec and listeners of one codec.
#[derive(Debug, Clone)]
pub struct CodecDelays {
    pub probe: Codec,
    pub listener: Codec,
    /// Send to arrival, send to the runner's read, and the listeners' lateness reading.
    pub delays: Histogram,
    pub delays_read: Histogram,
    pub lateness: Histogram,
}

impl CodecDelays {
    fn add(&mut self, delays: &Histogram, read: &Histogram, lateness: &Histogram) {
        self.delays.merge(delays);
        self.delays_read.merge(read);
        self.lateness.merge(lateness);
    }
}

impl RoomTotals {
    /// Packets expected from the mix but not received.
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received)
    }

    pub(super) fn add_participant(&mut self, c: &ParticipantCounts) {
        self.joined += 1;
        self.sent += c.rtp.sent;
        self.expected += c.rtp.expected;
        self.received += c.rtp.received;
        self.late += c.rtp.late;
        self.missing_frames += c.missing_frames;
        self.timestamp_jumps += c.timestamp_jumps;
        let jitter = c.jitter.as_micros() as u64;
        self.jitter_sum_us += jitter;
        self.jitter_max_us = self.jitter_max_us.max(jitter);
        if c.windows > 0 && c.should_hear {
            self.listeners += 1;
            self.heard += u64::from(c.heard());
        }
        if c.windows > 0 && c.talks {
            self.talkers += 1;
            self.self_heard += u64::from(c.heard_itself());
        }
        self.delays.merge(&c.delays);
        self.delays_read.merge(&c.delays_read);
        self.lateness.merge(&c.lateness);
        self.send_lateness.merge(&c.send_lateness);
        if let Some(probe) = c.probe_codec.filter(|_| c.delays.count() > 0) {
            self.pair_mut(probe, c.codec)
                .add(&c.delays, &c.delays_read, &c.lateness);
        }
    }

    fn pair_mut(&mut self, probe: Codec, listener: Codec) -> &mut CodecDelays {
        let at = match self
            .by_codec
            .iter()
            .position(|p| p.probe == probe && p.listener == listener)
        {
            Some(at) => at,
            None => {
                self.by_codec.push(CodecDelays {
                    probe,
                    listener,
                    delays: Histogram::new(),
                    delays_read: Histogram::new(),
                    lateness: Histogram::new(),
                });
                self.by_codec.len() - 1
            }
        };
        &mut self.by_codec[at]
    }

    /// Adds another room's totals.
    pub fn add(&mut self, o: &RoomTotals) {
        self.dialled += o.dialled;
        self.joined += o.joined;
        self.sent += o.sent;
        self.expected += o.expected;
        self.received += o.received;
        self.late += o.late;
        self.missing_frames += o.missing_frames;
        self.timestamp_jumps += o.timestamp_jumps;
        self.jitter_sum_us += o.jitter_sum_us;
        self.jitter_max_us = self.jitter_max_us.max(o.jitter_max_us);
        self.listeners += o.listeners;
        self.heard += o.heard;
        self.talkers += o.talkers;
        self.self_heard += o.self_heard;
        self.delays.merge(&o.delays);
        self.delays_read.merge(&o.delays_read);
        self.lateness.merge(&o.lateness);
        self.send_lateness.merge(&o.send_lateness);
        for p in &o.by_codec {
            self.pair_mut(p.probe, p.listener)
                .add(&p.delays, &p.delays_read, &p.lateness);
        }
    }
}

/// One participant's receive side.
#[derive(Debug, Clone)]
pub struct ParticipantMeter {
    room: u32,
    leg: LegMeter,
    payload_type: u8,
    decoder: Decoder,
    rate: SampleRate,
    samples: usize,
    others: [f32; MAX_FREQS],
    n_others: usize,
    own: Option<f32>,
    probe: bool,
    /// The window being filled: frames decoded into it so far (the first only settles the
    /// decoder), and when the next one starts.
    window: Box<[i16]>,
    filling: Option<usize>,
    next_window: Option<Duration>,
    frame: Box<[i16; MAX_FRAME_SAMPLES]>,
    windows: u64,
    heard_windows: u64,
    self_windows: u64,
    quiet_frames: u32,
    delays: Histogram,
    delays_read: Histogram,
    lateness: Histogram,
    send_lateness: Histogram,
    codec: Codec,
    probe_codec: Option<Codec>,
}

impl ParticipantMeter {
    /// The meter of `p`, whose call sends to `remote` (the switch's media address).
    pub fn new(p: &Participant, remote: SocketAddr) -> ParticipantMeter {
        let others = p.others_hz();
        let mut freqs = [0.0; MAX_FREQS];
        let n_others = others.len().min(MAX_FREQS);
        freqs[..n_others].copy_from_slice(&others[..n_others]);
        let rate = p.codec.sample_rate();
        let samples = rate.frame_samples();
        ParticipantMeter {
            room: p.room,
            leg: LegMeter::new(remote, None),
            payload_type: p.codec.static_payload_type().unwrap_or(96),
            decoder: Decoder::new(p.codec),
            rate,
            samples,
            others: freqs,
            n_others,
            own: p.own_hz(),
            probe: p.hears_probe(),
            window: vec![0; samples * WINDOW_FRAMES].into_boxed_slice(),
            filling: None,
            next_window: None,
            frame: Box::new([0; MAX_FRAME_SAMPLES]),
            windows: 0,
            heard_windows: 0,
            self_windows: 0,
            quiet_frames: 0,
            delays: Histogram::new(),
            delays_read: Histogram::new(),
            lateness: Histogram::new(),
            send_lateness: Histogram::coarse(),
            codec: p.codec,
            probe_codec: None,
        }
    }

    /// The participant sent one packet.
    pub fn handle_sent(&mut self) {
        self.leg.handle_sent();
    }

    /// A datagram from `from` arrived at `now`; returns true when it starts a burst of the
    /// room's probe (see the module doc).
    pub fn handle_packet(&mut self, now: Duration, from: SocketAddr, datagram: &[u8]) -> bool {
        if !self.leg.handle_packet(now, from, datagram) || demux(datagram) != PacketKind::Rtp {
            return false;
        }
        let Ok(p) = RtpPacket::parse(datagram) else {
            return false;
        };
        if p.payload_type().value() != self.payload_type {
            return false;
        }
        let next = *self.next_window.get_or_insert(now + WARM_UP);
        if self.filling.is_none() && now >= next {
            // a new window: the decoder starts afresh on a frame that is not measured
            self.filling = Some(0);
            self.next_window = Some(next.max(now) + WINDOW_EVERY);
            if !self.probe {
                self.decoder.reset();
            }
        }
        if self.filling.is_none() && !self.probe {
            return false;
        }
        let n = self.samples;
        let frame = &mut self.frame[..n];
        frame.fill(0);
        self.decoder.decode(p.payload(), frame);
        let onset = self.probe && self.probe_onset();
        if let Some(k) = self.filling {
            if k > 0 {
                self.window[(k - 1) * n..k * n].copy_from_slice(&self.frame[..n]);
            }
            if k == WINDOW_FRAMES {
                self.filling = None;
                self.measure_window();
            } else {
                self.filling = Some(k + 1);
            }
        }
        onset
    }

    /// A probe burst that started at this participant's onset took `arrival` from the probe's
    /// send to the onset packet's arrival, and `read` to the runner's reading it.
    pub fn record_delay(&mut self, arrival: Duration, read: Duration) {
        self.delays.record(arrival);
        self.delays_read.record(read);
    }

    /// The runner read a packet of the mix `late` after it arrived.
    pub fn record_lateness(&mut self, late: Duration) {
        self.lateness.record(late);
    }

    /// The runner sent a packet `late` after its tick was due.
    pub fn record_send_lateness(&mut self, late: Duration) {
        self.send_lateness.record(late);
    }

    /// The codec of the room's probe.
    pub fn set_probe_codec(&mut self, codec: Option<Codec>) {
        self.probe_codec = codec;
    }

    /// What it counted so far.
    pub fn counts(&self) -> ParticipantCounts {
        ParticipantCounts {
            room: self.room,
            rtp: self.leg.counts(),
            missing_frames: self.leg.missing_frames(),
            timestamp_jumps: self.leg.timestamp_jumps(),
            jitter: self.leg.jitter(),
            windows: self.windows,
            heard_windows: self.heard_windows,
            self_windows: self.self_windows,
            should_hear: self.n_others > 0,
            talks: self.own.is_some(),
            delays: self.delays.clone(),
            delays_read: self.delays_read.clone(),
            lateness: self.lateness.clone(),
            send_lateness: self.send_lateness.clone(),
            codec: self.codec,
            probe_codec: self.probe_codec,
        }
    }

    /// Whether the frame just decoded starts a probe burst.
    fn probe_onset(&mut self) -> bool {
        let frame = &self.frame[..self.samples];
        if present(frame, self.rate, PROBE_HZ, block_dbfs(frame)) {
            let onset = self.quiet_frames >= PROBE_QUIET_FRAMES;
            self.quiet_frames = 0;
            onset
        } else {
            self.quiet_frames = self.quiet_frames.saturating_add(1);
            false
        }
    }

    fn measure_window(&mut self) {
        let block = &self.window[..];
        let total = block_dbfs(block);
        self.windows += 1;
        let others = &self.others[..self.n_others];
        if others
            .iter()
            .any(|&hz| present(block, self.rate, hz, total))
        {
            self.heard_windows += 1;
        }
        if self
            .own
            .is_some_and(|hz| present(block, self.rate, hz, total))
        {
            self.self_windows += 1;
        }
    }
}

/// Whether `hz` is present in `block` whose whole level is `total_dbfs`.
fn present(block: &[i16], rate: SampleRate, hz: f32, total_dbfs: f64) -> bool {
    let level = 10.0 * goertzel_power(block, rate, hz).log10();
    level >= PRESENT_FLOOR_DBFS && level >= total_dbfs + PRESENT_SHARE_DB
}

#[cfg(test)]
mod tests;
