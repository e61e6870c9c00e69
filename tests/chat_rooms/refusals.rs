//! What a room refuses: non-members, one member too many, posts past the rate limit, rooms
//! past the per-owner cap, rooms that do not exist; and no answer says whether a number has
//! an account.

use super::*;

#[tokio::test]
async fn a_non_member_is_refused_and_nobody_receives_its_post() {
    let sw = switch("");
    accounts(&sw, &["1001", "1002", "1003"]);
    let mut a = Member::online(&sw, "1001").await;
    let mut c = Member::online(&sw, "1003").await;
    room(&sw, "1001", "private", &[]);
    let r = c.say("private", "let me in").await;
    assert_eq!(r.status(), Some(403));
    assert_eq!(r.reason(), Some("Not A Room Member"));
    assert_eq!(c.say("nowhere", "hello").await.status(), Some(404));
    assert_eq!(c.say("bad.name", "hello").await.status(), Some(404));
    let body = serde_json::json!({ "text": "let me in" }).to_string();
    let (status, v) = api(
        &sw,
        "1003",
        "POST",
        "/v1/rooms/private/messages",
        Some(&body),
    );
    assert_eq!((status, v["code"].as_str()), (403, Some("not_a_member")));
    let (status, _) = api(&sw, "1003", "GET", "/v1/rooms/private", None);
    assert_eq!(status, 403);
    let r = c.say("private", "/topic").await;
    assert_eq!(
        (r.status(), r.reason()),
        (Some(403), Some("Not A Room Member"))
    );
    assert!(a.quiet(Duration::from_millis(400)).await);
    assert_eq!(
        sw.metric("switchboard_room_posts_total{outcome=\"not_member\"}"),
        2.0
    );
}

#[tokio::test]
async fn a_full_room_refuses_one_more_member_over_sip_and_http() {
    let sw = switch("max_members = 2");
    accounts(&sw, &["1001", "1002", "1003"]);
    let mut a = Member::online(&sw, "1001").await;
    let mut c = Member::online(&sw, "1003").await;
    room(&sw, "1001", "duo", &["1002"]);
    let r = a.say("duo", "/invite 1003").await;
    assert_eq!((r.status(), r.reason()), (Some(403), Some("Room Full")));
    let r = c.say("duo", "/join").await;
    assert_eq!((r.status(), r.reason()), (Some(403), Some("Room Full")));
    let body = serde_json::json!({ "number": "1003" }).to_string();
    let (status, v) = api(&sw, "1001", "POST", "/v1/rooms/duo/members", Some(&body));
    assert_eq!((status, v["code"].as_str()), (409, Some("room_full")));
    // one leaves, and there is room again
    let (status, _) = api(&sw, "1002", "DELETE", "/v1/rooms/duo/members/1002", None);
    assert_eq!(status, 200);
    assert_eq!(a.next().await.text, "1002 left");
    assert_eq!(c.say("duo", "/join").await.status(), Some(200));
    assert!(c.next().await.text.starts_with("You joined the room."));
    assert_eq!(a.next().await.text, "1003 joined");
}

