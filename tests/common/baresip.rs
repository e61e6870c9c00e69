//! baresip (Debian `baresip` 1.0) as a phone under test: a real SIP user agent nobody here
//! wrote, registering to the switch with digest credentials, calling and answering through
//! it, and sending and receiving real RTP.
//!
//! [`Baresip::start`] writes a config directory of its own (loopback only: SIP on a fresh
//! 127.x address, no audio device) and runs `baresip -s -f <dir>`: with SIP trace, so its log
//! holds every message it sent and received ([`Baresip::sdp_received`] reads the SDP it got).
//! Its audio source is the `ausine` module (a sine of the given frequency; ausine insists on
//! 48 kHz stereo, which baresip resamples to the codec's rate); the `sndfile` filter writes
//! what it sends and what it hears (decoded, at the codec's rate) to `dump-<time>-enc.wav` and
//! `dump-<time>-dec.wav`; the player is an `aubridge` device nothing reads. The test drives
//! it through `ctrl_tcp` (JSON in netstrings): `dial`, `accept`, `hangup`, `reginfo`, and
//! reads its events (`CALL_INCOMING`, `CALL_ESTABLISHED`, `CALL_CLOSED`, ...).
//!
//! RTP: baresip puts the fresh address in its SDP but sends from a socket bound to any
//! address, so on loopback its packets come from 127.0.0.1 (a phone whose SDP address is not
//! its source, which a relay learns by latching). Ports come from 10000-19999.
//!
//! baresip 1.0 answers only MD5 digest challenges: the switch under test must offer MD5
//! (`[auth] algorithms = ["MD5"]`), else registration fails with "Function not implemented".
//!
//! Tests call [`missing`] first and skip, with the reason printed, when baresip is not
//! installed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::audio::{read_wav, Audio};
use super::{fresh_ip, TempDir};

/// Why baresip tests cannot run here, if they cannot.
pub fn missing() -> Option<String> {
    match Command::new("baresip")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => None,
        Err(e) => Some(format!(
            "baresip is not on the PATH ({e}); install the Debian package baresip \
             (apt-get install --no-install-recommends baresip)"
        )),
    }
}

/// How to set up one baresip phone.
#[derive(Clone, Debug)]
pub struct Options {
    /// The subscriber number it registers as.
    pub user: String,
    pub password: String,
    /// The switch's SIP address (registrar and proxy).
    pub switch: SocketAddr,
    /// The frequency its audio source sends.
    pub tone_hz: u32,
    /// The codecs it offers and accepts, as baresip names them (`PCMU/8000/1`, `PCMA/8000/1`,
    /// `G722/16000/1`: a bare `G722` means 8 kHz audio to baresip and matches nothing).
    pub codecs: Vec<String>,
    /// Message waiting: load the `mwi` module, which subscribes to the account's own
    /// message-summary once registered. The account is then made by `uanew` once baresip
    /// runs: baresip 1.0's `mwi` module loops forever resubscribing when an account registers
    /// before the module's start-up timer fired.
    pub mwi: bool,
    /// Register and call over TLS (to the switch's TLS port, the SIP port + 1), trusting
    /// this certificate file.
    pub tls_ca: Option<std::path::PathBuf>,
}

impl Options {
    /// Where the phone registers and calls: the SIP address, or the TLS one with
    /// `;transport=tls`.
    fn server_uri(&self) -> String {
        match &self.tls_ca {
            None => self.switch.to_string(),
            Some(_) => {
                let tls = SocketAddr::new(self.switch.ip(), self.switch.port() + 1);
                format!("{tls};transport=tls")
            }
        }
    }
}

/// A running baresip, stopped when dropped.
pub struct Baresip {
    child: Child,
    dir: TempDir,
    /// Its SIP address (UDP).
    pub sip: SocketAddr,
    pub options: Options,
    ctrl: TcpStream,
    incoming: mpsc::Receiver<Value>,
    /// Events read while waiting for something else.
    events: Vec<Value>,
    token: u32,
}

