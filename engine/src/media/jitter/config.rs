//! How a jitter buffer is sized and steered: [`JitterConfig`] and [`Steering`], with the
//! frame path's default and the low-latency input's configuration per codec.

use std::time::Duration;

use crate::media::Codec;

/// How a buffer is sized and how far its delay may move.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct JitterConfig {
    /// The stream's RTP clock rate (Hz).
    pub clock_rate: u32,
    /// RTP timestamp units of one 20 ms frame.
    pub frame_units: u32,
    /// Frames the buffer holds (50 = 1 s).
    pub capacity: usize,
    /// Largest payload stored; larger packets are dropped.
    pub max_payload: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    pub steering: Steering,
}

/// What the delay is steered by.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Steering {
    /// Frames waiting behind the one playing: `jitter + one frame`, rounded up to whole
    /// frames (the frame path's default).
    Level,
    /// The time each frame waited between its arrival and its tick: at least `guard` plus
    /// the jitter estimate (an input whose consumer takes each frame at once).
    Slack { guard: Duration },
}

impl JitterConfig {
    /// One second of `codec` frames, with the delay between 40 and 200 ms.
    pub fn for_codec(codec: Codec) -> JitterConfig {
        JitterConfig {
            clock_rate: codec.clock_rate(),
            frame_units: codec.frame_timestamp_units(),
            capacity: 50,
            max_payload: codec.frame_payload_bytes(),
            min_delay: Duration::from_millis(40),
            max_delay: Duration::from_millis(200),
            steering: Steering::Level,
        }
    }

    /// One second of `codec` frames steered by slack with a 2 ms guard and no floor (up to
    /// 200 ms): a conference participant's voice on its way to the mixer.
    pub fn low_latency(codec: Codec) -> JitterConfig {
        JitterConfig {
            min_delay: Duration::ZERO,
            steering: Steering::Slack {
                guard: Duration::from_millis(2),
            },
            ..JitterConfig::for_codec(codec)
        }
    }
}
