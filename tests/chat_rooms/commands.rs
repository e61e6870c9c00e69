//! The in-band commands: each answered by the room, changes announced to the members.

use super::*;

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
