//! Recording end to end on a real switch, of real calls: the "record my calls" setting over
//! the CLI (stopped and running switch) and HTTP; calls of a subscriber who has it on (or
//! that the routing plugin marks `record = true`) recorded while two test phones talk real
//! G.711 or G.722 RTP through the relay, the caller sending 440 Hz and the callee 1 kHz; the
//! recordings listed, fetched and deleted over HTTP with the right rights (the operator sees
//! all; a subscriber only the calls they were a party to; an unknown id and one the asker may
//! not see answer the same 404). A fetched WAV holds the caller's tone on the left channel and
//! the callee's on the right (Goertzel, at the level sent) and lasts as long as the call.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::audio::{assert_tone, stereo_wav, Audio};
use common::rtp::RtpPhone;
use common::ua::{call_with_media, End, MediaCall, Ua};
use common::{basic, cli, eventually, http, http_raw, Options, Switch, TempDir};
use switchboard_engine::media::{Codec, SampleRate};

const PW: &str = "pw-rec-1234";
const CALLER_HZ: f32 = 440.0;
const CALLEE_HZ: f32 = 1000.0;
/// How long the phones of a recorded call talk.
const TALK: Duration = Duration::from_millis(2500);
/// How long a phone may take to hear the other side.
const PATIENCE: Duration = Duration::from_secs(15);

fn switch(config: &str) -> Switch {
    let sw = Switch::with(Options {
        config: config.into(),
        ..Options::default()
    });
    for n in ["1001", "1002", "1003"] {
        sw.add_account(n, PW);
    }
    sw
}

fn as_(n: &str) -> String {
    basic(n, PW)
}

/// `GET` with an optional credential; (status, JSON).
fn get_json(sw: &Switch, path: &str, auth: Option<&str>) -> (u16, serde_json::Value) {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    let (code, body) = http(sw.http, "GET", path, &headers, None);
    (code, serde_json::from_str(&body).unwrap_or_default())
}

