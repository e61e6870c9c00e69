//! Chat rooms end to end: posts fanned out in one order to online members at once and to
//! offline ones on REGISTER, history over HTTP, every in-band command, the limits, rejoining,
//! and a restart.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::ua::{Proto, Ua};
use common::{basic, http, Options, Switch};
use switchboard_engine::sip::{HeaderName, Message, Method};

const PW: &str = "pw-1234";

/// A SIP agent of a room member: answers every MESSAGE it reads with 200 and drops the
/// retransmissions of ones it already read.
struct Member {
    ua: Ua,
    seen: HashSet<String>,
}

/// What a member received.
#[derive(Debug)]
struct Got {
    text: String,
    from: String,
    seq: Option<u64>,
}

impl Member {
    async fn online(sw: &Switch, user: &str) -> Member {
        let mut m = Member::offline(sw, user).await;
        m.register().await;
        m
    }

    async fn offline(sw: &Switch, user: &str) -> Member {
        Member {
            ua: Ua::new(sw.sip, user, PW, Proto::Udp).await,
            seen: HashSet::new(),
        }
    }

    async fn register(&mut self) {
        assert_eq!(self.ua.register(300).await.status(), Some(200));
    }

    /// Sends `text` to room `room`; the final answer.
    async fn say(&mut self, room: &str, text: &str) -> Message {
        self.ua.text(&format!("room-{room}"), text).await
    }

    /// The next MESSAGE (within the agent's wait), answered 200.
    async fn next(&mut self) -> Got {
        loop {
            let m = self.ua.expect_request(Method::Message).await;
            self.ua.reply(&m, 200);
            let key = format!("{:?} {:?}", m.call_id(), m.header(HeaderName::CSeq));
            if !self.seen.insert(key) {
                continue;
            }
            return Got {
                text: String::from_utf8_lossy(m.body()).into_owned(),
                from: m.header(HeaderName::From).unwrap_or_default().to_owned(),
                seq: m.header_by_name("Room-Seq").and_then(|s| s.parse().ok()),
            };
        }
    }

    /// Whether nothing new arrives within `wait`.
    async fn quiet(&mut self, wait: Duration) -> bool {
        loop {
            let Some(m) = self.ua.maybe_request(Method::Message, wait).await else {
                return true;
            };
            self.ua.reply(&m, 200);
            let key = format!("{:?} {:?}", m.call_id(), m.header(HeaderName::CSeq));
            if self.seen.insert(key) {
                eprintln!("unexpected: {}", String::from_utf8_lossy(m.body()));
                return false;
            }
        }
    }
}

fn switch(rooms: &str) -> Switch {
    Switch::with(Options {
        config: format!(
            "[messaging]\nretry_initial_ms = 200\nretry_max_secs = 1\n[rooms]\n{rooms}\n"
        ),
        ..Default::default()
    })
}

fn accounts(sw: &Switch, numbers: &[&str]) {
    for n in numbers {
        sw.add_account(n, PW);
    }
}

