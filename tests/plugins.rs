//! Routing plugins in a running switch: reload by CLI, HTTP, SIGHUP and file change; a broken
//! version is refused with its reason and the old one keeps routing; a plugin error or
//! runaway loop fails that one call with 500/503 while other calls go through; the HTTP
//! forwarding API and its authentication.

mod common;

use std::path::Path;
use std::time::Duration;

use common::ua::{Proto, Ua};
use common::{basic, cli, http, Options, Switch, TempDir};
use switchboard_engine::sip::Method;

const PW: &str = "test-password";

fn version(tag: &str) -> String {
    format!(
        r#"function route(req)
  if req.dest.number == "1099" then return reject(480, "Version {tag}") end
end
tests = {{ {{ dialed = "1099", expect = reject(480, "Version {tag}") }} }}
"#
    )
}

const BROKEN_TEST: &str = r#"function route(req) return reject(486, "Busy Here") end
tests = { { dialed = "1001", expect = deliver("1001") } }
"#;

fn switch_with_plugins(dir: &Path, extra: &str) -> Switch {
    let sw = Switch::with(Options {
        config: format!("[plugins]\nwatch = false\n{extra}"),
        args: vec!["--plugins".into(), dir.display().to_string()],
        ..Default::default()
    });
    sw.add_account("1001", PW);
    sw.add_account("1003", PW);
    sw
}

/// The reason phrase a call to 1099 is refused with: which version routed it.
async fn probe(caller: &mut Ua) -> String {
    let mut out = caller.invite("1099").await;
    let r = caller.invite_outcome(&mut out).await;
    assert_eq!(r.status(), Some(480));
    r.reason().unwrap_or("").to_owned()
}

async fn caller(sw: &Switch) -> Ua {
    let mut ua = Ua::new(sw.sip, "1003", PW, Proto::Udp).await;
    assert_eq!(ua.register(600).await.status(), Some(200));
    ua
}

#[tokio::test]
async fn reload_by_cli_and_http_refuses_broken_versions_and_keeps_the_old_one() {
    let dir = TempDir::new("plugins");
    std::fs::write(dir.0.join("route.lua"), version("A")).unwrap();
    let sw = switch_with_plugins(&dir.0, "");
    let mut c = caller(&sw).await;
    assert_eq!(probe(&mut c).await, "Version A");

    std::fs::write(dir.0.join("route.lua"), version("B")).unwrap();
    let (code, out, err) = cli(&["reload"], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version 2"), "{out}");
    assert_eq!(probe(&mut c).await, "Version B");

    // a version whose tests fail: exit 1, the reason, version 2 keeps routing
    std::fs::write(dir.0.join("route.lua"), BROKEN_TEST).unwrap();
    let (code, _, err) = cli(&["reload"], Some(&sw.data));
    assert_eq!(code, 1);
    assert!(err.contains("route.lua: test 1"), "{err}");
    assert!(err.contains("version 2 keeps running"), "{err}");
    assert_eq!(probe(&mut c).await, "Version B");

    // the same through HTTP: 422 with the error and the running version
    std::fs::write(
        dir.0.join("route.lua"),
        "function route(req) return deliver( end",
    )
    .unwrap();
    let (code, body) = http(sw.http, "POST", "/admin/plugins/reload", &[], Some(""));
    assert_eq!(code, 422, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["code"], "plugin_rejected");
    assert!(
        v["message"].as_str().unwrap().starts_with("route.lua:"),
        "{body}"
    );
    assert_eq!(v["running"]["version"], 2);
    std::fs::write(dir.0.join("route.lua"), version("C")).unwrap();
    let (code, body) = http(sw.http, "POST", "/admin/plugins/reload", &[], Some(""));
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["version"], 3);
    assert_eq!(v["files"][0], "route.lua");
    assert_eq!(probe(&mut c).await, "Version C");

    let m = sw.metrics();
    assert_eq!(common::metric_value(&m, "switchboard_plugin_version"), 3.0);
    assert_eq!(
        common::metric_value(&m, "switchboard_plugin_reloads_total{outcome=\"rejected\"}"),
        2.0
    );
    assert_eq!(
        common::metric_value(&m, "switchboard_plugin_reloads_total{outcome=\"accepted\"}"),
        2.0
    );
    // each call records the version that routed it: one probe on 1, two on 2, one on 3
    for (v, calls) in [(1, 1.0), (2, 2.0), (3, 1.0)] {
        assert_eq!(
            common::metric_value(
                &m,
                &format!("switchboard_plugin_routed_total{{version=\"{v}\"}}")
            ),
            calls,
            "version {v}: {m}"
        );
    }
}

