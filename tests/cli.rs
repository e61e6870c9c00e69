//! The command-line contract: account administration with clear errors and exit codes, and
//! `serve` failing in one clear line when it cannot start.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{cli, fresh_ip, Switch, TempDir, BIN};

#[test]
fn accounts_are_added_listed_changed_and_removed_on_a_stopped_switch() {
    let dir = TempDir::new("cli");
    let data = dir.0.join("data");
    let (code, out, _) = cli(
        &["account", "add", "011-123-4567", "--password", "first-pw"],
        Some(&data),
    );
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "added +82111234567");
    let (code, _, err) = cli(
        &[
            "account",
            "add",
            "+82 11 123 4567",
            "--password",
            "other-pw",
        ],
        Some(&data),
    );
    assert_eq!(
        code, 1,
        "the same subscriber in another spelling already exists"
    );
    assert!(err.contains("already exists"), "{err}");
    let (code, out, _) = cli(&["account", "list", "--json"], Some(&data));
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["number"], "+82111234567");
    assert!(
        !out.contains("first-pw"),
        "passwords are never shown or stored"
    );
    let (code, _, _) = cli(
        &["account", "passwd", "0111234567", "--password", "second-pw"],
        Some(&data),
    );
    assert_eq!(code, 0);
    let (code, out, _) = cli(&["account", "remove", "0111234567"], Some(&data));
    assert_eq!((code, out.trim()), (0, "removed +82111234567"));
    let (code, _, err) = cli(&["account", "remove", "0111234567"], Some(&data));
    assert_eq!(code, 1);
    assert!(err.contains("no account"), "{err}");
}

#[test]
fn bad_account_input_is_refused_with_a_reason() {
    let dir = TempDir::new("cli-bad");
    let data = dir.0.join("data");
    let (code, _, err) = cli(
        &["account", "add", "not a number!", "--password", "abcdef"],
        Some(&data),
    );
    assert_eq!(code, 1);
    assert!(err.contains("not a phone number or name"), "{err}");
    let (code, _, err) = cli(&["account", "add", "1001", "--password", "ab"], Some(&data));
    assert_eq!(code, 1);
    assert!(err.contains("password"), "{err}");
    let (code, _, _) = cli(&["account", "add", "1001"], Some(&data));
    assert_eq!(code, 2, "a missing password is a usage error");
}

