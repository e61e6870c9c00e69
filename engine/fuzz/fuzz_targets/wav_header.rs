//! The WAVE header reader on arbitrary bytes, as the recorder's start-up repair reads a file
//! cut short by a crash: it must answer without panicking, and for every header it accepts
//! and any file length, applying the repair it proposes gives a file whose header agrees
//! with its length (the repair proposes nothing more), holding whole sample frames only.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::media::wav;

fuzz_target!(|data: &[u8]| {
    let Ok(layout) = wav::parse(data) else {
        return;
    };
    // the file's length: what the bytes give, give or take what the last 2 bytes say
    let extra = data.len().min(2);
    let delta = data[data.len() - extra..]
        .iter()
        .fold(0u64, |a, &b| a << 8 | b as u64);
    for file_len in [data.len() as u64, data.len() as u64 + delta, delta] {
        let Some(r) = layout.repair(file_len) else {
            continue;
        };
        assert!(r.file_len >= layout.data_offset);
        assert_eq!((r.file_len - layout.data_offset) % layout.block_align as u64, 0);
        assert_eq!(r.frames, layout.frames_in(file_len));
        if r.file_len as usize > data.len() {
            continue;
        }
        let mut file = data[..r.file_len as usize].to_vec();
        for (at, bytes) in r.writes {
            file[at as usize..at as usize + 4].copy_from_slice(&bytes);
        }
        let again = wav::parse(&file).expect("a repaired header still parses");
        assert_eq!(again.repair(file.len() as u64), None, "{again:?}");
    }
});
