//! SIPp over TLS (`-t l1`): a SIPp UAC registers over TLS with digest and places calls to a
//! phone registered over TLS. Debian's SIPp (`sip-tester`) is built without OpenSSL; with it
//! the test says so and stops (the TLS calls of `tests/tls.rs` and `tests/baresip_tls.rs`
//! cover the switch's side). Point `SIPP` at a SIPp built with TLS to run it:
//! `cmake -DUSE_SSL=1 -DUSE_PCAP=0 .. && make`, then
//! `SIPP=/path/to/sipp cargo test --test sipp_tls`.

mod common;

use std::time::Duration;

use common::sipp;
use common::tls::{client_trusting, lab_cert};
use common::ua::Ua;
use common::{fresh_ip, Options, Switch, TempDir};
use switchboard_engine::sip::Method;

const CALLS: u32 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_registers_and_calls_over_tls() {
    if !sipp::has_tls() {
        eprintln!(
            "skipped: this SIPp was built without TLS (Debian's sip-tester lacks OpenSSL); \
             tests/tls.rs covers registering and calling over TLS"
        );
        return;
    }
    let sw = Switch::with(Options {
        config: "[auth]\nalgorithms = [\"MD5\"]\n".into(),
        ..Default::default()
    });
    sw.add_account("sippuac", "sippuac-pw");
    sw.add_account("1001", "pw-1001");
    let work = TempDir::new("sipp-tls");
    // SIPp loads a certificate and key of its own even as a client
    let (c, k) = common::tls::make_cert(&work.0, "sipp", "sipp", "localhost");
    std::fs::copy(c, work.0.join("cacert.pem")).unwrap();
    std::fs::copy(k, work.0.join("cakey.pem")).unwrap();

    let mut callee = Ua::tls(
        sw.sip,
        sw.tls,
        "1001",
        "pw-1001",
        client_trusting(&lab_cert(&sw.data)),
    )
    .await
    .unwrap();
    assert_eq!(callee.register(600).await.status(), Some(200));
    let answering = tokio::spawn(async move {
        for _ in 0..CALLS {
            let inv = callee.expect_request(Method::Invite).await;
            assert_eq!(inv.top_via().unwrap().transport(), "TLS");
            callee.accept(&inv).await;
            callee.expect_request(Method::Ack).await;
            let bye = callee.expect_request(Method::Bye).await;
            callee.reply(&bye, 200);
        }
    });

    let uac_ip = fresh_ip();
    let target = sw.tls.to_string();
    let w = work.0.clone();
    let out = tokio::task::spawn_blocking(move || {
        sipp::register(&w, &target, "sippuac", "sippuac-pw", uac_ip, 5080, "tls");
        sipp::calls(
            &w,
            &target,
            ("sippuac", "sippuac-pw"),
            "1001",
            uac_ip,
            "tls",
            CALLS,
            10,
            100,
        )
    })
    .await
    .unwrap();
    let (ok, report) = sipp::successful(&out, &work.0);
    assert!(out.status.success(), "SIPp over TLS:\n{report}");
    assert_eq!(ok, CALLS as u64);
    tokio::time::timeout(Duration::from_secs(10), answering)
        .await
        .unwrap()
        .unwrap();
}
