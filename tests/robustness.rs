//! Bad input never stops the switch: garbage and truncated messages on UDP and TCP, the
//! RFC 4475/5118 torture messages, floods from one source, too many TCP connections, idle
//! connections, and a call that fails internally.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

#[cfg(debug_assertions)]
use common::ua::{Proto, Ua};
use common::{fresh_ip, options_ping, Options, Switch};
use rand::{Rng, SeedableRng};

const INVITE: &str = "INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKtrunc;rport\r\n\
Max-Forwards: 70\r\nTo: <sip:1001@127.0.0.1>\r\nFrom: <sip:1002@127.0.0.1>;tag=t1\r\nCall-ID: trunc-1\r\n\
CSeq: 1 INVITE\r\nContact: <sip:1002@127.0.0.1:5999>\r\nContent-Type: application/sdp\r\nContent-Length: 30\r\n\r\n\
v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\n";

#[test]
fn garbage_and_truncated_messages_leave_the_switch_answering() {
    let sw = Switch::start();
    let mut rng = rand::rngs::StdRng::seed_from_u64(4475);
    let udp = UdpSocket::bind(SocketAddr::new(sw.sip.ip(), 0)).unwrap();
    for i in 0..3000 {
        let msg: Vec<u8> = match i % 3 {
            0 => (0..rng.gen_range(0..1500)).map(|_| rng.gen()).collect(),
            1 => INVITE.as_bytes()[..rng.gen_range(0..INVITE.len())].to_vec(),
            _ => {
                // a valid message with random bytes flipped
                let mut m = INVITE.as_bytes().to_vec();
                for _ in 0..rng.gen_range(1..8) {
                    let at = rng.gen_range(0..m.len());
                    m[at] = rng.gen();
                }
                m
            }
        };
        let _ = udp.send_to(&msg, sw.sip);
    }
    for i in 0..30 {
        let Ok(mut tcp) = TcpStream::connect(sw.sip) else {
            continue;
        };
        let msg: Vec<u8> = match i % 3 {
            0 => (0..rng.gen_range(1..4000)).map(|_| rng.gen()).collect(),
            1 => INVITE.as_bytes()[..rng.gen_range(1..INVITE.len())].to_vec(),
            _ => b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999999\r\n\r\n".to_vec(),
        };
        let _ = tcp.write_all(&msg);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        options_ping(sw.sip, Duration::from_secs(2)),
        Some(200),
        "still answering over UDP"
    );
    let mut tcp = TcpStream::connect(sw.sip).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let opt = format!(
        "OPTIONS sip:{s} SIP/2.0\r\nVia: SIP/2.0/TCP {l};branch=z9hG4bKtcpok\r\nMax-Forwards: 70\r\nFrom: <sip:a@{ip}>;tag=1\r\n\
To: <sip:{s}>\r\nCall-ID: tcp-ok\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        s = sw.sip,
        l = tcp.local_addr().unwrap(),
        ip = sw.sip.ip()
    );
    tcp.write_all(opt.as_bytes()).unwrap();
    let mut buf = [0u8; 2048];
    let n = tcp.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200"),
        "still answering over TCP"
    );
    assert!(sw.metric("switchboard_sip_dropped_total{reason=\"unparseable\"}") > 100.0);
}

/// Sends one torture vector from a socket on port 5060 of its own address (where responses
/// to a Via without rport go) and returns the status of the answer, if any.
fn react(sw: &Switch, sock: &UdpSocket, raw: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(raw);
    // an answer carries the request's branch (or, for RFC 2543 requests, its Call-ID)
    let branch = text.split("branch=").nth(1).map(|b| {
        b.split(|c: char| c == ';' || c == ',' || c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_owned()
    });
    let call_id = branch.filter(|b| !b.is_empty()).unwrap_or_else(|| {
        text.lines()
            .find_map(|l| l.strip_prefix("Call-ID:").or_else(|| l.strip_prefix("i:")))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    });
    sock.send_to(raw, sw.sip).unwrap();
    let mut buf = [0u8; 65535];
    let deadline = Instant::now() + Duration::from_millis(700);
    while Instant::now() < deadline {
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            let resp = String::from_utf8_lossy(&buf[..n]);
            // earlier vectors' retransmitted answers may still arrive: match by Call-ID
            if call_id.is_empty() || !resp.contains(call_id.as_str()) {
                continue;
            }
            let Some(code) = resp.get(8..11).and_then(|c| c.parse::<u16>().ok()) else {
                continue;
            };
            if code >= 200 {
                return Some(code);
            }
        }
    }
    None
}

