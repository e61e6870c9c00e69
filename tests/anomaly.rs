//! A PROTOS-style anomaly run (after the c07-sip INVITE test material): every element of a
//! valid INVITE (the request line's three parts, each header, each SDP line) is replaced, in
//! turn, by each anomaly of a fixed catalogue (empty, overflows of 128 to 8,000 bytes, format
//! strings, integer edges, NUL, bytes that are not UTF-8, overlong UTF-8, bare CR and LF,
//! injected header lines, lone delimiters, a header repeated a hundred times or missing), plus
//! seeded random byte flips of each element, and sent to a running switch over UDP and over
//! TCP: a few thousand cases. The INVITEs go to a registered callee (authentication off), so
//! what parses goes on through routing and the proxy as far as it can.
//!
//! What must hold: the switch keeps answering OPTIONS (checked every 100 cases and at the end,
//! on both transports), no handler fails internally (`switchboard_sip_dropped_total{reason=
//! "internal failure"}` stays 0: a panic anywhere in a worker, call leg or extension counts
//! there), and a phone can still register and be called afterwards.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use common::{options_ping, Options, Switch};
use rand::{Rng, SeedableRng};

/// One element of the base INVITE: what it is called and its text.
struct Element {
    name: String,
    /// A header line's name (`None` for the request line's parts and SDP lines).
    header: Option<&'static str>,
    value: String,
}

/// The base INVITE, element by element, for the call `n` from `local` to `bob`.
fn base(sw: &Switch, local: SocketAddr, n: usize, proto: &str) -> (Vec<Element>, Vec<Element>) {
    let s = sw.sip;
    let ip = local.ip();
    let line = |name: &str, value: String| Element {
        name: name.into(),
        header: None,
        value,
    };
    let header = |h: &'static str, value: String| Element {
        name: h.into(),
        header: Some(h),
        value,
    };
    let head = vec![
        line("method", "INVITE".into()),
        line("request-uri", format!("sip:bob@{s}")),
        line("version", "SIP/2.0".into()),
        header(
            "Via",
            format!("SIP/2.0/{proto} {local};branch=z9hG4bKprotos{n};rport"),
        ),
        header("Max-Forwards", "70".into()),
        header("From", format!("\"Alice\" <sip:alice@{ip}>;tag=pr{n}")),
        header("To", format!("<sip:bob@{s}>")),
        header("Call-ID", format!("protos-{n}-{}", std::process::id())),
        header("CSeq", "1 INVITE".into()),
        header("Contact", format!("<sip:alice@{local};transport={proto}>")),
        header("Expires", "120".into()),
        header("User-Agent", "anomaly-run/1".into()),
        header("Content-Type", "application/sdp".into()),
    ];
    let sdp = vec![
        line("v", "0".into()),
        line("o", format!("alice 2890844526 2890844526 IN IP4 {ip}")),
        line("s", "-".into()),
        line("c", format!("IN IP4 {ip}")),
        line("t", "0 0".into()),
        line("m", "audio 49170 RTP/AVP 0 8 101".into()),
        line("a=rtpmap", "0 PCMU/8000".into()),
        line("a=fmtp", "101 0-15".into()),
    ];
    (head, sdp)
}

