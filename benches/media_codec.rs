//! The media frame path, one 20 ms frame per iteration: G.711 and G.722 encode and decode,
//! resampling between 8, 16 and 48 kHz, and transcoding G.722 <-> PCMU the way an anchored
//! call between a wideband and a narrowband phone does it (decode, resample, encode).
//!
//! Input is 2 s of a speech-like signal (a 120 Hz buzz with harmonics under a syllable
//! envelope, plus noise) cycled frame by frame, so the ADPCM state sees changing audio.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::media::codec::{g711, G722Decoder, G722Encoder};
use switchboard_engine::media::resample::FrameResampler;
use switchboard_engine::media::SampleRate;

const NB: SampleRate = SampleRate::NARROW;
const WB: SampleRate = SampleRate::WIDE;
const FB: SampleRate = SampleRate::FULL;

/// 2 s of speech-like audio at `rate`.
fn speech(rate: SampleRate) -> Vec<i16> {
    let hz = rate.hz() as f64;
    let mut seed = 0x2545_f491_u32;
    (0..2 * rate.hz() as usize)
        .map(|n| {
            let t = n as f64 / hz;
            let envelope = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * 4.0 * t).cos());
            let buzz: f64 = (1..20)
                .map(|k| (2.0 * std::f64::consts::PI * 120.0 * k as f64 * t).sin() / k as f64)
                .sum();
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((seed >> 16) as f64 / 65536.0 - 0.5) * 2000.0;
            (envelope * 5000.0 * buzz + noise).clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// Cycles through the frames of a signal.
struct Frames {
    signal: Vec<i16>,
    len: usize,
    at: usize,
}

impl Frames {
    fn new(rate: SampleRate) -> Frames {
        Frames {
            signal: speech(rate),
            len: rate.frame_samples(),
            at: 0,
        }
    }

    fn next(&mut self) -> &[i16] {
        if self.at + self.len > self.signal.len() {
            self.at = 0;
        }
        self.at += self.len;
        &self.signal[self.at - self.len..self.at]
    }
}

/// The G.722 payloads of the wideband signal, frame by frame.
fn g722_packets() -> Vec<[u8; 160]> {
    let mut frames = Frames::new(WB);
    let mut enc = G722Encoder::new();
    (0..100)
        .map(|_| {
            let mut p = [0u8; 160];
            enc.encode(frames.next(), &mut p);
            p
        })
        .collect()
}

fn media(c: &mut Criterion) {
    let mut g = c.benchmark_group("media_codec");
    g.throughput(Throughput::Elements(1));

    let mut nb = Frames::new(NB);
    g.bench_function("g711_encode_decode_20ms", |b| {
        let mut payload = [0u8; 160];
        let mut out = [0i16; 160];
        b.iter(|| {
            g711::encode_ulaw(black_box(nb.next()), &mut payload);
            g711::decode_ulaw(black_box(&payload), &mut out);
            out[0]
        })
    });

    let mut wb = Frames::new(WB);
    let mut enc = G722Encoder::new();
    g.bench_function("g722_encode_20ms", |b| {
        let mut payload = [0u8; 160];
        b.iter(|| enc.encode(black_box(wb.next()), &mut payload))
    });

    let packets = g722_packets();
    let mut dec = G722Decoder::new();
    let mut i = 0;
    g.bench_function("g722_decode_20ms", |b| {
        let mut out = [0i16; 320];
        b.iter(|| {
            i = (i + 1) % packets.len();
            dec.decode(black_box(&packets[i]), &mut out)
        })
    });

    for (name, from, to) in [
        ("resample_8k_to_16k_20ms", NB, WB),
        ("resample_16k_to_8k_20ms", WB, NB),
        ("resample_8k_to_48k_20ms", NB, FB),
        ("resample_48k_to_8k_20ms", FB, NB),
    ] {
        let mut frames = Frames::new(from);
        let mut r = FrameResampler::new(from, to);
        g.bench_function(name, |b| {
            let mut out = [0i16; 960];
            b.iter(|| r.process(black_box(frames.next()), &mut out))
        });
    }

    // wideband phone -> narrowband phone: G.722 in, PCMU out
    let mut dec = G722Decoder::new();
    let mut down = FrameResampler::new(WB, NB);
    let mut i = 0;
    g.bench_function("transcode_g722_to_pcmu_20ms", |b| {
        let mut wide = [0i16; 320];
        let mut narrow = [0i16; 160];
        let mut payload = [0u8; 160];
        b.iter(|| {
            i = (i + 1) % packets.len();
            dec.decode(black_box(&packets[i]), &mut wide);
            down.process(&wide, &mut narrow);
            g711::encode_ulaw(&narrow, &mut payload)
        })
    });

    // and back: PCMU in, G.722 out
    let mut nb = Frames::new(NB);
    let pcmu: Vec<[u8; 160]> = (0..100)
        .map(|_| {
            let mut p = [0u8; 160];
            g711::encode_ulaw(nb.next(), &mut p);
            p
        })
        .collect();
    let mut up = FrameResampler::new(NB, WB);
    let mut enc = G722Encoder::new();
    let mut i = 0;
    g.bench_function("transcode_pcmu_to_g722_20ms", |b| {
        let mut narrow = [0i16; 160];
        let mut wide = [0i16; 320];
        let mut payload = [0u8; 160];
        b.iter(|| {
            i = (i + 1) % pcmu.len();
            g711::decode_ulaw(black_box(&pcmu[i]), &mut narrow);
            up.process(&narrow, &mut wide);
            enc.encode(&wide, &mut payload)
        })
    });
    g.finish();
}

criterion_group!(benches, media);
criterion_main!(benches);
