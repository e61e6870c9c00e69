//! Presence fan-out through a running switch (the release binary, on loopback).
//!
//! `cargo bench --bench presence_fanout` starts a switch (authentication off, so the bench
//! measures presence, not digests), gives `SB_PRESENTITIES` numbers (10) a buddy list of the
//! same `SB_WATCHERS` watchers (1,000) and subscribes every watcher to every presentity:
//! 10,000 subscriptions. Then:
//!
//! - memory: the switch's resident set before and after the subscriptions, per subscription;
//! - latency: one presentity changes (PUBLISH, a new note) every 300 ms, 20 times; for each of
//!   its 1,000 watchers, the time from sending the PUBLISH to receiving the NOTIFY that
//!   carries the new note (p50, p99, max);
//! - throughput: every presentity changes as fast as its PUBLISHes are answered for
//!   `SB_SECONDS` (10); NOTIFYs received per second (each watcher gets at most one per
//!   `presence.notify_interval_ms`, `SB_INTERVAL_MS` here (100), so 10,000 subscriptions can
//!   take 100,000/s; a shorter interval finds where the machine saturates).
//!
//! Watchers answer every NOTIFY 200 from one UDP socket; the switch runs on the machine's
//! cores beside the bench, so the figures are what the whole machine does.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use switchboard_engine::sip::{Message, Method, RequestBuilder, ResponseBuilder};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    child: Child,
    sip: SocketAddr,
    http: SocketAddr,
    _dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn start() -> Server {
    let dir = std::env::temp_dir().join(format!("sb-presence-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "[presence]\nnotify_interval_ms = {}\nmax_watchers = 20000\nmax_buddies = 10000\n",
            env_or("SB_INTERVAL_MS", 100)
        ),
    )
    .unwrap();
    let sip: SocketAddr = "127.0.77.1:5060".parse().unwrap();
    let http: SocketAddr = "127.0.77.1:8080".parse().unwrap();
    let child = Command::new(BIN)
        .args([
            "serve",
            "--sip",
            &sip.to_string(),
            "--http",
            &http.to_string(),
        ])
        .arg("--data")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(&config)
        .args(["--auth", "off"])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start switchboard");
    let s = Server {
        child,
        sip,
        http,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(http).is_err() {
        assert!(Instant::now() < deadline, "switch did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    s
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// What the watchers' socket saw: NOTIFYs per presentity with the note they carried.
#[derive(Default)]
struct Seen {
    notifies: AtomicU64,
    /// (presentity, note) -> arrival times
    arrivals: Mutex<HashMap<(usize, String), Vec<Instant>>>,
    record: std::sync::atomic::AtomicBool,
}

fn note_of(body: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(body).ok()?;
    let at = s.find("<note>")? + 6;
    let end = s[at..].find("</note>")? + at;
    Some(s[at..end].to_owned())
}

fn watch_loop(sock: UdpSocket, seen: Arc<Seen>, calls: Arc<Mutex<HashMap<String, usize>>>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            return;
        };
        let t = Instant::now();
        let Ok(m) = Message::parse(Bytes::copy_from_slice(&buf[..n])) else {
            continue;
        };
        if m.method() != Some(Method::Notify) {
            continue;
        }
        let _ = sock.send_to(&ResponseBuilder::new(&m, 200, "OK").build(), from);
        seen.notifies.fetch_add(1, Ordering::Relaxed);
        if !seen.record.load(Ordering::Relaxed) {
            continue;
        }
        let p = calls
            .lock()
            .unwrap()
            .get(m.call_id().unwrap_or(""))
            .copied();
        if let (Some(p), Some(note)) = (p, note_of(m.body())) {
            seen.arrivals
                .lock()
                .unwrap()
                .entry((p, note))
                .or_default()
                .push(t);
        }
    }
}

/// A fan-out of a thousand NOTIFYs lands at once: the watchers' socket takes 16 MiB (as
/// root, past `net.core.rmem_max`), so the bench measures the switch, not the bench's drops.
fn big_receive_buffer(sock: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 16 << 20;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: a valid socket and an int option of the right size
        let r = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            return;
        }
    }
}