impl Baresip {
    /// Starts baresip with a generated config and connects to its control port.
    pub fn start(options: Options) -> Baresip {
        let dir = TempDir::new(&format!("baresip-{}", options.user));
        let ip = fresh_ip();
        let sip = SocketAddr::new(ip, 5060);
        let ctrl_addr = SocketAddr::new(ip, 4444);
        let rec = dir.0.join("rec");
        std::fs::create_dir_all(&rec).unwrap();
        let config = format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t{sip}\n\
             net_interface\t\t{ip}\n\
             audio_player\t\taubridge,nowhere\n\
             audio_alert\t\taubridge,nowhere\n\
             audio_source\t\tausine,{hz}\n\
             ausrc_srate\t\t48000\n\
             ausrc_channels\t\t2\n\
             rtp_ports\t\t10000-19999\n\
             rtcp_mux\t\tno\n\
             module_path\t\t/usr/lib/baresip/modules\n\
             module\t\t\tg711.so\n\
             module\t\t\tg722.so\n\
             module\t\t\tausine.so\n\
             module\t\t\taubridge.so\n\
             module\t\t\tsndfile.so\n\
             module\t\t\tctrl_tcp.so\n\
             module_app\t\taccount.so\n\
             module_app\t\tmenu.so\n\
             {mwi_module}\
             ctrl_tcp_listen\t\t{ctrl_addr}\n\
             snd_path\t\t{rec}\n\
             {cafile}",
            hz = options.tone_hz,
            rec = rec.display(),
            cafile = options.tls_ca.as_ref().map_or(String::new(), |f| format!(
                "sip_cafile\t\t{}\n",
                f.display()
            )),
            mwi_module = if options.mwi {
                "module_app\t\tmwi.so\n"
            } else {
                ""
            },
        );
        std::fs::write(dir.0.join("config"), config).unwrap();
        let account = format!(
            "<sip:{u}@{sw}>;auth_user={u};auth_pass={p};regint=600;audio_codecs={c};\
             answermode=manual;mwi={m}\n",
            u = options.user,
            p = options.password,
            sw = options.server_uri(),
            c = options.codecs.join(","),
            m = if options.mwi { "yes" } else { "no" },
        );
        let later = options.mwi.then(|| account.trim_end().to_owned());
        let accounts = if options.mwi { String::new() } else { account };
        std::fs::write(dir.0.join("accounts"), accounts).unwrap();
        std::fs::write(dir.0.join("contacts"), "").unwrap();
        let log = std::fs::File::create(dir.0.join("baresip.log")).unwrap();
        let child = Command::new("baresip")
            .arg("-s")
            .arg("-f")
            .arg(&dir.0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start baresip");
        let deadline = Instant::now() + Duration::from_secs(10);
        let ctrl = loop {
            match TcpStream::connect_timeout(&ctrl_addr, Duration::from_millis(200)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => {
                    panic!("baresip's control port {ctrl_addr}: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let (tx, incoming) = mpsc::channel();
        let mut reader = ctrl.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some((msg, used)) = netstring(&buf) {
                    if let Ok(v) = serde_json::from_slice::<Value>(msg) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                    buf.drain(..used);
                }
            }
        });
        let mut b = Baresip {
            child,
            dir,
            sip,
            options,
            ctrl,
            incoming,
            events: Vec::new(),
            token: 0,
        };
        if let Some(account) = later {
            b.command("uanew", &account)
                .unwrap_or_else(|e| panic!("baresip uanew: {e}"));
        }
        b
    }

    /// Runs a ctrl_tcp command and returns its response's `data`; `Err` with it when the
    /// command failed or no response came within 5 s.
    pub fn command(&mut self, command: &str, params: &str) -> Result<String, String> {
        self.token += 1;
        let token = format!("t{}", self.token);
        let body =
            serde_json::json!({"command": command, "params": params, "token": token}).to_string();
        self.ctrl
            .write_all(format!("{}:{body},", body.len()).as_bytes())
            .map_err(|e| format!("{command}: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(v) = self.next(deadline) {
            if v["response"] == true && v["token"] == token.as_str() {
                let data = v["data"].as_str().unwrap_or_default().to_owned();
                return if v["ok"] == true { Ok(data) } else { Err(data) };
            }
            self.events.push(v);
        }
        Err(format!("{command}: no response"))
    }

    fn next(&mut self, deadline: Instant) -> Option<Value> {
        let wait = deadline.saturating_duration_since(Instant::now());
        self.incoming.recv_timeout(wait).ok()
    }

    /// Whether its registration got a 200 (polls `reginfo` until `timeout`).
    pub fn wait_registered(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            // reginfo prints the status of each account: "OK " (in green) once answered 200
            if self
                .command("reginfo", "")
                .is_ok_and(|d| d.contains("\u{1b}[32mOK"))
            {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The first event of `kind` (`CALL_INCOMING`, `CALL_ESTABLISHED`, `CALL_CLOSED`, ...)
    /// not yet taken, waiting up to `timeout`.
    pub fn wait_event(&mut self, kind: &str, timeout: Duration) -> Option<Value> {
        if let Some(i) = self.events.iter().position(|e| e["type"] == kind) {
            return Some(self.events.remove(i));
        }
        let deadline = Instant::now() + timeout;
        while let Some(v) = self.next(deadline) {
            if v["type"] == kind {
                return Some(v);
            }
            self.events.push(v);
        }
        None
    }

    /// Calls `number` at the switch.
    pub fn dial(&mut self, number: &str) {
        let uri = format!("sip:{number}@{}", self.options.server_uri());
        self.command("dial", &uri)
            .unwrap_or_else(|e| panic!("baresip dial {uri}: {e}"));
    }

    /// Answers the ringing call.
    pub fn accept(&mut self) {
        self.command("accept", "")
            .unwrap_or_else(|e| panic!("baresip accept: {e}"));
    }

    /// Hangs up the current call.
    pub fn hang_up(&mut self) {
        self.command("hangup", "")
            .unwrap_or_else(|e| panic!("baresip hangup: {e}"));
    }

    fn newest(&self, suffix: &str) -> Option<PathBuf> {
        std::fs::read_dir(self.dir.0.join("rec"))
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
            .map(|e| e.path())
    }

    /// What it heard in its last call, decoded at the codec's rate (the file grows while
    /// the call lasts; its header is right once the call ended).
    pub fn heard(&self) -> Option<Audio> {
        read_wav(&self.newest("-dec.wav")?).ok()
    }

    /// What it sent in its last call, before encoding.
    pub fn sent(&self) -> Option<Audio> {
        read_wav(&self.newest("-enc.wav")?).ok()
    }

    /// The SDP bodies of the messages it received (offers and answers), oldest first, read
    /// from its SIP trace: blocks of `\x1b[36;1m#`, `UDP <from> -> <to>`, the message, `\x1b[;m`.
    pub fn sdp_received(&self) -> Vec<String> {
        let to_me = format!(" -> {}", self.sip);
        self.log()
            .split("\x1b[36;1m#")
            .filter_map(|block| {
                let block = block.split("\x1b[;m").next()?.trim_start();
                let (arrow, message) = block.split_once('\n')?;
                if !arrow.ends_with(&to_me) {
                    return None;
                }
                let message = message.replace("\r\n", "\n");
                let (head, body) = message.split_once("\n\n")?;
                head.to_ascii_lowercase()
                    .contains("content-type: application/sdp")
                    .then(|| body.trim_end().to_owned())
            })
            .collect()
    }

    /// Its console output so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("baresip.log")).unwrap_or_default()
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        // SIGTERM: baresip hangs up, closes its files and exits
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first netstring (`<len>:<bytes>,`) of `buf` and the bytes it takes.
fn netstring(buf: &[u8]) -> Option<(&[u8], usize)> {
    let colon = buf.iter().position(|&b| b == b':')?;
    let len: usize = std::str::from_utf8(&buf[..colon]).ok()?.parse().ok()?;
    let end = colon + 1 + len;
    (buf.len() > end).then(|| (&buf[colon + 1..end], end + 1))
}
