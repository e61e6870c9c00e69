//! The analytics API end to end: records imported over `POST /v1/analytics/records` show in
//! the per-day, per-country and per-trunk answers with their ASR, ACD and revenue, survive a
//! restart of the switch, and only the operator may read or import them. The registrations
//! list shows a registered phone.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{http, Options, Switch};
use serde_json::{json, Value};

const TOKEN: &str = "console-test-token";
const DAY_MS: u64 = 86_400_000;

fn switch() -> Switch {
    Switch::with(Options {
        config: format!("[http]\nadmin_token = \"{TOKEN}\"\n"),
        ..Default::default()
    })
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// The start of today (UTC), in ms since the epoch.
fn today_ms() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    now - now % DAY_MS
}

fn date(ms: u64) -> String {
    switchboard_engine::analytics::Day::of_unix_ms(ms).to_string()
}

/// A record set up `days_ago` days before today at 10:00 UTC.
fn record(
    id: u64,
    days_ago: u64,
    country: Option<&str>,
    trunk: Option<&str>,
    talk_secs: Option<u64>,
) -> Value {
    let setup = today_ms() - days_ago * DAY_MS + 10 * 3_600_000;
    let answer = talk_secs.map(|_| setup + 3_000);
    let mut r = json!({
        "id": id,
        "call_id": format!("imp-{id}"),
        "caller": "+4930123456",
        "dialed": "00821012345678",
        "country": country,
        "trunk": trunk,
        "setup_unix_ms": setup,
        "answer_unix_ms": answer,
        "end_unix_ms": setup + 3_000 + talk_secs.unwrap_or(0) * 1000,
        "outcome": if talk_secs.is_some() { "answered" } else { "busy" },
        "cause": if talk_secs.is_some() { 200 } else { 486 },
    });
    if talk_secs.is_some() && trunk.is_some() {
        r["charge"] = json!({"amount_minor": 150, "currency": "EUR", "billed_secs": 60});
    }
    r
}

