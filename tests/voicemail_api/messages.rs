//! A message the operator imports: listed, fetched back as the same tone, marked heard and
//! saved, deleted; bodies that are no WAV file of the kinds taken are refused with their
//! reason; a full mailbox refuses with 507.

use super::*;

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
