//! Buddy lists and presence watch grants through the HTTP API of a running switch: the list,
//! its limits, who may see it, mutual requests and their answers, and durability.

mod common;

use common::{basic, cli, http, Options, Switch};
use serde_json::Value;

const TOKEN: &str = "admin-secret";
const PW: &str = "pw-1234";

/// A switch with an admin token and accounts 1001, 1002 and 1003.
fn switch(presence: &str) -> Switch {
    let sw = Switch::with(Options {
        config: format!("[http]\nadmin_token = \"{TOKEN}\"\n[presence]\n{presence}"),
        ..Default::default()
    });
    for n in ["1001", "1002", "1003"] {
        let body = format!("{{\"number\": \"{n}\", \"password\": \"{PW}\"}}");
        let (code, out) = call(&sw, Who::Admin, "POST", "/v1/accounts", Some(&body));
        assert_eq!(code, 201, "{out}");
    }
    sw
}

#[derive(Clone, Copy)]
enum Who<'a> {
    Admin,
    Account(&'a str),
    Nobody,
}

fn call(sw: &Switch, who: Who<'_>, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let auth = match who {
        Who::Admin => Some(format!("Bearer {TOKEN}")),
        Who::Account(n) => Some(basic(n, PW)),
        Who::Nobody => None,
    };
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let (code, text) = http(sw.http, method, path, &headers, body);
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (code, v)
}

