//! Audio codecs of the media plane: G.711 µ-law and A-law, G.722 and L16.
//!
//! [`Encoder`] and [`Decoder`] are built once per stream from a [`Codec`] and then turn one
//! frame at a time between 16-bit linear PCM at the codec's [`Codec::sample_rate`] and RTP
//! payload octets. They keep what state the codec has (G.722's ADPCM predictors) and never
//! allocate: input and output are slices the caller owns.
//!
//! Sizes: a 20 ms frame is `codec.sample_rate().frame_samples()` samples and
//! [`Codec::frame_payload_bytes`] octets. Both directions convert as much as the shorter side
//! holds and return how much they wrote.

pub mod g711;
pub mod g722;
pub mod l16;

pub use g722::{G722Decoder, G722Encoder};

use super::Codec;

/// A per-stream encoder: PCM at the codec's sample rate in, RTP payload out.
#[derive(Clone, Debug)]
pub enum Encoder {
    Pcmu,
    Pcma,
    G722(Box<G722Encoder>),
    L16(super::SampleRate),
}

/// A per-stream decoder: RTP payload in, PCM at the codec's sample rate out.
#[derive(Clone, Debug)]
pub enum Decoder {
    Pcmu,
    Pcma,
    G722(Box<G722Decoder>),
    L16(super::SampleRate),
}

impl Encoder {
    /// A fresh encoder for a stream of `codec` (this is where G.722 state is allocated).
    pub fn new(codec: Codec) -> Encoder {
        match codec {
            Codec::Pcmu => Encoder::Pcmu,
            Codec::Pcma => Encoder::Pcma,
            Codec::G722 => Encoder::G722(Box::default()),
            Codec::L16(rate) => Encoder::L16(rate),
        }
    }

    pub fn codec(&self) -> Codec {
        match self {
            Encoder::Pcmu => Codec::Pcmu,
            Encoder::Pcma => Codec::Pcma,
            Encoder::G722(_) => Codec::G722,
            Encoder::L16(rate) => Codec::L16(*rate),
        }
    }

    /// Encodes `pcm` (at `codec().sample_rate()`) into `out`; returns the octets written.
    /// One 20 ms frame needs `codec().frame_payload_bytes()` octets of room.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        match self {
            Encoder::Pcmu => g711::encode_ulaw(pcm, out),
            Encoder::Pcma => g711::encode_alaw(pcm, out),
            Encoder::G722(e) => e.encode(pcm, out),
            Encoder::L16(_) => l16::encode(pcm, out),
        }
    }

    /// Back to the state of a new stream.
    pub fn reset(&mut self) {
        if let Encoder::G722(e) = self {
            e.reset();
        }
    }
}

impl Decoder {
    /// A fresh decoder for a stream of `codec`.
    pub fn new(codec: Codec) -> Decoder {
        match codec {
            Codec::Pcmu => Decoder::Pcmu,
            Codec::Pcma => Decoder::Pcma,
            Codec::G722 => Decoder::G722(Box::default()),
            Codec::L16(rate) => Decoder::L16(rate),
        }
    }

    pub fn codec(&self) -> Codec {
        match self {
            Decoder::Pcmu => Codec::Pcmu,
            Decoder::Pcma => Codec::Pcma,
            Decoder::G722(_) => Codec::G722,
            Decoder::L16(rate) => Codec::L16(*rate),
        }
    }

    /// Decodes an RTP payload into `out` at `codec().sample_rate()`; returns the samples
    /// written. Every payload decodes (no octet pattern is invalid in these codecs); what
    /// does not fit `out` is left out.
    pub fn decode(&mut self, payload: &[u8], out: &mut [i16]) -> usize {
        match self {
            Decoder::Pcmu => g711::decode_ulaw(payload, out),
            Decoder::Pcma => g711::decode_alaw(payload, out),
            Decoder::G722(d) => d.decode(payload, out),
            Decoder::L16(_) => l16::decode(payload, out),
        }
    }

    /// Back to the state of a new stream.
    pub fn reset(&mut self) {
        if let Decoder::G722(d) = self {
            d.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::SampleRate;

    fn codecs() -> [Codec; 6] {
        [
            Codec::Pcmu,
            Codec::Pcma,
            Codec::G722,
            Codec::L16(SampleRate::NARROW),
            Codec::L16(SampleRate::WIDE),
            Codec::L16(SampleRate::FULL),
        ]
    }

    #[test]
    fn one_frame_fills_exactly_the_payload_size_of_its_codec_and_decodes_to_one_frame() {
        for codec in codecs() {
            let samples = codec.sample_rate().frame_samples();
            let pcm: Vec<i16> = (0..samples)
                .map(|i| ((i * 97) % 2000) as i16 - 1000)
                .collect();
            let mut payload = vec![0u8; 2048];
            let mut enc = Encoder::new(codec);
            assert_eq!(enc.codec(), codec);
            let n = enc.encode(&pcm, &mut payload);
            assert_eq!(n, codec.frame_payload_bytes(), "{codec}");
            let mut dec = Decoder::new(codec);
            assert_eq!(dec.codec(), codec);
            let mut out = vec![0i16; 4096];
            assert_eq!(dec.decode(&payload[..n], &mut out), samples, "{codec}");
        }
    }

    #[test]
    fn lossless_and_g711_frames_come_back_sample_for_sample_within_the_law_step() {
        let pcm: Vec<i16> = (0..160).map(|i| (i as i16 - 80) * 400).collect();
        for codec in [Codec::L16(SampleRate::NARROW), Codec::Pcmu, Codec::Pcma] {
            let mut payload = [0u8; 320];
            let n = Encoder::new(codec).encode(&pcm, &mut payload);
            let mut out = [0i16; 160];
            Decoder::new(codec).decode(&payload[..n], &mut out);
            for (x, y) in pcm.iter().zip(&out) {
                // the coarsest G.711 step is 1024 (µ-law) in 16-bit units: half of it at most
                let tolerance = if matches!(codec, Codec::L16(_)) {
                    0
                } else {
                    512
                };
                assert!(
                    (*x as i32 - *y as i32).abs() <= tolerance,
                    "{codec}: {x} -> {y}"
                );
            }
        }
    }

    #[test]
    fn a_reset_g722_encoder_starts_over_like_a_new_one() {
        let pcm: Vec<i16> = (0..320).map(|i| ((i * 331) % 4000) as i16 - 2000).collect();
        let mut enc = Encoder::new(Codec::G722);
        let mut first = [0u8; 160];
        enc.encode(&pcm, &mut first);
        let mut second = [0u8; 160];
        enc.encode(&pcm, &mut second);
        assert_ne!(first, second, "state carries across frames");
        enc.reset();
        let mut again = [0u8; 160];
        enc.encode(&pcm, &mut again);
        assert_eq!(first, again);
    }
}
