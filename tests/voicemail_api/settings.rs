//! A mailbox's settings over HTTP: whether a PIN is set (never the PIN), PINs the rules
//! refuse.

use super::*;

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
