//! What the switch plays to a side in place of the other side: a tone (ringback, a beep, the
//! confirmation chime, the recording notice) or a recording (16-bit PCM at any frame-path
//! rate, played once).

use std::sync::Arc;

use crate::media::resample::FrameResampler;
use crate::media::tone::{Tone, ToneGenerator};
use crate::media::SampleRate;

/// A sound to play to a side.
#[derive(Clone, Debug)]
pub enum Source {
    /// A cadenced tone; a repeating one (ringback) plays until stopped.
    Tone(Tone),
    /// Mono 16-bit samples at `rate`, played once.
    Pcm {
        samples: Arc<[i16]>,
        rate: SampleRate,
    },
}

/// A source being played at a side's rate.
#[derive(Debug)]
pub(super) struct Playing {
    source: Source,
    kind: Kind,
    repeats: bool,
}

#[derive(Debug)]
enum Kind {
    Tone(Box<ToneGenerator>),
    Pcm {
        samples: Arc<[i16]>,
        rate: SampleRate,
        at: usize,
        /// To the side's rate, with the frame it reads from; built by `new`.
        resample: Option<(FrameResampler, Box<[i16]>)>,
    },
}

impl Playing {
    /// Starts `source` for a side at `rate` (a recording at another rate gets its resampler
    /// here).
    pub(super) fn new(source: Source, rate: SampleRate) -> Playing {
        let kept = source.clone();
        match source {
            Source::Tone(t) => Playing {
                source: kept,
                repeats: t.repeats(),
                kind: Kind::Tone(Box::new(ToneGenerator::new(t, rate))),
            },
            Source::Pcm {
                samples,
                rate: from,
            } => Playing {
                source: kept,
                repeats: false,
                kind: Kind::Pcm {
                    samples,
                    rate: from,
                    at: 0,
                    resample: (from != rate).then(|| {
                        let frame = vec![0; from.frame_samples()].into_boxed_slice();
                        (FrameResampler::new(from, rate), frame)
                    }),
                },
            },
        }
    }

    /// What is playing.
    pub(super) fn source(&self) -> &Source {
        &self.source
    }

    /// Whether it ends by itself (and then says so with `PlayFinished`).
    pub(super) fn repeats(&self) -> bool {
        self.repeats
    }

    /// Fills one frame at the side's rate; true when the source has ended with it.
    pub(super) fn fill(&mut self, out: &mut [i16]) -> bool {
        match &mut self.kind {
            Kind::Tone(g) => {
                g.generate(out);
                g.is_finished()
            }
            Kind::Pcm {
                samples,
                rate,
                at,
                resample,
            } => {
                let n = rate.frame_samples();
                let end = (*at + n).min(samples.len());
                let chunk = &samples[(*at).min(end)..end];
                match resample {
                    Some((r, frame)) => {
                        frame[..chunk.len()].copy_from_slice(chunk);
                        frame[chunk.len()..].fill(0);
                        r.process(frame, out);
                    }
                    None => {
                        let k = chunk.len().min(out.len());
                        out[..k].copy_from_slice(&chunk[..k]);
                        out[k..].fill(0);
                    }
                }
                *at += n;
                *at >= samples.len()
            }
        }
    }
}
