//! Chat rooms end to end: posts fanned out in one order to online members at once and to
//! offline ones on REGISTER, history over HTTP, every in-band command, the limits, rejoining,
//! and a restart.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::ua::{Proto, Ua};
use common::{basic, http, Options, Switch};
use switchboard_engine::sip::{HeaderName, Message, Method};

#[path = "chat_rooms/commands.rs"]
mod commands;
#[path = "chat_rooms/posts.rs"]
mod posts;
#[path = "chat_rooms/refusals.rs"]
mod refusals;
#[path = "chat_rooms/rejoin.rs"]
mod rejoin;

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
