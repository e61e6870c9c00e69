//! The rules of one room: who is a member, how many may be, how fast each may post, and what
//! a command does. The actor that owns the room keeps one `Room` and carries out the
//! `Effect`s; time is passed in (`now` for the rate limit, `now_unix` for records).
//!
//! Invariant: `next_seq` is greater than every sequence number handed out, and a post gets
//! one only once it passed every check.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::command::{Command, HELP};
use crate::numbering::Aor;
use crate::store::rooms::{MemberRecord, RoomRecord};

/// The limits of every room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomLimits {
    pub max_members: usize,
    pub max_topic_chars: usize,
    /// Posts (and commands) one member may make per minute, sustained ...
    pub rate_per_minute: u32,
    /// ... and in a burst.
    pub burst: u32,
}

/// Why a room refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    #[error("no such room")]
    NoSuchRoom,
    #[error("the room exists already")]
    Exists,
    #[error("only members may do that")]
    NotAMember,
    #[error("the room is full ({max} members)")]
    Full { max: usize },
    #[error("already a member")]
    AlreadyMember,
    #[error("only the room's owner may do that")]
    NotOwner,
    #[error("the topic is longer than {max} characters")]
    TopicTooLong { max: usize },
    /// Not a phone number or name at all (said the same way whether or not it has an
    /// account: a room never reveals which numbers do).
    #[error("not a phone number or name: {0}")]
    BadNumber(String),
    #[error("you own {max} rooms already; delete one first")]
    TooManyRooms { max: usize },
    #[error("too many posts; try again in {retry_after:?}")]
    RateLimited { retry_after: Duration },
}

impl RoomError {
    /// The SIP answer to a MESSAGE refused with this error.
    pub fn sip_status(&self) -> (u16, &'static str) {
        match self {
            RoomError::NoSuchRoom => (404, "No Such Room"),
            RoomError::BadNumber(_) => (400, "Bad Number"),
            RoomError::TooManyRooms { .. } => (403, "Too Many Rooms"),
            RoomError::NotAMember => (403, "Not A Room Member"),
            RoomError::Full { .. } => (403, "Room Full"),
            RoomError::NotOwner => (403, "Not The Room Owner"),
            RoomError::Exists | RoomError::AlreadyMember => (409, "Conflict"),
            RoomError::TopicTooLong { .. } => (413, "Topic Too Long"),
            RoomError::RateLimited { .. } => (503, "Room Rate Limit"),
        }
    }

    /// The HTTP status and error code.
    pub fn http_status(&self) -> (u16, &'static str) {
        match self {
            RoomError::NoSuchRoom => (404, "no_such_room"),
            RoomError::BadNumber(_) => (400, "bad_number"),
            RoomError::TooManyRooms { .. } => (409, "too_many_rooms"),
            RoomError::NotAMember => (403, "not_a_member"),
            RoomError::NotOwner => (403, "not_owner"),
            RoomError::Full { .. } => (409, "room_full"),
            RoomError::Exists => (409, "room_exists"),
            RoomError::AlreadyMember => (409, "already_member"),
            RoomError::TopicTooLong { .. } => (422, "topic_too_long"),
            RoomError::RateLimited { .. } => (429, "rate_limited"),
        }
    }

    /// Whether a command refused with this error is answered by a message from the room
    /// (a mistake the sender can read about) rather than by the MESSAGE's SIP status (a
    /// refusal: not a member, full, rate limit, no room).
    pub fn answered_in_band(&self) -> bool {
        matches!(
            self,
            RoomError::AlreadyMember
                | RoomError::NotOwner
                | RoomError::TopicTooLong { .. }
                | RoomError::BadNumber(_)
        )
    }
}

/// A token bucket on injected time: `burst` tokens, refilled at `per_minute`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn full(now: Instant, burst: u32) -> TokenBucket {
        TokenBucket {
            tokens: f64::from(burst),
            last: now,
        }
    }

    /// Takes a token, or says how long until one is there.
    pub fn take(&mut self, now: Instant, per_minute: u32, burst: u32) -> Result<(), Duration> {
        let rate = f64::from(per_minute.max(1)) / 60.0;
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(burst.max(1)));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }

    /// Whether the bucket is full again by `now` (it can be forgotten).
    pub fn is_full(&self, now: Instant, per_minute: u32, burst: u32) -> bool {
        let rate = f64::from(per_minute.max(1)) / 60.0;
        self.tokens + now.saturating_duration_since(self.last).as_secs_f64() * rate
            >= f64::from(burst)
    }
}

/// What the owner of a room carries out after a command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effect {
    /// The answer to the sender (a message from the room).
    pub reply: String,
    /// Told to every current member except the sender.
    pub announce: Option<String>,
    /// The record changed and must be written.
    pub changed: bool,
    /// The sender rejoined and missed the posts after this sequence number.
    pub catch_up_after: Option<u64>,
    /// A number invited: it gets this notice.
    pub invited: Option<(Aor, String)>,
    /// `/call`: the switch calls these members into the room's conference.
    pub dial: Vec<Aor>,
}

