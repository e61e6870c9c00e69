//! The media core: audio frames, codecs, RTP/RTCP, jitter buffering, DTMF and tones.
//!
//! Sans-IO like the rest of the engine: packets and sample buffers in, packets, frames and
//! statistics out; time is always a parameter. The media threads of `switchboard-actors` own
//! the sockets and the 20 ms clock and drive these types. After a stream is set up nothing
//! here allocates per packet or per frame: outputs go into buffers the caller owns.
//!
//! Every audio frame the switch handles is [`FRAME`] long (20 ms), mono, 16-bit linear PCM
//! at the [`SampleRate`] of the stream (8 kHz narrowband, 16 kHz wideband, 48 kHz fullband).

pub mod codec;
pub mod dtmf;
pub mod jitter;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod session;
pub mod srtp;
pub mod tone;
pub mod upload;
pub mod wav;

use std::time::Duration;

/// The duration of every audio frame on the frame path (and the packetization time the
/// switch offers: `a=ptime:20`).
pub const FRAME: Duration = Duration::from_millis(20);

/// Frames per second at [`FRAME`].
pub const FRAMES_PER_SEC: u32 = 50;

/// The samples of the largest frame the switch handles (20 ms at 48 kHz), for buffers sized
/// once at setup.
pub const MAX_FRAME_SAMPLES: usize = SampleRate::FULL.frame_samples();

/// An audio sample rate in Hz (of the audio, which is not always the RTP clock rate: G.722
/// samples at 16 kHz on an 8 kHz RTP clock, RFC 3551 §4.5.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SampleRate(u32);

impl SampleRate {
    /// Narrowband telephony (G.711).
    pub const NARROW: SampleRate = SampleRate(8_000);
    /// Wideband (G.722, L16/16000).
    pub const WIDE: SampleRate = SampleRate(16_000);
    /// Fullband (browsers, Opus).
    pub const FULL: SampleRate = SampleRate(48_000);

    /// A rate the frame path supports: a multiple of 50 Hz (so a 20 ms frame is a whole
    /// number of samples) between 8 and 48 kHz.
    pub const fn new(hz: u32) -> Option<SampleRate> {
        if hz >= 8_000 && hz <= 48_000 && hz.is_multiple_of(FRAMES_PER_SEC) {
            Some(SampleRate(hz))
        } else {
            None
        }
    }

    pub const fn hz(self) -> u32 {
        self.0
    }

    /// Samples in one 20 ms frame at this rate.
    pub const fn frame_samples(self) -> usize {
        (self.0 / FRAMES_PER_SEC) as usize
    }
}

impl std::fmt::Display for SampleRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} Hz", self.0)
    }
}

/// An audio codec of the media plane: what the audio is, not how a call numbered it (payload
/// types are negotiated per call in SDP; `static_payload_type` is only the RFC 3551 default).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, 8 kHz (RFC 3551 PT 0).
    Pcmu,
    /// G.711 A-law, 8 kHz (RFC 3551 PT 8).
    Pcma,
    /// G.722 sub-band ADPCM at 64 kbit/s: 16 kHz audio on an 8 kHz RTP clock (PT 9).
    G722,
    /// Linear 16-bit PCM, network byte order, mono, at the given rate (RFC 3551 §4.5.11).
    L16(SampleRate),
}

impl Codec {
    /// The codec an `a=rtpmap:<pt> <name>/<clock>[/<channels>]` names, if the media plane
    /// handles it (mono only). Names compare without case (RFC 4566 §6).
    pub fn from_rtpmap(name: &str, clock: u32, channels: u8) -> Option<Codec> {
        if channels != 1 {
            return None;
        }
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        match clock {
            8_000 if is("PCMU") => Some(Codec::Pcmu),
            8_000 if is("PCMA") => Some(Codec::Pcma),
            8_000 if is("G722") => Some(Codec::G722),
            _ if is("L16") => SampleRate::new(clock).map(Codec::L16),
            _ => None,
        }
    }

    /// The codec of a static payload type with no rtpmap (RFC 3551 table 4).
    pub fn from_static_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            9 => Some(Codec::G722),
            _ => None,
        }
    }

    /// The RFC 3551 static payload type, for codecs that have one.
    pub fn static_payload_type(self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            Codec::L16(_) => None,
        }
    }

    /// The encoding name of its rtpmap.
    pub fn rtpmap_name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::L16(_) => "L16",
        }
    }

    /// The RTP clock rate, which advances RTP timestamps (8000 for G.722, RFC 3551 §4.5.2).
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 8_000,
            Codec::L16(r) => r.hz(),
        }
    }

    /// The rate of the audio it carries.
    pub fn sample_rate(self) -> SampleRate {
        match self {
            Codec::Pcmu | Codec::Pcma => SampleRate::NARROW,
            Codec::G722 => SampleRate::WIDE,
            Codec::L16(r) => r,
        }
    }

    /// RTP timestamp units in one 20 ms frame.
    pub fn frame_timestamp_units(self) -> u32 {
        self.clock_rate() / FRAMES_PER_SEC
    }

    /// Payload bytes of one 20 ms frame.
    pub fn frame_payload_bytes(self) -> usize {
        match self {
            // one byte per sample at 8 kHz
            Codec::Pcmu | Codec::Pcma => 160,
            // 64 kbit/s: 4 bits per sample at 16 kHz
            Codec::G722 => 160,
            Codec::L16(r) => 2 * r.frame_samples(),
        }
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Codec::L16(r) => write!(f, "L16/{}", r.hz()),
            c => f.write_str(c.rtpmap_name()),
        }
    }
}

