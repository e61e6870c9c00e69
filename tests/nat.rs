//! Phones behind NAT: answers go back to where a request came from (symmetric response
//! routing, on by default; `sip.symmetric_responses = false` for RFC 3261 §18.2.2 to the
//! letter), keep-alives are answered on UDP and TCP, and a phone registered with a private
//! Contact from elsewhere is reached through the flow it registered on, with the `nat` flag
//! on its binding in the HTTP API.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::ua::{Proto, Ua};
use common::{fresh_ip, http, options_ping, Options, Switch};
use switchboard_engine::sip::{Message, Method};

/// RFC 5118's archive stores its messages with bare LF: put them on the wire as CRLF, with a
/// Content-Length that fits the body as converted.
fn crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 64);
    for &b in raw {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    let Some(split) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
        return out;
    };
    let body_len = out.len() - split - 4;
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let mut fixed = String::new();
    for line in head.split("\r\n") {
        match line.split_once(':') {
            Some((name, v)) if name.trim().eq_ignore_ascii_case("content-length") => {
                let declared: usize = v.trim().parse().unwrap_or(0);
                fixed.push_str(&format!("Content-Length: {}", declared.min(body_len)));
            }
            _ => fixed.push_str(line),
        }
        fixed.push_str("\r\n");
    }
    let mut v = fixed.into_bytes();
    v.extend_from_slice(&out[split + 2..]);
    v
}

/// Every RFC 4475 and RFC 5118 request the RFCs expect an answer to: (file, bytes).
fn answered_vectors() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/testdata");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut out = Vec::new();
    for line in manifest.lines().filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, expected) = (cols[0], cols[3]);
        let raw = std::fs::read(dir.join(file)).unwrap();
        let raw = if file.starts_with("rfc5118/") {
            crlf(&raw)
        } else {
            raw
        };
        if expected == "drop" || raw.starts_with(b"SIP/") {
            continue; // responses and what the RFC says to drop get no answer
        }
        out.push((file.to_owned(), raw));
    }
    out
}