fn api(
    sw: &Switch,
    user: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let auth = basic(user, PW);
    let (status, text) = http(sw.http, method, path, &[("Authorization", &auth)], body);
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// Room `name` owned by `owner` with `members`, made over HTTP.
fn room(sw: &Switch, owner: &str, name: &str, members: &[&str]) {
    let body = serde_json::json!({ "name": name, "members": members }).to_string();
    let (status, v) = api(sw, owner, "POST", "/v1/rooms", Some(&body));
    assert_eq!(status, 201, "{v}");
}

fn room_seq(m: &Message) -> Option<u64> {
    m.header_by_name("Room-Seq").and_then(|s| s.parse().ok())
}

#[tokio::test]
async fn online_members_get_each_post_at_once_in_room_order_and_an_offline_one_on_register() {
    let sw = switch("");
    accounts(&sw, &["1001", "1002", "1003", "1004"]);
    let mut a = Member::online(&sw, "1001").await;
    let mut b = Member::online(&sw, "1002").await;
    let mut d = Member::online(&sw, "1004").await;
    room(&sw, "1001", "ops", &["1002", "1003", "1004"]);
    assert!(b.next().await.text.contains("1001 added you"));
    assert!(d.next().await.text.contains("1001 added you"));
    for k in 0..6u64 {
        let (poster, other) = if k % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        let r = poster.say("ops", &format!("post {k}")).await;
        assert_eq!(r.status(), Some(202), "accepted after the commit");
        assert_eq!(room_seq(&r), Some(k + 1));
        let who = if k % 2 == 0 { "1001" } else { "1002" };
        for m in [other.next().await, d.next().await] {
            assert_eq!(
                m.text,
                format!("{who}: post {k}"),
                "prefixed with the sender"
            );
            assert_eq!(m.seq, Some(k + 1), "in the room's order");
            assert!(m.from.contains("<sip:room-ops@"), "{}", m.from);
            assert!(m.from.contains(who), "{}", m.from);
        }
    }
    assert!(
        a.quiet(Duration::from_millis(300)).await,
        "no copy to the sender"
    );
    let mut c = Member::offline(&sw, "1003").await;
    c.register().await;
    assert!(c.next().await.text.contains("1001 added you"));
    for k in 0..6u64 {
        let m = c.next().await;
        assert_eq!(m.seq, Some(k + 1), "every missed post, in order");
        assert!(m.text.ends_with(&format!("post {k}")));
    }
    assert!(c.quiet(Duration::from_millis(500)).await);
    assert!(sw.metric("switchboard_room_posts_total{outcome=\"posted\"}") >= 6.0);
}

#[tokio::test]
async fn history_pages_over_http_with_after_and_limit_for_members_only() {
    let sw = switch("");
    accounts(&sw, &["1001", "1002", "1003"]);
    room(&sw, "1001", "log", &["1002"]);
    for k in 0..5 {
        let body = serde_json::json!({ "text": format!("entry {k}") }).to_string();
        let (status, v) = api(&sw, "1001", "POST", "/v1/rooms/log/messages", Some(&body));
        assert_eq!(status, 202, "{v}");
        assert_eq!(v["seq"], k + 1);
    }
    let (status, page) = api(&sw, "1002", "GET", "/v1/rooms/log/messages?limit=2", None);
    assert_eq!(status, 200);
    let seqs: Vec<u64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(
        page["messages"][0]["text"], "entry 0",
        "history keeps the bare text"
    );
    assert_eq!(page["messages"][0]["sender"], "1001");
    assert_eq!(page["next"], 2);
    let (_, page) = api(
        &sw,
        "1002",
        "GET",
        "/v1/rooms/log/messages?after=2&limit=2",
        None,
    );
    assert_eq!(page["messages"][0]["seq"], 3);
    assert_eq!(page["next"], 4);
    let (_, page) = api(
        &sw,
        "1002",
        "GET",
        "/v1/rooms/log/messages?after=4&limit=2",
        None,
    );
    assert_eq!(page["messages"].as_array().unwrap().len(), 1);
    assert!(page["next"].is_null(), "the last page has no cursor");
    let (status, v) = api(&sw, "1003", "GET", "/v1/rooms/log/messages", None);
    assert_eq!(status, 403);
    assert_eq!(v["code"], "not_a_member");
    let (status, v) = api(&sw, "1002", "GET", "/v1/rooms", None);
    assert_eq!(status, 200);
    assert_eq!(v["rooms"][0]["name"], "log");
    let (_, v) = api(&sw, "1003", "GET", "/v1/rooms", None);
    assert!(
        v["rooms"].as_array().unwrap().is_empty(),
        "only the caller's rooms"
    );
}

#[tokio::test]
async fn every_command_is_answered_by_the_room_and_changes_are_announced() {
    let sw = switch("");
    accounts(&sw, &["1001", "1002"]);
    let mut a = Member::online(&sw, "1001").await;
    let mut b = Member::online(&sw, "1002").await;
    assert_eq!(
        a.say("Team", "/topic").await.status(),
        Some(404),
        "no room yet"
    );
    assert_eq!(a.say("Team", "/join").await.status(), Some(200));
    let m = a.next().await;
    assert!(m.text.contains("You created the room"), "{}", m.text);
    assert!(
        m.from.contains("<sip:room-team@"),
        "names are case-folded: {}",
        m.from
    );
    assert_eq!(a.say("team", "/topic Launch day").await.status(), Some(200));
    assert_eq!(a.next().await.text, "Topic set: Launch day");
    assert_eq!(a.say("team", "/invite 1002").await.status(), Some(200));
    assert_eq!(a.next().await.text, "1002 was added.");
    let m = b.next().await;
    assert!(
        m.text.contains("1001 added you") && m.text.contains("Launch day"),
        "{}",
        m.text
    );
    assert_eq!(b.say("team", "/members").await.status(), Some(200));
    assert_eq!(b.next().await.text, "Members (2): 1001 (owner), 1002");
    assert_eq!(b.say("team", "/topic").await.status(), Some(200));
    assert_eq!(b.next().await.text, "Topic: Launch day");
    assert_eq!(b.say("team", "/help").await.status(), Some(200));
    assert!(b.next().await.text.starts_with("Room commands:"));
    assert_eq!(b.say("team", "/dance").await.status(), Some(200));
    let m = b.next().await;
    assert!(
        m.text.starts_with("unknown command /dance\nRoom commands:"),
        "{}",
        m.text
    );
    assert_eq!(b.say("team", "/invite").await.status(), Some(200));
    assert!(b.next().await.text.starts_with("/invite needs a number"));
    assert_eq!(b.say("team", "/invite a#b").await.status(), Some(200));
    assert!(b.next().await.text.contains("not a phone number or name"));
    assert_eq!(
        b.say("team", "/topic Moved to Friday").await.status(),
        Some(200)
    );
    assert_eq!(b.next().await.text, "Topic set: Moved to Friday");
    assert_eq!(a.next().await.text, "1002 set the topic: Moved to Friday");
    let (status, v) = api(&sw, "1001", "GET", "/v1/rooms/team", None);
    assert_eq!(status, 200);
    assert_eq!(v["topic"], "Moved to Friday");
    assert_eq!(v["owner"], "1001");
    assert_eq!(v["members"].as_array().unwrap().len(), 2);
    assert_eq!(b.say("team", "/leave").await.status(), Some(200));
    assert_eq!(b.next().await.text, "You left the room.");
    assert_eq!(a.next().await.text, "1002 left");
    let r = b.say("team", "still here?").await;
    assert_eq!(r.status(), Some(403));
    assert_eq!(r.reason(), Some("Not A Room Member"));
    assert!(a.quiet(Duration::from_millis(300)).await);
}

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
async fn a_member_who_rejoins_gets_the_newest_posts_they_missed() {
    let sw = switch("catch_up_max = 2");
    accounts(&sw, &["1001", "1002"]);
    let mut a = Member::online(&sw, "1001").await;
    let mut b = Member::online(&sw, "1002").await;
    room(&sw, "1001", "news", &["1002"]);
    assert!(b.next().await.text.contains("added you"));
    assert_eq!(a.say("news", "before").await.status(), Some(202));
    assert_eq!(b.next().await.seq, Some(1));
    assert_eq!(b.say("news", "/leave").await.status(), Some(200));
    assert_eq!(b.next().await.text, "You left the room.");
    assert_eq!(a.next().await.text, "1002 left");
    for k in 0..3 {
        assert_eq!(
            a.say("news", &format!("missed {k}")).await.status(),
            Some(202)
        );
    }
    assert!(
        b.quiet(Duration::from_millis(300)).await,
        "not a member now"
    );
    assert_eq!(b.say("news", "/join").await.status(), Some(200));
    assert!(b.next().await.text.starts_with("You joined the room."));
    let m = b.next().await;
    assert_eq!((m.text.as_str(), m.seq), ("1001: missed 1", Some(3)));
    let m = b.next().await;
    assert_eq!((m.text.as_str(), m.seq), ("1001: missed 2", Some(4)));
    assert!(
        b.quiet(Duration::from_millis(400)).await,
        "capped at the newest two"
    );
    assert_eq!(a.next().await.text, "1002 joined");
}

#[tokio::test]
async fn a_restart_keeps_the_room_and_continues_its_sequence() {
    let mut sw = switch("");
    accounts(&sw, &["1001", "1002"]);
    room(&sw, "1001", "durable", &["1002"]);
    {
        let mut a = Member::online(&sw, "1001").await;
        for k in 1..=2 {
            let r = a.say("durable", &format!("before {k}")).await;
            assert_eq!(room_seq(&r), Some(k));
        }
    }
    sw.stop();
    sw.spawn();
    let mut a = Member::online(&sw, "1001").await;
    let r = a.say("durable", "after").await;
    assert_eq!(r.status(), Some(202));
    assert_eq!(
        room_seq(&r),
        Some(3),
        "the next after the last history entry"
    );
    let (status, v) = api(&sw, "1002", "GET", "/v1/rooms/durable", None);
    assert_eq!(status, 200);
    assert_eq!(v["members"].as_array().unwrap().len(), 2);
    // the offline member has every post waiting, in order, across the restart
    let mut b = Member::online(&sw, "1002").await;
    assert!(b.next().await.text.contains("added you"));
    for k in 1..=3 {
        assert_eq!(b.next().await.seq, Some(k));
    }
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
async fn a_display_name_stands_beside_the_number_and_cannot_pose_as_another_member() {
    let sw = switch("");
    accounts(&sw, &["1001", "1002", "1003"]);
    let mut a = Member::online(&sw, "1001").await;
    let mut b = Member::online(&sw, "1002").await;
    room(&sw, "1001", "names", &["1002", "1003"]);
    assert!(b.next().await.text.contains("added you"));
    a.ua.display = "1003".into();
    assert_eq!(a.say("names", "it is me").await.status(), Some(202));
    let m = b.next().await;
    assert_eq!(m.text, "1003 (1001): it is me");
    assert!(
        m.from.starts_with("\"1003 (1001)\" <sip:room-names@"),
        "{}",
        m.from
    );
    let (_, page) = api(&sw, "1002", "GET", "/v1/rooms/names/messages", None);
    assert_eq!(page["messages"][0]["display"], "1003 (1001)");
    assert_eq!(page["messages"][0]["sender"], "1001");
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

#[tokio::test]
async fn a_member_who_rejoins_while_posts_are_in_flight_gets_every_one() {
    let sw = switch("rate_per_minute = 100000\nrate_burst = 10000");
    accounts(&sw, &["1001", "1002"]);
    let mut b = Member::online(&sw, "1002").await;
    room(&sw, "1001", "race", &["1002"]);
    assert!(b.next().await.text.contains("added you"));
    assert_eq!(b.say("race", "/leave").await.status(), Some(200));
    assert_eq!(b.next().await.text, "You left the room.");
    const POSTS: u64 = 40;
    let addr = sw.http;
    let posters: Vec<_> = (0..POSTS)
        .map(|k| {
            std::thread::spawn(move || {
                let body = serde_json::json!({ "text": format!("p{k}") }).to_string();
                let auth = basic("1001", PW);
                let (status, _) = http(
                    addr,
                    "POST",
                    "/v1/rooms/race/messages",
                    &[("Authorization", &auth)],
                    Some(&body),
                );
                assert_eq!(status, 202);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(b.say("race", "/join").await.status(), Some(200));
    for p in posters {
        p.join().unwrap();
    }
    let mut seqs = std::collections::BTreeSet::new();
    loop {
        let Some(m) =
            b.ua.maybe_request(Method::Message, Duration::from_millis(800))
                .await
        else {
            break;
        };
        b.ua.reply(&m, 200);
        if let Some(seq) = room_seq(&m) {
            seqs.insert(seq);
        }
    }
    assert_eq!(
        seqs,
        (1..=POSTS).collect(),
        "missed or live, every post arrives"
    );
}
