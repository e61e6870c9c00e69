//! The two lock-free SPSC rings of one conference participant (`ringbuf`), created when it
//! joins:
//!
//! - the voice ring: the participant's media thread pushes its decoded 20 ms frames
//!   ([`Voice`], the session's `FrameSink`), the mixer thread pops them ([`VoiceReader`]);
//! - the mix ring: the mixer thread pushes the participant's encoded payload of each tick
//!   ([`MixWriter`]) and rings the media thread's feed bell ([`MixWriter::ring`]); the media
//!   thread, woken, pops what waits and sends it at once ([`Mix`], the session's
//!   `PayloadFeed`).
//!
//! A participant's frames and payloads all have one size (its rate's 20 ms frame, its codec's
//! 20 ms payload after the number of the mixer's tick that made it, [`TICK_BYTES`]), so a
//! ring holds whole records and a reader counts only whole ones; `push_slice` publishes what
//! it wrote at once. Each ring holds [`DEPTH`] records (160 ms). The
//! session's frame tick follows the mixer's clock, a little ahead of each mixer tick, so one
//! voice frame waits at each tick: the mixer takes the newest and drops any older one (a
//! frame that missed its tick is not played a tick late, which would delay everything after
//! it by a frame) and counts a tick with none. The media thread takes every payload waiting
//! when woken, up to [`KEEP`] (older ones are dropped: a bounded delay). A writer finding no
//! room drops the record and counts it. Nothing here allocates, locks or logs after `pair`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use switchboard_engine::media::{Codec, FrameSink, PayloadFeed, SampleRate, Side};

use crate::media::FeedBell;

/// Records a ring holds: 160 ms.
pub const DEPTH: usize = 8;

/// The mixer's tick number before each payload of the mix ring (little-endian).
pub const TICK_BYTES: usize = 8;

/// Payloads the media thread sends at one wake-up at most (older ones are dropped): the
/// mixer's tick and one it missed.
pub const KEEP: usize = 2;

/// What went missing on one participant's rings.
#[derive(Debug, Default)]
pub struct RingCounters {
    /// Voice frames dropped: the mixer fell behind, or a frame of the wrong size.
    pub voice_dropped: AtomicU64,
    /// Voice frames skipped by the mixer to keep the delay bounded (they came after their
    /// tick).
    pub voice_skipped: AtomicU64,
    /// Mixer ticks with no voice frame waiting (the media thread's tick came after the
    /// mixer's, or the session has not started its frames yet).
    pub voice_missing: AtomicU64,
    /// Mix payloads dropped: the media thread fell behind.
    pub mix_dropped: AtomicU64,
    /// Mix payloads skipped by the media thread to keep the delay bounded.
    pub mix_skipped: AtomicU64,
}

impl RingCounters {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// The media thread's end of the voice ring: the participant's session's sink.
pub struct Voice {
    ring: HeapProd<i16>,
    samples: usize,
    counters: Arc<RingCounters>,
}

/// The mixer thread's end of the voice ring.
pub struct VoiceReader {
    ring: HeapCons<i16>,
    samples: usize,
    counters: Arc<RingCounters>,
}

/// The mixer thread's end of the mix ring.
pub struct MixWriter {
    ring: HeapProd<u8>,
    bytes: usize,
    counters: Arc<RingCounters>,
    /// The bell of the participant's media thread.
    bell: Option<FeedBell>,
}

/// The media thread's end of the mix ring: the participant's session's feed.
pub struct Mix {
    ring: HeapCons<u8>,
    bytes: usize,
    counters: Arc<RingCounters>,
    /// The tick of the payload taken last.
    tick: Option<u64>,
}

/// The media thread's ends, handed to the participant's call.
pub struct LegEnds {
    pub voice: Voice,
    pub mix: Mix,
}

/// The mixer thread's ends.
pub struct MixerEnds {
    pub voice: VoiceReader,
    pub mix: MixWriter,
    pub counters: Arc<RingCounters>,
}

/// Both rings of a participant whose stream is `codec`, on the media thread `bell` rings.
pub fn pair(codec: Codec, bell: Option<FeedBell>) -> (LegEnds, MixerEnds) {
    let samples = codec.sample_rate().frame_samples();
    let bytes = codec.frame_payload_bytes();
    let counters = Arc::new(RingCounters::default());
    let (vp, vc) = HeapRb::<i16>::new(DEPTH * samples).split();
    let (mp, mc) = HeapRb::<u8>::new(DEPTH * (TICK_BYTES + bytes)).split();
    (
        LegEnds {
            voice: Voice {
                ring: vp,
                samples,
                counters: counters.clone(),
            },
            mix: Mix {
                ring: mc,
                bytes,
                counters: counters.clone(),
                tick: None,
            },
        },
        MixerEnds {
            voice: VoiceReader {
                ring: vc,
                samples,
                counters: counters.clone(),
            },
            mix: MixWriter {
                ring: mp,
                bytes,
                counters: counters.clone(),
                bell,
            },
            counters,
        },
    )
}

impl FrameSink for Voice {
    fn frame(&mut self, side: Side, _rate: SampleRate, pcm: &[i16]) {
        // a participant's session has its one side; anything else is not its voice
        if side != Side::Caller {
            return;
        }
        if pcm.len() != self.samples || self.ring.vacant_len() < self.samples {
            RingCounters::bump(&self.counters.voice_dropped);
            return;
        }
        self.ring.push_slice(pcm);
    }
}

impl VoiceReader {
    /// The newest frame into `out` (which holds a frame at the participant's rate): true
    /// when there was one. Older frames are skipped.
    pub fn read(&mut self, out: &mut [i16]) -> bool {
        let n = self.samples;
        let mut waiting = self.ring.occupied_len() / n;
        while waiting > 1 {
            self.ring.skip(n);
            RingCounters::bump(&self.counters.voice_skipped);
            waiting -= 1;
        }
        if waiting == 0 || out.len() < n {
            RingCounters::bump(&self.counters.voice_missing);
            return false;
        }
        self.ring.pop_slice(&mut out[..n]) == n
    }

