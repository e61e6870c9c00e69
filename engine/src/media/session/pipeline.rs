//! The frame path of one direction: the source side's packets through the jitter buffer and
//! its decoder (or concealment) into 20 ms frames at its rate ([`Decode`]), and frames for the
//! destination side resampled to its rate and encoded in its codec ([`Encode`]). A direction
//! is the `Decode` of the side that speaks and the `Encode` of the side that hears.
//!
//! Both are built (and allocate) when a side starts needing the frame path (a codec change,
//! a sink, a source); ticking and packets never allocate.

use std::time::{Duration, Instant};

use crate::media::codec::{Decoder, Encoder};
use crate::media::jitter::{Concealment, JitterBuffer, JitterConfig, PacketMeta, Playout};
use crate::media::resample::FrameResampler;
use crate::media::{Codec, SampleRate, MAX_FRAME_SAMPLES};

/// One side's packets to frames.
#[derive(Debug)]
pub(super) struct Decode {
    codec: Codec,
    low_latency: bool,
    jitter: JitterBuffer,
    decoder: Decoder,
    conceal: Concealment,
    pcm: Box<[i16]>,
}

impl Decode {
    /// `low_latency`: the jitter buffer steers by slack (a mixer takes each frame at once).
    pub(super) fn new(codec: Codec, low_latency: bool) -> Decode {
        let config = if low_latency {
            JitterConfig::low_latency(codec)
        } else {
            JitterConfig::for_codec(codec)
        };
        Decode {
            codec,
            low_latency,
            jitter: JitterBuffer::new(config),
            decoder: Decoder::new(codec),
            conceal: Concealment::new(),
            pcm: vec![0; MAX_FRAME_SAMPLES].into_boxed_slice(),
        }
    }

    pub(super) fn codec(&self) -> Codec {
        self.codec
    }

    pub(super) fn low_latency(&self) -> bool {
        self.low_latency
    }

    pub(super) fn rate(&self) -> SampleRate {
        self.codec.sample_rate()
    }

    /// A fresh stream (after the frame path was off for a while).
    pub(super) fn reset(&mut self) {
        self.jitter.reset();
        self.decoder.reset();
    }

    pub(super) fn push(&mut self, now: Instant, meta: PacketMeta, payload: &[u8]) {
        self.jitter.push(now, meta, payload);
    }

    /// The frame of the tick at `now` into `pcm()`: decoded, or concealed when its packet is
    /// missing. False when nothing plays (no stream, or it paused).
    pub(super) fn pull(&mut self, now: Instant) -> bool {
        let n = self.rate().frame_samples();
        let pcm = &mut self.pcm[..n];
        match self.jitter.pop(now) {
            Playout::Frame(f) => {
                let got = self.decoder.decode(f.payload, pcm);
                // a short packet (another ptime) leaves the rest of the frame silent
                pcm[got..].fill(0);
                self.conceal.good_frame(pcm);
                true
            }
            Playout::Missing => {
                self.conceal.conceal(pcm);
                true
            }
            Playout::Idle => false,
        }
    }

    /// The last frame `pull` made.
    pub(super) fn pcm(&self) -> &[i16] {
        &self.pcm[..self.rate().frame_samples()]
    }

    /// Frames concealed so far.
    pub(super) fn concealed(&self) -> u64 {
        self.jitter.stats().concealed
    }

    /// Where its jitter buffer stands.
    pub(super) fn jitter_figures(&self) -> JitterFigures {
        let st = self.jitter.stats();
        JitterFigures {
            codec: self.codec,
            target: self.jitter.target_delay(),
            delay: self.jitter.delay(),
            jitter: self.jitter.jitter(),
            grown: st.stretched,
            shrunk: st.skipped,
        }
    }
}

/// Where one side's input jitter buffer stands (the frame path only: a relayed side has
/// none).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct JitterFigures {
    pub codec: Codec,
    /// The delay it steers to: the guard plus the arrival jitter it measured.
    pub target: Duration,
    /// The buffering delay now (smoothed).
    pub delay: Duration,
    /// The arrival jitter estimate (a peak follower).
    pub jitter: Duration,
    /// Ticks that played no frame to grow the delay or wait for a late one.
    pub grown: u64,
    /// Frame positions skipped to shrink the delay.
    pub shrunk: u64,
}

/// Frames to one side's packets.
#[derive(Debug)]
pub(super) struct Encode {
    codec: Codec,
    encoder: Encoder,
    /// From the other side's rate, when it differs.
    resampler: Option<FrameResampler>,
    pcm: Box<[i16]>,
    /// The tick whose frame waits in `pcm` to be sent.
    pending: Option<Instant>,
    /// The next packet starts a talkspurt (RFC 3551 §4.1).
    marker: bool,
}

impl Encode {
    pub(super) fn new(codec: Codec) -> Encode {
        Encode {
            codec,
            encoder: Encoder::new(codec),
            resampler: None,
            pcm: vec![0; MAX_FRAME_SAMPLES].into_boxed_slice(),
            pending: None,
            marker: true,
        }
    }

    pub(super) fn codec(&self) -> Codec {
        self.codec
    }

    /// Takes frames at `rate` from now on (a resampler when it is not the codec's rate).
    pub(super) fn set_input(&mut self, rate: SampleRate) {
        let to = self.codec.sample_rate();
        let have = self.resampler.as_ref().map_or(to, |r| r.from());
        if have != rate {
            self.resampler = (rate != to).then(|| FrameResampler::new(rate, to));
        }
    }

    /// A new talkspurt: the next packet is marked and the encoder starts fresh.
    pub(super) fn restart(&mut self) {
        self.marker = true;
        self.pending = None;
        self.encoder.reset();
    }

    /// A frame of the other side (at the rate given to `set_input`) for the tick at `at`.
    pub(super) fn feed(&mut self, at: Instant, input: &[i16]) {
        let n = self.codec.sample_rate().frame_samples();
        match &mut self.resampler {
            Some(r) if input.len() == r.from().frame_samples() => {
                r.process(input, &mut self.pcm[..n]);
            }
            Some(_) => self.pcm[..n].fill(0),
            None => {
                let k = input.len().min(n);
                self.pcm[..k].copy_from_slice(&input[..k]);
                self.pcm[k..n].fill(0);
            }
        }
        self.pending = Some(at);
    }

    /// The frame buffer for a source to fill for the tick at `at` (at the codec's rate).
    pub(super) fn frame_for(&mut self, at: Instant) -> &mut [i16] {
        self.pending = Some(at);
        let n = self.codec.sample_rate().frame_samples();
        &mut self.pcm[..n]
    }

    /// The tick of the frame waiting to be sent, taking it.
    pub(super) fn take_pending(&mut self) -> Option<Instant> {
        self.pending.take()
    }

    /// Whether the packet about to be written starts a talkspurt (clears the flag).
    pub(super) fn take_marker(&mut self) -> bool {
        std::mem::replace(&mut self.marker, false)
    }

    /// Encodes the waiting frame into `out`; the payload length.
    pub(super) fn encode(&mut self, out: &mut [u8]) -> usize {
        let n = self.codec.sample_rate().frame_samples();
        self.encoder.encode(&self.pcm[..n], out)
    }
}
