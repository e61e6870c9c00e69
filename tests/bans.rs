//! Flood bans end to end: a scanner sweeping numbers with wrong passwords is banned within the
//! threshold while a phone on another address keeps registering and calling; the ban shows
//! in GET /v1/bans, the CLI, the metrics and the security log (whose lines the shipped
//! fail2ban filter matches), and ends by expiry or by DELETE. A scanner's User-Agent bans at
//! once; the default pike rate bans a flood but not a steady sender, and a banned source's
//! TCP connections are closed.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::ua::Ua;
use common::{cli, fresh_ip, http_raw, Options, Switch};
use switchboard_engine::sip::digest::Challenge;
use switchboard_engine::sip::{HeaderName, Message, Method, RequestBuilder};

const PW: &str = "right-pw-1";

/// A raw SIP sender on an address of its own: what a scanner script does.
struct Scanner {
    sock: UdpSocket,
    server: SocketAddr,
    agent: Option<&'static str>,
    n: u32,
}

impl Scanner {
    fn on(ip: IpAddr, server: SocketAddr, agent: Option<&'static str>) -> Scanner {
        let sock = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
        Scanner {
            sock,
            server,
            agent,
            n: 0,
        }
    }

    /// Sends a request and waits up to `wait` for its final answer.
    fn ask(
        &mut self,
        method: &str,
        user: &str,
        auth: Option<&str>,
        wait: Duration,
    ) -> Option<Message> {
        self.n += 1;
        let local = self.sock.local_addr().unwrap();
        let call_id = format!("scan-{}-{}@{}", self.n, local.port(), local.ip());
        // an empty user: OPTIONS to the switch itself
        let uri = if method == "REGISTER" || user.is_empty() {
            format!("sip:{}", self.server)
        } else {
            format!("sip:{user}@{}", self.server)
        };
        let from_user = if user.is_empty() { "scan" } else { user };
        let aor = format!("sip:{from_user}@{}", self.server);
        let mut b = RequestBuilder::new(method, &uri)
            .header(
                "Via",
                &format!("SIP/2.0/UDP {local};branch=z9hG4bKscan{};rport", self.n),
            )
            .header("Max-Forwards", "70")
            .header("From", &format!("<{aor}>;tag=s{}", self.n))
            .header("To", &format!("<{aor}>"))
            .header("Call-ID", &call_id)
            .header("CSeq", &format!("{} {method}", self.n))
            .header("Contact", &format!("<sip:{from_user}@{local}>"));
        if let Some(a) = self.agent {
            b = b.header("User-Agent", a);
        }
        if let Some(a) = auth {
            b = b.header("Authorization", a);
        }
        self.sock.send_to(&b.build(None), self.server).unwrap();
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 65535];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let Ok(n) = self.sock.recv(&mut buf) else {
                return None;
            };
            let Ok(m) = Message::parse(Bytes::copy_from_slice(&buf[..n])) else {
                continue;
            };
            if m.call_id() == Some(call_id.as_str()) && m.status().is_some_and(|c| c >= 200) {
                return Some(m);
            }
        }
        None
    }

    fn options(&mut self, user: &str, wait: Duration) -> Option<u16> {
        self.ask("OPTIONS", user, None, wait)?.status()
    }

    /// REGISTER as `user` with a wrong password: the answers (401, then 403).
    fn register_wrong(&mut self, user: &str, wait: Duration) -> Vec<u16> {
        let Some(ch) = self.ask("REGISTER", user, None, wait) else {
            return Vec::new();
        };
        let mut codes = vec![ch.status().unwrap()];
        let Some(v) = ch.header(HeaderName::WwwAuthenticate) else {
            return codes;
        };
        let uri = format!("sip:{}", self.server);
        let auth = Challenge::parse(v).unwrap().answer(
            "REGISTER",
            &uri,
            user,
            "guess-123456",
            "abcdef",
            1,
        );
        if let Some(r) = self.ask("REGISTER", user, Some(&auth), wait) {
            codes.push(r.status().unwrap());
        }
        codes
    }
}

