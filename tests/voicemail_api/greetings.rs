//! Greetings uploaded in any common format come back as 16 kHz mono.

use super::*;

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
