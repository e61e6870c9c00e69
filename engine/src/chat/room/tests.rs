use super::*;
use std::time::Duration;

const LIMITS: RoomLimits = RoomLimits {
    max_members: 3,
    max_topic_chars: 10,
    rate_per_minute: 60,
    burst: 2,
};

fn a(n: &str) -> Aor {
    Aor::from_canonical(n)
}

fn room() -> Room {
    Room::create(&a("1001"), String::new(), 100, &LIMITS).unwrap()
}

fn no_numbers(n: &str) -> Result<Aor, RoomError> {
    Err(RoomError::BadNumber(n.into()))
}

#[test]
fn posts_get_increasing_sequence_numbers_and_only_members_post() {
    let t = Instant::now();
    let mut r = Room::new(room().record, 41);
    assert_eq!(r.post(t, &a("1001"), &LIMITS), Ok(42));
    assert_eq!(r.post(t, &a("1001"), &LIMITS), Ok(43));
    assert_eq!(r.post(t, &a("1002"), &LIMITS), Err(RoomError::NotAMember));
    assert_eq!(r.last_seq(), 43);
}

#[test]
fn the_rate_limit_allows_a_burst_then_refills_with_time() {
    let t = Instant::now();
    let mut r = room();
    let me = a("1001");
    assert!(r.post(t, &me, &LIMITS).is_ok());
    assert!(r.post(t, &me, &LIMITS).is_ok());
    let Err(RoomError::RateLimited { retry_after }) = r.post(t, &me, &LIMITS) else {
        panic!("third post in a burst of two");
    };
    assert_eq!(retry_after, Duration::from_secs(1));
    // a refused post takes no sequence number
    assert_eq!(r.last_seq(), 2);
    assert!(r.post(t + Duration::from_secs(1), &me, &LIMITS).is_ok());
}

#[test]
fn a_full_room_refuses_one_more_member() {
    let mut r = room();
    assert_eq!(r.join(&a("1002"), 1, &LIMITS), Ok(None));
    r.invite(Some(&a("1002")), &a("1003"), 1, &LIMITS).unwrap();
    assert_eq!(
        r.join(&a("1004"), 1, &LIMITS),
        Err(RoomError::Full { max: 3 })
    );
    assert_eq!(
        r.join(&a("1002"), 1, &LIMITS),
        Err(RoomError::AlreadyMember)
    );
    assert_eq!(
        r.invite(Some(&a("1009")), &a("1004"), 1, &LIMITS),
        Err(RoomError::NotAMember)
    );
}

#[test]
fn a_rejoin_reports_where_the_member_left() {
    let t = Instant::now();
    let mut r = room();
    r.join(&a("1002"), 1, &LIMITS).unwrap();
    r.post(t, &a("1001"), &LIMITS).unwrap();
    r.leave(&a("1002")).unwrap();
    assert!(!r.is_member(&a("1002")));
    r.post(t, &a("1001"), &LIMITS).unwrap();
    assert_eq!(r.join(&a("1002"), 2, &LIMITS), Ok(Some(1)));
    // one record per number, present again
    assert_eq!(r.record.members.len(), 2);
}

#[test]
fn the_owner_leaving_hands_the_room_on() {
    let mut r = room();
    r.join(&a("1002"), 1, &LIMITS).unwrap();
    r.leave(&a("1001")).unwrap();
    assert!(r.is_owner(&a("1002")));
    assert_eq!(r.leave(&a("1001")), Err(RoomError::NotAMember));
}

#[test]
fn members_show_how_they_are_in_the_conference_and_call_dials_the_others() {
    let resolve = |n: &str| Ok(a(n));
    let mut r = Room::create(&a("1001"), String::new(), 1, &LIMITS).unwrap();
    for n in ["1002", "1003"] {
        r.invite(None, &a(n), 1, &LIMITS).unwrap();
    }
    r.set_voice(vec![
        ("1001".into(), VoiceState::Talking),
        ("1003".into(), VoiceState::Muted),
    ]);
    let e = r
        .command(&a("1002"), &Command::Members, 1, &LIMITS, &resolve)
        .unwrap();
    assert_eq!(
        e.reply,
        "Members (3): 1001 (owner, talking), 1002, 1003 (muted)"
    );
    let e = r
        .command(&a("1002"), &Command::Call, 1, &LIMITS, &resolve)
        .unwrap();
    assert_eq!(e.dial, [a("1002")], "only who is not in voice yet");
    assert!(!e.changed, "nothing to store");
    assert_eq!(
        r.command(&a("1999"), &Command::Call, 1, &LIMITS, &resolve)
            .unwrap_err(),
        RoomError::NotAMember
    );
}

