//! The operator console in a real browser: a switch with imported call records serves
//! `/console`, headless Chromium loads it with the admin token in the URL fragment, and the
//! page it renders from the live API shows, first, one bar per imported day in the calls chart
//! and its empty states for what is not live yet (no calls, no devices, no bans); then, with
//! two test phones registered over SIP, a call between them ended (today's record) and another
//! one up, and a scanner banned: today's bar too, the on-net trunk, the live call's row (its
//! caller, callee and state), both registrations and the ban, numbers masked in the middle as
//! the logs mask them and never in full. The page has no JavaScript error, a screenshot shows
//! more than a blank page, and without the token the page shows its sign-in form and no data.
//!
//! Skips, saying so, when Chromium is not installed (except in CI, which installs it).

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::ua::{Call, Ua};
use common::{eventually_async, fresh_ip, http, http_raw, Options, Switch, TempDir};
use serde_json::{json, Value};
use switchboard_engine::numbering::Redacted;
use switchboard_engine::sip::{Method, RequestBuilder};

const TOKEN: &str = "console-browser-token";
const DAY_MS: u64 = 86_400_000;
/// Days with imported calls (within the console's default range, the last 30 days).
const DAYS_AGO: [u64; 5] = [1, 2, 4, 7, 12];
/// The two test phones' numbers (in the switch's own range).
const ALICE: &str = "+82111230001";
const BOB: &str = "+82111230002";

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH")?
                .to_str()?
                .split(':')
                .map(|d| Path::new(d).join(name))
                .find(|p| p.is_file())
        })
}

/// Runs headless Chromium on `url` with `args`; the page's timers and fetches run on
/// virtual time until they settle (at most the budget), so the output is the page as drawn.
fn browse(browser: &Path, profile: &Path, url: &str, args: &[&str]) -> Output {
    let child = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // a browser that hangs must not hang the suite
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            if unsafe { libc::kill(pid as i32, 0) } != 0 {
                return;
            }
        }
        unsafe {
            libc::kill(pid as i32, libc::SIGKILL);
        }
    });
    let out = child.wait_with_output().expect("chromium output");
    let _ = watchdog.join();
    out
}

fn record(id: u64, setup: u64, country: &str, trunk: &str, talk_secs: Option<u64>) -> Value {
    json!({
        "id": id,
        "country": country,
        "trunk": trunk,
        "setup_unix_ms": setup,
        "answer_unix_ms": talk_secs.map(|_| setup + 2_000),
        "end_unix_ms": setup + 2_000 + talk_secs.unwrap_or(0) * 1000,
        "outcome": if talk_secs.is_some() { "answered" } else { "no-answer" },
        "charge": talk_secs.map(|_| json!({"amount_minor": 250, "currency": "EUR"})),
    })
}

/// The text of the element with `id` up to the end of the element: enough for counting what
/// is inside a chart's box (its SVG has no `div`).
fn element<'a>(dom: &'a str, id: &str) -> &'a str {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} in the page:\n{dom}"));
    let rest = &dom[at..];
    &rest[..rest.find("</div>").unwrap_or(rest.len())]
}

/// Lines of the browser's log that report a page error or a failed request.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains("Uncaught")
                || (l.contains("CONSOLE") && l.contains(":ERROR:"))
                || l.contains("Refused to")
                || l.contains("Failed to load resource")
        })
        .collect()
}

/// A phone on an address of its own (the switch trusts no source here: each has its own
/// request budget), registered as `number`.
async fn phone(sw: &Switch, number: &str) -> Ua {
    let pw = format!("pw-{number}");
    sw.add_account(number, &pw);
    let mut ua = Ua::on(sw.sip, SocketAddr::new(fresh_ip(), 0), number, &pw).await;
    assert_eq!(
        ua.register(600).await.status(),
        Some(200),
        "{number} registers"
    );
    ua
}

/// `caller` calls `callee`, who answers: the call as the caller sees it.
async fn answered_call(caller: &mut Ua, callee: &mut Ua, dial: &str) -> Call {
    let mut out = caller.invite(dial).await;
    let inv = callee.expect_request(Method::Invite).await;
    callee.accept(&inv).await;
    let ok = caller.invite_outcome(&mut out).await;
    assert_eq!(ok.status(), Some(200), "the call is answered");
    callee.expect_request(Method::Ack).await;
    out
}

/// One OPTIONS with a scanner's User-Agent from a fresh address: banned at once.
fn scan(server: SocketAddr) -> IpAddr {
    let ip = fresh_ip();
    let sock = UdpSocket::bind(SocketAddr::new(ip, 0)).unwrap();
    let local = sock.local_addr().unwrap();
    let uri = format!("sip:100@{server}");
    let options = RequestBuilder::new("OPTIONS", &uri)
        .header(
            "Via",
            &format!("SIP/2.0/UDP {local};branch=z9hG4bKscan1;rport"),
        )
        .header("Max-Forwards", "70")
        .header("From", &format!("<sip:scan@{server}>;tag=s1"))
        .header("To", &format!("<{uri}>"))
        .header("Call-ID", &format!("scan-1@{ip}"))
        .header("CSeq", "1 OPTIONS")
        .header("User-Agent", "friendly-scanner")
        .build(None);
    sock.send_to(&options, server).unwrap();
    ip
}