/// A replacement for an element's value (`None`: the element is left out).
type Anomaly = (&'static str, fn(&str) -> Option<Vec<u8>>);

fn bytes(s: impl Into<Vec<u8>>) -> Option<Vec<u8>> {
    Some(s.into())
}

/// The catalogue, after PROTOS c07-sip's groups (overflows, format strings, integers,
/// characters, delimiters, repetition, omission).
const ANOMALIES: &[Anomaly] = &[
    ("empty", |_| bytes("")),
    ("missing", |_| None),
    ("overflow 128", |_| bytes("a".repeat(128))),
    ("overflow 1024", |_| bytes("A".repeat(1024))),
    ("overflow 8000", |_| bytes("9".repeat(8000))),
    ("appended overflow", |v| {
        bytes(format!("{v}{}", "x".repeat(4000)))
    }),
    ("format %s", |_| bytes("%s%s%s%s%s%s%s%s%s%s")),
    ("format %n", |v| bytes(format!("{v}%n%n%n%n"))),
    ("format %x", |_| bytes("%x".repeat(200))),
    ("zero", |_| bytes("0")),
    ("minus one", |_| bytes("-1")),
    ("u32 max", |_| bytes("4294967295")),
    ("u32 max + 1", |_| bytes("4294967296")),
    ("u64 max + 1", |_| bytes("18446744073709551616")),
    ("huge number", |_| bytes("9".repeat(300))),
    ("nul", |v| bytes(format!("{v}\0{v}"))),
    ("not utf-8", |v| {
        let mut b = v.as_bytes().to_vec();
        b.extend_from_slice(&[0xff, 0xfe, 0x80, 0xc3]);
        Some(b)
    }),
    ("overlong utf-8", |_| {
        bytes(vec![b'a', 0xc0, 0xaf, 0xe0, 0x80, 0xaf, b'b'])
    }),
    ("right-to-left", |v| bytes(format!("\u{202e}{v}"))),
    ("bare cr", |v| bytes(format!("{v}\rX"))),
    ("bare lf", |v| bytes(format!("{v}\nX"))),
    ("injected header", |v| {
        bytes(format!("{v}\r\nVia: SIP/2.0/UDP 10.0.0.1"))
    }),
    ("folded", |v| bytes(format!("{v}\r\n {v}"))),
    ("colon", |_| bytes(":")),
    ("angle brackets", |_| bytes("<<<<<<<<>>>>>>>>")),
    ("quote", |v| bytes(format!("\"{v}"))),
    ("semicolons", |v| bytes(format!("{v}{}", ";".repeat(500)))),
    ("commas", |v| bytes(format!("{v}{}", ",".repeat(500)))),
    ("params", |v| bytes(format!("{v}{}", ";a=b".repeat(300)))),
    ("at signs", |_| bytes("@@@@@@@@")),
    ("scheme only", |_| bytes("sip:")),
    ("open bracket", |_| bytes("sip:[::1")),
    ("ipv6 mess", |_| {
        bytes("sip:bob@[::ffff:127.0.0.1%25eth0]:99999")
    }),
    ("no delimiters", |v| {
        bytes(v.replace([';', '<', '>', '@', ':', ' ', '/'], ""))
    }),
    ("spaces", |v| bytes(v.replace(' ', "     \t    "))),
    ("upper", |v| bytes(v.to_uppercase())),
    ("escapes", |_| bytes("sip:%00%ff%zz@%41%")),
];

/// The INVITE with element `at` (an index into head then sdp) given `value`, the header
/// repeated `repeat` times; Content-Length is computed unless it is the element mutated.
fn render(
    head: &[Element],
    sdp: &[Element],
    at: usize,
    value: Option<&[u8]>,
    repeat: usize,
) -> Vec<u8> {
    let pick = |i: usize, e: &Element| -> Option<Vec<u8>> {
        if i == at {
            value.map(<[u8]>::to_vec)
        } else {
            Some(e.value.clone().into_bytes())
        }
    };
    let mut body = Vec::new();
    for (j, e) in sdp.iter().enumerate() {
        let Some(v) = pick(head.len() + j, e) else {
            continue;
        };
        // "a=rtpmap" is an attribute line; the others are `x=value`
        match e.name.split_once('=') {
            Some((a, b)) => body.extend_from_slice(format!("{a}={b}:").as_bytes()),
            None => body.extend_from_slice(format!("{}=", e.name).as_bytes()),
        }
        body.extend_from_slice(&v);
        body.extend_from_slice(b"\r\n");
    }
    let mut out = Vec::new();
    for (i, part) in head[..3].iter().enumerate() {
        if let Some(v) = pick(i, part) {
            out.extend_from_slice(&v);
        }
        out.extend_from_slice(if i < 2 { b" " } else { b"\r\n" });
    }
    for (i, e) in head.iter().enumerate().skip(3) {
        let Some(v) = pick(i, e) else {
            continue;
        };
        let times = if i == at { repeat } else { 1 };
        for _ in 0..times {
            out.extend_from_slice(e.header.unwrap_or_default().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(&v);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(&body);
    out
}

/// Every case for the call numbers from `first`: each element with each anomaly, a few
/// seeded byte flips of each, and each header a hundred times.
fn cases(sw: &Switch, local: SocketAddr, first: usize, proto: &str) -> Vec<(String, Vec<u8>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut out = Vec::new();
    let elements = base(sw, local, 0, proto);
    let count = elements.0.len() + elements.1.len();
    for at in 0..count {
        for (name, anomaly) in ANOMALIES {
            let n = first + out.len();
            let (head, sdp) = base(sw, local, n, proto);
            let e = head.get(at).unwrap_or_else(|| &sdp[at - head.len()]);
            let value = anomaly(&e.value);
            out.push((
                format!("{} / {name}", e.name),
                render(&head, &sdp, at, value.as_deref(), 1),
            ));
        }
        for flip in 0..12 {
            let n = first + out.len();
            let (head, sdp) = base(sw, local, n, proto);
            let e = head.get(at).unwrap_or_else(|| &sdp[at - head.len()]);
            let mut v = e.value.clone().into_bytes();
            for _ in 0..rng.gen_range(1..4) {
                if !v.is_empty() {
                    let i = rng.gen_range(0..v.len());
                    v[i] = rng.gen();
                }
            }
            out.push((
                format!("{} / flip {flip}", e.name),
                render(&head, &sdp, at, Some(&v), 1),
            ));
        }
        if at >= 3 && at < elements.0.len() {
            let n = first + out.len();
            let (head, sdp) = base(sw, local, n, proto);
            let v = head[at].value.clone().into_bytes();
            out.push((
                format!("{} / repeated", head[at].name),
                render(&head, &sdp, at, Some(&v), 100),
            ));
        }
    }
    out
}

/// Registers `bob` at `contact` (authentication is off) so the INVITEs have somewhere to go.
fn register_bob(sw: &Switch, bob: &UdpSocket) {
    let local = bob.local_addr().unwrap();
    let msg = format!(
        "REGISTER sip:{s} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKbobreg;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:bob@{s}>;tag=b1\r\nTo: <sip:bob@{s}>\r\nCall-ID: bob-reg-{p}\r\n\
CSeq: 1 REGISTER\r\nContact: <sip:bob@{local}>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n",
        s = sw.sip,
        p = std::process::id()
    );
    bob.send_to(msg.as_bytes(), sw.sip).unwrap();
    bob.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = bob.recv_from(&mut buf).unwrap();
    assert!(
        buf[..n].starts_with(b"SIP/2.0 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // from now on bob only swallows what the switch sends it
    bob.set_nonblocking(true).unwrap();
}

fn drain(s: &UdpSocket) -> usize {
    let mut buf = [0u8; 65536];
    let mut n = 0;
    while s.recv_from(&mut buf).is_ok() {
        n += 1;
    }
    n
}

/// OPTIONS over a new TCP connection; the answer's status.
fn tcp_options(sw: &Switch) -> Option<u16> {
    let mut tcp = TcpStream::connect(sw.sip).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let opt = format!(
        "OPTIONS sip:{s} SIP/2.0\r\nVia: SIP/2.0/TCP {l};branch=z9hG4bKprotosok\r\nMax-Forwards: 70\r\n\
From: <sip:a@{ip}>;tag=1\r\nTo: <sip:{s}>\r\nCall-ID: protos-ok-{p}\r\nCSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n",
        s = sw.sip,
        l = tcp.local_addr().ok()?,
        ip = sw.sip.ip(),
        p = std::process::id()
    );
    tcp.write_all(opt.as_bytes()).ok()?;
    let mut buf = [0u8; 2048];
    let n = tcp.read(&mut buf).ok()?;
    std::str::from_utf8(&buf[..n])
        .ok()?
        .strip_prefix("SIP/2.0 ")?
        .get(..3)?
        .parse()
        .ok()
}

fn internal_failures(sw: &Switch) -> f64 {
    sw.metric("switchboard_sip_dropped_total{reason=\"internal failure\"}")
}

#[test]
fn every_element_of_an_invite_mutated_leaves_the_switch_answering_with_no_internal_failure() {
    let sw = Switch::with(Options {
        auth_off: true,
        ..Default::default()
    });
    let bob = UdpSocket::bind(SocketAddr::new(sw.sip.ip(), 0)).unwrap();
    register_bob(&sw, &bob);

    // over UDP, from one socket, paced so the run is not a flood
    let udp = UdpSocket::bind(SocketAddr::new(sw.sip.ip(), 0)).unwrap();
    udp.set_nonblocking(true).unwrap();
    let over_udp = cases(&sw, udp.local_addr().unwrap(), 0, "UDP");
    let mut answers = 0;
    for (i, (name, msg)) in over_udp.iter().enumerate() {
        let _ = udp.send_to(msg, sw.sip);
        if i % 25 == 24 {
            std::thread::sleep(Duration::from_millis(5));
            answers += drain(&udp);
            drain(&bob);
        }
        if i % 100 == 99 {
            assert_eq!(
                options_ping(sw.sip, Duration::from_secs(3)),
                Some(200),
                "still answering over UDP after case {i} ({name})"
            );
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    answers += drain(&udp);
    assert!(
        answers > over_udp.len() / 4,
        "the switch answered {answers} of {} cases over UDP",
        over_udp.len()
    );

    // over TCP, a connection per case (a case may break the stream's framing)
    let probe = TcpStream::connect(sw.sip).unwrap();
    let local = probe.local_addr().unwrap();
    drop(probe);
    let over_tcp = cases(&sw, local, over_udp.len(), "TCP");
    for (i, (name, msg)) in over_tcp.iter().enumerate() {
        if let Ok(mut tcp) = TcpStream::connect(sw.sip) {
            let _ = tcp.write_all(msg);
        }
        if i % 100 == 99 {
            drain(&bob);
            assert_eq!(
                tcp_options(&sw),
                Some(200),
                "still answering over TCP after case {i} ({name})"
            );
        }
    }
    eprintln!(
        "{} cases over UDP ({answers} answered), {} over TCP",
        over_udp.len(),
        over_tcp.len()
    );
    assert!(
        over_udp.len() + over_tcp.len() >= 2_000,
        "a few thousand cases"
    );

    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(options_ping(sw.sip, Duration::from_secs(3)), Some(200));
    assert_eq!(tcp_options(&sw), Some(200));
    assert_eq!(internal_failures(&sw), 0.0, "a handler failed on some case");

    // and the switch still does its job: a new phone registers and is called
    let carol = UdpSocket::bind(SocketAddr::new(sw.sip.ip(), 0)).unwrap();
    register_bob(&sw, &carol);
    let invite = render(
        &base(&sw, udp.local_addr().unwrap(), 999_999, "UDP").0,
        &base(&sw, udp.local_addr().unwrap(), 999_999, "UDP").1,
        usize::MAX,
        None,
        1,
    );
    udp.set_nonblocking(false).unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    drain_blocking_none(&udp);
    udp.send_to(&invite, sw.sip).unwrap();
    carol.set_nonblocking(false).unwrap();
    carol
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut buf = [0u8; 65536];
    let reached = loop {
        let Ok((n, _)) = carol.recv_from(&mut buf) else {
            break false;
        };
        if buf[..n].starts_with(b"INVITE ") && contains(&buf[..n], b"protos-999999-") {
            break true;
        }
    };
    assert!(reached, "the last registration of bob is called");
}

/// Empties a blocking socket of what is already there.
fn drain_blocking_none(s: &UdpSocket) {
    s.set_nonblocking(true).unwrap();
    drain(s);
    s.set_nonblocking(false).unwrap();
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
