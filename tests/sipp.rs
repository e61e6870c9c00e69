//! Interoperability with SIPp, a SIP tool nobody here wrote: a SIPp UAS registers as a
//! subscriber (digest, MD5), a SIPp UAC places 500 authenticated calls through the switch at
//! 100 calls/s, over UDP and over TCP. Every call must succeed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{fresh_ip, Options, Switch, TempDir};

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sipp")
}

fn sipp() -> Command {
    let found = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        found.is_ok(),
        "SIPp is required for this test (Debian package sip-tester)"
    );
    Command::new("sipp")
}

struct Bg(Child);
impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_calls(transport: &str) {
    let sw = Switch::with(Options {
        config: "[auth]\nalgorithms = [\"MD5\"]\n".into(),
        ..Default::default()
    });
    sw.add_account("sippuas", "sippuas-pw");
    sw.add_account("sippuac", "sippuac-pw");
    let work = TempDir::new("sipp");
    let uas_ip = fresh_ip();
    let uac_ip = fresh_ip();
    let target = sw.sip.to_string();
    let t = if transport == "tcp" { "t1" } else { "u1" };

    // the callee: a SIPp UAS on uas_ip:5070
    let uas = Bg(sipp()
        .current_dir(&work.0)
        .args(["-sf"])
        .arg(scenarios().join("uas_call.xml"))
        .args([
            "-t",
            t,
            "-i",
            &uas_ip.to_string(),
            "-p",
            "5070",
            // in the foreground, so dropping the child stops it (-bg would detach it)
            "-nostdin",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    std::thread::sleep(Duration::from_millis(300));

    // registered as subscriber "sippuas" with its address as contact
    std::fs::write(
        work.0.join("uas.csv"),
        "SEQUENTIAL\nsippuas;[authentication username=sippuas password=sippuas-pw];\n",
    )
    .unwrap();
    let reg = sipp()
        .current_dir(&work.0)
        .arg(&target)
        .arg("-sf")
        .arg(scenarios().join("register_auth.xml"))
        .args([
            "-inf",
            "uas.csv",
            "-key",
            "contact_host",
            &uas_ip.to_string(),
            "-key",
            "contact_port",
            "5070",
        ])
        .args([
            "-key",
            "expires",
            "600",
            "-m",
            "1",
            "-t",
            t,
            "-i",
            &uas_ip.to_string(),
            "-p",
            "5071",
        ])
        .args(["-nostdin", "-timeout", "10s", "-timeout_error"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(reg.success(), "SIPp UAS registered");

    // the caller: 500 calls at 100 calls/s, each challenged and answered with credentials
    std::fs::write(
        work.0.join("uac.csv"),
        "SEQUENTIAL\nsippuac;[authentication username=sippuac password=sippuac-pw];sippuas;\n",
    )
    .unwrap();
    let out = sipp()
        .current_dir(&work.0)
        .arg(&target)
        .arg("-sf")
        .arg(scenarios().join("uac_call_auth.xml"))
        .args([
            "-inf", "uac.csv", "-r", "100", "-m", "500", "-d", "500", "-t", t,
        ])
        .args([
            "-i",
            &uac_ip.to_string(),
            "-p",
            "5072",
            "-nostdin",
            "-timeout",
            "60s",
            "-timeout_error",
        ])
        .args(["-trace_err", "-error_file", "uac-errors.log"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let errors = std::fs::read_to_string(work.0.join("uac-errors.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "SIPp UAC reported failed calls ({transport}):\n{stdout}\n{errors}"
    );
    let ok_line = stdout
        .lines()
        .find(|l| l.contains("Successful call"))
        .unwrap_or("");
    assert!(
        ok_line.trim_end().ends_with("500"),
        "500 successful calls: {ok_line}"
    );
    assert!(common::eventually(Duration::from_secs(3), || {
        sw.metric("switchboard_calls_total{outcome=\"answered\"}") == 500.0
    }));
    drop(uas);
}

#[test]
fn sipp_places_500_calls_at_100_per_second_over_udp_with_no_failure() {
    run_calls("udp");
}

#[test]
fn sipp_places_500_calls_at_100_per_second_over_tcp_with_no_failure() {
    run_calls("tcp");
}
