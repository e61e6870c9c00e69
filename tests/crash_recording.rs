//! Crash test of recording: the switch is killed (SIGKILL) while it records a call. The file
//! it leaves is a readable WAV even before the restart (its header is made valid every
//! second); after the restart it holds at least the audio of all but the last second before
//! the kill, with the caller's tone left and the callee's right, and its record says done with
//! the recovered duration.
//!
//! Calls are not wired to the recorder yet, so the recording is made through the debug build's
//! `POST /admin/debug/recordings` hook: a thread in the switch plays a tone per side into the
//! switch's own recorder every 20 ms, as a media thread would.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{eventually, http, Switch};
use switchboard_engine::media::tone::ToneDetector;
use switchboard_engine::media::SampleRate;

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

fn channels(samples: &[i16]) -> (Vec<i16>, Vec<i16>) {
    (
        samples.iter().step_by(2).copied().collect(),
        samples.iter().skip(1).step_by(2).copied().collect(),
    )
}

#[test]
fn a_recording_killed_midway_is_readable_and_complete_but_for_its_last_second() {
    let mut sw = Switch::start();
    sw.add_account("1001", "pw-crash-1");
    sw.add_account("1002", "pw-crash-2");
    let (code, body) = http(
        sw.http,
        "POST",
        "/admin/debug/recordings",
        &[],
        Some(r#"{"caller": "1001", "callee": "1002", "seconds": 120, "callee_rate": 16000}"#),
    );
    assert_eq!(code, 201, "{body}");
    let started = Instant::now();
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
        .as_u64()
        .unwrap();
    std::thread::sleep(Duration::from_millis(3_700));
    // the audio began before the answer came: at least this much was recorded
    let elapsed = started.elapsed();
    sw.kill();

    // before any repair the file is a valid WAV: everything up to its last flush
    let path = sw.data.join("recordings").join(format!("{id}.wav"));
    let before = hound::WavReader::open(&path).expect("readable right after the kill");
    let flushed = Duration::from_secs_f64(before.duration() as f64 / 16_000.0);
    assert!(
        flushed + Duration::from_secs(1) >= elapsed,
        "only {flushed:?} of {elapsed:?} was flushed"
    );
    drop(before);

    sw.spawn();
    let mut rec = serde_json::Value::Null;
    assert!(eventually(Duration::from_secs(10), || {
        let (_, body) = http(sw.http, "GET", "/v1/recordings", &[], None);
        rec = serde_json::from_str::<serde_json::Value>(&body).unwrap()["recordings"][0].clone();
        rec["id"] == id
    }));
    assert_eq!(rec["state"], "done", "{rec}");
    let duration = Duration::from_millis(rec["duration_ms"].as_u64().unwrap());
    assert!(
        duration + Duration::from_secs(1) >= elapsed,
        "{duration:?} recovered of {elapsed:?}"
    );
    println!("killed after {elapsed:?}: {flushed:?} flushed, {duration:?} recovered");
    assert!(duration >= flushed, "the repair keeps what was flushed");
    assert!(duration <= elapsed + Duration::from_secs(2), "{duration:?}");

    let (code, wav) = fetch(sw.http, id);
    assert_eq!(code, 200);
    assert_eq!(wav.len() as u64, rec["bytes"].as_u64().unwrap());
    let mut reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
    assert_eq!(reader.spec().channels, 2);
    assert_eq!(
        reader.duration() as u64 * 1000 / 16_000,
        rec["duration_ms"].as_u64().unwrap()
    );
    let samples: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let (left, right) = channels(&samples);
    // the last recovered half second too: nothing after the flush point was scrambled
    let detect = ToneDetector::new(SampleRate::WIDE, &[440.0, 1000.0]);
    for range in [800..8800, left.len() - 8000..left.len()] {
        let l = detect.analyze(&left[range.clone()]);
        let r = detect.analyze(&right[range.clone()]);
        assert!(l.is(&[440.0]), "left {range:?}: {l:?}");
        assert!(r.is(&[1000.0]), "right {range:?}: {r:?}");
    }
}
