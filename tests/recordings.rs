//! Recording end to end on a real switch: the "record my calls" setting over the CLI (stopped
//! and running switch) and HTTP, and recordings listed, fetched and deleted over HTTP with the
//! right rights (the operator sees all; a subscriber only the calls they were a party to; an
//! unknown id and one the asker may not see answer the same 404).
//!
//! Calls are not wired to the recorder yet, so recordings are made through the debug build's
//! `POST /admin/debug/recordings` hook, which records a synthetic call (a tone per side)
//! through the switch's own recorder.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{basic, cli, eventually, http, Switch};
use switchboard_engine::media::tone::ToneDetector;
use switchboard_engine::media::SampleRate;

const PW: &str = "pw-rec-1234";

fn switch_with_accounts() -> Switch {
    let sw = Switch::start();
    for n in ["1001", "1002", "1003"] {
        sw.add_account(n, PW);
    }
    sw
}

fn as_(n: &str) -> String {
    basic(n, PW)
}

/// One HTTP request; (status, headers, body bytes).
fn http_raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head, out[split + 4..].to_vec())
}

/// `GET` with an optional credential; (status, JSON).
fn get_json(sw: &Switch, path: &str, auth: Option<&str>) -> (u16, serde_json::Value) {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    let (code, body) = http(sw.http, "GET", path, &headers, None);
    (code, serde_json::from_str(&body).unwrap_or_default())
}

/// The ids a listing shows.
fn ids(v: &serde_json::Value) -> Vec<u64> {
    v["recordings"]
        .as_array()
        .unwrap_or_else(|| panic!("no list: {v}"))
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

/// Records a synthetic call through the switch's recorder; its id.
fn record(sw: &Switch, body: &str) -> u64 {
    let (code, resp) = http(sw.http, "POST", "/admin/debug/recordings", &[], Some(body));
    assert_eq!(code, 201, "{resp}");
    serde_json::from_str::<serde_json::Value>(&resp).unwrap()["id"]
        .as_u64()
        .unwrap()
}

fn wait_done(sw: &Switch, id: u64) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let done = eventually(Duration::from_secs(15), || {
        let (_, v) = get_json(sw, "/v1/recordings", None);
        last = v["recordings"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["id"] == id).cloned())
            .unwrap_or_default();
        last["state"] == "done"
    });
    assert!(done, "recording {id} not done: {last}");
    last
}

