//! An end-to-end figure for chat rooms, not a test of behaviour (ignored by default): a
//! 100-member room, every member a registered SIP agent on loopback that answers each MESSAGE
//! with 200; `POSTERS` of them post `POSTS` messages over SIP as fast as their answers come.
//! Reports posts accepted per second (202s) and posts delivered to every other member per
//! second (until the last copy was answered). Run in release:
//!
//!     cargo test --release --test chat_room_load -- --ignored --nocapture

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::ua::{Proto, Ua};
use common::{basic, http, Options, Switch};
use switchboard_engine::sip::{HeaderName, Method};

const MEMBERS: usize = 100;
const POSTERS: usize = 8;
const POSTS: usize = 400;
const PW: &str = "pw-1234";

fn number(i: usize) -> String {
    format!("{}", 2000 + i)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored in release"]
async fn a_hundred_member_room_accepts_and_delivers_posts() {
    let sw = Switch::with(Options {
        config: "[rooms]\nrate_per_minute = 1000000\nrate_burst = 1000000\n[limits]\n".into(),
        ..Default::default()
    });
    let numbers: Vec<String> = (0..MEMBERS).map(number).collect();
    for n in &numbers {
        sw.add_account(n, PW);
    }
    let body = serde_json::json!({ "name": "load", "members": &numbers[1..] }).to_string();
    let auth = basic(&numbers[0], PW);
    let (status, text) = http(
        sw.http,
        "POST",
        "/v1/rooms",
        &[("Authorization", &auth)],
        Some(&body),
    );
    assert_eq!(status, 201, "{text}");

    // every member's device: counts distinct posts (by Room-Seq) until the room falls quiet
    let mut receivers = Vec::new();
    for n in &numbers {
        let mut ua = Ua::new(sw.sip, n, PW, Proto::Udp).await;
        assert_eq!(ua.register(600).await.status(), Some(200));
        receivers.push(tokio::spawn(async move {
            let mut seen = HashSet::new();
            let mut posts = 0usize;
            let mut last = Instant::now();
            while let Some(m) = ua
                .maybe_request(Method::Message, Duration::from_secs(5))
                .await
            {
                ua.reply(&m, 200);
                let key = format!("{:?} {:?}", m.call_id(), m.header(HeaderName::CSeq));
                if seen.insert(key) && m.header_by_name("Room-Seq").is_some() {
                    posts += 1;
                    last = Instant::now();
                }
            }
            (posts, last)
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // the "added you" notices go first

    let t0 = Instant::now();
    let mut posters = Vec::new();
    for (p, n) in numbers.iter().take(POSTERS).enumerate() {
        let mut ua = Ua::new(sw.sip, n, PW, Proto::Udp).await;
        posters.push(tokio::spawn(async move {
            for k in 0..POSTS / POSTERS {
                let r = ua
                    .text("room-load", &format!("post {k} from poster {p}"))
                    .await;
                assert_eq!(r.status(), Some(202));
            }
        }));
    }
    for p in posters {
        p.await.unwrap();
    }
    let accepted = t0.elapsed();
    let mut last = t0;
    let mut copies = 0;
    for r in receivers {
        let (n, at) = r.await.unwrap();
        copies += n;
        last = last.max(at);
    }
    let delivered = last - t0;
    let expected = POSTS * (MEMBERS - 1);
    println!(
        "{POSTS} posts from {POSTERS} posters to {MEMBERS} members: accepted in {:.2} s ({:.0} posts/s), \
         {copies} of {expected} copies delivered in {:.2} s ({:.0} posts/s to every member, {:.0} copies/s)",
        accepted.as_secs_f64(),
        POSTS as f64 / accepted.as_secs_f64(),
        delivered.as_secs_f64(),
        POSTS as f64 / delivered.as_secs_f64(),
        copies as f64 / delivered.as_secs_f64(),
    );
    assert_eq!(
        copies, expected,
        "every member got every other member's post"
    );
}