#[test]
fn the_running_switch_reacts_to_every_torture_message_as_its_rfc_expects() {
    let sw = Switch::start();
    let sock = UdpSocket::bind(SocketAddr::new(fresh_ip(), 5060)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/testdata");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in manifest.lines().filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, expected) = (cols[0], cols[3]);
        if file.starts_with("rfc5118/") {
            continue; // IPv6 addresses: covered by the engine tests
        }
        let raw = std::fs::read(dir.join(file)).unwrap();
        let name = file.rsplit('/').next().unwrap().trim_end_matches(".dat");
        let got = react(&sw, &sock, &raw);
        checked += 1;
        let ok = match (name, expected) {
            // semantic checks the switch implements
            ("unkscm", _) | ("novelsc", _) => got == Some(416),
            ("zeromf", _) => got == Some(483),
            ("bext01", _) => got == Some(420),
            (_, "reject-400") => got == Some(400),
            (_, "reject-505") => got == Some(505),
            (_, "drop") => got.is_none(),
            (_, "tolerate-or-400") => true,
            (_, "parse") | (_, "semantic") => got != Some(400) && got != Some(505),
            _ => false,
        };
        if !ok {
            failures.push(format!("{file}: expected {expected}, got {got:?}"));
        }
    }
    assert_eq!(checked, 49);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(options_ping(sw.sip, Duration::from_secs(2)), Some(200));
}

#[test]
fn a_flood_from_one_source_is_cut_and_counted_then_the_source_recovers() {
    let sw = Switch::with(Options {
        config: "[limits]\nper_source_rate = 20\nper_source_burst = 20\nexempt = []\n".into(),
        ..Default::default()
    });
    let sock = UdpSocket::bind(SocketAddr::new(sw.sip.ip(), 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    for i in 0..400 {
        let m = format!(
            "OPTIONS sip:{s} SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{port};branch=z9hG4bKflood{i};rport\r\nMax-Forwards: 70\r\n\
From: <sip:f@{ip}>;tag=f\r\nTo: <sip:{s}>\r\nCall-ID: flood-{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            s = sw.sip,
            ip = sw.sip.ip()
        );
        sock.send_to(m.as_bytes(), sw.sip).unwrap();
    }
    let mut answered = 0;
    let mut buf = [0u8; 4096];
    while sock.recv_from(&mut buf).is_ok() {
        answered += 1;
    }
    assert!(
        (15..=60).contains(&answered),
        "only about the burst is answered: {answered}"
    );
    assert!(sw.metric("switchboard_sip_dropped_total{reason=\"flood limit\"}") >= 300.0);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        options_ping(sw.sip, Duration::from_secs(1)),
        Some(200),
        "other sources were never limited"
    );
}

#[test]
fn tcp_connections_are_capped_per_source_and_idle_ones_are_closed() {
    let sw = Switch::with(Options {
        config: "[tcp]\nmax_per_source = 3\nidle_timeout_secs = 1\n".into(),
        ..Default::default()
    });
    let conns: Vec<TcpStream> = (0..5)
        .map(|_| TcpStream::connect(sw.sip).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut closed_early = 0;
    for c in &conns {
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut b = [0u8; 1];
        if matches!((&*c).read(&mut b), Ok(0)) {
            closed_early += 1;
        }
    }
    assert_eq!(
        closed_early, 2,
        "connections beyond 3 from one source are refused"
    );
    std::thread::sleep(Duration::from_millis(1500));
    for c in &conns {
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut b = [0u8; 1];
        assert!(
            matches!((&*c).read(&mut b), Ok(0) | Err(_)),
            "idle connection closed"
        );
    }
    assert!(common::eventually(Duration::from_secs(3), || sw
        .metric("switchboard_tcp_connections")
        == 0.0));
}

// the fault is injected by a hook that release builds compile out
#[cfg(debug_assertions)]
#[tokio::test]
async fn an_internal_failure_in_one_call_answers_500_and_spares_the_others() {
    let sw = Switch::with(Options {
        auth_off: true,
        ..Default::default()
    });
    let mut callee = Ua::new(sw.sip, "bob", "", Proto::Udp).await;
    callee.register(600).await;
    let mut caller = Ua::new(sw.sip, "alice", "", Proto::Udp).await;
    let raw = format!(
        "INVITE sip:bob@{s} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch=z9hG4bKfault;rport\r\nMax-Forwards: 70\r\n\
From: <sip:alice@{ip}>;tag=f\r\nTo: <sip:bob@{ip}>\r\nCall-ID: fault-1\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:alice@{l}>\r\nX-Switchboard-Fault: panic\r\nContent-Length: 0\r\n\r\n",
        s = sw.sip,
        l = caller.local,
        ip = sw.sip.ip()
    );
    caller.send(raw.into());
    let r = caller.final_response("fault-1", "INVITE").await;
    assert_eq!(r.status(), Some(500));
    // the same worker still switches calls
    for _ in 0..4 {
        let mut call = caller.invite("bob").await;
        let inv = callee
            .expect_request(switchboard_engine::sip::Method::Invite)
            .await;
        callee.reply(&inv, 486);
        assert_eq!(caller.invite_outcome(&mut call).await.status(), Some(486));
    }
    assert_eq!(sw.metric("switchboard_call_failures_total"), 1.0);
}