#[tokio::test]
async fn sighup_and_a_changed_file_reload_too() {
    let dir = TempDir::new("plugins-watch");
    std::fs::write(dir.0.join("route.lua"), version("A")).unwrap();
    let sw = Switch::with(Options {
        args: vec!["--plugins".into(), dir.0.display().to_string()],
        ..Default::default()
    });
    sw.add_account("1003", PW);
    let mut c = caller(&sw).await;
    assert_eq!(probe(&mut c).await, "Version A");

    std::fs::write(dir.0.join("route.lua"), version("B")).unwrap();
    assert!(
        common::eventually(Duration::from_secs(10), || sw
            .metric("switchboard_plugin_version")
            == 2.0),
        "the watcher reloaded the changed file"
    );
    assert_eq!(probe(&mut c).await, "Version B");

    // an unchanged set reloads on SIGHUP as a new version
    let pid = sw.child.as_ref().unwrap().id() as i32;
    unsafe {
        libc::kill(pid, libc::SIGHUP);
    }
    assert!(common::eventually(Duration::from_secs(10), || sw
        .metric("switchboard_plugin_version")
        == 3.0));
    assert_eq!(probe(&mut c).await, "Version B");

    // a broken file is refused by the watcher as well
    std::fs::write(dir.0.join("route.lua"), BROKEN_TEST).unwrap();
    assert!(common::eventually(Duration::from_secs(10), || sw.metric(
        "switchboard_plugin_reloads_total{outcome=\"rejected\"}"
    ) == 1.0));
    assert_eq!(probe(&mut c).await, "Version B");
    assert_eq!(sw.metric("switchboard_plugin_version"), 3.0);
}

#[tokio::test]
async fn a_failing_plugin_fails_one_call_and_the_others_go_through() {
    let dir = TempDir::new("plugins-fail");
    std::fs::write(
        dir.0.join("route.lua"),
        r#"function route(req)
  if req.dest.number == "1666" then error("no route for this one") end
  if req.dest.number == "1777" then while true do end end
  if req.dest.number == "1888" then local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 65536) end end
end
"#,
    )
    .unwrap();
    let sw = switch_with_plugins(&dir.0, "max_memory_mb = 4\n");
    let mut c = caller(&sw).await;
    let mut callee = Ua::new(sw.sip, "1001", PW, Proto::Udp).await;
    assert_eq!(callee.register(600).await.status(), Some(200));
    for (number, code, reason) in [
        ("1666", 500, "Routing Plugin Error"),
        ("1777", 503, "Routing Plugin Timeout"),
        ("1888", 500, "Routing Plugin Out Of Memory"),
    ] {
        let mut out = c.invite(number).await;
        let r = c.invite_outcome(&mut out).await;
        assert_eq!(r.status(), Some(code), "{number}");
        assert_eq!(r.reason(), Some(reason), "{number}");
        // and a normal call right after works
        let mut out = c.invite("1001").await;
        let inv = callee.expect_request(Method::Invite).await;
        callee.accept(&inv).await;
        assert_eq!(c.invite_outcome(&mut out).await.status(), Some(200));
    }
    let m = sw.metrics();
    for kind in ["error", "timeout", "memory"] {
        assert_eq!(
            common::metric_value(
                &m,
                &format!("switchboard_plugin_failures_total{{kind=\"{kind}\"}}")
            ),
            1.0,
            "{kind}: {m}"
        );
    }
    assert_eq!(
        common::metric_value(&m, "switchboard_call_failures_total"),
        0.0
    );
}

#[tokio::test]
async fn a_plugin_that_does_not_load_stops_the_start_with_its_reason() {
    let dir = TempDir::new("plugins-bad");
    std::fs::write(dir.0.join("x.lua"), "route = 42").unwrap();
    let (code, _, err) = cli(
        &[
            "serve",
            "--plugins",
            &dir.0.display().to_string(),
            "--sip",
            &format!("{}:5060", common::fresh_ip()),
        ],
        Some(&dir.0.join("data")),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("x.lua") && err.contains("must be a function"),
        "{err}"
    );
}

#[test]
fn plugin_check_validates_a_file_offline() {
    let dir = TempDir::new("plugin-check");
    let (code, out, err) = cli(&["plugin", "check", "plugins/default.lua"], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("default.lua: compiles") && out.contains("tests passed"),
        "{out}"
    );
    let f = dir.0.join("broken.lua");
    std::fs::write(&f, BROKEN_TEST).unwrap();
    let (code, _, err) = cli(&["plugin", "check", &f.display().to_string()], None);
    assert_eq!(code, 1);
    assert!(
        err.contains("broken.lua: test 1") && err.contains("expected deliver(\"1001\")"),
        "{err}"
    );
    std::fs::write(
        &f,
        "os.execute('touch /tmp/pwned')\nfunction route(req) end",
    )
    .unwrap();
    let (code, _, err) = cli(&["plugin", "check", &f.display().to_string()], None);
    assert_eq!(code, 1);
    assert!(err.contains("os"), "the sandbox has no os: {err}");
}

