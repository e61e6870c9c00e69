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

#[test]
fn an_imported_message_is_listed_fetched_as_the_same_tone_marked_and_deleted() {
    let sw = switch("");
    let wav = tone_wav(Format::int(44_100, 2, 24), 3.0, HZ as f64, DBFS);
    let a = request(
        sw.http,
        "POST",
        "/v1/accounts/1001/voicemail?caller=010-1234-5678&received=1700000000",
        &[("Authorization", &operator())],
        Some(("audio/wav", &wav)),
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let made = a.json();
    let id = made["id"].as_u64().unwrap();
    assert_eq!(
        a.header("Location"),
        Some(format!("/v1/accounts/1001/voicemail/{id}").as_str())
    );

    let v = list(sw.http, "1001", &alice());
    assert_eq!(
        (v["number"].as_str(), v["new"].as_u64(), v["saved"].as_u64()),
        (Some("1001"), Some(1), Some(0))
    );
    let m = &v["messages"][0];
    assert_eq!(m, &made, "the listing shows what the import answered");
    assert_eq!(m["id"], id);
    assert_eq!(m["caller"]["number"], "+821012345678");
    assert_eq!(m["caller"]["display"], "+82 10-1234-5678");
    assert_eq!(m["received"], "2023-11-14T22:13:20Z");
    assert_eq!(m["received_unix"], 1_700_000_000);
    assert_eq!(m["duration_ms"], 3000);
    assert_eq!(
        (m["folder"].as_str(), m["heard"].as_bool()),
        (Some("new"), Some(false))
    );
    assert_eq!(m["bytes"], 44 + 2 * 48_000, "16 kHz mono 16-bit");

    let path = format!("/v1/accounts/1001/voicemail/{id}");
    let a = request(sw.http, "GET", &path, &[("Authorization", &alice())], None);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("Content-Type"), Some("audio/wav"));
    assert_eq!(a.body.len() as u64, m["bytes"].as_u64().unwrap());
    let audio = mono_wav(&a.body);
    assert_test_tone("the fetched message", &audio, SampleRate::WIDE, 3.0);

    // heard is saved, and back
    let patch = |body: &str| json(sw.http, "PATCH", &path, &alice(), Some(body));
    let a = patch(r#"{"heard": true}"#);
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        (a.json()["folder"].as_str(), a.json()["heard"].as_bool()),
        (Some("saved"), Some(true))
    );
    let v = list(sw.http, "1001", &alice());
    assert_eq!((v["new"].as_u64(), v["saved"].as_u64()), (Some(0), Some(1)));
    let a = patch(r#"{"folder": "new"}"#);
    assert_eq!(a.json()["heard"], false);
    let a = patch(r#"{"folder": "saved", "heard": true}"#);
    assert_eq!(a.json()["folder"], "saved");
    for (bad, code) in [
        (
            r#"{"folder": "saved", "heard": false}"#,
            "conflicting_change",
        ),
        (r#"{"folder": "old"}"#, "bad_folder"),
        ("{}", "nothing_to_change"),
        (r#"{"urgent": true}"#, "bad_request"),
    ] {
        let a = patch(bad);
        assert_eq!(
            (a.status, a.json()["code"].as_str()),
            (400, Some(code)),
            "{bad}"
        );
    }
    assert_eq!(
        list(sw.http, "1001", &alice())["saved"],
        1,
        "refusals change nothing"
    );

    // an 8 kHz upload stays at 8 kHz
    let a = import(
        sw.http,
        "1001",
        "anonymous",
        &tone_wav(Format::int(8_000, 1, 16), 1.5, HZ as f64, DBFS),
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let narrow = a.json();
    assert_eq!(
        narrow["caller"],
        serde_json::json!({"number": null, "display": "anonymous"})
    );
    let a = request(
        sw.http,
        "GET",
        &format!("/v1/accounts/1001/voicemail/{}", narrow["id"]),
        &[("Authorization", &alice())],
        None,
    );
    assert_test_tone(
        "the narrowband message",
        &mono_wav(&a.body),
        SampleRate::NARROW,
        1.5,
    );

    let mut on_disk = vec![format!("{id}.wav"), format!("{}.wav", narrow["id"])];
    on_disk.sort();
    assert_eq!(files(&sw.data, "1001"), on_disk);
    let a = json(sw.http, "DELETE", &path, &alice(), None);
    assert_eq!(a.status, 204);
    for method in ["GET", "DELETE"] {
        let a = json(sw.http, method, &path, &alice(), None);
        assert_eq!(a.status, 404, "{method} after the delete");
    }
    assert_eq!(
        json(
            sw.http,
            "PATCH",
            &path,
            &alice(),
            Some(r#"{"heard": true}"#)
        )
        .status,
        404
    );
    let v = list(sw.http, "1001", &alice());
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    assert_eq!((v["new"].as_u64(), v["saved"].as_u64()), (Some(1), Some(0)));
    assert_eq!(files(&sw.data, "1001"), [format!("{}.wav", narrow["id"])]);
}

#[test]
fn greetings_upload_in_any_common_format_and_come_back_as_16_khz_mono() {
    let sw = switch("");
    let greeting = |kind: &str| format!("/v1/accounts/1001/voicemail/greetings/{kind}");
    let uploads = [
        ("unavailable", Format::int(8_000, 1, 8)),
        ("busy", Format::int(22_050, 2, 16)),
        ("name", Format::float(48_000, 2)),
        ("unavailable", Format::int(44_100, 1, 24)),
        ("busy", Format::int(32_000, 2, 32)),
    ];
    for (kind, format) in uploads {
        let wav = tone_wav(format, 2.0, HZ as f64, DBFS);
        let a = request(
            sw.http,
            "PUT",
            &greeting(kind),
            &[("Authorization", &alice())],
            Some(("audio/x-wav", &wav)),
        );
        assert_eq!(a.status, 200, "{kind} {format:?}: {}", a.text());
        let v = a.json();
        assert_eq!(
            (v["greeting"].as_str(), v["rate"].as_u64()),
            (Some(kind), Some(16_000))
        );
        assert!(
            v["duration_ms"].as_u64().unwrap().abs_diff(2000) <= 1,
            "{v}"
        );
        let a = request(
            sw.http,
            "GET",
            &greeting(kind),
            &[("Authorization", &alice())],
            None,
        );
        assert_eq!(a.status, 200);
        assert_eq!(a.header("Content-Type"), Some("audio/wav"));
        assert_test_tone(
            &format!("the {kind} greeting from {format:?}"),
            &mono_wav(&a.body),
            SampleRate::WIDE,
            2.0,
        );
    }
    let s = json(
        sw.http,
        "GET",
        "/v1/accounts/1001/voicemail/settings",
        &alice(),
        None,
    )
    .json();
    assert_eq!(
        s["greetings"],
        serde_json::json!(["unavailable", "busy", "name"])
    );
    assert_eq!(
        files(&sw.data, "1001"),
        [
            "greeting-busy.wav",
            "greeting-name.wav",
            "greeting-unavailable.wav"
        ]
    );

    assert_eq!(
        json(sw.http, "DELETE", &greeting("busy"), &alice(), None).status,
        204
    );
    assert_eq!(
        json(sw.http, "GET", &greeting("busy"), &alice(), None).status,
        404
    );
    assert_eq!(
        json(sw.http, "DELETE", &greeting("busy"), &alice(), None).status,
        404
    );
    let s = json(
        sw.http,
        "GET",
        "/v1/accounts/1001/voicemail/settings",
        &alice(),
        None,
    )
    .json();
    assert_eq!(s["greetings"], serde_json::json!(["unavailable", "name"]));
    let a = json(sw.http, "GET", &greeting("holiday"), &alice(), None);
    assert_eq!(a.status, 404);
    assert!(
        a.text().contains("unavailable, busy or name"),
        "{}",
        a.text()
    );
    // the operator uploads one for a subscriber too
    let wav = tone_wav(Format::int(16_000, 1, 16), 1.0, HZ as f64, DBFS);
    let a = request(
        sw.http,
        "PUT",
        "/v1/accounts/1002/voicemail/greetings/name",
        &[("Authorization", &operator())],
        Some(("audio/wav", &wav)),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(files(&sw.data, "1002"), ["greeting-name.wav"]);
}

#[test]
fn only_the_owner_and_the_operator_reach_a_mailbox_and_nothing_tells_who_has_one() {
    let sw = switch("");
    let a = import(
        sw.http,
        "1002",
        "1001",
        &tone_wav(Format::int(16_000, 1, 16), 1.2, HZ as f64, DBFS),
    );
    assert_eq!(a.status, 201, "{}", a.text());
    let bobs = a.json()["id"].as_u64().unwrap();
    let get = |path: &str, auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        request(sw.http, "GET", path, &headers, None)
    };

    let a = get("/v1/accounts/1001/voicemail", None);
    assert_eq!(a.status, 401, "no credentials");
    assert!(a.header("WWW-Authenticate").is_some());
    let wrong = basic("1001", "not-the-password");
    let refusals: Vec<(u16, String)> = [
        ("/v1/accounts/1001/voicemail", wrong.as_str()),
        ("/v1/accounts/1002/voicemail", &alice()),
        ("/v1/accounts/1009/voicemail", &alice()),
        (
            &format!("/v1/accounts/1002/voicemail/{bobs}") as &str,
            &alice(),
        ),
        ("/v1/accounts/1002/voicemail/settings", &alice()),
        ("/v1/accounts/1002/voicemail/greetings/busy", &alice()),
    ]
    .iter()
    .map(|(p, auth)| {
        let a = get(p, Some(auth));
        (a.status, a.text())
    })
    .collect();
    for r in &refusals {
        assert_eq!(
            r, &refusals[0],
            "a wrong password, someone else's mailbox and no mailbox look alike"
        );
    }
    assert_eq!(refusals[0].0, 401);

    // in one's own mailbox, someone else's message is no message
    let mine = get(
        &format!("/v1/accounts/1001/voicemail/{bobs}"),
        Some(&alice()),
    );
    let none = get("/v1/accounts/1001/voicemail/999999", Some(&alice()));
    let junk = get("/v1/accounts/1001/voicemail/x1", Some(&alice()));
    assert_eq!((mine.status, mine.text()), (none.status, none.text()));
    assert_eq!((junk.status, junk.text()), (404, none.text()));
    let a = json(
        sw.http,
        "DELETE",
        &format!("/v1/accounts/1001/voicemail/{bobs}"),
        &alice(),
        None,
    );
    assert_eq!(a.status, 404);
    assert_eq!(
        list(sw.http, "1002", &basic("1002", PW))["new"],
        1,
        "still there"
    );

    // the operator: any mailbox, 404 for a number with no account
    assert_eq!(
        list(sw.http, "1002", &operator())["messages"][0]["id"],
        bobs
    );
    let a = get("/v1/accounts/1009/voicemail", Some(&operator()));
    assert_eq!(
        (a.status, a.json()["message"].as_str()),
        (404, Some("no such account"))
    );
    let wav = tone_wav(Format::int(16_000, 1, 16), 1.2, HZ as f64, DBFS);
    assert_eq!(import(sw.http, "1009", "1001", &wav).status, 404);
    // imports are the operator's
    let a = request(
        sw.http,
        "POST",
        "/v1/accounts/1001/voicemail",
        &[("Authorization", &alice())],
        Some(("audio/wav", &wav)),
    );
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (403, Some("forbidden"))
    );
    let a = request(
        sw.http,
        "POST",
        "/v1/accounts/1001/voicemail",
        &[],
        Some(("audio/wav", &wav)),
    );
    assert_eq!(a.status, 401);
    let a = request(
        sw.http,
        "POST",
        "/v1/accounts/1001/voicemail",
        &[("Authorization", "Bearer nope")],
        Some(("audio/wav", &wav)),
    );
    assert_eq!(a.status, 401);
    assert_eq!(
        list(sw.http, "1001", &alice())["messages"],
        serde_json::json!([])
    );
}

#[test]
fn bodies_that_are_no_wav_file_of_the_kinds_taken_are_refused_with_their_reason() {
    let sw = switch("[voicemail]\nmax_message_secs = 5\n");
    let put = |ctype: &str, body: &[u8]| {
        let a = request(
            sw.http,
            "PUT",
            "/v1/accounts/1001/voicemail/greetings/busy",
            &[("Authorization", &alice())],
            Some((ctype, body)),
        );
        let v = a.json();
        (
            a.status,
            v["code"].as_str().unwrap_or("").to_owned(),
            v["message"].as_str().unwrap_or("").to_owned(),
        )
    };
    let good = tone_wav(Format::int(16_000, 1, 16), 1.5, HZ as f64, DBFS);
    let (status, code, why) = put("application/json", &good);
    assert_eq!(
        (status, code.as_str()),
        (415, "unsupported_media_type"),
        "{why}"
    );
    assert!(why.contains("audio/wav"), "{why}");
    assert_eq!(put("audio/wav", b"").0, 400);
    assert_eq!(put("audio/wav", b"").1, "empty_body");
    let (status, code, why) = put("audio/wav", b"ID3\x04 this is an mp3, honest");
    assert_eq!(
        (status, code.as_str(), why.as_str()),
        (415, "not_wav", "not a WAV file (no RIFF WAVE header)")
    );
    let (status, code, why) = put(
        "audio/wav",
        &tone_wav(Format::int(96_000, 1, 16), 1.0, 440.0, -6.0),
    );
    assert_eq!((status, code.as_str()), (415, "unsupported_audio"));
    assert!(why.contains("96000 Hz"), "{why}");
    let (status, code, why) = put("audio/wav", &good[..good.len() - 1001]);
    assert_eq!((status, code.as_str()), (400, "bad_wav"));
    assert!(why.contains("the file holds"), "{why}");
    let (status, code, why) = put(
        "audio/wav",
        &tone_wav(Format::int(8_000, 1, 16), 6.0, 440.0, -6.0),
    );
    assert_eq!(
        (status, code.as_str(), why.as_str()),
        (413, "too_long", "6000 ms of audio, at most 5000 ms")
    );

    // a body over 10 MiB is refused by its length, before it is sent
    let mut s = std::net::TcpStream::connect(sw.http).unwrap();
    use std::io::Write;
    write!(
        s,
        "PUT /v1/accounts/1001/voicemail/greetings/busy HTTP/1.1\r\nHost: x\r\n\
         Connection: close\r\nAuthorization: {}\r\nContent-Type: audio/wav\r\n\
         Content-Length: {}\r\n\r\n",
        alice(),
        10 * 1024 * 1024 + 1
    )
    .unwrap();
    let a = common::voicemail::read_answer(&mut s);
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (413, Some("too_large"))
    );

    // imports: too short, a caller that is no number
    let short = tone_wav(Format::int(16_000, 1, 16), 0.5, HZ as f64, DBFS);
    let a = import(sw.http, "1001", "1002", &short);
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (400, Some("too_short")),
        "{}",
        a.text()
    );
    let a = import(sw.http, "1001", "%23%3F!", &good);
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (400, Some("bad_caller")),
        "{}",
        a.text()
    );
    let a = request(
        sw.http,
        "POST",
        "/v1/accounts/1001/voicemail?received=yesterday",
        &[("Authorization", &operator())],
        Some(("audio/wav", &good)),
    );
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (400, Some("bad_query")),
        "{}",
        a.text()
    );
    assert_eq!(
        files(&sw.data, "1001"),
        Vec::<String>::new(),
        "nothing refused is kept"
    );
    assert_eq!(
        list(sw.http, "1001", &alice())["messages"],
        serde_json::json!([])
    );
}

#[test]
fn a_full_mailbox_refuses_imports_with_507_and_the_reason() {
    let sw = switch("[voicemail]\nmax_messages = 3\nmax_minutes = 1\nmax_message_secs = 40\n");
    let secs = |s: f64| tone_wav(Format::int(8_000, 1, 16), s, HZ as f64, DBFS);
    assert_eq!(import(sw.http, "1001", "1002", &secs(35.0)).status, 201);
    let a = import(sw.http, "1001", "1002", &secs(30.0));
    assert_eq!(
        (a.status, a.json()["code"].as_str()),
        (507, Some("mailbox_full"))
    );
    assert_eq!(
        a.json()["message"],
        "the mailbox has room for 25000 ms, the message lasts 30000 ms"
    );
    assert_eq!(import(sw.http, "1001", "1002", &secs(2.0)).status, 201);
    assert_eq!(import(sw.http, "1001", "1002", &secs(2.0)).status, 201);
    let a = import(sw.http, "1001", "1002", &secs(1.0));
    assert_eq!(a.status, 507);
    assert_eq!(
        a.json()["message"],
        "mailbox is full: 3 messages of 3, 39 s of 60 s"
    );
    let v = list(sw.http, "1001", &alice());
    assert_eq!(v["new"], 3);
    // a delete makes room again
    let id = v["messages"][0]["id"].as_u64().unwrap();
    assert_eq!(
        json(
            sw.http,
            "DELETE",
            &format!("/v1/accounts/1001/voicemail/{id}"),
            &alice(),
            None
        )
        .status,
        204
    );
    assert_eq!(import(sw.http, "1001", "1002", &secs(30.0)).status, 201);
    assert_eq!(files(&sw.data, "1001").len(), 3);
}

#[test]
fn settings_show_whether_a_pin_is_set_never_the_pin_and_refuse_pins_the_rules_refuse() {
    let sw = switch("");
    let path = "/v1/accounts/1001/voicemail/settings";
    let a = json(sw.http, "GET", path, &alice(), None);
    assert_eq!(
        a.json(),
        serde_json::json!({"number": "1001", "enabled": true, "pin_set": false,
                           "pin_locked": false, "greetings": []})
    );
    for (body, code, why) in [
        (r#"{"pin": "12"}"#, "bad_pin", "pin of 2 digits, at least 4"),
        (
            r#"{"pin": "12a4"}"#,
            "bad_pin",
            "pin holds 'a' at 2, only digits 0-9",
        ),
        (
            r#"{"pin": "12345678901234567"}"#,
            "bad_pin",
            "pin of 17 characters, at most 16",
        ),
        (
            r#"{"enabled": false, "pin": ""}"#,
            "bad_pin",
            "pin is empty",
        ),
        (
            "{}",
            "nothing_to_change",
            "nothing to change (give enabled, pin or both)",
        ),
    ] {
        let a = json(sw.http, "PUT", path, &alice(), Some(body));
        let v = a.json();
        assert_eq!(
            (a.status, v["code"].as_str(), v["message"].as_str()),
            (400, Some(code), Some(why)),
            "{body}"
        );
    }
    assert_eq!(
        json(sw.http, "PUT", path, &alice(), Some(r#"{"enabled": "no"}"#)).status,
        400
    );
    assert_eq!(
        json(sw.http, "GET", path, &alice(), None).json()["enabled"],
        true,
        "refusals change nothing"
    );

    let a = json(
        sw.http,
        "PUT",
        path,
        &alice(),
        Some(r#"{"enabled": false, "pin": "4711"}"#),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        (a.json()["enabled"].as_bool(), a.json()["pin_set"].as_bool()),
        (Some(false), Some(true))
    );
    assert!(
        !a.text().contains("4711"),
        "the pin is never shown: {}",
        a.text()
    );
    let a = json(
        sw.http,
        "PUT",
        path,
        &operator(),
        Some(r#"{"enabled": true}"#),
    );
    assert_eq!(
        (a.json()["enabled"].as_bool(), a.json()["pin_set"].as_bool()),
        (Some(true), Some(true)),
        "the pin stays"
    );
    let a = json(sw.http, "GET", path, &alice(), None);
    assert!(!a.text().contains("4711"));
    assert_eq!(a.json()["pin_set"], true);
}

#[test]
fn the_cli_turns_voicemail_off_sets_the_pin_and_lists_on_a_running_and_a_stopped_switch() {
    let mut sw = switch("");
    let data = sw.data.clone();
    let vm = |args: &[&str]| {
        let mut all = vec!["voicemail"];
        all.extend_from_slice(args);
        cli(&all, Some(&data))
    };
    let (code, out, err) = vm(&["set", "1001", "off"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1001\tvoicemail off\tno pin");
    let s = json(
        sw.http,
        "GET",
        "/v1/accounts/1001/voicemail/settings",
        &alice(),
        None,
    )
    .json();
    assert_eq!(
        s["enabled"], false,
        "the running switch's API sees what the CLI set"
    );
    let (code, _, err) = vm(&["pin", "1001", "123"]);
    assert_eq!(code, 1);
    assert!(err.contains("pin of 3 digits, at least 4"), "{err}");
    let (code, out, err) = vm(&["pin", "1001", "0815"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1001\tvoicemail off\tpin set");
    let (code, _, err) = vm(&["list", "1009"]);
    assert_eq!(code, 1);
    assert!(err.contains("no account 1009"), "{err}");

    let a = import(
        sw.http,
        "1001",
        "010-1234-5678",
        &tone_wav(Format::int(16_000, 1, 16), 2.5, HZ as f64, DBFS),
    );
    let id = a.json()["id"].as_u64().unwrap();
    let (code, out, err) = vm(&["list", "1001", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["mailbox"],
        list(sw.http, "1001", &alice()),
        "the CLI shows what the API shows"
    );
    assert_eq!(v["settings"]["pin_set"], true);

    // the same on the stopped switch's data directory
    sw.stop();
    let (code, out, err) = vm(&["list", "1001"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1001\tvoicemail off\tpin set\t1 new, 0 saved");
    assert!(lines[1].starts_with(&format!("{id}\t")), "{out}");
    assert!(
        lines[1].ends_with("\t+82 10-1234-5678\t2.5 s\tnew"),
        "{out}"
    );
    let (code, _, err) = vm(&["set", "1001", "on"]);
    assert_eq!(code, 0, "{err}");
    sw.spawn();
    let s = json(
        sw.http,
        "GET",
        "/v1/accounts/1001/voicemail/settings",
        &alice(),
        None,
    )
    .json();
    assert_eq!(
        (s["enabled"].as_bool(), s["pin_set"].as_bool()),
        (Some(true), Some(true))
    );
}