fn presentity(i: usize) -> String {
    format!("{}", 2000 + i)
}

fn watcher(i: usize) -> String {
    format!("{}", 3000 + i)
}

fn publish(sock: &UdpSocket, to: SocketAddr, p: &str, note: &str, seq: u64, etag: Option<&str>) {
    let uri = format!("sip:{p}@{}", to.ip());
    let body = format!(
        "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"{uri}\"><tuple id=\"t\"><status><basic>open</basic></status></tuple><note>{note}</note></presence>"
    );
    let local = sock.local_addr().unwrap();
    let mut b = RequestBuilder::new("PUBLISH", &uri)
        .header(
            "Via",
            &format!("SIP/2.0/UDP {local};branch=z9hG4bKpub{p}x{seq}"),
        )
        .header("Max-Forwards", "70")
        .header("From", &format!("<{uri}>;tag=pub{seq}"))
        .header("To", &format!("<{uri}>"))
        .header("Call-ID", &format!("pub-{p}-{seq}"))
        .header("CSeq", "1 PUBLISH")
        .header("Event", "presence")
        .header("Expires", "3600");
    if let Some(e) = etag {
        // a modification of the presentity's one publication
        b = b.header("SIP-If-Match", e);
    }
    let b = b.build(Some(("application/pidf+xml", body.as_bytes())));
    sock.send_to(&b, to).unwrap();
}

