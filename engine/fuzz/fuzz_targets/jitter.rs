//! The jitter buffer driven by arbitrary sequences of pushes and pops (two sources, any
//! timestamps including misaligned ones and jumps, markers, oversized payloads, time moving
//! by 0-63 ms a step). It must not panic; between two resynchronisations the frames it plays
//! come in strictly increasing timestamp order (so none twice), each with the payload pushed
//! for it; every packet pushed is accounted for by exactly one counter or still buffered.

#![no_main]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use switchboard_engine::media::jitter::{JitterBuffer, JitterConfig, PacketMeta, Playout, Pushed};
use switchboard_engine::media::rtp::{RtpTimestamp, Seq, Ssrc};
use switchboard_engine::media::Codec;

fuzz_target!(|data: &[u8]| {
    let mut jb = JitterBuffer::new(JitterConfig::for_codec(Codec::Pcmu));
    let t0 = Instant::now();
    let mut now = t0;
    let mut ts = 0u32;
    let mut last_played: Option<RtpTimestamp> = None;
    let mut epoch = 0;
    // what was stored last for each (source, timestamp)
    let mut stored: HashMap<(u32, u32), u8> = HashMap::new();
    // the source the buffer follows: that of the last packet it did not refuse for size
    let mut current = Ssrc(1);
    for r in data.chunks_exact(6) {
        now += Duration::from_millis(u64::from(r[0] & 0x3f));
        if r[0] & 0x80 != 0 {
            let s = jb.stats();
            if s.resyncs != epoch {
                epoch = s.resyncs;
                last_played = None;
            }
            if let Playout::Frame(f) = jb.pop(now) {
                if let Some(prev) = last_played {
                    assert!(
                        f.timestamp.is_after(prev),
                        "{prev:?} then {:?}",
                        f.timestamp
                    );
                }
                last_played = Some(f.timestamp);
                let fill = stored.get(&(current.0, f.timestamp.0)).copied();
                assert_eq!(
                    Some(f.payload.len() as u8),
                    fill,
                    "payload of {:?}",
                    f.timestamp
                );
            }
        } else {
            let ssrc = Ssrc(1 + u32::from(r[1] & 1));
            // steps of half a frame, forward or back, now and then a big jump
            let step = i32::from(i16::from_be_bytes([r[2], r[3]]));
            ts = ts.wrapping_add((step * 80) as u32);
            if r[1] & 4 != 0 {
                ts = ts.wrapping_add(u32::from(r[2]) << 24);
            }
            let len = usize::from(r[5]);
            let meta = PacketMeta {
                ssrc,
                seq: Seq(u16::from(r[4])),
                timestamp: RtpTimestamp(ts),
                marker: r[1] & 2 != 0,
            };
            let payload = [r[5]; 255];
            let pushed = jb.push(now, meta, &payload[..len]);
            if pushed != Pushed::TooLarge {
                current = ssrc;
            }
            if matches!(pushed, Pushed::Stored | Pushed::Resynced) {
                // the frame's slot holds this payload now (a fresh source clears the others)
                if pushed == Pushed::Resynced {
                    stored.clear();
                }
                stored.insert((ssrc.0, ts), len as u8);
            }
        }
    }
    // every packet was played, skipped, flushed, refused or is still buffered
    let s = jb.stats();
    let accounted = s.played + s.duplicates + s.late + s.dropped + jb.buffered() as u64;
    assert!(accounted <= s.received, "{s:?}");
    assert!(s.received <= accounted + s.skipped, "{s:?}");
    assert!(jb.buffered() <= 50);
});