/// The operator's list of recordings.
fn all_recordings(sw: &Switch) -> Vec<serde_json::Value> {
    get_json(sw, "/v1/recordings", None).1["recordings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
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

/// The record of the recording of the call with SIP Call-ID `call_id`, once it says `state`.
fn recording_of(sw: &Switch, call_id: &str, state: &str) -> serde_json::Value {
    let mut last = Vec::new();
    let mut found = serde_json::Value::Null;
    let ok = eventually(Duration::from_secs(15), || {
        last = all_recordings(sw);
        found = last
            .iter()
            .find(|r| r["call_id"] == call_id)
            .cloned()
            .unwrap_or_default();
        found["state"] == state
    });
    assert!(ok, "no recording of {call_id} {state}: {last:?}");
    found
}

/// A call up between two registered agents, a test phone on each (on the agent's own
/// address), the caller's sending [`CALLER_HZ`] and the callee's [`CALLEE_HZ`].
struct Live {
    call: MediaCall,
    caller: RtpPhone,
    callee: RtpPhone,
    /// When the INVITE went out.
    invited: Instant,
    /// When the phones started sending.
    up: Instant,
}

/// `caller` calls `callee` (by its number) offering and accepting `codecs`; returns once each
/// phone hears the other.
async fn call(caller: &mut Ua, callee: &mut Ua, codecs: &[Codec]) -> Live {
    let mut a = RtpPhone::bind(caller.local.ip());
    let mut b = RtpPhone::bind(callee.local.ip());
    let dial = callee.user.clone();
    let invited = Instant::now();
    let call = call_with_media(
        End {
            ua: caller,
            phone: &mut a,
            codecs,
            tone_hz: CALLER_HZ,
            sdp_ip: None,
        },
        End {
            ua: callee,
            phone: &mut b,
            codecs,
            tone_hz: CALLEE_HZ,
            sdp_ip: None,
        },
        &dial,
    )
    .await;
    let up = Instant::now();
    let listen = Duration::from_millis(500);
    assert!(
        a.wait_heard(listen, PATIENCE).await,
        "the caller hears audio"
    );
    assert!(
        b.wait_heard(listen, PATIENCE).await,
        "the callee hears audio"
    );
    Live {
        call,
        caller: a,
        callee: b,
        invited,
        up,
    }
}

impl Live {
    /// Whether both phones send to the relay (the switch's address), as an anchored call does.
    fn anchored(&self, relay: IpAddr) -> bool {
        self.call.caller_sends.rtp.ip() == relay && self.call.callee_sends.rtp.ip() == relay
    }

    /// The offer as the callee got it (for failure messages).
    fn offered(&self) -> String {
        String::from_utf8_lossy(self.call.offer.body()).into_owned()
    }

    /// The caller hangs up; returns how long the phones talked (from their first packet to
    /// the BYE answered) and the whole call (from the INVITE).
    async fn hang_up(mut self, caller: &mut Ua, callee: &mut Ua) -> Talk {
        self.call.hang_up(caller, callee).await;
        let end = Instant::now();
        self.caller.stop();
        self.callee.stop();
        Talk {
            call_id: self.call.caller.call_id.clone(),
            talked: end - self.up,
            whole: end - self.invited,
        }
    }
}

/// A call that ended.
struct Talk {
    call_id: String,
    talked: Duration,
    whole: Duration,
}

/// A whole call of `len` talk: [`call`], then each phone hears `len`, then the caller hangs
/// up. Asserts whether the call was anchored.
async fn talk(
    caller: &mut Ua,
    callee: &mut Ua,
    codecs: &[Codec],
    len: Duration,
    relay: Option<IpAddr>,
) -> Talk {
    let live = call(caller, callee, codecs).await;
    match relay {
        Some(relay) => assert!(live.anchored(relay), "anchored: {}", live.offered()),
        None => assert_eq!(
            live.call.caller_sends.rtp,
            live.callee.local(),
            "direct: the caller sends to the callee's phone"
        ),
    }
    assert!(live.caller.wait_heard(len, PATIENCE).await);
    assert!(live.callee.wait_heard(len, PATIENCE).await);
    live.hang_up(caller, callee).await
}

/// The part of a recorded channel well inside the call: without the ringing before the
/// phones sent and the last moments of the hang-up.
fn inside(channel: &Audio) -> Audio {
    let len = channel
        .duration()
        .saturating_sub(Duration::from_millis(900));
    channel.skip(Duration::from_millis(600)).take(len)
}

/// Checks a fetched recording of `talk`: its record (`rec`), its size, its duration against
/// the call's, the caller's tone left and the callee's right, at `rate`.
fn check_wav(who: &str, wav: &[u8], rec: &serde_json::Value, talk: &Talk, rate: SampleRate) {
    assert_eq!(wav.len() as u64, rec["bytes"].as_u64().unwrap(), "{rec}");
    let (left, right) = stereo_wav(wav).unwrap_or_else(|e| panic!("{who}: {e}"));
    assert_eq!(left.samples.len(), right.samples.len());
    let ms = rec["duration_ms"].as_u64().unwrap();
    assert_eq!(left.duration().as_millis() as u64, ms, "{rec}");
    // it starts when the call is set up and ends with it
    let duration = Duration::from_millis(ms);
    let slack = Duration::from_millis(300);
    println!(
        "{who}: {duration:?} recorded of {:?} ({:?} talking); left {}; right {}",
        talk.whole,
        talk.talked,
        left.describe(&[CALLER_HZ, CALLEE_HZ]),
        right.describe(&[CALLER_HZ, CALLEE_HZ])
    );
    assert!(
        duration + slack >= talk.talked && duration <= talk.whole + slack,
        "{who}: {duration:?} recorded of a call of {:?} ({:?} talking)",
        talk.whole,
        talk.talked
    );
    assert_tone(
        &format!("{who}, left"),
        &inside(&left),
        CALLER_HZ,
        CALLEE_HZ,
        rate,
    );
    assert_tone(
        &format!("{who}, right"),
        &inside(&right),
        CALLEE_HZ,
        CALLER_HZ,
        rate,
    );
}

#[test]
fn the_record_setting_is_set_over_the_cli_and_http_by_the_subscriber_or_the_operator() {
    let mut sw = switch("");
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

#[tokio::test]
async fn calls_recorded_for_a_subscriber_are_listed_fetched_and_deleted_by_their_parties() {
    // anchoring as needed: only recording makes these calls go through the relay
    let sw = switch("");
    let relay = sw.sip.ip();
    let (code, out, err) = cli(&["record", "set", "1002", "on"], Some(&sw.data));
    assert_eq!(code, 0, "{out}{err}");
    let mut u1 = Ua::registered(sw.sip, "1001", PW).await;
    let mut u2 = Ua::registered(sw.sip, "1002", PW).await;
    let mut u3 = Ua::registered(sw.sip, "1003", PW).await;

    // 1002 records its calls, whether called (on G.722: a wideband recording) or calling
    let ta = talk(&mut u1, &mut u2, &[Codec::G722], TALK, Some(relay)).await;
    let tb = talk(&mut u2, &mut u3, &[Codec::Pcmu], TALK / 2, Some(relay)).await;
    // neither 1001 nor 1003 records: their call stays direct and is not recorded
    let tc = talk(&mut u1, &mut u3, &[Codec::Pcmu], TALK / 4, None).await;
    let ra = recording_of(&sw, &ta.call_id, "done");
    let rb = recording_of(&sw, &tb.call_id, "done");
    let (a, b) = (ra["id"].as_u64().unwrap(), rb["id"].as_u64().unwrap());
    assert_eq!(
        (&ra["caller"], &ra["callee"]),
        (&"1001".into(), &"1002".into())
    );
    assert_eq!(
        (&rb["caller"], &rb["callee"]),
        (&"1002".into(), &"1003".into())
    );
    assert!(
        !all_recordings(&sw)
            .iter()
            .any(|r| r["call_id"] == tc.call_id),
        "the call between 1001 and 1003 is not recorded"
    );
    assert_eq!(sw.metric("switchboard_recordings_active"), 0.0);

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

    // the files: a party gets the WAV, caller left and callee right, as long as the call
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
    check_wav("1001 to 1002", &wav, &ra, &ta, SampleRate::WIDE);
    let (code, head, wav) = http_raw(
        sw.http,
        "GET",
        &format!("/v1/recordings/{b}"),
        Some(&as_("1003")),
    );
    assert_eq!(code, 200, "{head}");
    check_wav("1002 to 1003", &wav, &rb, &tb, SampleRate::NARROW);

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

#[tokio::test]
async fn a_recording_in_progress_is_not_served_and_deleting_it_stops_it_while_the_call_goes_on() {
    // recording anchors a call even where the operator anchors none
    let sw = switch("[media]\nanchor = \"never\"\n");
    let relay = sw.sip.ip();
    let (code, _, err) = cli(&["record", "set", "1001", "on"], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    let mut u1 = Ua::registered(sw.sip, "1001", PW).await;
    let mut u2 = Ua::registered(sw.sip, "1002", PW).await;
    let live = call(&mut u2, &mut u1, &[Codec::Pcmu]).await;
    assert!(live.anchored(relay), "anchored: {}", live.offered());

    let call_id = live.call.caller.call_id.clone();
    let rec = recording_of(&sw, &call_id, "in_progress");
    let id = rec["id"].as_u64().unwrap();
    assert_eq!(
        (&rec["caller"], &rec["callee"]),
        (&"1002".into(), &"1001".into())
    );
    let (code, _, body) = http_raw(
        sw.http,
        "GET",
        &format!("/v1/recordings/{id}"),
        Some(&as_("1001")),
    );
    assert_eq!(code, 409, "{}", String::from_utf8_lossy(&body));
    assert_eq!(sw.metric("switchboard_recordings_active"), 1.0);
    let file = sw.data.join("recordings").join(format!("{id}.wav"));
    assert!(eventually(Duration::from_secs(5), || file.exists()));
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
    assert!(!file.exists());
    assert_eq!(sw.metric("switchboard_recordings_active"), 0.0);

    // the call carries on, and its end brings no recording back
    live.caller.clear_received();
    live.callee.clear_received();
    let listen = Duration::from_millis(500);
    assert!(live.caller.wait_heard(listen, PATIENCE).await);
    assert!(live.callee.wait_heard(listen, PATIENCE).await);
    assert_tone(
        "the caller",
        &live.caller.audio(),
        CALLEE_HZ,
        CALLER_HZ,
        SampleRate::NARROW,
    );
    live.hang_up(&mut u2, &mut u1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(all_recordings(&sw).is_empty());
    assert!(!file.exists());
    assert_eq!(sw.metric("switchboard_recordings_active"), 0.0);
}

/// A routing plugin that records every call to 1001.
const RECORD_1001: &str = r#"function route(req)
  if req.method == "INVITE" and req.dest.kind == "subscriber" and req.dest.number == "1001" then
    return deliver("1001", { record = true })
  end
end
"#;

#[tokio::test]
async fn a_call_the_routing_plugin_marks_record_is_recorded_though_nobody_records_their_calls() {
    let plugins = TempDir::new("rec-plugins");
    std::fs::write(plugins.0.join("record.lua"), RECORD_1001).unwrap();
    let sw = Switch::with(Options {
        config: "[plugins]\nwatch = false\n[media]\nanchor = \"never\"\n".into(),
        args: vec!["--plugins".into(), plugins.0.display().to_string()],
        ..Options::default()
    });
    for n in ["1001", "1002"] {
        sw.add_account(n, PW);
    }
    let relay = sw.sip.ip();
    let mut u1 = Ua::registered(sw.sip, "1001", PW).await;
    let mut u2 = Ua::registered(sw.sip, "1002", PW).await;

    // 1001 called: recorded (so anchored, whatever `media.anchor` says)
    let recorded = talk(&mut u2, &mut u1, &[Codec::Pcmu], TALK, Some(relay)).await;
    // 1002 called: the plugin passes, nothing is recorded, the media stays direct
    let plain = talk(&mut u1, &mut u2, &[Codec::Pcmu], TALK / 4, None).await;

    let rec = recording_of(&sw, &recorded.call_id, "done");
    assert_eq!(
        (&rec["caller"], &rec["callee"]),
        (&"1002".into(), &"1001".into())
    );
    let list = all_recordings(&sw);
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(list.iter().all(|r| r["call_id"] != plain.call_id));
    let id = rec["id"].as_u64().unwrap();
    let (code, _, wav) = http_raw(
        sw.http,
        "GET",
        &format!("/v1/recordings/{id}"),
        Some(&as_("1002")),
    );
    assert_eq!(code, 200);
    check_wav("1002 to 1001", &wav, &rec, &recorded, SampleRate::NARROW);
}