/// Waits for the answer to a PUBLISH on the publisher's socket: the presentity (from the
/// Call-ID) and the new entity tag, for a 200.
fn answered(sock: &UdpSocket) -> Option<(String, String)> {
    let mut buf = [0u8; 4096];
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        let Ok(m) = Message::parse(Bytes::copy_from_slice(&buf[..n])) else {
            continue;
        };
        if m.status().is_none_or(|c| c < 200) {
            continue;
        }
        if m.status() != Some(200) {
            eprintln!("PUBLISH answered {:?} {:?}", m.status(), m.reason());
            return None;
        }
        let p = m.call_id()?.split('-').nth(1)?.to_owned();
        return Some((p, m.header_by_name("SIP-ETag")?.to_owned()));
    }
    None
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let presentities = env_or("SB_PRESENTITIES", 10) as usize;
    let watchers = env_or("SB_WATCHERS", 1000) as usize;
    let seconds = env_or("SB_SECONDS", 10);
    let total = presentities * watchers;
    let server = start();
    for p in 0..presentities {
        let number = presentity(p);
        let code = http(
            server.http,
            "POST",
            "/v1/accounts",
            &format!(r#"{{"number":"{number}","password":"bench-pw-{p}"}}"#),
        );
        assert_eq!(code, 201, "account {number}");
        let list: Vec<String> = (0..watchers)
            .map(|w| format!(r#"{{"number":"{}"}}"#, watcher(w)))
            .collect();
        let code = http(
            server.http,
            "PUT",
            &format!("/v1/accounts/{number}/buddies"),
            &format!(r#"{{"buddies":[{}]}}"#, list.join(",")),
        );
        assert_eq!(code, 200, "buddy list of {number}");
    }
    std::thread::sleep(Duration::from_secs(1));
    let pid = server.child.id();
    let rss_before = rss_kib(pid);

    let sock = UdpSocket::bind("127.0.77.2:0").unwrap();
    big_receive_buffer(&sock);
    let local = sock.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let calls: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    {
        let (s, seen, calls) = (sock.try_clone().unwrap(), seen.clone(), calls.clone());
        std::thread::spawn(move || watch_loop(s, seen, calls));
    }
    let started = Instant::now();
    for w in 0..watchers {
        for p in 0..presentities {
            let (wn, pn) = (watcher(w), presentity(p));
            let call_id = format!("w{wn}-p{pn}");
            calls.lock().unwrap().insert(call_id.clone(), p);
            let uri = format!("sip:{pn}@{}", server.sip.ip());
            let b = RequestBuilder::new("SUBSCRIBE", &uri)
                .header(
                    "Via",
                    &format!("SIP/2.0/UDP {local};branch=z9hG4bKs{wn}x{pn}"),
                )
                .header("Max-Forwards", "70")
                .header("From", &format!("<sip:{wn}@{}>;tag=w{wn}", server.sip.ip()))
                .header("To", &format!("<{uri}>"))
                .header("Call-ID", &call_id)
                .header("CSeq", "1 SUBSCRIBE")
                .header("Contact", &format!("<sip:{wn}@{local}>"))
                .header("Event", "presence")
                .header("Expires", "3600")
                .build(None);
            sock.send_to(&b, server.sip).unwrap();
        }
        // about 5,000 SUBSCRIBEs a second
        if w % 50 == 49 {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.notifies.load(Ordering::Relaxed) < total as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let initial = seen.notifies.load(Ordering::Relaxed);
    let subscribed_in = started.elapsed();
    // the SUBSCRIBEs' server transactions keep their answers for Timer J (32 s): the steady
    // state is after that
    std::thread::sleep(Duration::from_secs(2));
    let rss_fresh = rss_kib(pid);
    std::thread::sleep(Duration::from_secs(env_or("SB_SETTLE_SECS", 35)));
    let rss_after = rss_kib(pid);
    println!("presence fan-out: {presentities} presentities x {watchers} watchers = {total} subscriptions");
    println!(
        "  subscribed: {initial} first NOTIFYs in {:.1} s",
        subscribed_in.as_secs_f64()
    );
    let per = |kib: u64| (kib.saturating_sub(rss_before) * 1024) as f64 / total as f64;
    println!(
        "  memory: {rss_before} KiB before; {rss_fresh} KiB 2 s after ({:.0} bytes per \
         subscription, answers still held for retransmissions); {rss_after} KiB settled \
         ({:.0} bytes per subscription)",
        per(rss_fresh),
        per(rss_after)
    );

    // latency: one presentity, one change at a time
    let publisher = UdpSocket::bind("127.0.77.3:0").unwrap();
    publisher
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    seen.record.store(true, Ordering::Relaxed);
    let mut sent: Vec<(String, Instant)> = Vec::new();
    let mut etags: HashMap<String, String> = HashMap::new();
    for k in 0..20u64 {
        let note = format!("lat-{k}");
        let t0 = Instant::now();
        let p0 = presentity(0);
        publish(
            &publisher,
            server.sip,
            &p0,
            &note,
            k,
            etags.get(&p0).map(String::as_str),
        );
        let (p, etag) = answered(&publisher).expect("PUBLISH answered");
        etags.insert(p, etag);
        sent.push((note, t0));
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut lat = Vec::new();
    let mut missing = 0;
    {
        let arrivals = seen.arrivals.lock().unwrap();
        for (note, t0) in &sent {
            let got = arrivals
                .get(&(0, note.clone()))
                .map_or(&[][..], |v| v.as_slice());
            missing += watchers.saturating_sub(got.len());
            lat.extend(got.iter().map(|t| t.duration_since(*t0)));
        }
    }
    lat.sort();
    println!(
        "  latency, change to NOTIFY ({} NOTIFYs, {} missing): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        missing,
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    seen.record.store(false, Ordering::Relaxed);

    // throughput: every presentity changes as fast as it is answered
    let before = seen.notifies.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let mut changes = 0u64;
    let mut seq = 1000u64;
    while t0.elapsed() < Duration::from_secs(seconds) {
        for p in 0..presentities {
            seq += 1;
            let pn = presentity(p);
            let etag = etags.get(&pn).cloned();
            publish(
                &publisher,
                server.sip,
                &pn,
                &format!("tp-{seq}"),
                seq,
                etag.as_deref(),
            );
        }
        for _ in 0..presentities {
            if let Some((p, etag)) = answered(&publisher) {
                etags.insert(p, etag);
                changes += 1;
            }
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let got = seen.notifies.load(Ordering::Relaxed) - before;
    println!(
        "  throughput: {changes} changes in {elapsed:.1} s ({:.0}/s); {got} NOTIFYs: {:.0} NOTIFYs/s",
        changes as f64 / elapsed,
        got as f64 / elapsed
    );
}