#[tokio::test]
async fn the_forwarding_api_needs_the_subscriber_or_the_operator() {
    let sw = Switch::with(Options {
        config: "[http]\nadmin_token = \"operator-token\"\n".into(),
        ..Default::default()
    });
    sw.add_account("1001", PW);
    sw.add_account("1002", PW);
    let path = "/v1/accounts/1001/forwarding";
    let mine = basic("1001", PW);
    let (code, body) = http(sw.http, "GET", path, &[("Authorization", &mine)], None);
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["forwarding"]["always"].is_null());

    let (code, body) = http(
        sw.http,
        "PUT",
        path,
        &[("Authorization", &mine)],
        Some(r#"{"always": "010-1234-5678", "busy": "1002"}"#),
    );
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["forwarding"]["always"], "+821012345678",
        "stored canonical"
    );
    assert_eq!(v["forwarding"]["busy"], "1002");

    // the same 401 for no credentials, a wrong password, someone else, an unknown number
    let wrong = basic("1001", "not-it");
    let other = basic("1002", PW);
    let unknown = basic("1009", PW);
    let mut answers = Vec::new();
    for (p, auth) in [
        (path, None),
        (path, Some(&wrong)),
        (path, Some(&other)),
        ("/v1/accounts/1009/forwarding", Some(&unknown)),
    ] {
        let headers: Vec<(&str, &str)> = auth
            .map(|a| ("Authorization", a.as_str()))
            .into_iter()
            .collect();
        answers.push(http(sw.http, "GET", p, &headers, None));
    }
    for a in &answers {
        assert_eq!(a, &answers[0], "uniform answers");
    }
    assert_eq!(answers[0].0, 401);

    let admin = "Bearer operator-token";
    let (code, body) = http(
        sw.http,
        "GET",
        "/v1/accounts/1009/forwarding",
        &[("Authorization", admin)],
        None,
    );
    assert_eq!(code, 404, "{body}");
    let (code, body) = http(
        sw.http,
        "PUT",
        "/v1/accounts/1002/forwarding",
        &[("Authorization", admin)],
        Some(r#"{"no_answer": "*72", "ring_secs": 10}"#),
    );
    assert_eq!(code, 400, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["code"], "bad_forwarding");
    let (code, body) = http(
        sw.http,
        "PUT",
        "/v1/accounts/1002/forwarding",
        &[("Authorization", admin)],
        Some("{not json"),
    );
    assert_eq!(code, 400, "{body}");
    let (code, _) = http(sw.http, "POST", "/admin/plugins/reload", &[], Some(""));
    assert_eq!(
        code, 401,
        "a token is configured: loopback alone is not enough"
    );
    let (code, _) = http(
        sw.http,
        "POST",
        "/admin/plugins/reload",
        &[("Authorization", admin)],
        Some(""),
    );
    assert_eq!(code, 200);
}

#[tokio::test]
async fn a_call_ringing_across_a_reload_is_forwarded_by_the_version_it_started_on() {
    let dir = TempDir::new("plugins-inflight");
    let a = r#"function route(req) return pass() end
tests = { { dialed = "1002", expect = pass() } }
"#;
    let b = r#"function route(req)
  if req.dest.number == "1002" then return reject(480, "Version B") end
end
tests = { { dialed = "1002", expect = reject(480, "Version B") } }
"#;
    std::fs::write(dir.0.join("route.lua"), a).unwrap();
    let sw = switch_with_plugins(&dir.0, "");
    sw.add_account("1002", PW);
    let (code, _, err) = cli(
        &[
            "forward",
            "set",
            "1001",
            "no-answer",
            "1002",
            "--ring-secs",
            "5",
        ],
        Some(&sw.data),
    );
    assert_eq!(code, 0, "{err}");
    let mut c = caller(&sw).await;
    let mut alice = Ua::new(sw.sip, "1001", PW, Proto::Udp).await;
    assert_eq!(alice.register(600).await.status(), Some(200));
    let mut bob = Ua::new(sw.sip, "1002", PW, Proto::Udp).await;
    assert_eq!(bob.register(600).await.status(), Some(200));

    let mut out = c.invite("1001").await;
    let inv = alice.expect_request(Method::Invite).await;
    let tag = alice.token();
    alice.reply_tagged(&inv, 180, &tag, None);
    // version 2 arrives while 1001 rings
    std::fs::write(dir.0.join("route.lua"), b).unwrap();
    let (code, _, err) = cli(&["reload"], Some(&sw.data));
    assert_eq!(code, 0, "{err}");
    let cancel = alice
        .recv_where(Duration::from_secs(10), |m| {
            m.method() == Some(Method::Cancel)
        })
        .await
        .expect("no answer within 5 s");
    alice.reply(&cancel, 200);
    alice.reply_tagged(&inv, 487, &tag, None);
    // the forward to 1002 is routed by version 1, which lets it ring
    let inv2 = bob.expect_request(Method::Invite).await;
    bob.accept(&inv2).await;
    assert_eq!(c.invite_outcome(&mut out).await.status(), Some(200));
    // a new call to 1002 is routed by version 2
    let mut out = c.invite("1002").await;
    let r = c.invite_outcome(&mut out).await;
    assert_eq!((r.status(), r.reason()), (Some(480), Some("Version B")));
}