/// How a member is in the room's conference (the voice side of the same group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VoiceState {
    /// In the conference, heard when speaking.
    InVoice,
    /// In the conference, muted.
    Muted,
    /// In the conference and speaking now.
    Talking,
}

impl VoiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            VoiceState::InVoice => "in voice",
            VoiceState::Muted => "muted",
            VoiceState::Talking => "talking",
        }
    }
}

/// One room in memory.
#[derive(Debug, Clone)]
pub struct Room {
    pub record: RoomRecord,
    next_seq: u64,
    buckets: HashMap<Aor, TokenBucket>,
    /// Who is in the room's conference now, by number (not stored: the bridge tells).
    voice: Vec<(String, VoiceState)>,
}

impl Room {
    /// A room read from the store; `last_seq` is its last history key (0 if none).
    pub fn new(record: RoomRecord, last_seq: u64) -> Room {
        Room {
            record,
            next_seq: last_seq + 1,
            buckets: HashMap::new(),
            voice: Vec::new(),
        }
    }

    /// A new room with its owner as the first member.
    pub fn create(
        owner: &Aor,
        topic: String,
        now_unix: u64,
        limits: &RoomLimits,
    ) -> Result<Room, RoomError> {
        check_topic(&topic, limits)?;
        let record = RoomRecord {
            topic,
            owner: owner.to_string(),
            created_unix: now_unix,
            members: vec![MemberRecord {
                number: owner.to_string(),
                joined_unix: now_unix,
                left_at: None,
            }],
        };
        Ok(Room::new(record, 0))
    }

    /// The last sequence number handed out (0 before the first post).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Who is in the room's conference now (replaces what the bridge said before).
    pub fn set_voice(&mut self, voice: Vec<(String, VoiceState)>) {
        self.voice = voice;
    }

    /// How `number` is in the room's conference, if it is.
    pub fn voice_of(&self, number: &str) -> Option<VoiceState> {
        self.voice.iter().find(|v| v.0 == number).map(|v| v.1)
    }

    /// Everyone in the room's conference.
    pub fn voice(&self) -> &[(String, VoiceState)] {
        &self.voice
    }

    pub fn is_member(&self, who: &Aor) -> bool {
        self.current().any(|m| m.number == who.as_str())
    }

    pub fn is_owner(&self, who: &Aor) -> bool {
        self.record.owner == who.as_str()
    }

    /// Current members, in joining order.
    pub fn current(&self) -> impl Iterator<Item = &MemberRecord> {
        self.record.members.iter().filter(|m| m.is_current())
    }

    /// Current members other than `who`.
    pub fn others(&self, who: &Aor) -> Vec<Aor> {
        self.current()
            .filter(|m| m.number != who.as_str())
            .map(|m| Aor::from_canonical(&m.number))
            .collect()
    }

    /// Takes a rate token of `who`.
    pub fn rate(&mut self, now: Instant, who: &Aor, limits: &RoomLimits) -> Result<(), RoomError> {
        let (per, burst) = (limits.rate_per_minute, limits.burst);
        if self.buckets.len() > 2 * limits.max_members.max(16) {
            self.buckets.retain(|_, b| !b.is_full(now, per, burst));
        }
        self.buckets
            .entry(who.clone())
            .or_insert_with(|| TokenBucket::full(now, burst))
            .take(now, per, burst)
            .map_err(|retry_after| RoomError::RateLimited { retry_after })
    }

    /// A post by `who`: the sequence number it gets, once it is a member within its rate.
    pub fn post(&mut self, now: Instant, who: &Aor, limits: &RoomLimits) -> Result<u64, RoomError> {
        if !self.is_member(who) {
            return Err(RoomError::NotAMember);
        }
        self.rate(now, who, limits)?;
        let seq = self.next_seq;
        self.next_seq += 1;
        Ok(seq)
    }

    /// `who` joins (or rejoins: the sequence number they left at is returned).
    pub fn join(
        &mut self,
        who: &Aor,
        now_unix: u64,
        limits: &RoomLimits,
    ) -> Result<Option<u64>, RoomError> {
        if self.is_member(who) {
            return Err(RoomError::AlreadyMember);
        }
        if self.current().count() >= limits.max_members {
            return Err(RoomError::Full {
                max: limits.max_members,
            });
        }
        let past = self
            .record
            .members
            .iter()
            .position(|m| m.number == who.as_str());
        let left_at = past.and_then(|i| self.record.members.remove(i).left_at);
        self.record.members.push(MemberRecord {
            number: who.to_string(),
            joined_unix: now_unix,
            left_at: None,
        });
        Ok(left_at)
    }

