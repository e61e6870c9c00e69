//! Test harness: a real `switchboard` process on a loopback address of its own, and a small
//! SIP user agent (`ua`) built on the engine's message layer. For media: an RTP test phone
//! (`rtp`), audio checks by frequency and level (`audio`), calls between test phones and what
//! they heard (`media`), conference participants (`conference`), SIPp (`sipp`) and baresip
//! (`baresip`) runners.
//!
//! Every switch gets a fresh 127.x.y.z address, so tests run in parallel without port
//! clashes, and a fresh data directory. Dropping a `Switch` stops it with SIGTERM.

#![allow(dead_code)]

pub mod audio;
pub mod baresip;
pub mod conference;
pub mod media;
pub mod rtp;
pub mod sipp;
pub mod sms_http;
pub mod smsc;
pub mod tls;
pub mod ua;
pub mod voicemail;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

static NEXT: AtomicU32 = AtomicU32::new(1);
static NEXT_IP: AtomicU32 = AtomicU32::new(0);

/// A loopback address no other test of this run uses: the second and third octets come from
/// the process id (test binaries and nextest processes differ), the last from a counter of
/// its own, carrying into the third octet so it never wraps onto an address in use.
pub fn fresh_ip() -> IpAddr {
    let n = NEXT_IP.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let third = (pid / 200 + n / 250) % 250;
    IpAddr::V4(Ipv4Addr::new(
        127,
        (pid % 200 + 20) as u8,
        third as u8,
        (n % 250 + 2) as u8,
    ))
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("sb-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running switch.
pub struct Switch {
    pub child: Option<Child>,
    pub sip: SocketAddr,
    /// SIP over TLS: the SIP address's port + 1 (the switch's default).
    pub tls: SocketAddr,
    pub http: SocketAddr,
    pub data: PathBuf,
    pub config: Option<PathBuf>,
    pub extra_args: Vec<String>,
    /// Where the switch's log goes (`Options::capture_log`); else it is discarded.
    pub log: Option<PathBuf>,
    _dir: Option<TempDir>,
}

/// How to start a switch.
#[derive(Default, Clone)]
pub struct Options {
    pub auth_off: bool,
    /// Extra TOML appended to the generated config file.
    pub config: String,
    pub args: Vec<String>,
    /// Keep the switch's log (warnings, and the security lines at info) in a file
    /// (`Switch::log_text`).
    pub capture_log: bool,
    /// SIP and HTTP addresses given by the test (ports set aside for it) instead of a fresh
    /// 127.x.y.z with 5060 and 8080. TLS takes the SIP port + 1 unless the config turns it off.
    pub addrs: Option<(SocketAddr, SocketAddr)>,
}

/// Sets `key` in `[section]` of the TOML `text` unless the text sets it already: in the
/// section when the text has one, else in a new one at the end.
fn default_key(text: &mut String, section: &str, key: &str, value: &str) {
    if text.contains(&format!("{key} =")) {
        return;
    }
    let header = format!("[{section}]\n");
    let line = format!("{key} = {value}\n");
    match text.find(&header) {
        Some(at) if at == 0 || text.as_bytes()[at - 1] == b'\n' => {
            text.insert_str(at + header.len(), &line)
        }
        _ => text.push_str(&format!("\n{header}{line}")),
    }
}

impl Switch {
    pub fn start() -> Switch {
        Self::with(Options::default())
    }

    pub fn with(opts: Options) -> Switch {
        let dir = TempDir::new("switch");
        let (sip, http) = opts.addrs.unwrap_or_else(|| {
            let ip = fresh_ip();
            (SocketAddr::new(ip, 5060), SocketAddr::new(ip, 8080))
        });
        let ip = sip.ip();
        let data = dir.0.join("data");
        let config = dir.0.join("switchboard.toml");
        // the media plane on the switch's own address, so parallel switches keep their RTP
        // ports apart and a test can tell the relay by its address
        let media = format!("[media]\naddress = \"{ip}\"\n");
        let mut text = if opts.config.contains("[media]\n") {
            opts.config.replacen("[media]\n", &media, 1)
        } else {
            format!("{media}{}", opts.config)
        };
        // voicemail answers the calls nobody takes; tests of those calls' own outcomes (busy,
        // unavailable, not answered) run without it unless their config has a [voicemail]
        if !text.contains("[voicemail]") {
            text.push_str("\n[voicemail]\nenabled = false\n");
        }
        // the suite's clients all send from loopback, many requests quickly, wrong passwords
        // and unknown numbers on purpose: loopback is trusted and the abuse limits are wide,
        // unless a test sets these itself (the ban and limit tests do)
        default_key(
            &mut text,
            "security",
            "trusted",
            "[\"127.0.0.0/8\", \"::1/128\"]",
        );
        default_key(&mut text, "accounts", "otp_per_number", "1000000");
        default_key(&mut text, "accounts", "otp_min_interval_secs", "0");
        default_key(
            &mut text,
            "accounts",
            "dynamic_per_source_per_hour",
            "1000000",
        );
        default_key(
            &mut text,
            "messaging",
            "unregistered_per_source_per_hour",
            "1000000",
        );
        default_key(
            &mut text,
            "messaging",
            "unregistered_per_number_per_hour",
            "1000000",
        );
        std::fs::write(&config, text).unwrap();
        let mut args = opts.args.clone();
        if opts.auth_off {
            args.extend(["--auth".into(), "off".into()]);
        }
        let log = opts.capture_log.then(|| dir.0.join("switch.log"));
        let mut s = Switch {
            child: None,
            sip,
            tls: SocketAddr::new(ip, sip.port() + 1),
            http,
            data,
            config: Some(config),
            extra_args: args,
            log,
            _dir: Some(dir),
        };
        s.spawn();
        s
    }

    /// Starts the process (again) with the same address and data directory.
    pub fn spawn(&mut self) {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--sip")
            .arg(self.sip.to_string())
            .arg("--http")
            .arg(self.http.to_string())
            .arg("--data")
            .arg(&self.data)
            .arg("--workers")
            .arg("2")
            .args(&self.extra_args)
            .env(
                "RUST_LOG",
                std::env::var("SB_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if std::env::var("SB_TEST_LOG").is_ok() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        if let Some(path) = &self.log {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open the switch log");
            cmd.env("RUST_LOG", "warn,switchboard::security=info")
                .env("NO_COLOR", "1")
                .stderr(file);
        }
        if let Some(c) = &self.config {
            cmd.arg("--config").arg(c);
        }
        self.child = Some(cmd.spawn().expect("start switchboard"));
        self.wait_ready();
    }

    /// Waits until the switch answers OPTIONS over UDP; fails if the process exited (an
    /// answer could otherwise come from some other switch on the address).
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("switch on {} exited at start: {status}", self.sip);
            }
            if options_ping(self.sip, Duration::from_millis(200)) == Some(200) {
                return;
            }
        }
        panic!("switch on {} did not start", self.sip);
    }

    /// Adds an account through the CLI (works while the switch runs).
    pub fn add_account(&self, number: &str, password: &str) {
        let out = Command::new(BIN)
            .args(["account", "add", number, "--password", password, "--data"])
            .arg(&self.data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "account add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Graceful stop (SIGTERM); returns the exit status code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Sends SIGHUP (reload plugins and the TLS certificate).
    pub fn hangup(&self) {
        if let Some(c) = &self.child {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGHUP);
            }
        }
    }

    /// Crash stop (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// What the switch logged so far (empty unless `Options::capture_log`).
    pub fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    /// The /metrics text.
    pub fn metrics(&self) -> String {
        http_get(self.http, "/metrics")
    }

    /// Value of one metric line (`name{labels}`), 0 when absent.
    pub fn metric(&self, series: &str) -> f64 {
        metric_value(&self.metrics(), series)
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Minimal HTTP/1.1 GET over loopback.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|x| x.1.to_owned())
        .unwrap_or(out)
}

