//! Room history survives a crash: posts are made by four members at once over HTTP, the
//! process is killed (SIGKILL) after 200 acknowledgements, and after a restart every
//! acknowledged post is in the history under the sequence number it was given, the numbers
//! have no repeats, and the room goes on from the next one.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{basic, http, Options, Switch};

const PW: &str = "pw-1234";

fn api(
    addr: std::net::SocketAddr,
    user: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let (status, text) = http(
        addr,
        method,
        path,
        &[("Authorization", &basic(user, PW))],
        body,
    );
    (status, serde_json::from_str(&text).unwrap_or_default())
}

#[test]
fn every_acknowledged_post_is_in_the_history_after_a_kill() {
    let mut sw = Switch::with(Options {
        config: "[rooms]\nrate_per_minute = 100000\nrate_burst = 10000\n".into(),
        ..Default::default()
    });
    let members = ["1001", "1002", "1003", "1004"];
    for m in members {
        sw.add_account(m, PW);
    }
    let body = serde_json::json!({ "name": "ops", "members": &members[1..] }).to_string();
    let (status, v) = api(sw.http, "1001", "POST", "/v1/rooms", Some(&body));
    assert_eq!(status, 201, "{v}");

    // seq -> (sender, text) of every 202
    let acked: Arc<Mutex<BTreeMap<u64, (String, String)>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = sw.http;
    let threads: Vec<_> = members
        .iter()
        .map(|m| {
            let (acked, count, stop, m) =
                (acked.clone(), count.clone(), stop.clone(), m.to_string());
            std::thread::spawn(move || {
                for i in 0..1000 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let text = format!("{m} post {i}");
                    let body = serde_json::json!({ "text": text }).to_string();
                    let r = std::panic::catch_unwind(|| {
                        api(addr, &m, "POST", "/v1/rooms/ops/messages", Some(&body))
                    });
                    match r {
                        Ok((202, v)) => {
                            let seq = v["seq"].as_u64().expect("a sequence number");
                            let old = acked.lock().unwrap().insert(seq, (m.clone(), text));
                            assert!(old.is_none(), "sequence {seq} given twice");
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        // the process is gone: what was not answered was not promised
                        _ => return,
                    }
                }
            })
        })
        .collect();
    while count.load(Ordering::Relaxed) < 200 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    sw.kill();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200);
    sw.spawn();

    let mut history: BTreeMap<u64, (String, String)> = BTreeMap::new();
    let mut after = 0u64;
    loop {
        let (status, page) = api(
            sw.http,
            "1002",
            "GET",
            &format!("/v1/rooms/ops/messages?after={after}&limit=1000"),
            None,
        );
        assert_eq!(status, 200, "{page}");
        for m in page["messages"].as_array().unwrap() {
            let seq = m["seq"].as_u64().unwrap();
            let entry = (
                m["sender"].as_str().unwrap().to_owned(),
                m["text"].as_str().unwrap_or("").to_owned(),
            );
            assert!(
                history.insert(seq, entry).is_none(),
                "sequence {seq} twice in the history"
            );
        }
        match page["next"].as_u64() {
            Some(n) => after = n,
            None => break,
        }
    }
    let lost: Vec<_> = acked
        .iter()
        .filter(|(seq, post)| history.get(seq) != Some(post))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged posts lost or changed: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );

    // the room goes on after the last post it kept
    let last = *history.keys().last().unwrap();
    let (status, v) = api(
        sw.http,
        "1003",
        "POST",
        "/v1/rooms/ops/messages",
        Some(r#"{"text":"after the crash"}"#),
    );
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["seq"].as_u64(), Some(last + 1));
}