#[test]
fn the_record_setting_is_set_over_the_cli_and_http_by_the_subscriber_or_the_operator() {
    let mut sw = switch_with_accounts();
    let data = sw.data.clone();
    // running switch: the CLI goes through the control socket
    let (code, out, _) = cli(&["record", "show", "1001"], Some(&data));
    assert_eq!((code, out.trim()), (0, "1001\trecording off"));
    let (code, out, _) = cli(&["record", "set", "1001", "on"], Some(&data));
    assert_eq!((code, out.trim()), (0, "1001\trecording on"));
    let (code, _, err) = cli(&["record", "set", "1009", "on"], Some(&data));
    assert_eq!(code, 1);
    assert!(err.contains("no account 1009"), "{err}");

    let path = "/v1/accounts/1001/recording";
    let (code, v) = get_json(&sw, path, Some(&as_("1001")));
    assert_eq!(
        (code, &v["enabled"]),
        (200, &serde_json::json!(true)),
        "{v}"
    );
    // the subscriber turns it off, and another subscriber may neither read nor change it
    let put =
        |auth: &str, body: &str| http(sw.http, "PUT", path, &[("Authorization", auth)], Some(body));
    let (code, body) = put(&as_("1001"), r#"{"enabled": false}"#);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(r#""enabled":false"#), "{body}");
    assert_eq!(put(&as_("1002"), r#"{"enabled": true}"#).0, 401);
    assert_eq!(get_json(&sw, path, Some(&as_("1002"))).0, 401);
    assert_eq!(put(&as_("1001"), r#"{"enabled": "yes"}"#).0, 400);
    // the operator (loopback, no token configured) sets anyone's; no account is 404
    let (code, _) = http(
        sw.http,
        "PUT",
        "/v1/accounts/1002/recording",
        &[],
        Some(r#"{"enabled": true}"#),
    );
    assert_eq!(code, 200);
    let (code, _) = http(
        sw.http,
        "PUT",
        "/v1/accounts/1009/recording",
        &[],
        Some(r#"{"enabled": true}"#),
    );
    assert_eq!(code, 404);

    // stopped switch: the CLI opens the data directory, where the settings were kept
    sw.stop();
    let (code, out, _) = cli(&["record", "show", "1002", "--json"], Some(&data));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v, serde_json::json!({"number": "1002", "enabled": true}));
    let (code, out, _) = cli(&["record", "set", "1001", "on"], Some(&data));
    assert_eq!((code, out.trim()), (0, "1001\trecording on"));
    sw.spawn();
    let (_, v) = get_json(&sw, path, None);
    assert_eq!(v["enabled"], true);
}

#[test]
fn recordings_are_listed_fetched_and_deleted_only_by_their_parties_or_the_operator() {
    let sw = switch_with_accounts();
    let a = record(
        &sw,
        r#"{"caller": "1001", "callee": "1002", "seconds": 0.6, "callee_rate": 16000}"#,
    );
    let b = record(
        &sw,
        r#"{"caller": "1002", "callee": "1003", "seconds": 0.2}"#,
    );
    let ra = wait_done(&sw, a);
    wait_done(&sw, b);
    assert_eq!(ra["caller"], "1001");
    assert_eq!(ra["callee"], "1002");
    assert!(
        (ra["duration_ms"].as_u64().unwrap() as i64 - 600).abs() <= 40,
        "{ra}"
    );

    // listings
    assert_eq!(ids(&get_json(&sw, "/v1/recordings", None).1), [a, b]);
    assert_eq!(
        ids(&get_json(&sw, "/v1/recordings?number=1001", None).1),
        [a]
    );
    assert_eq!(
        ids(&get_json(&sw, "/v1/recordings", Some(&as_("1001"))).1),
        [a]
    );
    assert_eq!(
        ids(&get_json(&sw, "/v1/recordings", Some(&as_("1002"))).1),
        [a, b]
    );
    let (_, v) = get_json(&sw, "/v1/recordings?number=1003", Some(&as_("1002")));
    assert_eq!(ids(&v), [b]);
    let (_, v) = get_json(&sw, "/v1/recordings?number=1001", Some(&as_("1003")));
    assert_eq!(
        ids(&v),
        Vec::<u64>::new(),
        "a filter never widens what one sees"
    );
    assert_eq!(
        get_json(&sw, "/v1/recordings", Some(&basic("1001", "wrong"))).0,
        401
    );

    // the file: a party gets the WAV, caller left and callee right
    let (code, head, wav) = http_raw(
        sw.http,
        "GET",
        &format!("/v1/recordings/{a}"),
        Some(&as_("1001")),
    );
    assert_eq!(code, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: audio/wav"),
        "{head}"
    );
    assert_eq!(wav.len() as u64, ra["bytes"].as_u64().unwrap());
    let mut reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate), (2, 16_000));
    let all: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = all.iter().step_by(2).copied().collect();
    let right: Vec<i16> = all.iter().skip(1).step_by(2).copied().collect();
    let detect = ToneDetector::new(SampleRate::WIDE, &[440.0, 1000.0]);
    assert!(detect.analyze(&left[800..]).is(&[440.0]));
    assert!(detect.analyze(&right[800..]).is(&[1000.0]));

    // someone else's recording and no recording at all look the same
    let forbidden = http_raw(
        sw.http,
        "GET",
        &format!("/v1/recordings/{a}"),
        Some(&as_("1003")),
    );
    let unknown = http_raw(
        sw.http,
        "GET",
        "/v1/recordings/987654321",
        Some(&as_("1003")),
    );
    let garbage = http_raw(sw.http, "GET", "/v1/recordings/x1", Some(&as_("1003")));
    assert_eq!(forbidden.0, 404);
    assert_eq!((forbidden.0, &forbidden.2), (unknown.0, &unknown.2));
    assert_eq!((garbage.0, &garbage.2), (unknown.0, &unknown.2));
    assert_eq!(
        http_raw(
            sw.http,
            "DELETE",
            &format!("/v1/recordings/{a}"),
            Some(&as_("1003"))
        )
        .0,
        404
    );

    // a party deletes it: record and file go
    let file = sw.data.join("recordings").join(format!("{a}.wav"));
    assert!(file.exists());
    assert_eq!(
        http_raw(
            sw.http,
            "DELETE",
            &format!("/v1/recordings/{a}"),
            Some(&as_("1002"))
        )
        .0,
        204
    );
    assert!(!file.exists());
    assert_eq!(
        http_raw(sw.http, "GET", &format!("/v1/recordings/{a}"), None).0,
        404
    );
    assert_eq!(
        ids(&get_json(&sw, "/v1/recordings", Some(&as_("1001"))).1),
        Vec::<u64>::new()
    );
    // the operator deletes any
    assert_eq!(
        http_raw(sw.http, "DELETE", &format!("/v1/recordings/{b}"), None).0,
        204
    );
    assert_eq!(
        ids(&get_json(&sw, "/v1/recordings", None).1),
        Vec::<u64>::new()
    );
}

#[test]
fn a_recording_in_progress_is_not_served_and_deleting_it_stops_it() {
    let sw = switch_with_accounts();
    let id = record(
        &sw,
        r#"{"caller": "1001", "callee": "1002", "seconds": 30}"#,
    );
    let (_, v) = get_json(&sw, "/v1/recordings", Some(&as_("1001")));
    assert_eq!(v["recordings"][0]["state"], "in_progress", "{v}");
    let (code, _, body) = http_raw(
        sw.http,
        "GET",
        &format!("/v1/recordings/{id}"),
        Some(&as_("1001")),
    );
    assert_eq!(code, 409, "{}", String::from_utf8_lossy(&body));
    assert_eq!(sw.metric("switchboard_recordings_active"), 1.0);
    assert_eq!(
        http_raw(
            sw.http,
            "DELETE",
            &format!("/v1/recordings/{id}"),
            Some(&as_("1001"))
        )
        .0,
        204
    );
    assert_eq!(
        ids(&get_json(&sw, "/v1/recordings", None).1),
        Vec::<u64>::new()
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(!sw
        .data
        .join("recordings")
        .join(format!("{id}.wav"))
        .exists());
    assert_eq!(sw.metric("switchboard_recordings_active"), 0.0);
}
