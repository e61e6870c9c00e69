//! The voicemail HTTP API and CLI end to end, on a real switch: the operator imports a
//! message (a 1 kHz tone at 44.1 kHz, stereo, 24-bit), its owner lists it, fetches it back (the
//! same tone at the same level and length, checked by Goertzel), marks it heard and saved and
//! deletes it; greetings uploaded in several formats come back as 16 kHz mono; who may reach a
//! mailbox (the owner and the operator; everyone else the same 401 or 404); bodies refused
//! with their reason; the mailbox limits (507); settings and the PIN rules; the CLI on a
//! running and on a stopped switch.

mod common;

use std::time::Duration;

use common::audio::{assert_tone, Audio};
use common::voicemail::{
    files, import, json, list, mono_wav, operator, request, tone_wav, Format, TOKEN,
};
use common::{basic, cli, Options, Switch};
use switchboard_engine::media::SampleRate;

#[path = "voicemail_api/access.rs"]
mod access;
#[path = "voicemail_api/cli_commands.rs"]
mod cli_commands;
#[path = "voicemail_api/greetings.rs"]
mod greetings;
#[path = "voicemail_api/messages.rs"]
mod messages;
#[path = "voicemail_api/settings.rs"]
mod settings;

const PW: &str = "vm-password-1";
const HZ: f32 = 1000.0;
const DBFS: f64 = -12.0;

fn switch(extra: &str) -> Switch {
    let sw = Switch::with(Options {
        config: format!("[http]\nadmin_token = \"{TOKEN}\"\n{extra}"),
        ..Options::default()
    });
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    sw
}

fn alice() -> String {
    basic("1001", PW)
}

/// Asserts `audio` is `secs` of the test tone: its length to the sample the rate gives, the
/// tone by frequency (Goertzel) and its level within half a decibel, edges included.
fn assert_test_tone(what: &str, audio: &Audio, rate: SampleRate, secs: f64) {
    let want = (secs * rate.hz() as f64).round() as usize;
    assert!(
        audio.samples.len().abs_diff(want) <= 1,
        "{what}: {} samples, not {want}",
        audio.samples.len()
    );
    let edge = Duration::from_millis(100);
    let middle = audio.skip(edge).take(audio.duration() - 2 * edge);
    assert_tone(what, &middle, HZ, 440.0, rate);
    let level = middle.level_at(HZ);
    assert!((level - DBFS).abs() < 0.5, "{what}: {level:.2} dBFS");
    // the first and the last 100 ms hold it too: nothing was shifted or padded
    let first = audio.take(edge).level_at(HZ);
    let last = audio.skip(audio.duration() - edge).level_at(HZ);
    for (end, l) in [("first", first), ("last", last)] {
        assert!(
            (l - DBFS).abs() < 1.5,
            "{what}: the {end} 100 ms at {l:.2} dBFS"
        );
    }
}
