//! Posts: fanned out in one order to online members at once and to offline ones on
//! REGISTER, paged over HTTP, shown with the sender's number beside the display name, and a
//! room's sequence continued after a restart.

use super::*;

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
