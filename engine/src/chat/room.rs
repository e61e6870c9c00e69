//! The rules of one room: who is a member, how many may be, how fast each may post, and what
//! a command does. The actor that owns the room keeps one `Room` and carries out the
//! `Effect`s; time is passed in (`now` for the rate limit, `now_unix` for records).
//!
//! Invariant: `next_seq` is greater than every sequence number handed out, and a post gets
//! one only once it passed every check.

use std::collections::HashMap;
use std::time::Instant;

mod bucket;
mod error;

pub use bucket::TokenBucket;
pub use error::{RoomError, RoomLimits};

use super::command::{Command, HELP};
use crate::numbering::Aor;
use crate::store::rooms::{MemberRecord, RoomRecord};

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
mod tests;