fn bans(sw: &Switch) -> serde_json::Value {
    let (status, _, body) = http_raw(sw.http, "GET", "/v1/bans", None);
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

fn banned_ips(sw: &Switch) -> Vec<String> {
    bans(sw)["bans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["ip"].as_str().unwrap().to_owned())
        .collect()
}

/// The failregex of the shipped fail2ban filter, as a Rust regex capturing `<HOST>`.
fn fail2ban_regex() -> regex::Regex {
    let conf = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fail2ban/switchboard.conf"),
    )
    .unwrap();
    let line = conf
        .lines()
        .find_map(|l| l.strip_prefix("failregex = "))
        .expect("a failregex line");
    regex::Regex::new(&line.replace("<HOST>", r"(?P<host>[0-9A-Fa-f:.]+)")).unwrap()
}

/// The hosts the fail2ban filter finds in the switch's log.
fn fail2ban_hosts(log: &str) -> Vec<String> {
    let re = fail2ban_regex();
    log.lines()
        .filter_map(|l| re.captures(l).map(|c| c["host"].to_owned()))
        .collect()
}

/// `caller` calls `callee` (both registered), the callee answers, the caller hangs up.
async fn call(caller: &mut Ua, callee: &mut Ua, dial: &str) {
    let mut out = caller.invite(dial).await;
    let inv = callee.expect_request(Method::Invite).await;
    let _inbound = callee.accept(&inv).await;
    let ok = caller.invite_outcome(&mut out).await;
    assert_eq!(ok.status(), Some(200), "the phone's call is answered");
    callee.expect_request(Method::Ack).await;
    let bye = caller.in_dialog_request(&mut out, "BYE", None, true);
    caller.send(bye);
    let bye = callee.expect_request(Method::Bye).await;
    callee.reply(&bye, 200);
    assert!(
        caller.response(&out.call_id, 200).await.is_some(),
        "the phone's call ends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanner_with_wrong_passwords_is_banned_and_a_phone_elsewhere_keeps_working() {
    let sw = Switch::with(Options {
        config: "[security]\ntrusted = []\nban_secs = 8\nfailures = 5\nfailure_window_secs = 60\n"
            .into(),
        capture_log: true,
        ..Default::default()
    });
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let home: IpAddr = Ipv4Addr::new(127, 0, 0, 1).into();
    let mut phone = Ua::on(sw.sip, SocketAddr::new(home, 0), "1001", PW).await;
    let mut other = Ua::on(sw.sip, SocketAddr::new(home, 0), "1002", PW).await;
    assert_eq!(phone.register(600).await.status(), Some(200));
    assert_eq!(other.register(600).await.status(), Some(200));

    // the sweep: OPTIONS then REGISTER with a wrong password, number after number
    let scanner_ip: IpAddr = Ipv4Addr::new(127, 0, 0, 2).into();
    let mut scanner = Scanner::on(scanner_ip, sw.sip, None);
    let wait = Duration::from_millis(1500);
    let mut forbidden = 0;
    let mut swept = 0;
    for n in 2000..2050 {
        let user = n.to_string();
        if scanner.options(&user, wait).is_none() {
            break;
        }
        let codes = scanner.register_wrong(&user, wait);
        forbidden += codes.iter().filter(|c| **c == 403).count();
        swept += 1;
        if codes.len() < 2 {
            break;
        }
        // the phone keeps working during the sweep
        if n == 2001 {
            assert_eq!(phone.register(600).await.status(), Some(200));
        }
    }
    assert!(
        swept < 10 && forbidden <= 5,
        "banned within the threshold of 5 failures: {swept} numbers swept, {forbidden} wrong \
         passwords answered"
    );
    // banned: nothing it sends is answered
    assert_eq!(scanner.options("2100", Duration::from_millis(800)), None);
    assert!(scanner
        .register_wrong("2101", Duration::from_millis(800))
        .is_empty());
    assert!(sw.metric("switchboard_sip_dropped_total{reason=\"banned\"}") >= 2.0);
    assert_eq!(sw.metric("switchboard_banned_sources"), 1.0);

    let listed = bans(&sw);
    let ban = &listed["bans"][0];
    assert_eq!(ban["ip"], "127.0.0.2", "{listed}");
    assert!(
        ["bad_digest", "unauthenticated", "unknown_number"]
            .contains(&ban["reason"].as_str().unwrap()),
        "{listed}"
    );
    assert_eq!(ban["count"], 5);
    assert_eq!(ban["window_secs"], 60);
    assert_eq!(ban["ban_secs"], 8);
    let reason = ban["reason"].as_str().unwrap().to_owned();
    assert_eq!(
        sw.metric(&format!("switchboard_bans_total{{reason=\"{reason}\"}}")),
        1.0
    );

    // the security log has the documented line, and the fail2ban filter finds the source
    let log = sw.log_text();
    let line = format!("SECURITY ban src=127.0.0.2 reason={reason} count=5 window=60s ban=8s");
    assert!(log.contains(&line), "no {line:?} in the log:\n{log}");
    assert_eq!(fail2ban_hosts(&log), vec!["127.0.0.2".to_owned()]);
    assert!(!log.contains(PW) && !log.contains("guess-123456"));

    // the phone registers and calls while the scanner is banned
    assert_eq!(phone.register(600).await.status(), Some(200));
    call(&mut phone, &mut other, "1002").await;
    assert!(!banned_ips(&sw).contains(&"127.0.0.1".to_owned()));

    // the ban ends after ban_secs: the scanner is answered again
    let started = Instant::now();
    let mut answered = false;
    while started.elapsed() < Duration::from_secs(15) {
        if scanner
            .options("2200", Duration::from_millis(500))
            .is_some()
        {
            answered = true;
            break;
        }
    }
    assert!(answered, "the ban expired");
    assert!(banned_ips(&sw).is_empty());
    // the sweep (every 500 ms) removes it and says so
    let unban = format!("SECURITY unban src=127.0.0.2 reason={reason} by=expired");
    assert!(
        common::eventually(Duration::from_secs(3), || sw.log_text().contains(&unban)),
        "{}",
        sw.log_text()
    );
    assert_eq!(sw.metric("switchboard_banned_sources"), 0.0);
    assert_eq!(
        fail2ban_hosts(&sw.log_text()).len(),
        1,
        "an unban is no ban"
    );
    call(&mut other, &mut phone, "1001").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scanner_user_agent_is_banned_at_once_and_lifted_by_the_operator() {
    let sw = Switch::with(Options {
        config: "[security]\ntrusted = []\n".into(),
        capture_log: true,
        ..Default::default()
    });
    let ip = fresh_ip();
    let mut scanner = Scanner::on(ip, sw.sip, Some("friendly-scanner"));
    assert_eq!(
        scanner.options("100", Duration::from_millis(800)),
        None,
        "a scan is not answered"
    );
    let mut same = Scanner::on(ip, sw.sip, None);
    assert_eq!(
        same.options("100", Duration::from_millis(800)),
        None,
        "banned"
    );
    assert_eq!(banned_ips(&sw), vec![ip.to_string()]);
    assert_eq!(bans(&sw)["bans"][0]["reason"], "scanner");
    assert_eq!(
        bans(&sw)["bans"][0]["ban_secs"],
        300,
        "the default ban time"
    );
    assert_eq!(sw.metric("switchboard_bans_total{reason=\"scanner\"}"), 1.0);
    let line = format!("SECURITY ban src={ip} reason=scanner count=1 window=0s ban=300s");
    assert!(sw.log_text().contains(&line), "{}", sw.log_text());

    // the CLI lists it through the running switch
    let (code, out, err) = cli(&["bans", "list"], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&format!("{ip}\tscanner\tcount=1")), "{out}");

    // lifted over HTTP: answered again at once
    let (status, _, body) = http_raw(sw.http, "DELETE", &format!("/v1/bans/{ip}"), None);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(
        same.options("100", Duration::from_secs(2)).map(|_| ()),
        Some(())
    );
    let lifted = format!("SECURITY unban src={ip} reason=scanner by=operator");
    assert!(sw.log_text().contains(&lifted), "{}", sw.log_text());
    let (status, _, _) = http_raw(sw.http, "DELETE", &format!("/v1/bans/{ip}"), None);
    assert_eq!(status, 404, "not banned any more");
    let (status, _, _) = http_raw(sw.http, "DELETE", "/v1/bans/not-an-ip", None);
    assert_eq!(status, 400);

    // banned again, lifted by the CLI
    assert_eq!(scanner.options("100", Duration::from_millis(500)), None);
    let (code, out, err) = cli(&["bans", "lift", &ip.to_string()], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("lifted"), "{out}");
    assert!(same.options("100", Duration::from_secs(2)).is_some());
    let (code, _, _) = cli(&["bans", "lift", &ip.to_string()], Some(&sw.data));
    assert_eq!(code, 1, "lifting what is not banned fails");
}

#[test]
fn the_default_pike_rate_bans_a_flood_but_not_a_steady_sender() {
    // the deployment defaults (16 requests per 2 s), loopback not trusted
    let sw = Switch::with(Options {
        config: "[security]\ntrusted = []\n".into(),
        ..Default::default()
    });
    let steady_ip = fresh_ip();
    let flood_ip = fresh_ip();
    let mut flood = Scanner::on(flood_ip, sw.sip, None);
    let mut answered = 0;
    for _ in 0..40 {
        if flood.options("", Duration::from_millis(300)).is_some() {
            answered += 1;
        }
    }
    assert!(
        (16..=20).contains(&answered),
        "the 17th request within 2 s bans: {answered} answered"
    );
    assert_eq!(banned_ips(&sw), vec![flood_ip.to_string()]);
    assert_eq!(bans(&sw)["bans"][0]["reason"], "flood");
    assert_eq!(sw.metric("switchboard_bans_total{reason=\"flood\"}"), 1.0);

    // a banned source's TCP connection is closed at once, unanswered
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(flood_ip, 0).into()).unwrap();
    sock.connect(&sw.sip.into()).unwrap();
    let mut tcp: TcpStream = sock.into();
    tcp.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    use std::io::{Read, Write};
    let _ = tcp.write_all(b"OPTIONS sip:x SIP/2.0\r\n\r\n");
    let mut buf = [0u8; 64];
    assert!(
        matches!(tcp.read(&mut buf), Ok(0) | Err(_)),
        "closed without an answer"
    );

    // 5 requests a second for 4 seconds: never banned
    let mut steady = Scanner::on(steady_ip, sw.sip, None);
    for k in 0..20 {
        let t = Instant::now();
        assert_eq!(
            steady.options("", Duration::from_secs(2)),
            Some(200),
            "request {k} of the steady sender"
        );
        std::thread::sleep(Duration::from_millis(200).saturating_sub(t.elapsed()));
    }
    assert_eq!(banned_ips(&sw), vec![flood_ip.to_string()]);
}