    /// Whether the media thread dropped its end (the call's session closed).
    pub fn is_closed(&self) -> bool {
        !self.ring.write_is_held()
    }
}

impl MixWriter {
    /// Queues the payload of the mixer's tick number `tick`; dropped (and counted) when the
    /// media thread fell behind or the payload is not one 20 ms payload of the participant's
    /// codec.
    pub fn write(&mut self, tick: u64, payload: &[u8]) {
        if payload.len() != self.bytes || self.ring.vacant_len() < TICK_BYTES + self.bytes {
            RingCounters::bump(&self.counters.mix_dropped);
            return;
        }
        // the reader counts whole records only: the first push alone is no record to it
        self.ring.push_slice(&tick.to_le_bytes());
        self.ring.push_slice(payload);
    }

    /// Has the media thread send what was written (once per thread per tick however many
    /// participants it has).
    pub fn ring(&self) {
        if let Some(b) = &self.bell {
            b.ring();
        }
    }
}

impl PayloadFeed for Mix {
    fn next(&mut self, buf: &mut [u8]) -> Option<usize> {
        let n = self.bytes;
        let record = TICK_BYTES + n;
        let mut waiting = self.ring.occupied_len() / record;
        while waiting > KEEP {
            self.ring.skip(record);
            RingCounters::bump(&self.counters.mix_skipped);
            waiting -= 1;
        }
        if waiting == 0 || buf.len() < n {
            return None;
        }
        let mut tick = [0u8; TICK_BYTES];
        self.ring.pop_slice(&mut tick);
        self.tick = Some(u64::from_le_bytes(tick));
        (self.ring.pop_slice(&mut buf[..n]) == n).then_some(n)
    }

    fn tick(&self) -> Option<u64> {
        self.tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voice_frame_goes_through_whole_and_frames_of_another_size_are_dropped() {
        let (mut leg, mut mixer) = pair(Codec::G722, None);
        let frame: Vec<i16> = (0..320).map(|i| i as i16).collect();
        leg.voice.frame(Side::Caller, SampleRate::WIDE, &frame);
        leg.voice
            .frame(Side::Caller, SampleRate::NARROW, &frame[..160]);
        let mut out = [0i16; 960];
        assert!(mixer.voice.read(&mut out));
        assert_eq!(&out[..320], &frame[..]);
        assert!(!mixer.voice.read(&mut out), "the short frame never went in");
        assert_eq!(RingCounters::get(&mixer.counters.voice_dropped), 1);
    }

    #[test]
    fn the_mixer_takes_the_newest_voice_frame_so_a_late_one_adds_no_delay() {
        let (mut leg, mut mixer) = pair(Codec::Pcmu, None);
        let mut out = [0i16; 160];
        leg.voice.frame(Side::Caller, SampleRate::NARROW, &[1; 160]);
        assert!(mixer.voice.read(&mut out));
        assert_eq!(out[0], 1);
        // the media thread's tick comes after the mixer's once: a tick without, then two
        assert!(!mixer.voice.read(&mut out));
        for k in 2..4 {
            leg.voice
                .frame(Side::Caller, SampleRate::NARROW, &[k as i16; 160]);
        }
        assert!(mixer.voice.read(&mut out));
        assert_eq!(out[0], 3, "the newest: no frame of delay left behind");
        assert!(!mixer.voice.read(&mut out));
        assert_eq!(RingCounters::get(&mixer.counters.voice_skipped), 1);
        assert_eq!(RingCounters::get(&mixer.counters.voice_missing), 2);
    }

    #[test]
    fn a_full_voice_ring_drops_the_new_frame_and_counts_it() {
        let (mut leg, mixer) = pair(Codec::Pcmu, None);
        for _ in 0..DEPTH + 3 {
            leg.voice.frame(Side::Caller, SampleRate::NARROW, &[1; 160]);
        }
        assert_eq!(RingCounters::get(&mixer.counters.voice_dropped), 3);
    }

    #[test]
    fn the_mix_feed_gives_what_waits_up_to_keep_payloads_then_nothing() {
        let (mut leg, mut mixer) = pair(Codec::Pcmu, None);
        let mut buf = [0u8; 1920];
        assert_eq!(leg.mix.next(&mut buf), None);
        mixer.mix.write(1, &[7; 160]);
        mixer.mix.write(2, &[8; 161]);
        assert_eq!(leg.mix.next(&mut buf), Some(160));
        assert_eq!(buf[..160], [7; 160]);
        assert_eq!(leg.mix.tick(), Some(1), "with the tick that made it");
        assert_eq!(leg.mix.next(&mut buf), None);
        assert_eq!(RingCounters::get(&mixer.counters.mix_dropped), 1);
        for k in 0..4 {
            mixer.mix.write(10 + u64::from(k), &[k; 160]);
        }
        assert_eq!(leg.mix.next(&mut buf), Some(160));
        assert_eq!(buf[0], 2, "the oldest two dropped");
        assert_eq!(leg.mix.next(&mut buf), Some(160));
        assert_eq!((buf[0], leg.mix.tick()), (3, Some(13)));
        assert_eq!(RingCounters::get(&mixer.counters.mix_skipped), 2);
    }

    #[test]
    fn the_mixer_sees_when_the_call_dropped_its_end() {
        let (leg, mixer) = pair(Codec::Pcmu, None);
        assert!(!mixer.voice.is_closed());
        drop(leg);
        assert!(mixer.voice.is_closed());
    }
}
