//! The upload decoder on arbitrary bytes, as a greeting or an imported message arrives over
//! HTTP: it must answer without panicking, never keep more audio than the limit, and every file
//! it accepts converts to both call rates with the length the rates give.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use switchboard_engine::media::upload::{self, UploadLimits};
use switchboard_engine::media::SampleRate;

const LIMITS: UploadLimits = UploadLimits {
    max_duration: Duration::from_secs(2),
};

fuzz_target!(|data: &[u8]| {
    let Ok(up) = upload::decode(data, LIMITS) else {
        return;
    };
    assert!(up.frames() > 0);
    assert!(up.duration() <= LIMITS.max_duration);
    for rate in [SampleRate::NARROW, SampleRate::WIDE] {
        let pcm = up.to_pcm(rate).expect("every accepted rate converts");
        let want = up.frames() as u64 * rate.hz() as u64 / up.rate_hz() as u64;
        assert!(pcm.len().abs_diff(want as usize) <= 1, "{} for {want}", pcm.len());
    }
});
