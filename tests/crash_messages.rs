//! Crash test of the message queues: the switch is killed (SIGKILL) while 10,000 messages to
//! an offline number are being sent. After a restart every message that got a 202 reaches
//! the device, none twice, each sender's in the order they were sent.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::ua::{Proto, Ua};
use common::Switch;
use switchboard_engine::sip::{Message, Method, RequestBuilder};
use tokio::net::UdpSocket;

const SENDERS: usize = 40;
const PER_SENDER: usize = 250;
/// The switch is killed once this many messages were acknowledged.
const KILL_AFTER: usize = 3_000;
const PW: &str = "crash-pw";

/// Sends its messages one after another (the next once the last is answered), retransmitting
/// like a UDP client transaction; records each 202's Message-ID.
async fn sender(
    target: SocketAddr,
    s: usize,
    accepted: Arc<Mutex<Vec<(usize, usize, String)>>>,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let sock = UdpSocket::bind(SocketAddr::new(target.ip(), 0))
        .await
        .unwrap();
    let local = sock.local_addr().unwrap();
    let mut buf = vec![0u8; 65535];
    for n in 0..PER_SENDER {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let call_id = format!("crash-{s}-{n}");
        let req = RequestBuilder::new("MESSAGE", &format!("sip:1001@{target}"))
            .header(
                "Via",
                &format!("SIP/2.0/UDP {local};branch=z9hG4bKc{s}x{n};rport"),
            )
            .header("Max-Forwards", "70")
            .header(
                "From",
                &format!("<sip:+8210555{s:05}@elsewhere.example>;tag=t{s}"),
            )
            .header("To", "<sip:1001@switchboard.local>")
            .header("Call-ID", &call_id)
            .header("CSeq", "1 MESSAGE")
            .build(Some(("text/plain", format!("{s} {n}").as_bytes())));
        let mut answered = None;
        'attempts: for _ in 0..8 {
            let _ = sock.send_to(&req, target).await;
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            while let Ok(Ok((len, _))) =
                tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await
            {
                let Ok(m) = Message::parse(Bytes::copy_from_slice(&buf[..len])) else {
                    continue;
                };
                let code = m.status().unwrap_or(0);
                if m.call_id() == Some(call_id.as_str()) && code >= 200 {
                    answered = Some((code, m.header_by_name("Message-ID").map(str::to_owned)));
                    break 'attempts;
                }
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
        }
        match answered {
            Some((202, Some(id))) => {
                accepted.lock().unwrap().push((s, n, id));
                count.fetch_add(1, Ordering::Relaxed);
            }
            // the switch is gone (or refused): this sender is done; what it sent last may or
            // may not have been stored
            _ => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_acknowledged_before_a_sigkill_are_all_delivered_once_and_in_order() {
    let mut sw = Switch::with(common::Options {
        config: "[messaging]\nmax_queued = 20000\nmax_queued_bytes = 10000000\n".into(),
        ..Default::default()
    });
    sw.add_account("1001", PW);
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..SENDERS)
        .map(|s| {
            tokio::spawn(sender(
                sw.sip,
                s,
                accepted.clone(),
                count.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let give_up = std::time::Instant::now() + Duration::from_secs(120);
    while count.load(Ordering::Relaxed) < KILL_AFTER && std::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sw.kill();
    let at_kill = count.load(Ordering::Relaxed);
    assert!(
        at_kill >= KILL_AFTER,
        "only {at_kill} messages were acknowledged"
    );
    assert!(
        at_kill < SENDERS * PER_SENDER,
        "killed while sending, not after"
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let accepted = accepted.lock().unwrap().clone();

    let acked: HashSet<String> = accepted.iter().map(|(_, _, id)| id.clone()).collect();

    // restart; the device takes about half, then the switch is killed again mid-delivery
    sw.spawn();
    let mut first = Device::register(&sw).await;
    first.take_until(|d| d.ids.len() >= acked.len() / 2).await;
    sw.kill();
    let before_second_kill: HashSet<String> = first.ids.clone();

    // and restarted: everything left comes, and the queue drains
    sw.spawn();
    let mut second = Device::register(&sw).await;
    second
        .take_until(|d| {
            acked
                .iter()
                .all(|id| d.ids.contains(id) || before_second_kill.contains(id))
        })
        .await;
    // what else was stored comes too (redeliveries, messages stored but not answered before
    // the first kill), until the queue is empty
    second.take_for(Duration::from_millis(500)).await;
    assert_eq!(sw.metric("switchboard_messages_queued"), 0.0);

    // every acknowledged message arrived
    for id in &acked {
        assert!(
            before_second_kill.contains(id) || second.ids.contains(id),
            "acknowledged message {id} was lost"
        );
    }
    // no device got a message twice; after the crash mid-delivery, a message may come again
    // (its 2xx was not yet on disk), always with the Message-ID it had, so it can be told
    assert_eq!(
        first.ids.len(),
        first.got.len(),
        "delivered twice before the kill"
    );
    assert_eq!(
        second.ids.len(),
        second.got.len(),
        "delivered twice after it"
    );
    let again = second.ids.intersection(&before_second_kill).count();
    // each sender's messages in the order it sent them, on each device
    for d in [&first, &second] {
        let mut last: HashMap<usize, usize> = HashMap::new();
        for (s, n, _) in &d.got {
            if let Some(prev) = last.insert(*s, *n) {
                assert!(*n > prev, "sender {s}: {n} after {prev}");
            }
        }
    }
    eprintln!(
        "acknowledged before the first kill: {}; delivered before the second: {}; after it: {} (again: {again})",
        acked.len(),
        first.got.len(),
        second.got.len(),
    );
}

/// The number's phone: answers 200 to every MESSAGE and records what it got.
struct Device {
    ua: Ua,
    got: Vec<(usize, usize, String)>,
    ids: HashSet<String>,
    txns: HashSet<(String, String)>,
}

impl Device {
    async fn register(sw: &Switch) -> Device {
        let mut ua = Ua::new(sw.sip, "1001", PW, Proto::Udp).await;
        assert_eq!(ua.register(3600).await.status(), Some(200));
        Device {
            ua,
            got: Vec::new(),
            ids: HashSet::new(),
            txns: HashSet::new(),
        }
    }

    /// Takes one MESSAGE within `wait`; `false` when none came.
    async fn take(&mut self, wait: Duration) -> bool {
        let Some(m) = self
            .ua
            .recv_where(wait, |m| m.method() == Some(Method::Message))
            .await
        else {
            return false;
        };
        self.ua.reply(&m, 200);
        // a retransmission of one request (our 200 crossed it) is the same delivery
        let txn = (
            m.call_id().unwrap_or("").to_owned(),
            m.header_by_name("CSeq").unwrap_or("").to_owned(),
        );
        if !self.txns.insert(txn) {
            return true;
        }
        let body = String::from_utf8_lossy(m.body()).into_owned();
        let (s, n) = body.split_once(' ').unwrap();
        let id = m.header_by_name("Message-ID").unwrap().to_owned();
        self.ids.insert(id.clone());
        self.got.push((s.parse().unwrap(), n.parse().unwrap(), id));
        true
    }

    async fn take_until(&mut self, done: impl Fn(&Device) -> bool) {
        while !done(self) {
            assert!(
                self.take(Duration::from_secs(20)).await,
                "deliveries stopped after {} messages",
                self.got.len()
            );
        }
    }

    async fn take_for(&mut self, quiet: Duration) {
        while self.take(quiet).await {}
    }
}