#[test]
fn the_password_can_come_from_stdin() {
    let dir = TempDir::new("cli-stdin");
    let data = dir.0.join("data");
    let mut child = Command::new(BIN)
        .args(["account", "add", "1001", "--password-stdin", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped-secret\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn account_commands_reach_a_running_switch_through_its_control_socket() {
    let sw = Switch::start();
    let (code, out, err) = cli(
        &["account", "add", "1001", "--password", "live-pw"],
        Some(&sw.data),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "added 1001");
    let (code, out, _) = cli(&["account", "list"], Some(&sw.data));
    assert_eq!(code, 0);
    assert!(out.starts_with("1001\t"), "{out}");
}

#[test]
fn forwarding_is_set_shown_and_cleared_on_a_stopped_switch() {
    let dir = TempDir::new("cli-fwd");
    let data = dir.0.join("data");
    let (code, _, _) = cli(
        &["account", "add", "1001", "--password", "pw-1001"],
        Some(&data),
    );
    assert_eq!(code, 0);
    let (code, out, err) = cli(
        &["forward", "set", "1001", "always", "011-123-4567"],
        Some(&data),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("always\t+82111234567"), "{out}");
    let (code, _, err) = cli(
        &[
            "forward",
            "set",
            "1001",
            "no-answer",
            "alice",
            "--ring-secs",
            "12",
        ],
        Some(&data),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = cli(&["forward", "show", "1001", "--json"], Some(&data));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["forwarding"]["always"], "+82111234567");
    assert_eq!(v["forwarding"]["no_answer"], "alice");
    assert_eq!(v["forwarding"]["ring_secs"], 12);
    let (code, out, _) = cli(&["forward", "clear", "1001", "all"], Some(&data));
    assert_eq!(code, 0);
    assert!(
        out.contains("always\t-") && out.contains("no-answer\t-"),
        "{out}"
    );

    // errors: one line, exit 1; bad usage: exit 2
    let (code, _, err) = cli(&["forward", "set", "1001", "always", "1001"], Some(&data));
    assert_eq!(code, 1);
    assert!(err.contains("itself"), "{err}");
    let (code, _, err) = cli(&["forward", "set", "1002", "busy", "1001"], Some(&data));
    assert_eq!(code, 1);
    assert!(err.contains("no account 1002"), "{err}");
    let (code, _, err) = cli(&["forward", "set", "1001", "busy", "1002;lr"], Some(&data));
    assert_eq!(code, 1);
    assert!(err.contains("to forward to"), "{err}");
    let (code, _, _) = cli(
        &["forward", "set", "1001", "sometimes", "1002"],
        Some(&data),
    );
    assert_eq!(code, 2);
}

#[test]
fn forwarding_commands_reach_a_running_switch() {
    let sw = Switch::start();
    let (code, _, err) = cli(
        &["account", "add", "1001", "--password", "live-pw"],
        Some(&sw.data),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&["forward", "set", "1001", "busy", "1002"], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("busy\t1002"), "{out}");
    let (code, out, _) = cli(&["forward", "show", "1001"], Some(&sw.data));
    assert_eq!(code, 0);
    assert!(out.contains("busy\t1002"), "{out}");
}

fn serve_fails(args: &[&str]) -> (i32, String, Duration) {
    let t = Instant::now();
    let out = Command::new(BIN).arg("serve").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t.elapsed(),
    )
}

#[test]
fn a_port_in_use_is_reported_in_one_line() {
    let sw = Switch::start();
    let dir = TempDir::new("cli-port");
    let http = format!("{}:8081", sw.sip.ip());
    let (code, err, took) = serve_fails(&[
        "--sip",
        &sw.sip.to_string(),
        "--http",
        &http,
        "--data",
        dir.0.join("data").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let line = err.lines().last().unwrap_or("");
    assert!(
        line.starts_with("switchboard: cannot listen for SIP/TCP on"),
        "{err}"
    );
    assert!(took < Duration::from_secs(5));
}

#[test]
fn an_unreadable_config_or_data_directory_is_reported_in_one_line() {
    let dir = TempDir::new("cli-cfg");
    let (code, err, _) = serve_fails(&["--config", dir.0.join("nope.toml").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.trim()
            .starts_with("switchboard: cannot read config file"),
        "{err}"
    );

    std::fs::write(dir.0.join("bad.toml"), "[sip]\nlisten = 5\n").unwrap();
    let (code, err, _) = serve_fails(&["--config", dir.0.join("bad.toml").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid config"), "{err}");

    let file = dir.0.join("a-file");
    std::fs::write(&file, "").unwrap();
    let ip = fresh_ip();
    let (code, err, _) = serve_fails(&[
        "--data",
        file.join("data").to_str().unwrap(),
        "--sip",
        &format!("{ip}:5060"),
        "--http",
        &format!("{ip}:8080"),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.trim()
            .starts_with("switchboard: cannot open data directory"),
        "{err}"
    );
}

#[test]
fn a_configured_speech_program_that_is_missing_is_reported_in_one_line() {
    let dir = TempDir::new("cli-tts");
    std::fs::write(dir.0.join("tts.toml"), "[voicemail]\ntts = \"espeak-ng\"\n").unwrap();
    let ip = fresh_ip();
    let data = dir.0.join("data");
    // a PATH with no espeak-ng in it
    let out = Command::new(BIN)
        .env("PATH", &dir.0)
        .arg("serve")
        .arg("--config")
        .arg(dir.0.join("tts.toml"))
        .arg("--data")
        .arg(&data)
        .args([
            "--sip",
            &format!("{ip}:5060"),
            "--http",
            &format!("{ip}:8080"),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = err.lines().last().unwrap_or("");
    assert!(
        line.starts_with("switchboard: text to speech: espeak-ng not found;")
            && line.contains("tts = \"none\""),
        "{err}"
    );
    // refused before the data directory was touched
    assert!(!data.exists());
}

#[test]
fn a_second_switch_on_the_same_data_directory_is_refused() {
    let sw = Switch::start();
    let ip = fresh_ip();
    let (code, err, _) = serve_fails(&[
        "--data",
        sw.data.to_str().unwrap(),
        "--sip",
        &format!("{ip}:5060"),
        "--http",
        &format!("{ip}:8080"),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("is in use by a running switch"), "{err}");
}

#[test]
fn auth_off_warns_loudly() {
    let mut sw = Switch::with(common::Options {
        auth_off: true,
        ..Default::default()
    });
    // the warning goes to stderr at start; restart capturing it
    sw.stop();
    let ip = fresh_ip();
    let mut child = Command::new(BIN)
        .args(["serve", "--auth", "off", "--data"])
        .arg(&sw.data)
        .args([
            "--sip",
            &format!("{ip}:5060"),
            "--http",
            &format!("{ip}:8080"),
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // read what the switch says at start, until the warning shows or 10 s pass
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text.to_lowercase().contains("authentication is off") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        text.contains("authentication is off") || text.contains("AUTHENTICATION IS OFF"),
        "{text}"
    );
}
