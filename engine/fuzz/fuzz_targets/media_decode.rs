//! Every codec's decoder on arbitrary payloads: no panic, exactly the samples the payload
//! holds (or what fits), and the decoded audio encodes again to a payload of the same size.
//! The first byte picks the output room, so short buffers are exercised too.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::media::codec::{Decoder, Encoder};
use switchboard_engine::media::{Codec, SampleRate};

fuzz_target!(|data: &[u8]| {
    let Some((&room, payload)) = data.split_first() else {
        return;
    };
    let codecs = [
        Codec::Pcmu,
        Codec::Pcma,
        Codec::G722,
        Codec::L16(SampleRate::NARROW),
        Codec::L16(SampleRate::WIDE),
    ];
    for codec in codecs {
        let mut out = vec![0i16; 8 * room as usize];
        let n = Decoder::new(codec).decode(payload, &mut out);
        let holds = match codec {
            Codec::G722 => 2 * payload.len(),
            Codec::L16(_) => payload.len() / 2,
            _ => payload.len(),
        };
        let fits = match codec {
            Codec::G722 => out.len() / 2 * 2,
            _ => out.len(),
        };
        assert_eq!(n, holds.min(fits), "{codec}");
        let mut again = vec![0u8; 2 * n];
        let m = Encoder::new(codec).encode(&out[..n], &mut again);
        let expected = match codec {
            Codec::G722 => n / 2,
            Codec::L16(_) => 2 * n,
            _ => n,
        };
        assert_eq!(m, expected, "{codec}");
    }
});