#[test]
fn commands_answer_announce_and_say_when_to_save() {
    let mut r = room();
    let resolve = |n: &str| -> Result<Aor, RoomError> { Ok(a(n)) };
    let e = r
        .command(
            &a("1001"),
            &Command::Invite("1002".into()),
            1,
            &LIMITS,
            &resolve,
        )
        .unwrap();
    assert!(e.changed);
    assert_eq!(e.invited.as_ref().map(|(w, _)| w.as_str()), Some("1002"));
    assert_eq!(e.announce.as_deref(), Some("1001 added 1002"));
    let e = r
        .command(&a("1002"), &Command::Members, 1, &LIMITS, &resolve)
        .unwrap();
    assert_eq!(e.reply, "Members (2): 1001 (owner), 1002");
    assert!(!e.changed);
    let e = r
        .command(
            &a("1002"),
            &Command::Topic(Some("ship it".into())),
            1,
            &LIMITS,
            &resolve,
        )
        .unwrap();
    assert_eq!(e.announce.as_deref(), Some("1002 set the topic: ship it"));
    assert_eq!(
        r.command(
            &a("1002"),
            &Command::Topic(Some("x".repeat(11))),
            1,
            &LIMITS,
            &resolve
        ),
        Err(RoomError::TopicTooLong { max: 10 })
    );
    let e = r
        .command(&a("1002"), &Command::Topic(None), 1, &LIMITS, &resolve)
        .unwrap();
    assert_eq!(e.reply, "Topic: ship it");
    assert_eq!(
        r.command(&a("1003"), &Command::Members, 1, &LIMITS, &resolve),
        Err(RoomError::NotAMember)
    );
    let err = r
        .command(
            &a("1001"),
            &Command::Invite("x".into()),
            1,
            &LIMITS,
            &no_numbers,
        )
        .unwrap_err();
    assert!(err.answered_in_band());
    assert!(!RoomError::Full { max: 1 }.answered_in_band());
    let e = r
        .command(&a("1003"), &Command::Help, 1, &LIMITS, &resolve)
        .unwrap();
    assert_eq!(e.reply, HELP);
}

#[test]
fn only_members_read_the_topic() {
    let mut r = room();
    let resolve = |n: &str| -> Result<Aor, RoomError> { Ok(a(n)) };
    assert_eq!(
        r.command(&a("1003"), &Command::Topic(None), 1, &LIMITS, &resolve),
        Err(RoomError::NotAMember)
    );
    assert!(r
        .command(&a("1001"), &Command::Topic(None), 1, &LIMITS, &resolve)
        .is_ok());
}

#[test]
fn a_non_member_inviting_is_refused_before_the_number_is_looked_at() {
    let mut r = room();
    let looked = std::cell::Cell::new(false);
    let resolve = |n: &str| -> Result<Aor, RoomError> {
        looked.set(true);
        Ok(a(n))
    };
    for number in ["1002", "not a number!"] {
        assert_eq!(
            r.command(
                &a("1003"),
                &Command::Invite(number.into()),
                1,
                &LIMITS,
                &resolve
            ),
            Err(RoomError::NotAMember)
        );
    }
    assert!(!looked.get());
}

#[test]
fn errors_map_to_sip_and_http_answers() {
    let many = RoomError::TooManyRooms { max: 20 };
    assert_eq!(many.sip_status(), (403, "Too Many Rooms"));
    assert_eq!(many.http_status(), (409, "too_many_rooms"));
    assert!(!many.answered_in_band());
    assert_eq!(RoomError::Full { max: 1 }.sip_status(), (403, "Room Full"));
    assert_eq!(RoomError::Full { max: 1 }.http_status().0, 409);
    assert_eq!(
        RoomError::NotAMember.sip_status(),
        (403, "Not A Room Member")
    );
    let rl = RoomError::RateLimited {
        retry_after: Duration::from_secs(1),
    };
    assert_eq!(rl.sip_status().0, 503);
    assert_eq!(rl.http_status().0, 429);
}
