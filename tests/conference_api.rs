//! The operator's side of conferences end to end: conferences made over HTTP with PINs and a
//! size, their participants listed, muted, removed and the conference closed, the settings
//! kept across a restart, and a bridge failure the calls never notice (debug builds). The
//! participants are test phones with real SIP and RTP; what they hear is checked by frequency
//! and level (Goertzel), never by counting packets.

mod common;

use std::time::{Duration, Instant};

use common::audio::TONE_DBFS;
use common::conference::{api, assert_mix, Member};
use common::media::{self, PATIENCE};
use common::Switch;
use serde_json::Value;
use switchboard_engine::media::{Codec, SampleRate};

/// The PIN prompt's pips (engine `Tone::PIN_PROMPT`).
const PIN_PROMPT_HZ: f32 = 1100.0;
/// The muted tone (`Tone::MUTED`).
const MUTED_HZ: f32 = 330.0;
const LISTEN: Duration = Duration::from_millis(1500);
/// Join tones are over by then.
const TONES_OVER: Duration = Duration::from_millis(600);

/// Waits until conference `name` lists `n` participants; its view.
async fn joined(sw: &Switch, name: &str, n: usize) -> Value {
    let path = format!("/v1/conferences/{name}");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, v) = api(sw, None, "GET", &path, None);
        let count = v["participants"].as_array().map_or(0, Vec::len);
        if status == 200 && count == n {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{name} comes to {n} participants: {status} {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The participant `who` in a conference's view.
fn participant<'a>(view: &'a Value, who: &str) -> &'a Value {
    view["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["who"] == who))
        .unwrap_or_else(|| panic!("{who} is listed: {view}"))
}

/// The conference `name` in the list, if listed.
fn listed(sw: &Switch, name: &str) -> Option<Value> {
    let (status, body) = api(sw, None, "GET", "/v1/conferences", None);
    assert_eq!(status, 200, "{body}");
    body["conferences"]
        .as_array()
        .expect("a list of conferences")
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
}

fn post(sw: &Switch, body: &str) -> (u16, Value) {
    api(sw, None, "POST", "/v1/conferences", Some(body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_keys_the_pin_made_over_http_and_three_wrong_ones_hang_up() {
    let sw = media::switch("", &["1001", "1002", "1003"]);
    let (status, made) = post(
        &sw,
        r#"{"name": "Board", "pin": "4711", "moderator_pin": "9911"}"#,
    );
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["name"], "board", "case-folded");
    let address = made["address"].as_str().unwrap_or_default();
    assert!(address.starts_with("sip:conf-board@"), "{made}");
    assert_eq!(made["pin_required"], true, "{made}");
    assert_eq!(made["moderator_pin"], true, "{made}");
    assert_eq!(made["persistent"], true, "{made}");
    assert_eq!(made["participants"], serde_json::json!([]), "{made}");

    let a = Member::dial(&sw, "1001", "board", &[Codec::Pcmu], 440.0).await;
    a.wait_for_tone(PIN_PROMPT_HZ, "the PIN prompt").await;
    let (_, view) = api(&sw, None, "GET", "/v1/conferences/board", None);
    assert_eq!(
        view["participants"],
        serde_json::json!([]),
        "not in before the PIN"
    );
    a.phone.send_digits("4711#");
    joined(&sw, "board", 1).await;

    let b = Member::dial(&sw, "1002", "board", &[Codec::Pcmu], 1000.0).await;
    b.wait_for_tone(PIN_PROMPT_HZ, "the PIN prompt").await;
    b.phone.send_digits("9911#");
    let view = joined(&sw, "board", 2).await;
    assert_eq!(participant(&view, "1001")["moderator"], false, "{view}");
    assert_eq!(participant(&view, "1002")["moderator"], true, "{view}");
    tokio::time::sleep(TONES_OVER).await;
    let (ha, hb) = (a.listen(LISTEN), b.listen(LISTEN));
    assert_mix("1001", &ha, SampleRate::NARROW, &[1000.0], &[440.0]);
    assert_mix("1002", &hb, SampleRate::NARROW, &[440.0], &[1000.0]);

    let mut c = Member::dial(&sw, "1003", "board", &[Codec::Pcmu], 1800.0).await;
    c.wait_for_tone(PIN_PROMPT_HZ, "the PIN prompt").await;
    c.phone.send_digits("0000#1234#9999#");
    let bye = c
        .bye(PATIENCE)
        .await
        .expect("the switch hangs up after the third wrong PIN");
    let reason = bye.header_by_name("Reason").unwrap_or_default();
    assert!(reason.contains("PIN"), "the BYE says why: {reason:?}");
    let heard = c.phone.audio();
    let what = heard.describe(&[440.0, 1000.0, PIN_PROMPT_HZ]);
    for hz in [440.0, 1000.0] {
        assert!(
            heard.level_at(hz) < TONE_DBFS as f64 - 30.0,
            "1003 never hears the room ({hz} Hz): {what}"
        );
    }
    let view = joined(&sw, "board", 2).await;
    assert!(
        view["participants"]
            .as_array()
            .is_some_and(|ps| ps.iter().all(|p| p["who"] != "1003")),
        "{view}"
    );
    for mut m in [a, b] {
        m.hang_up().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_view_shows_each_participants_codec_and_rate_and_who_is_talking() {
    let sw = media::switch("", &["1001", "1002"]);
    let (status, made) = post(&sw, r#"{"name": "view"}"#);
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["pin_required"], false, "{made}");
    let mut a = Member::dial(&sw, "1001", "view", &[Codec::Pcmu], 440.0).await;
    // a G.722 phone that sends silence
    let mut b = Member::dial(&sw, "1002", "view", &[Codec::G722, Codec::Pcmu], 0.0).await;
    joined(&sw, "view", 2).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (status, view) = api(&sw, None, "GET", "/v1/conferences/view", None);
    assert_eq!(status, 200, "{view}");
    let (pa, pb) = (participant(&view, "1001"), participant(&view, "1002"));
    assert_eq!(pa["talking"], true, "the one sending a tone talks: {view}");
    assert_eq!(pb["talking"], false, "the silent one does not: {view}");
    assert_eq!(
        (&pa["codec"], &pa["rate_hz"]),
        (&"PCMU".into(), &8000.into())
    );
    assert_eq!(
        (&pb["codec"], &pb["rate_hz"]),
        (&"G722".into(), &16000.into())
    );
    let level = |p: &Value| p["level_dbfs"].as_f64().expect("a level");
    assert!(
        (-24.0..=-6.0).contains(&level(pa)),
        "about the tone's {TONE_DBFS} dBFS: {view}"
    );
    assert!(level(pb) < -60.0, "silence: {view}");
    for p in [pa, pb] {
        assert_eq!(p["muted"], false, "{view}");
        assert_eq!(p["moderator"], false, "{view}");
        assert!(p["frames_lost"].is_u64(), "{view}");
        assert!(p["joined_unix_ms"].as_u64().unwrap_or(0) > 0, "{view}");
    }
    assert_ne!(pa["id"], pb["id"], "{view}");
    let summary = listed(&sw, "view").expect("listed");
    assert_eq!(summary["participants"], 2, "{summary}");
    assert_eq!(summary["persistent"], true, "{summary}");

    a.hang_up().await;
    b.hang_up().await;
    let view = joined(&sw, "view", 0).await;
    assert_eq!(view["persistent"], true, "made over HTTP, it stays: {view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_mutes_removes_and_closes_a_conference_its_callers_made() {
    let sw = media::switch("", &["1001", "1002", "1003"]);
    let mut a = Member::dial(&sw, "1001", "ops", &[Codec::Pcmu], 440.0).await;
    let mut b = Member::dial(&sw, "1002", "ops", &[Codec::Pcmu], 1000.0).await;
    let mut c = Member::dial(&sw, "1003", "ops", &[Codec::Pcmu], 1800.0).await;
    let view = joined(&sw, "ops", 3).await;
    assert_eq!(view["persistent"], false, "made by its callers: {view}");
    assert_eq!(listed(&sw, "ops").expect("listed")["participants"], 3);
    let id = |who: &str| participant(&view, who)["id"].as_u64().expect("an id");
    let (id_b, id_c) = (id("1002"), id("1003"));
    tokio::time::sleep(TONES_OVER).await;

    b.fresh_ears().await;
    let (status, p) = api(
        &sw,
        None,
        "PATCH",
        &format!("/v1/conferences/ops/participants/{id_b}"),
        Some(r#"{"muted": true}"#),
    );
    assert_eq!(status, 200, "{p}");
    assert_eq!((&p["who"], &p["muted"]), (&"1002".into(), &true.into()));
    b.wait_for_tone(MUTED_HZ, "the muted tone").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ha, hc) = (a.listen(LISTEN), c.listen(LISTEN));
    assert_mix("1001", &ha, SampleRate::NARROW, &[1800.0], &[1000.0, 440.0]);
    assert_mix("1003", &hc, SampleRate::NARROW, &[440.0], &[1000.0, 1800.0]);
    let hb = b.listen(LISTEN);
    assert_mix(
        "1002 (muted)",
        &hb,
        SampleRate::NARROW,
        &[440.0, 1800.0],
        &[1000.0],
    );
    let (_, view) = api(&sw, None, "GET", "/v1/conferences/ops", None);
    assert_eq!(participant(&view, "1002")["muted"], true, "{view}");

    for (path, code) in [
        (
            "/v1/conferences/ops/participants/999",
            "no_such_participant",
        ),
        ("/v1/conferences/ops/participants/x", "no_such_participant"),
        (
            "/v1/conferences/nosuch/participants/1",
            "no_such_conference",
        ),
    ] {
        let (status, e) = api(&sw, None, "PATCH", path, Some(r#"{"muted": false}"#));
        assert_eq!((status, &e["code"]), (404, &code.into()), "{path}: {e}");
    }

    let (status, e) = api(
        &sw,
        None,
        "DELETE",
        &format!("/v1/conferences/ops/participants/{id_c}"),
        None,
    );
    assert_eq!(status, 204, "{e}");
    let bye = c.bye(PATIENCE).await.expect("the removed call is hung up");
    let reason = bye.header_by_name("Reason").unwrap_or_default();
    assert!(reason.contains("removed"), "{reason:?}");
    joined(&sw, "ops", 2).await;

    let (status, e) = api(&sw, None, "DELETE", "/v1/conferences/ops", None);
    assert_eq!(status, 204, "{e}");
    for m in [&mut a, &mut b] {
        let bye = m.bye(PATIENCE).await;
        assert!(
            bye.is_some(),
            "{} is hung up when the conference closes",
            m.who
        );
    }
    let (status, e) = api(&sw, None, "GET", "/v1/conferences/ops", None);
    assert_eq!(
        (status, &e["code"]),
        (404, &"no_such_conference".into()),
        "{e}"
    );
    assert!(listed(&sw, "ops").is_none());
    let (status, _) = api(&sw, None, "DELETE", "/v1/conferences/ops", None);
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_checked_and_only_the_operator_may_make_them() {
    const TOKEN: &str = "conference-operator";
    let sw = media::switch(
        &format!("[http]\nadmin_token = \"{TOKEN}\"\n[conference]\nmax_participants = 10\n"),
        &[],
    );
    let op = Some(TOKEN);
    let (status, _) = api(
        &sw,
        None,
        "POST",
        "/v1/conferences",
        Some(r#"{"name": "x"}"#),
    );
    assert_eq!(status, 401, "no token");
    let (status, _) = api(&sw, None, "GET", "/v1/conferences", None);
    assert_eq!(status, 401, "no token");

    for (body, code) in [
        (r#"{"name": "a b"}"#, "bad_conference_name"),
        (r#"{"name": ""}"#, "bad_conference_name"),
        (r#"{"name": "x", "pin": "12a4"}"#, "bad_pin"),
        (r#"{"name": "x", "pin": "12345678901234567"}"#, "bad_pin"),
        (r#"{"name": "x", "moderator_pin": ""}"#, "bad_pin"),
        (
            r#"{"name": "x", "pin": "1234", "moderator_pin": "1234"}"#,
            "bad_pin",
        ),
        (
            r#"{"name": "x", "max_participants": 1}"#,
            "bad_max_participants",
        ),
        (
            r#"{"name": "x", "max_participants": 11}"#,
            "bad_max_participants",
        ),
        (r#"{"name": "x", "colour": "red"}"#, "bad_request"),
    ] {
        let (status, e) = api(&sw, op, "POST", "/v1/conferences", Some(body));
        assert_eq!((status, &e["code"]), (400, &code.into()), "{body}: {e}");
        assert!(!e["message"].as_str().unwrap_or("").is_empty(), "{e}");
    }
    let (_, e) = api(
        &sw,
        op,
        "POST",
        "/v1/conferences",
        Some(r#"{"name": "x", "pin": "12a4"}"#),
    );
    assert!(
        e["message"].as_str().unwrap_or("").contains("pin"),
        "the reason names the field: {e}"
    );
    let (status, _) = api(&sw, op, "GET", "/v1/conferences/x", None);
    assert_eq!(status, 404, "nothing refused was stored");

    let (status, x) = api(&sw, op, "POST", "/v1/conferences", Some(r#"{"name": "x"}"#));
    assert_eq!(status, 201, "{x}");
    assert_eq!(
        x["max_participants"], 10,
        "the ceiling when none is given: {x}"
    );
    let (status, e) = api(
        &sw,
        op,
        "POST",
        "/v1/conferences",
        Some(r#"{"name": "X", "pin": "1"}"#),
    );
    assert_eq!(
        (status, &e["code"]),
        (409, &"conference_exists".into()),
        "{e}"
    );
    let (_, x) = api(&sw, op, "GET", "/v1/conferences/x", None);
    assert_eq!(
        x["pin_required"], false,
        "the refused POST changed nothing: {x}"
    );

    let (status, x) = api(
        &sw,
        op,
        "PUT",
        "/v1/conferences/x",
        Some(r#"{"pin": "2222", "max_participants": 3}"#),
    );
    assert_eq!(status, 200, "replaced: {x}");
    assert_eq!(
        (&x["pin_required"], &x["max_participants"]),
        (&true.into(), &3.into())
    );
    let (status, y) = api(&sw, op, "PUT", "/v1/conferences/y", Some("{}"));
    assert_eq!(status, 201, "made: {y}");
    let (status, _) = api(
        &sw,
        op,
        "PUT",
        "/v1/conferences/y",
        Some(r#"{"name": "z"}"#),
    );
    assert_eq!(status, 400, "the name is the path's");
    let (status, list) = api(&sw, op, "GET", "/v1/conferences", None);
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list["conferences"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["x", "y"], "{list}");

    let (status, _) = api(&sw, op, "DELETE", "/v1/conferences/y", None);
    assert_eq!(status, 204);
    let (status, _) = api(&sw, op, "GET", "/v1/conferences/y", None);
    assert_eq!(status, 404);
    let (status, e) = api(&sw, op, "DELETE", "/v1/conferences/y", None);
    assert_eq!(
        (status, &e["code"]),
        (404, &"no_such_conference".into()),
        "{e}"
    );
    let (status, e) = api(&sw, op, "GET", "/v1/conferences/a%20b", None);
    assert_eq!(
        (status, &e["code"]),
        (400, &"bad_conference_name".into()),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conference_made_over_http_survives_a_crash_of_the_switch() {
    let mut sw = media::switch("", &["1001"]);
    let (status, made) = post(
        &sw,
        r#"{"name": "kept", "pin": "2468", "max_participants": 5}"#,
    );
    assert_eq!(status, 201, "{made}");
    // flushed before the 201: SIGKILL loses nothing
    sw.kill();
    sw.spawn();
    let (status, view) = api(&sw, None, "GET", "/v1/conferences/kept", None);
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["pin_required"], true, "{view}");
    assert_eq!(view["max_participants"], 5, "{view}");
    assert_eq!(view["persistent"], true, "{view}");
    assert_eq!(listed(&sw, "kept").expect("listed")["participants"], 0);

    let mut a = Member::dial(&sw, "1001", "kept", &[Codec::Pcmu], 440.0).await;
    a.wait_for_tone(PIN_PROMPT_HZ, "the PIN prompt").await;
    a.phone.send_digits("2468#");
    joined(&sw, "kept", 1).await;
    a.hang_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_conference_answers_the_next_caller_busy() {
    let sw = media::switch("", &["1001", "1002", "1003"]);
    let (status, made) = post(&sw, r#"{"name": "pair", "max_participants": 2}"#);
    assert_eq!(status, 201, "{made}");
    let mut a = Member::dial(&sw, "1001", "pair", &[Codec::Pcmu], 440.0).await;
    let mut b = Member::dial(&sw, "1002", "pair", &[Codec::Pcmu], 1000.0).await;
    joined(&sw, "pair", 2).await;
    let (_, busy) = Member::try_dial(&sw, "1003", "pair", &[Codec::Pcmu]).await;
    assert_eq!(busy.status(), Some(486), "{busy:?}");
    joined(&sw, "pair", 2).await;

    // the limit counts who is in now
    a.hang_up().await;
    joined(&sw, "pair", 1).await;
    let mut c = Member::dial(&sw, "1003", "pair", &[Codec::Pcmu], 1800.0).await;
    joined(&sw, "pair", 2).await;
    for m in [&mut b, &mut c] {
        m.hang_up().await;
    }
}

/// The bridge's fault hook exists in debug builds only.
#[cfg(debug_assertions)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_bridge_goes_back_to_its_snapshot_and_the_calls_never_notice() {
    use switchboard_engine::sip::Method;

    const RESTARTS: &str = "switchboard_conference_bridge_restarts_total";
    let sw = media::switch("", &["1001", "1002"]);
    let mut a = Member::dial(&sw, "1001", "sturdy", &[Codec::Pcmu], 440.0).await;
    let mut b = Member::dial(&sw, "1002", "sturdy", &[Codec::Pcmu], 1000.0).await;
    let before_view = joined(&sw, "sturdy", 2).await;
    tokio::time::sleep(TONES_OVER).await;
    let before = sw.metric(RESTARTS);

    let (status, e) = api(&sw, None, "POST", "/v1/debug/conferences/sturdy/fail", None);
    assert_eq!(status, 202, "{e}");
    assert!(
        common::eventually_async(PATIENCE, || sw.metric(RESTARTS) == before + 1.0).await,
        "the failure is counted: {} -> {}",
        before,
        sw.metric(RESTARTS)
    );
    // within a second of it, each still hears the other
    a.phone.clear_received();
    b.phone.clear_received();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_mix(
        "1001",
        &a.phone.audio(),
        SampleRate::NARROW,
        &[1000.0],
        &[440.0],
    );
    assert_mix(
        "1002",
        &b.phone.audio(),
        SampleRate::NARROW,
        &[440.0],
        &[1000.0],
    );
    for m in [&mut a, &mut b] {
        let bye =
            m.ua.maybe_request(Method::Bye, Duration::from_millis(300))
                .await;
        assert!(bye.is_none(), "{}'s call stays up: {bye:?}", m.who);
    }
    let view = joined(&sw, "sturdy", 2).await;
    let ids = |v: &Value| -> Vec<(Value, Value, Value)> {
        v["participants"]
            .as_array()
            .expect("participants")
            .iter()
            .map(|p| (p["id"].clone(), p["who"].clone(), p["muted"].clone()))
            .collect()
    };
    assert_eq!(
        ids(&view),
        ids(&before_view),
        "the same participants: {view}"
    );

    // the bridge goes on working
    let id_b = participant(&view, "1002")["id"].as_u64().expect("an id");
    b.fresh_ears().await;
    let (status, p) = api(
        &sw,
        None,
        "PATCH",
        &format!("/v1/conferences/sturdy/participants/{id_b}"),
        Some(r#"{"muted": true}"#),
    );
    assert_eq!(status, 200, "{p}");
    b.wait_for_tone(MUTED_HZ, "the muted tone").await;
    let (status, _) = api(&sw, None, "POST", "/v1/debug/conferences/nosuch/fail", None);
    assert_eq!(status, 404);
    for m in [&mut a, &mut b] {
        m.hang_up().await;
    }
}
