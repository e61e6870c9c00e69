//! A member who rejoins gets the newest posts they missed, also while posts are in flight.

use super::*;

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