/// One HTTP/1.1 request over loopback; returns (status, body).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `Authorization: Basic` for a number and password.
pub fn basic(user: &str, password: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = format!("{user}:{password}");
    let b = raw.as_bytes();
    let mut out = String::from("Basic ");
    for chunk in b.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sends OPTIONS over UDP and returns the status of the answer.
pub fn options_ping(to: SocketAddr, wait: Duration) -> Option<u16> {
    let s = UdpSocket::bind(SocketAddr::new(to.ip(), 0)).ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    let port = s.local_addr().ok()?.port();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let msg = format!(
        "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{port};branch=z9hG4bKping{n};rport\r\n\
From: <sip:ping@{ip}>;tag=p{n}\r\nTo: <sip:{to}>\r\nCall-ID: ping-{n}-{pid}\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        ip = to.ip(),
        pid = std::process::id()
    );
    s.send_to(msg.as_bytes(), to).ok()?;
    let mut buf = [0u8; 4096];
    let (len, _) = s.recv_from(&mut buf).ok()?;
    let text = std::str::from_utf8(&buf[..len]).ok()?;
    text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

/// Runs the CLI and returns (exit code, stdout, stderr).
pub fn cli(args: &[&str], data: Option<&Path>) -> (i32, String, String) {
    let mut c = Command::new(BIN);
    c.args(args);
    if let Some(d) = data {
        c.arg("--data").arg(d);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `f` until it returns true or `wait` passes.
pub fn eventually(wait: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// [`eventually`] for async tests: polls `f` every 20 ms without blocking the runtime.
pub async fn eventually_async(wait: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The SMS the `log` notifier gateway wrote (one JSON object per line in `sms.log`).
pub fn sms_log(data: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(data.join("sms.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits for the `log` gateway to have written `n` SMS, and returns them.
pub fn wait_for_sms(data: &Path, n: usize) -> Vec<serde_json::Value> {
    let mut got = Vec::new();
    eventually(Duration::from_secs(15), || {
        got = sms_log(data);
        got.len() >= n
    });
    assert!(got.len() >= n, "expected {n} SMS, got {got:?}");
    got
}

/// One HTTP request; (status, headers, body bytes).
pub fn http_raw(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head, out[split + 4..].to_vec())
}
