//! Who may reach a mailbox: its owner and the operator; everyone else gets the same 401 or
//! 404, so nothing tells who has one.

use super::*;

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