/// The numbers on `owner`'s list, as the owner reads it.
fn buddies(sw: &Switch, owner: &str) -> Vec<String> {
    let (code, v) = call(
        sw,
        Who::Account(owner),
        "GET",
        &format!("/v1/accounts/{owner}/buddies"),
        None,
    );
    assert_eq!(code, 200, "{v}");
    v["buddies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["number"].as_str().unwrap().to_owned())
        .collect()
}

/// The watchers `owner` has a grant for, in state `state` (all when empty).
fn watchers(sw: &Switch, owner: &str, state: &str) -> Vec<(String, String)> {
    let query = if state.is_empty() {
        String::new()
    } else {
        format!("?state={state}")
    };
    let (code, v) = call(
        sw,
        Who::Account(owner),
        "GET",
        &format!("/v1/accounts/{owner}/watchers{query}"),
        None,
    );
    assert_eq!(code, 200, "{v}");
    v["watchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            assert!(w["since"].as_u64().unwrap() > 1_600_000_000, "{w}");
            (
                w["number"].as_str().unwrap().to_owned(),
                w["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn add(sw: &Switch, owner: &str, body: &str) -> (u16, Value) {
    call(
        sw,
        Who::Account(owner),
        "POST",
        &format!("/v1/accounts/{owner}/buddies"),
        Some(body),
    )
}

fn put_list(sw: &Switch, owner: &str, body: &str) -> (u16, Value) {
    call(
        sw,
        Who::Account(owner),
        "PUT",
        &format!("/v1/accounts/{owner}/buddies"),
        Some(body),
    )
}

fn decide(sw: &Switch, owner: &str, watcher: &str, allow: bool) -> (u16, Value) {
    call(
        sw,
        Who::Account(owner),
        "PUT",
        &format!("/v1/accounts/{owner}/watchers/{watcher}"),
        Some(&format!("{{\"allow\": {allow}}}")),
    )
}

fn pair(n: &str, s: &str) -> (String, String) {
    (n.to_owned(), s.to_owned())
}

#[test]
fn a_buddy_is_added_updated_listed_and_removed_under_its_canonical_number() {
    let sw = switch("");
    let (code, v) = add(
        &sw,
        "1001",
        r#"{"number": "010-1234-5678", "display": "Kim", "groups": ["work"]}"#,
    );
    assert_eq!(code, 201, "{v}");
    assert_eq!(v["number"], "+821012345678");
    let (code, v) = add(
        &sw,
        "1001",
        r#"{"number": "01012345678", "display": "Kim J", "groups": ["work", "golf"]}"#,
    );
    assert_eq!(code, 200, "an update: {v}");
    assert_eq!(add(&sw, "1001", r#"{"number": "1002"}"#).0, 201);

    let (code, v) = call(
        &sw,
        Who::Account("1001"),
        "GET",
        "/v1/accounts/1001/buddies",
        None,
    );
    assert_eq!(code, 200);
    assert_eq!(
        v,
        serde_json::json!({"buddies": [
            {"number": "+821012345678", "display": "Kim J", "groups": ["work", "golf"]},
            {"number": "1002", "display": null, "groups": []},
        ]})
    );

    let del = |b: &str| {
        call(
            &sw,
            Who::Account("1001"),
            "DELETE",
            &format!("/v1/accounts/1001/buddies/{b}"),
            None,
        )
        .0
    };
    assert_eq!(del("010-1234-5678"), 204);
    assert_eq!(del("+821012345678"), 404, "already gone");
    assert_eq!(del("no%20such%20thing%21"), 400);
    assert_eq!(buddies(&sw, "1001"), ["1002"]);
}

#[test]
fn put_replaces_the_whole_list_and_a_bad_entry_or_a_limit_changes_nothing() {
    let sw = switch("max_buddies = 2\nmax_display_chars = 8\nmax_groups = 2\n");
    let (code, v) = put_list(
        &sw,
        "1001",
        r#"{"buddies": [{"number": "1002"}, {"number": "1003", "display": "Cleo"}]}"#,
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["buddies"].as_array().unwrap().len(), 2);
    assert_eq!(
        put_list(&sw, "1001", r#"{"buddies": [{"number": "1003"}]}"#).0,
        200
    );
    assert_eq!(buddies(&sw, "1001"), ["1003"], "1002 was replaced away");

    let refused = [
        (
            r#"{"buddies": [{"number": "1004"}, {"number": "not a number!"}]}"#,
            "not a phone number or name",
        ),
        (
            r#"{"buddies": [{"number": "1002"}, {"number": "1004"}, {"number": "1005"}]}"#,
            "presence.max_buddies",
        ),
        (
            r#"{"buddies": [{"number": "1002", "display": "much too long"}]}"#,
            "presence.max_display_chars",
        ),
        (
            r#"{"buddies": [{"number": "1002", "groups": ["a", "b", "c"]}]}"#,
            "presence.max_groups",
        ),
        (
            r#"{"buddies": [{"number": "1002"}, {"number": "1002"}]}"#,
            "listed twice",
        ),
        (r#"{"buddies": [{"number": "1001"}]}"#, "its own buddy"),
        (
            r#"{"buddies": [{"number": "1002", "colour": "red"}]}"#,
            "colour",
        ),
    ];
    for (body, message) in refused {
        let (code, v) = put_list(&sw, "1001", body);
        assert_eq!(code, 400, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(message),
            "{body}: {v}"
        );
    }
    assert_eq!(buddies(&sw, "1001"), ["1003"], "nothing changed");

    // one at a time, the same limit
    assert_eq!(add(&sw, "1001", r#"{"number": "1002"}"#).0, 201);
    let (code, v) = add(&sw, "1001", r#"{"number": "1004"}"#);
    assert_eq!(code, 400);
    assert_eq!(v["code"], "bad_buddy");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("presence.max_buddies"),
        "{v}"
    );
    assert_eq!(
        add(&sw, "1001", r#"{"number": "1002", "display": "Bo"}"#).0,
        200,
        "a full list still takes updates"
    );
    assert_eq!(buddies(&sw, "1001"), ["1002", "1003"]);
}

#[test]
fn only_the_account_itself_or_the_operator_reads_and_changes_a_list() {
    let sw = switch("");
    assert_eq!(add(&sw, "1001", r#"{"number": "1003"}"#).0, 201);
    let path = "/v1/accounts/1001/buddies";
    assert_eq!(
        call(&sw, Who::Account("1002"), "GET", path, None).0,
        401,
        "another account's list"
    );
    assert_eq!(call(&sw, Who::Nobody, "GET", path, None).0, 401);
    assert_eq!(
        call(
            &sw,
            Who::Account("1002"),
            "PUT",
            "/v1/accounts/1001/watchers/1002",
            Some(r#"{"allow": true}"#)
        )
        .0,
        401,
        "nobody allows themselves to watch"
    );
    assert_eq!(
        call(
            &sw,
            Who::Account("1002"),
            "PUT",
            path,
            Some(r#"{"buddies": []}"#)
        )
        .0,
        401
    );
    assert_eq!(buddies(&sw, "1001"), ["1003"]);

    let (code, v) = call(&sw, Who::Admin, "GET", path, None);
    assert_eq!(code, 200);
    assert_eq!(v["buddies"][0]["number"], "1003");
    let (code, v) = call(&sw, Who::Admin, "GET", "/v1/accounts/1009/buddies", None);
    assert_eq!(
        code, 404,
        "the operator learns there is no such account: {v}"
    );
    let (code, v) = call(
        &sw,
        Who::Admin,
        "GET",
        "/v1/accounts/bad!number/watchers",
        None,
    );
    assert_eq!(code, 400);
    assert_eq!(v["code"], "bad_number");
}

#[test]
fn adding_a_buddy_asks_to_watch_them_and_their_allowing_makes_both_buddies() {
    let sw = switch("");
    assert_eq!(
        add(&sw, "1001", r#"{"number": "1002", "display": "Bo"}"#).0,
        201
    );
    assert_eq!(watchers(&sw, "1002", "pending"), [pair("1001", "pending")]);
    assert!(
        watchers(&sw, "1001", "").is_empty(),
        "the adder asked, not the added"
    );
    assert!(
        buddies(&sw, "1002").is_empty(),
        "nothing on the other list yet"
    );
    // a number without an account gets no request, and the add works all the same
    assert_eq!(add(&sw, "1001", r#"{"number": "1009"}"#).0, 201);

    let (code, v) = decide(&sw, "1002", "1001", true);
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["state"], "allowed");
    assert_eq!(v["listed"], true);
    assert_eq!(buddies(&sw, "1002"), ["1001"]);
    let (_, v) = call(
        &sw,
        Who::Account("1002"),
        "GET",
        "/v1/accounts/1002/buddies",
        None,
    );
    assert_eq!(v["buddies"][0]["display"], Value::Null);
    assert!(watchers(&sw, "1002", "pending").is_empty());
    assert_eq!(watchers(&sw, "1002", "allowed"), [pair("1001", "allowed")]);
    assert!(
        watchers(&sw, "1001", "").is_empty(),
        "allowing asks nothing back"
    );
    assert_eq!(buddies(&sw, "1001"), ["1002", "1009"]);
}

#[test]
fn denying_a_watcher_records_it_leaves_the_lists_alone_and_can_be_forgotten() {
    let sw = switch("");
    assert_eq!(add(&sw, "1001", r#"{"number": "1003"}"#).0, 201);
    assert_eq!(add(&sw, "1002", r#"{"number": "1003"}"#).0, 201);
    assert_eq!(
        watchers(&sw, "1003", ""),
        [pair("1001", "pending"), pair("1002", "pending")]
    );
    let (code, v) = decide(&sw, "1003", "1001", false);
    assert_eq!(code, 200);
    assert_eq!(v["state"], "denied");
    assert_eq!(v["listed"], false);
    assert!(buddies(&sw, "1003").is_empty());
    assert_eq!(buddies(&sw, "1001"), ["1003"]);
    assert_eq!(watchers(&sw, "1003", "denied"), [pair("1001", "denied")]);
    assert_eq!(watchers(&sw, "1003", "pending"), [pair("1002", "pending")]);
    assert!(watchers(&sw, "1003", "allowed").is_empty());
    let (code, v) = call(
        &sw,
        Who::Account("1003"),
        "GET",
        "/v1/accounts/1003/watchers?state=maybe",
        None,
    );
    assert_eq!(code, 400);
    assert_eq!(v["code"], "bad_state");

    // removing 1003 and adding it again asks nothing new: the denial stands
    let path = "/v1/accounts/1001/buddies/1003";
    assert_eq!(call(&sw, Who::Account("1001"), "DELETE", path, None).0, 204);
    assert_eq!(add(&sw, "1001", r#"{"number": "1003"}"#).0, 201);
    assert_eq!(watchers(&sw, "1003", "denied"), [pair("1001", "denied")]);

    let forget = || {
        call(
            &sw,
            Who::Account("1003"),
            "DELETE",
            "/v1/accounts/1003/watchers/1001",
            None,
        )
        .0
    };
    assert_eq!(forget(), 204);
    assert_eq!(forget(), 404);
    assert_eq!(watchers(&sw, "1003", ""), [pair("1002", "pending")]);
}

#[test]
fn without_mutual_buddies_a_list_asks_nothing_and_allowing_lists_nobody() {
    let sw = switch("mutual_buddies = false\n");
    assert_eq!(add(&sw, "1001", r#"{"number": "1002"}"#).0, 201);
    assert_eq!(
        put_list(&sw, "1003", r#"{"buddies": [{"number": "1002"}]}"#).0,
        200
    );
    assert!(watchers(&sw, "1002", "").is_empty());
    let (code, v) = decide(&sw, "1002", "1001", true);
    assert_eq!(code, 200);
    assert_eq!(v["listed"], false);
    assert!(buddies(&sw, "1002").is_empty());
    assert_eq!(watchers(&sw, "1002", "allowed"), [pair("1001", "allowed")]);
}

#[test]
fn lists_and_grants_survive_a_restart_and_leave_with_their_account() {
    let mut sw = switch("");
    assert_eq!(
        put_list(
            &sw,
            "1001",
            r#"{"buddies": [{"number": "1002", "display": "Bo", "groups": ["team"]}]}"#
        )
        .0,
        200
    );
    assert_eq!(add(&sw, "1003", r#"{"number": "1001"}"#).0, 201);
    assert_eq!(decide(&sw, "1001", "1003", true).0, 200);
    sw.stop();
    sw.spawn();
    let (code, v) = call(
        &sw,
        Who::Account("1001"),
        "GET",
        "/v1/accounts/1001/buddies",
        None,
    );
    assert_eq!(code, 200);
    assert_eq!(
        v["buddies"],
        serde_json::json!([
            {"number": "1002", "display": "Bo", "groups": ["team"]},
            {"number": "1003", "display": null, "groups": []},
        ])
    );
    assert_eq!(watchers(&sw, "1001", ""), [pair("1003", "allowed")]);
    assert_eq!(watchers(&sw, "1002", ""), [pair("1001", "pending")]);

    let (code, _, err) = cli(&["account", "remove", "1001"], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    let body = format!("{{\"number\": \"1001\", \"password\": \"{PW}\"}}");
    assert_eq!(
        call(&sw, Who::Admin, "POST", "/v1/accounts", Some(&body)).0,
        201
    );
    assert!(
        buddies(&sw, "1001").is_empty(),
        "a new account starts empty"
    );
    assert!(watchers(&sw, "1001", "").is_empty());
}
