//! Buddy lists survive a crash: every change the HTTP API acknowledged is there after the
//! process is killed (SIGKILL) in the middle of a stream of changes and started again.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{basic, http, Switch};

#[test]
fn every_acknowledged_buddy_is_there_after_a_kill_in_the_middle_of_changes() {
    let mut sw = Switch::start();
    sw.add_account("1001", "pw-1001");
    let auth = basic("1001", "pw-1001");
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = sw.http;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (acked, count, stop, auth) =
                (acked.clone(), count.clone(), stop.clone(), auth.clone());
            std::thread::spawn(move || {
                for i in 0..100 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let number = format!("{}", 5000 + t * 100 + i);
                    let body = format!(r#"{{"number":"{number}","display":"b{t}-{i}"}}"#);
                    let r = std::panic::catch_unwind(|| {
                        http(
                            addr,
                            "POST",
                            "/v1/accounts/1001/buddies",
                            &[("Authorization", &auth)],
                            Some(&body),
                        )
                    });
                    match r {
                        Ok((201, _)) => {
                            acked.lock().unwrap().push(number);
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        // the process is gone: what was not answered was not promised
                        _ => return,
                    }
                }
            })
        })
        .collect();
    while count.load(Ordering::Relaxed) < 150 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    sw.kill();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 150);
    sw.spawn();
    let (code, body) = http(
        sw.http,
        "GET",
        "/v1/accounts/1001/buddies",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let listed: Vec<&str> = v["buddies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["number"].as_str())
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|n| !listed.contains(&n.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged buddies lost: {lost:?}",
        lost.len(),
        acked.len()
    );
}
