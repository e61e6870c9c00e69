//! Prepaid credit end to end, with SIPp as the subscriber and as the trunk's gateway:
//!
//! - a top-up posted twice credits once;
//! - a prepaid caller with credit for 3 seconds at 1 cent a second (after a 5 cent connection
//!   fee, 1/1 increments) is cut by the switch's BYE, which reaches the caller within one
//!   increment of 3 s after the answer; the record says `credit exhausted` and the balance is
//!   the top-up minus the record's charge;
//! - with the credit spent, the next call is refused with 402 and nothing reaches the trunk;
//! - the statement and the month's statement list the top-up and the call; the subscriber
//!   reads its own balance with its SIP credentials, nobody else can.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::sipp::{self, Bg};
use common::{basic, eventually, fresh_ip, http, Options, Switch, TempDir};

const CALLER: (&str, &str) = ("sippuac", "sippuac-pw");
const DESTINATION: &str = "+12125551234";

/// A SIPp caller placing one call to `DESTINATION` (`uac_call_credit.xml`); its log lines.
fn call(sw: &Switch, work: &Path, name: &str) -> (String, String) {
    let csv = work.join(format!("{name}.csv"));
    std::fs::write(
        &csv,
        format!(
            "SEQUENTIAL\n{u};[authentication username={u} password={p}];{DESTINATION};\n",
            u = CALLER.0,
            p = CALLER.1
        ),
    )
    .unwrap();
    let log = work.join(format!("{name}.log"));
    let out = sipp::sipp()
        .current_dir(work)
        .arg(sw.sip.to_string())
        .arg("-sf")
        .arg(sipp::scenarios().join("uac_call_credit.xml"))
        .arg("-inf")
        .arg(&csv)
        .args([
            "-m",
            "1",
            "-t",
            "u1",
            "-i",
            &fresh_ip().to_string(),
            "-p",
            "5072",
        ])
        .args(["-nostdin", "-timeout", "40s"])
        .arg("-trace_logs")
        .arg("-log_file")
        .arg(&log)
        .args(["-trace_err", "-error_file", "uac-errors.log"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let (ok, report) = sipp::successful(&out, work);
    assert_eq!(ok, 1, "{name}: {report}");
    (std::fs::read_to_string(&log).unwrap_or_default(), report)
}

/// The time logged as `what S US`, in seconds.
fn logged(log: &str, what: &str) -> Option<f64> {
    let l = log.lines().find(|l| l.starts_with(what))?;
    let mut it = l[what.len()..].split_whitespace();
    let s: f64 = it.next()?.parse().ok()?;
    let us: f64 = it.next()?.parse().ok()?;
    Some(s + us / 1e6)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Every call record, as JSON.
fn records(sw: &Switch) -> Vec<serde_json::Value> {
    let (status, body) = http(sw.http, "GET", "/v1/cdrs?format=jsonl", &[], None);
    assert_eq!(status, 200, "{body}");
    // the export is chunked: keep the lines that are records
    body.lines()
        .filter(|l| l.starts_with('{'))
        .map(json)
        .collect()
}

fn balance(sw: &Switch) -> serde_json::Value {
    let (status, body) = http(sw.http, "GET", "/v1/billing/sippuac", &[], None);
    assert_eq!(status, 200, "{body}");
    json(&body)
}

#[test]
fn a_prepaid_call_is_cut_when_its_credit_ends_and_the_next_is_refused() {
    let tariffs = TempDir::new("credit-tariffs");
    std::fs::create_dir_all(&tariffs.0).unwrap();
    // 1 212: 60 cents a minute (1 a second), 5 cents to connect, per second
    std::fs::write(
        tariffs.0.join("default.csv"),
        "prefix,per_minute,connection,first,next,currency,description\n\
         1212,60,5,1,1,EUR,New York\n",
    )
    .unwrap();
    let gw = SocketAddr::new(fresh_ip(), 5080);
    let sw = Switch::with(Options {
        config: format!(
            "[auth]\nalgorithms = [\"MD5\"]\n[numbering]\nown_ranges = [\"+8211\"]\n\
             [tariffs]\ndir = \"{}\"\n[[trunks]]\nname = \"gw\"\ngroup = \"pstn\"\n\
             address = \"{gw}\"\n",
            tariffs.0.display()
        ),
        ..Default::default()
    });
    sw.add_account(CALLER.0, CALLER.1);
    let work = TempDir::new("sipp-credit");
    let _gateway: Bg = sipp::uas(&work.0, "uas_call.xml", gw.ip(), gw.port(), "udp", &[]);

    // the account, and a top-up posted twice: 8 cents pay the fee and 3 seconds
    let (status, body) = http(
        sw.http,
        "PUT",
        "/v1/billing/sippuac",
        &[],
        Some(r#"{"mode":"prepaid","currency":"EUR"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let topup = r#"{"id":"receipt-1","amount_minor":8}"#;
    let (first, body1) = http(
        sw.http,
        "POST",
        "/v1/billing/sippuac/topups",
        &[],
        Some(topup),
    );
    let (second, body2) = http(
        sw.http,
        "POST",
        "/v1/billing/sippuac/topups",
        &[],
        Some(topup),
    );
    assert_eq!((first, second), (201, 200), "{body1}\n{body2}");
    assert_eq!(json(&body2)["duplicate"], true);
    assert_eq!(json(&body2)["entry"], json(&body1)["entry"]);
    assert_eq!(balance(&sw)["balance_minor"], 8, "credited once");

    // the call talks 3 s and is cut by the switch
    let (log, report) = call(&sw, &work.0, "cut");
    let answered = logged(&log, "answered").unwrap_or_else(|| panic!("{log}\n{report}"));
    let bye = logged(&log, "bye").unwrap_or_else(|| panic!("no BYE: {log}\n{report}"));
    let talked = bye - answered;
    eprintln!("the BYE came {talked:.3} s after the answer");
    assert!(
        (2.0..=4.0).contains(&talked),
        "the BYE came {talked:.3} s after the answer, 3 s were paid"
    );
    let mut recs = Vec::new();
    assert!(eventually(Duration::from_secs(5), || {
        recs = records(&sw);
        recs.len() == 1
    }));
    let r = recs[0].clone();
    assert_eq!(r["outcome"], "answered", "{r}");
    assert_eq!(r["reason"], "credit exhausted", "{r}");
    let charge = r["charge"]["amount_minor"].as_i64().unwrap();
    assert_eq!(r["charge"]["billed_secs"], 3, "{r}");
    assert_eq!(charge, 8, "5 to connect and 3 seconds: {r}");
    let mut b = serde_json::Value::Null;
    assert!(eventually(Duration::from_secs(5), || {
        b = balance(&sw);
        b["balance_minor"] == 8 - charge && b["held_minor"] == 0
    }));
    assert_eq!(b["balance_minor"], 8 - charge, "{b}");

    // nothing is left: the next call is refused before it reaches the trunk
    let (log, report) = call(&sw, &work.0, "refused");
    assert!(log.contains("refused 402"), "{log}\n{report}");
    assert!(eventually(Duration::from_secs(5), || {
        recs = records(&sw);
        recs.len() == 2
    }));
    assert_eq!(recs[1]["cause"], 402, "{}", recs[1]);
    assert!(recs[1]["trunk"].is_null(), "{}", recs[1]);

    // the statement: the top-up, the call, and balances that add up
    let (status, body) = http(sw.http, "GET", "/v1/billing/sippuac/statement", &[], None);
    assert_eq!(status, 200, "{body}");
    let st = json(&body);
    let entries = st["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["top-up", "call"], "{st}");
    assert_eq!(entries[1]["amount_minor"], -charge);
    assert_eq!(entries[1]["call"]["reason"], "credit exhausted");
    assert_eq!(st["opening_balance_minor"], 0);
    let sum: i64 = entries
        .iter()
        .map(|e| e["amount_minor"].as_i64().unwrap())
        .sum();
    assert_eq!(st["closing_balance_minor"], sum);
    let month = {
        let ms = r["end_unix_ms"].as_u64().unwrap();
        let days = (ms / 86_400_000) as i64;
        // the month of the record's day (H. Hinnant's civil_from_days)
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}")
    };
    let path = format!("/v1/billing/sippuac/statements/{month}");
    let (status, body) = http(sw.http, "GET", &path, &[], None);
    assert_eq!(status, 200, "{body}");
    let m = json(&body);
    assert_eq!(m["calls"].as_array().unwrap().len(), 1, "{m}");
    assert_eq!(m["calls_total_minor"], charge);

    // the subscriber reads its own balance; a wrong password does not
    let me = basic(CALLER.0, CALLER.1);
    let (status, _) = http(
        sw.http,
        "GET",
        "/v1/billing/sippuac",
        &[("Authorization", &me)],
        None,
    );
    assert_eq!(status, 200);
    let wrong = basic(CALLER.0, "guess");
    let (status, _) = http(
        sw.http,
        "GET",
        "/v1/billing/sippuac/statement",
        &[("Authorization", &wrong)],
        None,
    );
    assert_eq!(status, 401);
}