#[tokio::test]
async fn a_member_past_the_rate_limit_is_told_when_to_try_again() {
    let sw = switch("rate_per_minute = 1\nrate_burst = 3");
    accounts(&sw, &["1001"]);
    let mut a = Member::online(&sw, "1001").await;
    room(&sw, "1001", "busy", &[]);
    for k in 0..3 {
        let r = a.say("busy", &format!("burst {k}")).await;
        assert_eq!(r.status(), Some(202));
    }
    let r = a.say("busy", "one too many").await;
    assert_eq!(r.status(), Some(503));
    let retry: u64 = r.header_by_name("Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body = serde_json::json!({ "text": "and over HTTP" }).to_string();
    let auth = basic("1001", PW);
    let (status, text) = http(
        sw.http,
        "POST",
        "/v1/rooms/busy/messages",
        &[("Authorization", &auth)],
        Some(&body),
    );
    assert_eq!(status, 429, "{text}");
    // nothing refused took a sequence number
    let (_, v) = api(&sw, "1001", "GET", "/v1/rooms/busy", None);
    assert_eq!(v["last_seq"], 3);
    assert_eq!(
        sw.metric("switchboard_room_posts_total{outcome=\"rate_limited\"}"),
        2.0
    );
}

#[tokio::test]
async fn no_answer_says_whether_a_number_has_an_account() {
    let sw = switch("");
    accounts(&sw, &["1001", "1002", "1003"]);
    let mut a = Member::online(&sw, "1001").await;
    let mut c = Member::online(&sw, "1003").await;
    room(&sw, "1001", "quiet", &["9997"]);
    // 1002 has an account, 9998 has none: the same answers everywhere
    for n in ["1002", "9998"] {
        assert_eq!(
            a.say("quiet", &format!("/invite {n}")).await.status(),
            Some(200)
        );
        assert_eq!(a.next().await.text, format!("{n} was added."));
        let r = c.say("quiet", &format!("/invite {n}")).await;
        assert_eq!(
            (r.status(), r.reason()),
            (Some(403), Some("Not A Room Member"))
        );
        let body = serde_json::json!({ "number": n }).to_string();
        let (status, v) = api(&sw, "1003", "POST", "/v1/rooms/quiet/members", Some(&body));
        assert_eq!(
            (status, v["code"].as_str()),
            (403, Some("not_a_member")),
            "{n}"
        );
        let (status, v) = api(&sw, "1003", "POST", "/v1/rooms/nope/members", Some(&body));
        assert_eq!(
            (status, v["code"].as_str()),
            (404, Some("no_such_room")),
            "{n}"
        );
    }
    let (_, v) = api(&sw, "1001", "GET", "/v1/rooms/quiet", None);
    assert_eq!(v["members"].as_array().unwrap().len(), 4);
    // a post reaches the members with accounts; the one without is simply a member
    assert_eq!(a.say("quiet", "hello").await.status(), Some(202));
}

#[tokio::test]
async fn making_rooms_is_capped_per_owner_and_takes_the_senders_rate_tokens() {
    let sw = switch("max_rooms_per_owner = 2\nrate_per_minute = 1\nrate_burst = 3");
    accounts(&sw, &["1001"]);
    let mut a = Member::online(&sw, "1001").await;
    for name in ["r1", "r2"] {
        assert_eq!(a.say(name, "/join").await.status(), Some(200));
        assert!(a.next().await.text.contains("You created the room"));
    }
    let body = serde_json::json!({ "name": "r3" }).to_string();
    let (status, v) = api(&sw, "1001", "POST", "/v1/rooms", Some(&body));
    assert_eq!(
        (status, v["code"].as_str()),
        (409, Some("too_many_rooms")),
        "{v}"
    );
    // each try takes a creation token (buckets are per arbiter; one name stays on one)
    let mut answers = Vec::new();
    for _ in 0..4 {
        let r = a.say("r3", "/join").await;
        answers.push(r.status());
        if r.status() == Some(503) {
            assert!(r.header_by_name("Retry-After").is_some());
            break;
        }
        assert_eq!(r.reason(), Some("Too Many Rooms"));
    }
    assert_eq!(
        answers.last(),
        Some(&Some(503)),
        "past the creation rate: {answers:?}"
    );
    let (status, _) = api(&sw, "1001", "GET", "/v1/rooms/r3", None);
    assert_eq!(status, 404, "the refused room was not made");
    let (_, v) = api(&sw, "1001", "GET", "/v1/rooms", None);
    assert_eq!(v["rooms"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_room_refused_for_too_many_rooms_says_so_over_sip() {
    let sw = switch("max_rooms_per_owner = 1");
    accounts(&sw, &["1001"]);
    let mut a = Member::online(&sw, "1001").await;
    assert_eq!(a.say("mine", "/join").await.status(), Some(200));
    let r = a.say("another", "/join").await;
    assert_eq!(
        (r.status(), r.reason()),
        (Some(403), Some("Too Many Rooms"))
    );
    assert_eq!(a.say("another", "/members").await.status(), Some(404));
}

#[tokio::test]
async fn messages_to_rooms_that_do_not_exist_leave_no_room_actor_behind() {
    let sw = switch("");
    accounts(&sw, &["1001"]);
    let mut a = Member::online(&sw, "1001").await;
    for k in 0..5 {
        assert_eq!(a.say(&format!("ghost{k}"), "boo").await.status(), Some(404));
    }
    let mut active = f64::MAX;
    for _ in 0..40 {
        active = sw.metric("switchboard_rooms_active");
        if active == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(active, 0.0);
}
