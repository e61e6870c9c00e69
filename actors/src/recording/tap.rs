//! The hand-off from a media thread to the recorder thread: one lock-free SPSC ring of samples
//! per recording (`ringbuf`), created when the recording starts.
//!
//! The media thread holds the [`RecordingTap`] (a [`FrameSink`]) and pushes each side's 20 ms
//! frame as one record: two header words (the side, the rate in units of 50 Hz) and the
//! samples, copied into a scratch buffer first so that one `push_slice` publishes the whole
//! record (the recorder never sees half of one). When the ring has no room for a record the
//! frame is dropped and counted; nothing in `frame` allocates, locks or logs. The recorder
//! thread reads records back with [`TapReader::next_frame`] and learns from
//! [`TapReader::is_closed`] that the tap was dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ringbuf::traits::{Consumer, Observer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};
use switchboard_engine::media::{FrameSink, SampleRate, Side, FRAMES_PER_SEC, MAX_FRAME_SAMPLES};

/// Header words before each frame's samples.
const HEADER: usize = 2;

/// Samples the ring holds: two seconds of both sides of a wideband call (a fullband call fits
/// two thirds of a second; the recorder drains every ring 50 times a second).
pub const RING_SAMPLES: usize =
    2 * FRAMES_PER_SEC as usize * 2 * (HEADER + SampleRate::WIDE.frame_samples());

/// What the media thread holds: the producing end of one recording's ring.
pub struct RecordingTap {
    ring: HeapProd<i16>,
    scratch: Box<[i16]>,
    dropped: Arc<AtomicU64>,
}

/// What the recorder thread holds: the consuming end.
pub struct TapReader {
    ring: HeapCons<i16>,
    dropped: Arc<AtomicU64>,
}

/// A new ring and its two ends.
pub fn channel() -> (RecordingTap, TapReader) {
    let (prod, cons) = HeapRb::<i16>::new(RING_SAMPLES).split();
    let dropped = Arc::new(AtomicU64::new(0));
    (
        RecordingTap {
            ring: prod,
            scratch: vec![0; HEADER + MAX_FRAME_SAMPLES].into_boxed_slice(),
            dropped: dropped.clone(),
        },
        TapReader {
            ring: cons,
            dropped,
        },
    )
}

impl FrameSink for RecordingTap {
    fn frame(&mut self, side: Side, rate: SampleRate, pcm: &[i16]) {
        let n = HEADER + pcm.len();
        // a frame is exactly 20 ms at its rate; anything else is not ours to interpret
        if pcm.len() != rate.frame_samples() || self.ring.vacant_len() < n {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.scratch[0] = side.index() as i16;
        // at most 48 kHz / 50 = 960: fits
        self.scratch[1] = (rate.hz() / FRAMES_PER_SEC) as i16;
        self.scratch[HEADER..n].copy_from_slice(pcm);
        // room was checked and only this end adds samples, so all of it goes in
        self.ring.push_slice(&self.scratch[..n]);
    }
}

impl RecordingTap {
    /// Frames dropped so far because the ring was full (or malformed).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl TapReader {
    /// The next frame, its samples copied into `out` (which must hold
    /// `MAX_FRAME_SAMPLES`): side, rate and sample count. `None` when the ring is empty.
    pub fn next_frame(&mut self, out: &mut [i16]) -> Option<(Side, SampleRate, usize)> {
        let mut header = [0i16; HEADER];
        if self.ring.occupied_len() < HEADER {
            return None;
        }
        self.ring.pop_slice(&mut header);
        let side = if header[0] == 0 {
            Side::Caller
        } else {
            Side::Callee
        };
        // written by `frame` from a valid rate, so it is one again
        let rate = SampleRate::new(header[1] as u32 * FRAMES_PER_SEC).unwrap_or(SampleRate::NARROW);
        let len = rate.frame_samples();
        // the record was published whole
        let got = self.ring.pop_slice(&mut out[..len]);
        debug_assert_eq!(got, len);
        Some((side, rate, got))
    }

    /// Whether the tap was dropped (the ring may still hold its last frames).
    pub fn is_closed(&self) -> bool {
        !self.ring.write_is_held()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Frames the tap dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_with_their_side_and_rate() {
        let (mut tap, mut reader) = channel();
        let nb: Vec<i16> = (0..160).collect();
        let wb: Vec<i16> = (0..320).map(|i| -i).collect();
        tap.frame(Side::Caller, SampleRate::NARROW, &nb);
        tap.frame(Side::Callee, SampleRate::WIDE, &wb);
        let mut out = [0i16; MAX_FRAME_SAMPLES];
        assert_eq!(
            reader.next_frame(&mut out),
            Some((Side::Caller, SampleRate::NARROW, 160))
        );
        assert_eq!(&out[..160], nb.as_slice());
        assert_eq!(
            reader.next_frame(&mut out),
            Some((Side::Callee, SampleRate::WIDE, 320))
        );
        assert_eq!(&out[..320], wb.as_slice());
        assert_eq!(reader.next_frame(&mut out), None);
        assert!(!reader.is_closed());
        drop(tap);
        assert!(reader.is_closed());
    }

    #[test]
    fn a_full_ring_drops_whole_frames_and_counts_them() {
        let (mut tap, mut reader) = channel();
        let frame = [7i16; 320];
        let fits = RING_SAMPLES / (HEADER + 320);
        for _ in 0..fits + 5 {
            tap.frame(Side::Caller, SampleRate::WIDE, &frame);
        }
        assert_eq!(tap.dropped(), 5);
        // a frame of the wrong length is dropped too
        tap.frame(Side::Caller, SampleRate::NARROW, &frame);
        assert_eq!(reader.dropped(), 6);
        let mut out = [0i16; MAX_FRAME_SAMPLES];
        let mut n = 0;
        while let Some((_, _, len)) = reader.next_frame(&mut out) {
            assert_eq!(len, 320);
            assert!(out[..320].iter().all(|&s| s == 7));
            n += 1;
        }
        assert_eq!(n, fits);
        assert!(reader.is_empty());
    }
}
