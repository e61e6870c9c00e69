//! Crash test of recording: the switch is killed (SIGKILL) while it records a real call, two
//! test phones talking G.722 through its relay (the caller 440 Hz, the callee 1 kHz; the
//! callee has "record my calls" on). The file it leaves is a readable WAV even before the
//! restart (its header is made valid every second); after the restart it holds at least the
//! audio of all but the last second before the kill, with the caller's tone left and the
//! callee's right, and its record says done with the recovered duration.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use common::audio::{assert_tone, stereo_wav};
use common::rtp::RtpPhone;
use common::ua::{call_with_media, End, Ua};
use common::{cli, eventually, http, Switch};
use switchboard_engine::media::{Codec, SampleRate};

const PW: &str = "pw-crash-1";
const CALLER_HZ: f32 = 440.0;
const CALLEE_HZ: f32 = 1000.0;
/// How long the call is recorded before the kill.
const BEFORE_KILL: Duration = Duration::from_millis(3700);

/// The file of a recording as a GET returns it.
fn fetch(addr: SocketAddr, id: u64) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /v1/recordings/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
    (status, out[split + 4..].to_vec())
}

/// The first recording the operator's list shows.
fn first_recording(sw: &Switch) -> serde_json::Value {
    let (_, body) = http(sw.http, "GET", "/v1/recordings", &[], None);
    serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default()["recordings"][0].clone()
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn a_recording_killed_midway_is_readable_and_complete_but_for_its_last_second() {
    let mut sw = Switch::start();
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let (code, _, err) = cli(&["record", "set", "1001", "on"], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    let mut callee = Ua::registered(sw.sip, "1001", PW).await;
    let mut caller = Ua::registered(sw.sip, "1002", PW).await;
    let mut a = RtpPhone::bind(caller.local.ip());
    let mut b = RtpPhone::bind(callee.local.ip());
    let g722: &[Codec] = &[Codec::G722];
    let call = call_with_media(
        End {
            ua: &mut caller,
            phone: &mut a,
            codecs: g722,
            tone_hz: CALLER_HZ,
            sdp_ip: None,
        },
        End {
            ua: &mut callee,
            phone: &mut b,
            codecs: g722,
            tone_hz: CALLEE_HZ,
            sdp_ip: None,
        },
        "1001",
    )
    .await;
    assert_eq!(call.caller_sends.rtp.ip(), sw.sip.ip(), "through the relay");

    let mut rec = serde_json::Value::Null;
    assert!(eventually(Duration::from_secs(10), || {
        rec = first_recording(&sw);
        rec["call_id"] == call.caller.call_id.as_str()
    }));
    assert_eq!(rec["state"], "in_progress", "{rec}");
    let id = rec["id"].as_u64().unwrap();
    let started = rec["started_unix_ms"].as_u64().unwrap();
    let listen = Duration::from_millis(500);
    assert!(a.wait_heard(listen, Duration::from_secs(15)).await);
    assert!(b.wait_heard(listen, Duration::from_secs(15)).await);
    let kill_at = started + BEFORE_KILL.as_millis() as u64;
    let wait = kill_at.saturating_sub(unix_ms(SystemTime::now()));
    tokio::time::sleep(Duration::from_millis(wait)).await;
    // the recording began `elapsed` before the kill: at most this much was recorded
    let elapsed = Duration::from_millis(unix_ms(SystemTime::now()) - started);
    sw.kill();
    a.stop();
    b.stop();

    // before any repair the file is a valid WAV: everything up to its last flush
    let path = sw.data.join("recordings").join(format!("{id}.wav"));
    let before = hound::WavReader::open(&path).expect("readable right after the kill");
    assert_eq!(before.spec().channels, 2);
    assert_eq!(before.spec().sample_rate, 16_000, "G.722: a wideband file");
    let flushed = Duration::from_secs_f64(before.duration() as f64 / 16_000.0);
    assert!(
        flushed + Duration::from_secs(1) >= elapsed,
        "only {flushed:?} of {elapsed:?} was flushed"
    );
    drop(before);

    sw.spawn();
    assert!(eventually(Duration::from_secs(10), || {
        rec = first_recording(&sw);
        rec["id"] == id
    }));
    assert_eq!(rec["state"], "done", "{rec}");
    let duration = Duration::from_millis(rec["duration_ms"].as_u64().unwrap());
    println!("killed after {elapsed:?}: {flushed:?} flushed, {duration:?} recovered");
    assert!(
        duration + Duration::from_secs(1) >= elapsed,
        "{duration:?} recovered of {elapsed:?}"
    );
    assert!(duration >= flushed, "the repair keeps what was flushed");
    // (a tick's worth of rounding and scheduling on top)
    assert!(
        duration <= elapsed + Duration::from_millis(200),
        "{duration:?} of {elapsed:?}"
    );

    let (code, wav) = fetch(sw.http, id);
    assert_eq!(code, 200);
    assert_eq!(wav.len() as u64, rec["bytes"].as_u64().unwrap());
    let (left, right) = stereo_wav(&wav).unwrap();
    assert_eq!(
        left.duration().as_millis() as u64,
        rec["duration_ms"].as_u64().unwrap()
    );
    // a second once the phones talk, and the last recovered half second too: nothing after
    // the last flush was scrambled
    let half = Duration::from_millis(500);
    let tail = left.duration() - half;
    for (what, start, len) in [("start", half, 2 * half), ("end", tail, half)] {
        for (side, channel, hz, other) in [
            ("left", &left, CALLER_HZ, CALLEE_HZ),
            ("right", &right, CALLEE_HZ, CALLER_HZ),
        ] {
            let part = channel.skip(start).take(len);
            assert_tone(
                &format!("{side} at the {what}"),
                &part,
                hz,
                other,
                SampleRate::WIDE,
            );
        }
    }
}