/// What identifies the answer to `raw`: its branch, or its Call-ID when it has none.
fn answer_key(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let branch = text.split("branch=").nth(1).map(|b| {
        b.split(|c: char| c == ';' || c == ',' || c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_owned()
    });
    branch.filter(|b| !b.is_empty()).unwrap_or_else(|| {
        text.lines()
            .find_map(|l| l.strip_prefix("Call-ID:").or_else(|| l.strip_prefix("i:")))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    })
}

/// Sends `raw` to the switch from `from` and waits for its final answer on `at`.
fn final_answer_at(sw: &Switch, from: &UdpSocket, at: &UdpSocket, raw: &[u8]) -> Option<Vec<u8>> {
    let key = answer_key(raw);
    from.send_to(raw, sw.sip).unwrap();
    let mut buf = [0u8; 65535];
    let deadline = Instant::now() + Duration::from_millis(700);
    while Instant::now() < deadline {
        if let Ok((n, _)) = at.recv_from(&mut buf) {
            let resp = &buf[..n];
            let text = String::from_utf8_lossy(resp);
            if !key.is_empty() && !text.contains(key.as_str()) {
                continue; // an earlier vector's retransmitted answer
            }
            if text.get(8..11).and_then(|c| c.parse::<u16>().ok()) >= Some(200) {
                return Some(resp.to_vec());
            }
        }
    }
    None
}

/// A socket on `ip` with a short read timeout.
fn socket_at(addr: SocketAddr) -> UdpSocket {
    let s = UdpSocket::bind(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    s
}

#[test]
fn every_torture_request_is_answered_at_the_port_it_came_from() {
    let sw = Switch::start();
    let ip = fresh_ip();
    // where RFC 3261 §18.2.2 would send the answers of most vectors (no rport, port 5060),
    // and the socket that really sends them, on another port
    let via_port = socket_at(SocketAddr::new(ip, 5060));
    let source = socket_at(SocketAddr::new(ip, 0));
    let vectors = answered_vectors();
    assert!(vectors.len() >= 45, "{} vectors", vectors.len());
    let mut missing = Vec::new();
    for (file, raw) in &vectors {
        if final_answer_at(&sw, &source, &source, raw).is_none() {
            missing.push(file.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "not answered at the source: {}",
        missing.join(", ")
    );
    let mut buf = [0u8; 65535];
    assert!(
        via_port.recv_from(&mut buf).is_err(),
        "nothing goes to the Via port"
    );
    assert_eq!(options_ping(sw.sip, Duration::from_secs(2)), Some(200));
}

#[test]
fn with_symmetric_responses_off_answers_follow_the_via_port() {
    let sw = Switch::with(Options {
        config: "[sip]\nsymmetric_responses = false\n".into(),
        ..Default::default()
    });
    let ip = fresh_ip();
    let via_port = socket_at(SocketAddr::new(ip, 5060));
    let source = socket_at(SocketAddr::new(ip, 0));
    let (mut at_via, mut at_source) = (0, 0);
    for (file, raw) in answered_vectors() {
        // which Via the answer follows: the request's top one, as the parser reads it (a
        // malformed request's answer copies it the same way)
        let rport = match Message::parse(Bytes::from(raw.clone())) {
            Ok(m) => match m.top_via() {
                Some(v) if v.port().unwrap_or(5060) == 5060 => v.rport().is_some(),
                _ => continue,
            },
            Err(_) => continue,
        };
        if rport {
            assert!(
                final_answer_at(&sw, &source, &source, &raw).is_some(),
                "{file}: rport asks for the source port"
            );
            at_source += 1;
        } else {
            assert!(
                final_answer_at(&sw, &source, &via_port, &raw).is_some(),
                "{file}: answered at the Via port"
            );
            at_via += 1;
        }
    }
    assert!(at_via >= 20, "{at_via} vectors answered at the Via port");
    // the corpus asks for rport nowhere: a request that does is answered at its source
    let options = format!(
        "OPTIONS sip:{s} SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:5060;branch=z9hG4bKrp{at_source};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@{ip}>;tag=1\r\nTo: <sip:{s}>\r\nCall-ID: rport-1\r\n\
CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        s = sw.sip
    );
    assert!(final_answer_at(&sw, &source, &source, options.as_bytes()).is_some());
}

#[test]
fn a_double_crlf_over_udp_is_answered_and_a_single_one_ignored() {
    let sw = Switch::start();
    let sock = socket_at(SocketAddr::new(sw.sip.ip(), 0));
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 64];
    sock.send_to(b"\r\n\r\n", sw.sip).unwrap();
    let (n, from) = sock.recv_from(&mut buf).expect("a pong");
    assert_eq!(&buf[..n], b"\r\n");
    assert_eq!(from, sw.sip);
    let unparseable = "switchboard_sip_dropped_total{reason=\"unparseable\"}";
    let before = sw.metric(unparseable);
    for blank in [&b"\r\n"[..], b" ", b"\r\n\r\n\r\n"] {
        sock.send_to(blank, sw.sip).unwrap();
    }
    assert!(
        sock.recv_from(&mut buf).is_err(),
        "no answer to other blanks"
    );
    assert_eq!(sw.metric(unparseable), before, "blanks are not malformed");
    assert_eq!(options_ping(sw.sip, Duration::from_secs(2)), Some(200));
}

#[test]
fn a_double_crlf_over_tcp_gets_a_crlf_and_the_connection_stays() {
    let sw = Switch::start();
    let mut tcp = TcpStream::connect(sw.sip).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 2048];
    for _ in 0..2 {
        tcp.write_all(b"\r\n\r\n").unwrap();
        let n = tcp.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"\r\n");
    }
    let opt = format!(
        "OPTIONS sip:{s} SIP/2.0\r\nVia: SIP/2.0/TCP {l};branch=z9hG4bKka1\r\nMax-Forwards: 70\r\n\
From: <sip:a@{ip}>;tag=1\r\nTo: <sip:{s}>\r\nCall-ID: tcp-ka\r\nCSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n",
        s = sw.sip,
        l = tcp.local_addr().unwrap(),
        ip = sw.sip.ip()
    );
    tcp.write_all(opt.as_bytes()).unwrap();
    let n = tcp.read(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200"),
        "the same connection works"
    );
}

/// The `nat` flags of a number's bindings, from the HTTP API.
fn nat_flags(sw: &Switch, number: &str) -> Vec<bool> {
    let (status, body) = http(
        sw.http,
        "GET",
        &format!("/v1/accounts/{number}/bindings"),
        &[],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["nat"].as_bool().unwrap())
        .collect()
}

#[tokio::test]
async fn a_phone_behind_nat_gets_calls_and_messages_where_it_registered_from() {
    let sw = Switch::start();
    for n in ["1001", "1002"] {
        sw.add_account(n, "secret");
    }
    // the contact names a private address nobody can reach; the REGISTER comes from a
    // loopback socket on another port, as through a NAT
    let mut natted = Ua::new(sw.sip, "1001", "secret", Proto::Udp).await;
    let r = natted
        .register_contact("<sip:1001@10.0.0.7:5060>", Some(600))
        .await;
    assert_eq!(r.status(), Some(200));
    let mut caller = Ua::new(sw.sip, "1002", "secret", Proto::Udp).await;
    assert_eq!(caller.register(600).await.status(), Some(200));

    let mut call = caller.invite("1001").await;
    let invite = natted.expect_request(Method::Invite).await;
    assert!(invite.request_uri_str().unwrap().contains("10.0.0.7"));
    natted.reply(&invite, 486);
    assert_eq!(caller.invite_outcome(&mut call).await.status(), Some(486));

    let sent = caller.text("1001", "through the nat");
    let receive = async {
        let m = natted.expect_request(Method::Message).await;
        natted.reply(&m, 200);
        m
    };
    let (answer, m) = tokio::join!(sent, receive);
    assert_eq!(m.body(), b"through the nat");
    assert!(matches!(answer.status(), Some(200) | Some(202)));

    assert_eq!(nat_flags(&sw, "1001"), vec![true]);
    assert_eq!(nat_flags(&sw, "1002"), vec![false]);
}