pub fn import(sw: &Switch, records: &[Value]) -> (u16, Value) {
    let body = json!({ "records": records }).to_string();
    let auth = bearer();
    let (status, text) = http(
        sw.http,
        "POST",
        "/v1/analytics/records",
        &[("Authorization", &auth)],
        Some(&body),
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn get(sw: &Switch, path: &str) -> (u16, Value) {
    let auth = bearer();
    let (status, text) = http(sw.http, "GET", path, &[("Authorization", &auth)], None);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn sample() -> Vec<Value> {
    vec![
        record(1, 3, Some("KR"), Some("carrier-a"), Some(120)),
        record(2, 3, Some("KR"), Some("carrier-a"), None),
        record(3, 3, Some("DE"), Some("carrier-b"), Some(60)),
        record(4, 1, Some("KR"), Some("carrier-b"), Some(30)),
        record(5, 1, None, None, Some(10)),
    ]
}

#[test]
fn imported_records_show_per_day_country_and_trunk_and_survive_a_restart() {
    let mut sw = switch();
    let (status, body) = import(&sw, &sample());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 5);

    let range = format!(
        "from={}&to={}",
        date(today_ms() - 10 * DAY_MS),
        date(today_ms())
    );
    let check = |sw: &Switch| {
        let (status, days) = get(sw, &format!("/v1/analytics/days?{range}"));
        assert_eq!(status, 200, "{days}");
        let rows = days["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{days}");
        assert_eq!(rows[0]["day"], date(today_ms() - 3 * DAY_MS));
        assert_eq!(rows[0]["calls"], 3);
        assert_eq!(rows[0]["answered"], 2);
        assert_eq!(rows[0]["talked_secs"], 180);
        assert_eq!(rows[0]["acd_secs"], 90.0);
        assert_eq!(rows[0]["asr"], 0.6667);
        assert_eq!(
            rows[0]["revenue"],
            json!([{"currency": "EUR", "amount_minor": 300}])
        );

        let (_, countries) = get(sw, &format!("/v1/analytics/countries?{range}"));
        let rows = countries["rows"].as_array().unwrap();
        assert_eq!(rows[0]["country"], "KR", "most calls first: {countries}");
        assert_eq!(rows[0]["calls"], 3);
        assert_eq!(rows[0]["asr"], 0.6667);
        assert!(rows
            .iter()
            .any(|r| r["country"].is_null() && r["calls"] == 1));

        let (_, trunks) = get(sw, &format!("/v1/analytics/trunks?{range}"));
        let rows = trunks["rows"].as_array().unwrap();
        let b = rows.iter().find(|r| r["trunk"] == "carrier-b").unwrap();
        assert_eq!(
            (b["calls"].as_u64(), b["talked_secs"].as_u64()),
            (Some(2), Some(90))
        );
        assert_eq!(b["revenue"][0]["amount_minor"], 300);
        assert!(
            rows.iter().any(|r| r["trunk"].is_null()),
            "on-net row: {trunks}"
        );
    };
    check(&sw);

    // a range without the calls is empty, the default range (the last 30 days) has them
    let yesterday = date(today_ms() - DAY_MS);
    let (_, one) = get(
        &sw,
        &format!("/v1/analytics/days?from={yesterday}&to={yesterday}"),
    );
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
    let (_, default) = get(&sw, "/v1/analytics/countries");
    assert_eq!(default["to"], date(today_ms()));
    assert_eq!(default["rows"].as_array().unwrap().len(), 3);

    // saved at shutdown, loaded at start
    sw.stop();
    sw.spawn();
    check(&sw);
}

#[test]
fn only_the_operator_reads_or_imports_and_a_bad_import_counts_nothing() {
    let sw = switch();
    let (status, _, _) = common::http_raw(sw.http, "GET", "/v1/analytics/days", None);
    assert_eq!(status, 401);
    let (status, _, _) =
        common::http_raw(sw.http, "GET", "/v1/analytics/trunks", Some("Bearer wrong"));
    assert_eq!(status, 401);
    let body = json!({ "records": sample() }).to_string();
    let (status, _) = http(sw.http, "POST", "/v1/analytics/records", &[], Some(&body));
    assert_eq!(status, 401);

    let mut bad = sample();
    bad[3]["outcome"] = json!("lost");
    let (status, err) = import(&sw, &bad);
    assert_eq!(status, 400);
    assert_eq!(err["code"], "bad_record", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("record 3"),
        "{err}"
    );
    let (_, days) = get(&sw, "/v1/analytics/days");
    assert_eq!(
        days["rows"],
        json!([]),
        "nothing of a refused import is counted"
    );

    let (status, err) = get(&sw, "/v1/analytics/days?from=2026-02-30");
    assert_eq!((status, err["code"].as_str()), (400, Some("bad_date")));
    let (status, err) = get(&sw, "/v1/analytics/days?from=2026-02-02&to=2026-02-01");
    assert_eq!((status, err["code"].as_str()), (400, Some("bad_range")));
}

#[tokio::test]
async fn the_registrations_list_shows_a_registered_phone() {
    let sw = switch();
    sw.add_account("1001", "pw-1001-x");
    let (status, empty) = get(&sw, "/v1/registrations");
    assert_eq!(status, 200);
    assert_eq!(empty["registrations"], json!([]));
    let _phone = common::ua::Ua::registered(sw.sip, "1001", "pw-1001-x").await;
    let (_, list) = get(&sw, "/v1/registrations");
    let regs = list["registrations"].as_array().unwrap();
    assert_eq!(regs.len(), 1, "{list}");
    assert_eq!(regs[0]["number"], "1001");
    assert_eq!(regs[0]["transport"], "udp");
    assert!(regs[0]["expires_in"].as_u64().unwrap() > 500);
    let (status, _, _) = common::http_raw(sw.http, "GET", "/v1/registrations", None);
    assert_eq!(status, 401);
}