    /// `who` leaves; the owner's role passes to the longest-standing member left.
    pub fn leave(&mut self, who: &Aor) -> Result<(), RoomError> {
        let last = self.last_seq();
        let m = self
            .record
            .members
            .iter_mut()
            .find(|m| m.is_current() && m.number == who.as_str())
            .ok_or(RoomError::NotAMember)?;
        m.left_at = Some(last);
        if self.is_owner(who) {
            let next = self.current().next().map(|m| m.number.clone());
            if let Some(next) = next {
                self.record.owner = next;
            }
        }
        Ok(())
    }

    /// A member adds `who`.
    pub fn invite(
        &mut self,
        by: Option<&Aor>,
        who: &Aor,
        now_unix: u64,
        limits: &RoomLimits,
    ) -> Result<(), RoomError> {
        if by.is_some_and(|b| !self.is_member(b)) {
            return Err(RoomError::NotAMember);
        }
        self.join(who, now_unix, limits).map(|_| ())
    }

    /// Sets the topic (`by`: a member; `None`: the operator).
    pub fn set_topic(
        &mut self,
        by: Option<&Aor>,
        topic: &str,
        limits: &RoomLimits,
    ) -> Result<(), RoomError> {
        if by.is_some_and(|b| !self.is_member(b)) {
            return Err(RoomError::NotAMember);
        }
        check_topic(topic, limits)?;
        self.record.topic = topic.to_owned();
        Ok(())
    }

    /// What `cmd` from `who` does. `resolve` turns a number as written into a subscriber.
    pub fn command(
        &mut self,
        who: &Aor,
        cmd: &Command,
        now_unix: u64,
        limits: &RoomLimits,
        resolve: &dyn Fn(&str) -> Result<Aor, RoomError>,
    ) -> Result<Effect, RoomError> {
        let mut e = Effect::default();
        match cmd {
            Command::Help => e.reply = HELP.to_owned(),
            Command::Join => {
                e.catch_up_after = self.join(who, now_unix, limits)?;
                e.changed = true;
                e.reply = match &self.record.topic {
                    t if t.is_empty() => "You joined the room.".to_owned(),
                    t => format!("You joined the room. Topic: {t}"),
                };
                e.announce = Some(format!("{who} joined"));
            }
            Command::Leave => {
                self.leave(who)?;
                e.changed = true;
                e.reply = "You left the room.".into();
                e.announce = Some(format!("{who} left"));
            }
            Command::Invite(number) => {
                // membership first: a non-member learns nothing about the number
                if !self.is_member(who) {
                    return Err(RoomError::NotAMember);
                }
                let invitee = resolve(number)?;
                self.invite(Some(who), &invitee, now_unix, limits)?;
                e.changed = true;
                e.reply = format!("{invitee} was added.");
                e.announce = Some(format!("{who} added {invitee}"));
                let topic = match &self.record.topic {
                    t if t.is_empty() => String::new(),
                    t => format!(" Topic: {t}"),
                };
                e.invited = Some((
                    invitee,
                    format!("{who} added you to this room.{topic} Send /help for commands."),
                ));
            }
            Command::Members => {
                if !self.is_member(who) {
                    return Err(RoomError::NotAMember);
                }
                let list: Vec<String> = self
                    .current()
                    .map(|m| {
                        let mut tags = Vec::new();
                        if m.number == self.record.owner {
                            tags.push("owner");
                        }
                        if let Some(v) = self.voice_of(&m.number) {
                            tags.push(v.as_str());
                        }
                        if tags.is_empty() {
                            m.number.clone()
                        } else {
                            format!("{} ({})", m.number, tags.join(", "))
                        }
                    })
                    .collect();
                e.reply = format!("Members ({}): {}", list.len(), list.join(", "));
            }
            Command::Topic(None) => {
                if !self.is_member(who) {
                    return Err(RoomError::NotAMember);
                }
                e.reply = match &self.record.topic {
                    t if t.is_empty() => "No topic is set.".to_owned(),
                    t => format!("Topic: {t}"),
                };
            }
            Command::Call => {
                if !self.is_member(who) {
                    return Err(RoomError::NotAMember);
                }
                e.dial = self
                    .current()
                    .map(|m| Aor::from_canonical(&m.number))
                    .filter(|a| self.voice_of(a.as_str()).is_none())
                    .collect();
                e.reply = match e.dial.len() {
                    0 => "Everyone is in the call already.".to_owned(),
                    n => format!("Calling {n} member(s) into the room's conference."),
                };
                e.announce = Some(format!("{who} started a call"));
            }
            Command::Topic(Some(t)) => {
                self.set_topic(Some(who), t, limits)?;
                e.changed = true;
                e.reply = format!("Topic set: {t}");
                e.announce = Some(format!("{who} set the topic: {t}"));
            }
        }
        Ok(e)
    }
}

fn check_topic(topic: &str, limits: &RoomLimits) -> Result<(), RoomError> {
    if topic.chars().count() > limits.max_topic_chars {
        return Err(RoomError::TopicTooLong {
            max: limits.max_topic_chars,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
