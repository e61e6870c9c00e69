//! Running SIPp (Debian's `sip-tester`) against a switch: a UAS in the background, a UAS
//! registered as a subscriber, a UAC placing calls, each in its own work directory.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// `scenarios/sipp` of the repository.
pub fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sipp")
}

/// A `sipp` command; fails the test with a clear message when SIPp is not installed.
pub fn sipp() -> Command {
    // SIPP names another build (Debian's lacks TLS: a SIPp built with `-DUSE_SSL=1` runs
    // tests/sipp_tls.rs)
    let bin = std::env::var("SIPP").unwrap_or_else(|_| "sipp".into());
    let found = Command::new(&bin)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        found.is_ok(),
        "SIPp is required for this test (Debian package sip-tester, or SIPP=<path>)"
    );
    Command::new(bin)
}

/// A SIPp process stopped when dropped.
pub struct Bg(pub Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Bg {
    /// Waits for the process to end by itself (`-m` calls done); `None` after `wait`.
    pub fn finish(&mut self, wait: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(s)) = self.0.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// `t1` for TCP (one connection), `l1` for TLS (one connection), `u1` for UDP.
pub fn transport_flag(transport: &str) -> &'static str {
    match transport {
        "tcp" => "t1",
        "tls" => "l1",
        _ => "u1",
    }
}

/// Whether this SIPp was built with TLS (Debian's `sip-tester` is not: it says "To use a
/// TLS transport you must compile SIPp with OpenSSL").
pub fn has_tls() -> bool {
    let out = sipp()
        .args([
            "-t",
            "l1",
            "-m",
            "1",
            "-timeout",
            "1s",
            "-nostdin",
            "127.0.0.1:9",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    !text.contains("compile SIPp with OpenSSL")
}

/// A SIPp UAS running `scenario` on ip:port, in the foreground so dropping it stops it.
pub fn uas(
    work: &Path,
    scenario: &str,
    ip: IpAddr,
    port: u16,
    transport: &str,
    extra: &[&str],
) -> Bg {
    let bg = Bg(sipp()
        .current_dir(work)
        .arg("-sf")
        .arg(scenarios().join(scenario))
        .args(["-t", transport_flag(transport), "-i", &ip.to_string()])
        .args(["-p", &port.to_string(), "-nostdin"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    std::thread::sleep(Duration::from_millis(300));
    bg
}

/// Registers `user` (password `password`) with the switch at `target`, contact ip:port.
pub fn register(
    work: &Path,
    target: &str,
    user: &str,
    password: &str,
    ip: IpAddr,
    port: u16,
    transport: &str,
) {
    let csv = work.join(format!("reg-{user}.csv"));
    std::fs::write(
        &csv,
        format!("SEQUENTIAL\n{user};[authentication username={user} password={password}];\n"),
    )
    .unwrap();
    let ok = sipp()
        .current_dir(work)
        .arg(target)
        .arg("-sf")
        .arg(scenarios().join("register_auth.xml"))
        .arg("-inf")
        .arg(&csv)
        .args([
            "-key",
            "contact_host",
            &ip.to_string(),
            "-key",
            "contact_port",
            &port.to_string(),
        ])
        .args([
            "-key",
            "expires",
            "600",
            "-m",
            "1",
            "-t",
            transport_flag(transport),
        ])
        .args(["-i", &ip.to_string(), "-p", &(port + 1).to_string()])
        .args(["-nostdin", "-timeout", "10s", "-timeout_error"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "SIPp registered {user}");
}

/// A SIPp UAC placing `calls` authenticated calls from `caller` to `callee` at `rate`/s,
/// holding each `hold_ms`; returns its output. Errors go to `uac-errors.log` in `work`.
#[allow(clippy::too_many_arguments)]
pub fn calls(
    work: &Path,
    target: &str,
    caller: (&str, &str),
    callee: &str,
    ip: IpAddr,
    transport: &str,
    calls: u32,
    rate: u32,
    hold_ms: u32,
) -> Output {
    let csv = work.join("uac.csv");
    std::fs::write(
        &csv,
        format!(
            "SEQUENTIAL\n{u};[authentication username={u} password={p}];{callee};\n",
            u = caller.0,
            p = caller.1
        ),
    )
    .unwrap();
    sipp()
        .current_dir(work)
        .arg(target)
        .arg("-sf")
        .arg(scenarios().join("uac_call_auth.xml"))
        .arg("-inf")
        .arg(&csv)
        .args([
            "-r",
            &rate.to_string(),
            "-m",
            &calls.to_string(),
            "-d",
            &hold_ms.to_string(),
        ])
        .args([
            "-t",
            transport_flag(transport),
            "-i",
            &ip.to_string(),
            "-p",
            "5072",
        ])
        .args(["-nostdin", "-timeout", "120s", "-timeout_error"])
        .args(["-trace_err", "-error_file", "uac-errors.log"])
        .output()
        .unwrap()
}

/// The number of successful calls SIPp reported, and the whole report for messages.
pub fn successful(out: &Output, work: &Path) -> (u64, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let errors = std::fs::read_to_string(work.join("uac-errors.log")).unwrap_or_default();
    let n = stdout
        .lines()
        .find(|l| l.contains("Successful call"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (n, format!("{stdout}\n{errors}"))
}

/// A SIPp UAC sending `count` MESSAGEs to `to` at `rate`/s (scenario `uac_message.xml`);
/// returns its output. Errors go to `uac-errors.log` in `work`.
pub fn messages(
    work: &Path,
    target: &str,
    to: &str,
    ip: IpAddr,
    count: u32,
    rate: u32,
    stat_file: &str,
) -> Output {
    sipp()
        .current_dir(work)
        .arg(target)
        .arg("-sf")
        .arg(scenarios().join("uac_message.xml"))
        .args(["-s", to, "-r", &rate.to_string(), "-m", &count.to_string()])
        .args(["-t", "u1", "-i", &ip.to_string(), "-p", "5073"])
        .args(["-nostdin", "-timeout", "60s", "-timeout_error"])
        .args(["-trace_err", "-error_file", "uac-errors.log"])
        .args(["-trace_stat", "-stf", stat_file])
        .output()
        .unwrap()
}

/// A SIPp UAC making `count` presence subscriptions of `watcher` to `presentity` at `rate`/s
/// (scenario `uac_subscribe.xml`), each held `hold_ms` before it unsubscribes.
#[allow(clippy::too_many_arguments)]
pub fn subscriptions(
    work: &Path,
    target: &str,
    watcher: (&str, &str),
    presentity: &str,
    ip: IpAddr,
    count: u32,
    rate: u32,
    hold_ms: u32,
) -> Output {
    subscribe_run(
        "uac_subscribe.xml",
        work,
        target,
        watcher,
        presentity,
        (ip, count, rate, hold_ms),
    )
}

/// `count` message-summary subscriptions of `subscriber` (user, password) to its own mailbox
/// through `mailbox` (its number or the voicemail number), each made, its empty summary
/// checked, held `hold_ms` and ended (`uac_subscribe_mwi.xml`).
#[allow(clippy::too_many_arguments)]
pub fn mwi_subscriptions(
    work: &Path,
    target: &str,
    subscriber: (&str, &str),
    mailbox: &str,
    ip: IpAddr,
    count: u32,
    rate: u32,
    hold_ms: u32,
) -> Output {
    subscribe_run(
        "uac_subscribe_mwi.xml",
        work,
        target,
        subscriber,
        mailbox,
        (ip, count, rate, hold_ms),
    )
}

fn subscribe_run(
    scenario: &str,
    work: &Path,
    target: &str,
    watcher: (&str, &str),
    presentity: &str,
    (ip, count, rate, hold_ms): (IpAddr, u32, u32, u32),
) -> Output {
    let csv = work.join("subscribe.csv");
    std::fs::write(
        &csv,
        format!(
            "SEQUENTIAL\n{u};[authentication username={u} password={p}];{presentity};\n",
            u = watcher.0,
            p = watcher.1
        ),
    )
    .unwrap();
    sipp()
        .current_dir(work)
        .arg(target)
        .arg("-sf")
        .arg(scenarios().join(scenario))
        .arg("-inf")
        .arg(&csv)
        .args(["-r", &rate.to_string(), "-m", &count.to_string()])
        .args(["-d", &hold_ms.to_string()])
        .args(["-t", "u1", "-i", &ip.to_string(), "-p", "5074"])
        .args(["-nostdin", "-timeout", "60s", "-timeout_error"])
        .args(["-trace_err", "-error_file", "uac-errors.log"])
        .output()
        .unwrap()
}

/// Writes `tone.pcmu` into `work`: one second of a `hz` sine at the test tone level,
/// encoded with the engine's PCMU encoder, raw (SIPp's `rtp_stream` sends a file's bytes as
/// they are, 160 per packet). `hz` should fit the second in whole periods (any whole number
/// of Hz does at 8 kHz) so the loop is seamless.
pub fn write_pcmu_tone(work: &Path, hz: f32) -> PathBuf {
    use super::audio;
    use switchboard_engine::media::{Codec, SampleRate};
    let a = audio::tone(
        hz,
        audio::TONE_DBFS,
        SampleRate::NARROW,
        Duration::from_secs(1),
    );
    let path = work.join("tone.pcmu");
    std::fs::write(&path, audio::encode(Codec::Pcmu, &a)).unwrap();
    path
}

/// A SIPp UAC placing `calls` authenticated calls with RTP (`uac_call_rtp.xml`: after the
/// ACK it streams `work/tone.pcmu` until it hangs up `hold_ms` later) from `caller` to
/// `callee` at `rate`/s over UDP, its media on ip:`media_port`; returns its output. Errors go
/// to `uac-errors.log` in `work`.
#[allow(clippy::too_many_arguments)]
pub fn calls_with_rtp(
    work: &Path,
    target: &str,
    caller: (&str, &str),
    callee: &str,
    ip: IpAddr,
    media_port: u16,
    calls: u32,
    rate: u32,
    hold_ms: u32,
) -> Output {
    let csv = work.join("uac.csv");
    std::fs::write(
        &csv,
        format!(
            "SEQUENTIAL\n{u};[authentication username={u} password={p}];{callee};\n",
            u = caller.0,
            p = caller.1
        ),
    )
    .unwrap();
    sipp()
        .current_dir(work)
        .arg(target)
        .arg("-sf")
        .arg(scenarios().join("uac_call_rtp.xml"))
        .arg("-inf")
        .arg(&csv)
        .args(["-r", &rate.to_string(), "-m", &calls.to_string()])
        .args(["-d", &hold_ms.to_string()])
        .args(["-t", "u1", "-i", &ip.to_string(), "-p", "5072"])
        .args(["-mi", &ip.to_string(), "-mp", &media_port.to_string()])
        .args(["-nostdin", "-timeout", "60s", "-timeout_error"])
        .args(["-trace_err", "-error_file", "uac-errors.log"])
        .output()
        .unwrap()
}

impl Bg {
    /// Stops this SIPp, run with `-rtp_echo` in `work`, and returns the packets it echoed.
    /// SIGUSR2 makes SIPp write its screens to `<scenario>_<pid>_screen.log` (flushed when it
    /// exits), whose "Total echo RTP pckts 1st stream" line has the count; SIGUSR1 then ends
    /// it gracefully. Two dumps, as SIPp leaves that line out of a screen drawn in the
    /// millisecond of its last report (which is also why the closing screen on stdout never
    /// has it). `None` when SIPp did not stop or no dump had the line.
    pub fn stop_and_count_echoed(mut self, work: &Path) -> Option<u64> {
        let pid = self.0.id() as i32;
        for signal in [libc::SIGUSR2, libc::SIGUSR2, libc::SIGUSR1] {
            // SAFETY: kill(2) on our own child, which is not reaped before `finish` below
            unsafe {
                libc::kill(pid, signal);
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        self.finish(Duration::from_secs(10))?;
        let suffix = format!("_{pid}_screen.log");
        let log = std::fs::read_dir(work)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().ends_with(&suffix))
            })?;
        std::fs::read_to_string(log)
            .ok()?
            .lines()
            .filter(|l| l.contains("Total echo RTP pckts 1st stream"))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .max()
    }
}