/// GET `path` of the admin API as JSON.
fn admin_get(sw: &Switch, path: &str) -> Value {
    let auth = format!("Bearer {TOKEN}");
    let (status, body) = http(sw.http, "GET", path, &[("Authorization", &auth)], None);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_live_calls_registrations_bans_and_call_days_in_a_real_browser() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium must be installed in CI (.ci/run installs it)"
        );
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let sw = Switch::with(Options {
        config: format!(
            "[http]\nadmin_token = \"{TOKEN}\"\n[numbering]\nown_ranges = [\"+8211\"]\n\
             [security]\ntrusted = []\n"
        ),
        ..Default::default()
    });
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let today = now - now % DAY_MS;
    let mut records = Vec::new();
    for (i, ago) in DAYS_AGO.iter().enumerate() {
        let setup = today - ago * DAY_MS + 9 * 3_600_000;
        let n = i as u64 * 10;
        records.push(record(n + 1, setup, "KR", "carrier-a", Some(60 + n)));
        records.push(record(n + 2, setup + 60_000, "DE", "carrier-b", Some(30)));
        records.push(record(n + 3, setup + 120_000, "KR", "carrier-b", None));
    }
    let body = json!({ "records": records }).to_string();
    let auth = format!("Bearer {TOKEN}");
    let (status, text) = http(
        sw.http,
        "POST",
        "/v1/analytics/records",
        &[("Authorization", &auth)],
        Some(&body),
    );
    assert_eq!(status, 200, "{text}");

    // the page itself is public, with a policy that allows only its own script and style
    let (status, head, page) = http_raw(sw.http, "GET", "/console", None);
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("/console/app.js"));
    assert!(head
        .to_ascii_lowercase()
        .contains("content-security-policy: default-src 'none'"));

    let profile = TempDir::new("chromium");
    let url = format!("http://{}/console#token={TOKEN}", sw.http);
    let started = Instant::now();

    // nothing live yet: the live sections say so
    let dom = console_dom(&browser, &profile.0, &url);
    assert_eq!(
        element(&dom, "chart-calls")
            .matches("class=\"bar\"")
            .count(),
        DAYS_AGO.len(),
        "one bar per imported day:\n{dom}"
    );
    assert!(element(&dom, "table-calls").contains("No live calls"));
    assert!(element(&dom, "table-registrations").contains("No registered devices"));
    assert!(element(&dom, "table-bans").contains("No bans"));

    // two phones, a call that ended (today's record) and one still up, and a banned scanner
    let mut alice = phone(&sw, ALICE).await;
    let mut bob = phone(&sw, BOB).await;
    let mut done = answered_call(&mut alice, &mut bob, BOB).await;
    let bye = alice.in_dialog_request(&mut done, "BYE", None, true);
    alice.send(bye);
    let bye = bob.expect_request(Method::Bye).await;
    bob.reply(&bye, 200);
    assert!(alice.response(&done.call_id, 200).await.is_some());
    let live = answered_call(&mut bob, &mut alice, ALICE).await;
    let scanner = scan(sw.sip);
    let day = |v: &Value| v["rows"].as_array().and_then(|r| r.last()).cloned();
    let ready = eventually_async(Duration::from_secs(10), || {
        let calls = admin_get(&sw, "/v1/calls")["calls"].clone();
        let bans = admin_get(&sw, "/v1/bans")["bans"].clone();
        let days = admin_get(&sw, "/v1/analytics/days");
        calls.as_array().is_some_and(|c| {
            c.len() == 1 && c[0]["call_id"] == live.call_id.as_str() && c[0]["state"] == "answered"
        }) && bans[0]["ip"] == scanner.to_string()
            && day(&days).is_some_and(|d| d["calls"] == 1 && d["answered"] == 1)
    })
    .await;
    assert!(
        ready,
        "the live call, the ban and today's record: {} {} {}",
        admin_get(&sw, "/v1/calls"),
        admin_get(&sw, "/v1/bans"),
        admin_get(&sw, "/v1/analytics/days")
    );

    let dom = console_dom(&browser, &profile.0, &url);
    let calls = element(&dom, "chart-calls");
    assert_eq!(
        calls.matches("class=\"bar\"").count(),
        DAYS_AGO.len() + 1,
        "one bar per imported day and today's:\n{calls}"
    );
    assert!(calls.contains(&format!("data-bars=\"{}\"", DAYS_AGO.len() + 1)));
    assert_eq!(
        element(&dom, "chart-minutes")
            .matches("class=\"bar\"")
            .count(),
        DAYS_AGO.len() + 1
    );
    let countries = element(&dom, "table-countries");
    assert!(
        countries.contains(">KR<") && countries.contains(">DE<"),
        "{countries}"
    );
    let trunks = element(&dom, "table-trunks");
    assert!(
        trunks.contains(">carrier-b<") && trunks.contains(">on-net<"),
        "the imported trunks and today's call between two phones: {trunks}"
    );
    assert!(element(&dom, "chart-countries").contains("<svg"));

    // numbers are shown with their middle masked, as the switch's logs show them
    let (alice_masked, bob_masked) = (masked(ALICE), masked(BOB));
    let live_calls = element(&dom, "table-calls");
    let row = live_calls
        .split("<tr>")
        .find(|r| r.contains(&bob_masked))
        .unwrap_or_else(|| panic!("a row of the live call:\n{live_calls}"));
    assert!(
        row.contains(&format!(">{bob_masked}<"))
            && row.contains(&format!(">{alice_masked}<"))
            && row.contains(">answered<"),
        "the caller, the callee and the state:\n{row}"
    );
    assert!(
        row.find(&bob_masked) < row.find(&alice_masked),
        "the caller first:\n{row}"
    );
    let registrations = element(&dom, "table-registrations");
    for number in [&alice_masked, &bob_masked] {
        assert!(
            registrations.contains(&format!(">{number}<")),
            "{number} registered:\n{registrations}"
        );
    }
    assert!(registrations.contains(">udp<"), "{registrations}");
    let bans = element(&dom, "table-bans");
    assert!(
        bans.contains(&format!(">{scanner}<")) && bans.contains(">scanner<"),
        "{bans}"
    );
    for full in [ALICE, BOB, &ALICE[1..], &BOB[1..]] {
        assert!(!dom.contains(full), "{full} is not in the page:\n{dom}");
    }
    // the token left the address bar for the tab's session storage
    assert!(!dom.contains(TOKEN), "the token is not in the page");

    // without the token: the sign-in form, and no data
    let bare = format!("http://{}/console", sw.http);
    let out = browse(&browser, &profile.0, &bare, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("data-ready=\"0\""), "{dom}");
    let login = element(&dom, "login");
    let login_tag = &login[..login.find('>').unwrap()];
    assert!(
        !login_tag.contains("hidden"),
        "the sign-in form shows:\n{dom}"
    );
    assert!(!dom.contains(">KR<"), "no data without the token");
    assert!(!dom.contains(&bob_masked), "no data without the token");

    let shot = profile.0.join("console.png");
    let out = browse(
        &browser,
        &profile.0,
        &url,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1400",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(keep) = std::env::var_os("SB_CONSOLE_SCREENSHOT") {
        // to look at it: SB_CONSOLE_SCREENSHOT=/tmp/console.png cargo test --test console
        std::fs::copy(&shot, keep).expect("copy the screenshot");
    }
    let (width, height, colours, ink) = picture(&shot);
    assert_eq!((width, height), (1280, 1400));
    // a blank or error page has a handful of colours and little ink; charts and tables many
    assert!(colours > 100, "{colours} distinct colours");
    assert!(
        ink > 0.02,
        "{:.1} % of the pixels differ from the background",
        ink * 100.0
    );
    eprintln!(
        "console rendered four times in {:?}: {colours} colours, {:.1} % ink",
        started.elapsed(),
        ink * 100.0
    );
    // the live call was up for every look at the page
    let calls = admin_get(&sw, "/v1/calls");
    assert_eq!(
        calls["calls"][0]["call_id"],
        live.call_id.as_str(),
        "{calls}"
    );
}