/// A side of a call whose media the switch anchors: the caller's, or the callee's. When the
/// switch itself answers a call (a prompt, voicemail), the caller's side is the only one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Caller,
    Callee,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Caller => Side::Callee,
            Side::Callee => Side::Caller,
        }
    }

    /// 0 for the caller, 1 for the callee (for arrays indexed by side).
    pub fn index(self) -> usize {
        match self {
            Side::Caller => 0,
            Side::Callee => 1,
        }
    }
}

/// What takes a call's decoded audio: recording, and next the conference mixer. It gets one
/// 20 ms frame per side per tick, at that side's rate, as heard from that side (the caller's
/// voice on `Side::Caller`). It runs on a media thread, so it must not block, allocate,
/// lock or log: it hands the samples to its own thread through a lock-free ring buffer.
pub trait FrameSink: Send {
    fn frame(&mut self, side: Side, rate: SampleRate, pcm: &[i16]);
}

/// What a side hears when the switch makes it elsewhere, already encoded: the conference
/// mixer's output for one participant. When the producer has pushed payloads (its driver
/// calls `Session::handle_feed`), the session takes what waits, in the side's negotiated
/// codec, and sends it in the side's own RTP stream (its SSRC, sequence numbers and
/// timestamps). Like a [`FrameSink`] it runs on a media thread, so it must not
/// block, allocate, lock or log: it takes the payload from its producer's lock-free ring.
pub trait PayloadFeed: Send {
    /// The next payload waiting, written into `buf` (at least [`MAX_PAYLOAD`] bytes): its
    /// length, or `None` when none waits (nothing more is sent; a tick the producer missed
    /// is a gap the phone conceals).
    fn next(&mut self, buf: &mut [u8]) -> Option<usize>;

    /// The number of the producer's 20 ms tick that made the payload `next` gave last, when
    /// the producer numbers them (a mixer on a [`MixerClock`](session::MixerClock): tick k
    /// is at `epoch + k × FRAME`). The session then times the packet by that tick rather
    /// than by when it was told of the push, so a late wake-up is no gap in its timestamps.
    fn tick(&self) -> Option<u64> {
        None
    }
}

/// The largest 20 ms payload of any codec the switch handles (L16 at 48 kHz).
pub const MAX_PAYLOAD: usize = 2 * MAX_FRAME_SAMPLES;

/// The encoding name of RFC 4733 telephone events (DTMF) in an rtpmap.
pub const TELEPHONE_EVENT: &str = "telephone-event";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtpmap_names_map_to_codecs_without_case_and_only_mono() {
        assert_eq!(Codec::from_rtpmap("pcmu", 8000, 1), Some(Codec::Pcmu));
        assert_eq!(Codec::from_rtpmap("G722", 8000, 1), Some(Codec::G722));
        assert_eq!(
            Codec::from_rtpmap("L16", 16000, 1),
            Some(Codec::L16(SampleRate::WIDE))
        );
        assert_eq!(Codec::from_rtpmap("L16", 44100, 2), None);
        assert_eq!(
            Codec::from_rtpmap("L16", 11025, 1),
            None,
            "not a whole 20 ms frame"
        );
        assert_eq!(Codec::from_rtpmap("opus", 48000, 2), None);
        assert_eq!(Codec::from_rtpmap("PCMU", 16000, 1), None);
    }

    #[test]
    fn g722_runs_a_16_khz_signal_on_an_8_khz_clock() {
        assert_eq!(Codec::G722.sample_rate(), SampleRate::WIDE);
        assert_eq!(Codec::G722.frame_timestamp_units(), 160);
        assert_eq!(Codec::G722.frame_payload_bytes(), 160);
        assert_eq!(SampleRate::WIDE.frame_samples(), 320);
        assert_eq!(Codec::L16(SampleRate::FULL).frame_payload_bytes(), 1920);
    }

    #[test]
    fn sample_rates_must_hold_whole_frames() {
        assert_eq!(SampleRate::new(8_000), Some(SampleRate::NARROW));
        assert_eq!(
            SampleRate::new(44_100).map(|r| r.frame_samples()),
            Some(882)
        );
        assert_eq!(SampleRate::new(11_025), None);
        assert_eq!(SampleRate::new(4_000), None);
        assert_eq!(SampleRate::new(96_000), None);
        assert_eq!(MAX_FRAME_SAMPLES, 960);
    }
}