/// Loads the console with the token and returns the page as drawn, checked to have loaded
/// every section without a script error or a failed request.
fn console_dom(browser: &Path, profile: &Path, url: &str) -> String {
    let out = browse(browser, profile, url, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {log}");
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page loaded every section:\n{dom}\n{log}"
    );
    assert!(dom.contains("data-errors=\"0\""), "no script error:\n{dom}");
    assert_eq!(page_errors(&log), Vec::<&str>::new(), "browser log:\n{log}");
    dom
}

/// `number` as the console shows it: the rule of the switch's log redaction
/// (`switchboard_engine::numbering::Redacted`).
fn masked(number: &str) -> String {
    Redacted(number).to_string()
}

/// Width, height, distinct colours, and the share of pixels unlike the most common one.
fn picture(path: &Path) -> (u32, u32, usize, f64) {
    let file = std::fs::File::open(path).expect("screenshot written");
    let mut decoder = png::Decoder::new(file);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    let px = info.color_type.samples();
    let mut counts = std::collections::HashMap::new();
    for p in buf[..info.buffer_size()].chunks(px) {
        *counts.entry(p[..3.min(px)].to_vec()).or_insert(0u64) += 1;
    }
    let total = u64::from(info.width) * u64::from(info.height);
    let background = counts.values().copied().max().unwrap_or(0);
    (
        info.width,
        info.height,
        counts.len(),
        (total - background) as f64 / total as f64,
    )
}
