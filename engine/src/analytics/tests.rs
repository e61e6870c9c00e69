use super::*;
use crate::cdr::{Charge, MediaMode};

const DAY_MS: u64 = 86_400_000;

/// A call set up `day` days after the epoch, `at_ms` into it, talked `talk_ms` if answered.
fn call(
    id: u64,
    day: u32,
    country: Option<&str>,
    trunk: Option<&str>,
    talk_ms: Option<u64>,
) -> CallRecord {
    let setup = u64::from(day) * DAY_MS + 3_600_000;
    CallRecord {
        id,
        call_id: format!("c{id}"),
        caller: "+4930123".into(),
        dialed: "0082".into(),
        routed: None,
        trunk: trunk.map(Into::into),
        country: country.map(Into::into),
        setup_unix_ms: setup,
        answer_unix_ms: talk_ms.map(|_| setup + 2_000),
        end_unix_ms: setup + 2_000 + talk_ms.unwrap_or(0),
        outcome: if talk_ms.is_some() {
            Outcome::Answered
        } else {
            Outcome::Busy
        },
        cause: if talk_ms.is_some() { 200 } else { 486 },
        reason: "hung up by the caller".into(),
        media: MediaMode::Direct,
        plugin_version: 1,
        charge: None,
    }
}

fn charged(mut r: CallRecord, currency: &str, amount_minor: i64) -> CallRecord {
    r.charge = Some(Charge {
        table: "retail".into(),
        prefix: "82".into(),
        billed_secs: 60,
        amount_minor,
        currency: currency.into(),
    });
    r
}

fn sample() -> Aggregates {
    let mut a = Aggregates::new();
    let d = 20_000;
    a.record(&charged(
        call(1, d, Some("KR"), Some("carrier-a"), Some(60_000)),
        "EUR",
        120,
    ));
    a.record(&charged(
        call(2, d, Some("KR"), Some("carrier-b"), Some(30_000)),
        "EUR",
        60,
    ));
    a.record(&call(3, d, Some("KR"), Some("carrier-a"), None));
    a.record(&charged(
        call(4, d + 1, Some("DE"), Some("carrier-a"), Some(90_000)),
        "KRW",
        900,
    ));
    a.record(&call(5, d + 1, None, None, Some(10_000)));
    a.record(&call(6, d + 3, Some("KR"), Some("carrier-b"), None));
    a
}

fn find<'a>(rows: &'a [Row], key: &Key) -> &'a Row {
    rows.iter().find(|r| &r.key == key).expect("row present")
}

#[test]
fn a_day_row_sums_calls_answers_talk_time_and_revenue_per_currency() {
    let a = sample();
    let rows = a.query(Day(20_000), Day(20_003), Grouping::Day);
    let days: Vec<Key> = rows.iter().map(|r| r.key.clone()).collect();
    assert_eq!(
        days,
        [
            Key::Day(Day(20_000)),
            Key::Day(Day(20_001)),
            Key::Day(Day(20_003))
        ]
    );
    let first = &rows[0];
    assert_eq!(
        (first.calls, first.answered, first.talked_ms),
        (3, 2, 90_000)
    );
    assert_eq!(
        first.revenue,
        [Money {
            currency: "EUR".into(),
            amount_minor: 180
        }]
    );
    assert_eq!(first.asr(), Some(2.0 / 3.0));
    assert_eq!(first.acd(), Some(Duration::from_secs(45)));
    assert_eq!(first.minutes(), 1.5);
    let second = &rows[1];
    assert_eq!(
        (second.calls, second.answered, second.talked_ms),
        (2, 2, 100_000)
    );
    assert_eq!(second.revenue.len(), 2, "{:?}", second.revenue);
    assert_eq!(second.revenue[1].amount_minor, 900);
    assert_eq!(second.revenue[0].amount_minor, 0, "no EUR that day");
}

#[test]
fn countries_and_trunks_sum_over_the_range_and_keep_the_unknown_apart() {
    let a = sample();
    let countries = a.query(Day(20_000), Day(20_003), Grouping::Country);
    assert_eq!(countries.len(), 3);
    assert_eq!(
        countries[0].key,
        Key::Country(Some("KR".into())),
        "most calls first"
    );
    let kr = find(&countries, &Key::Country(Some("KR".into())));
    assert_eq!((kr.calls, kr.answered, kr.talked_ms), (4, 2, 90_000));
    assert_eq!(kr.asr(), Some(0.5));
    let unknown = find(&countries, &Key::Country(None));
    assert_eq!((unknown.calls, unknown.talked_ms), (1, 10_000));
    let trunks = a.query(Day(20_000), Day(20_001), Grouping::Trunk);
    let ta = find(&trunks, &Key::Trunk(Some("carrier-a".into())));
    assert_eq!((ta.calls, ta.answered, ta.talked_ms), (3, 2, 150_000));
    let eur: i64 = ta
        .revenue
        .iter()
        .filter(|m| m.currency == "EUR")
        .map(|m| m.amount_minor)
        .sum();
    assert_eq!(eur, 120);
    let on_net = find(&trunks, &Key::Trunk(None));
    assert_eq!(on_net.calls, 1);
    // day 20003 lies outside the range: carrier-b has only call 2
    let tb = find(&trunks, &Key::Trunk(Some("carrier-b".into())));
    assert_eq!(tb.calls, 1);
}

#[test]
fn a_range_outside_the_calls_or_reversed_is_empty() {
    let a = sample();
    assert!(a
        .query(Day(19_000), Day(19_999), Grouping::Country)
        .is_empty());
    assert!(a.query(Day(20_003), Day(20_000), Grouping::Day).is_empty());
    assert_eq!(a.query(Day(20_003), Day(20_003), Grouping::Trunk).len(), 1);
}

#[test]
fn calls_are_counted_on_the_utc_day_of_their_setup() {
    let mut a = Aggregates::new();
    let mut late = call(1, 20_000, Some("KR"), None, Some(7_200_000));
    late.setup_unix_ms = 20_001 * DAY_MS - 1;
    late.answer_unix_ms = Some(late.setup_unix_ms);
    late.end_unix_ms = late.setup_unix_ms + 7_200_000;
    a.record(&late);
    let rows = a.query(Day(0), Day(u32::MAX), Grouping::Day);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key, Key::Day(Day(20_000)));
    assert_eq!(rows[0].talked_ms, 7_200_000);
}

#[test]
fn a_snapshot_restores_the_same_answers_and_the_high_water() {
    let mut a = sample();
    a.mark_written(6);
    a.mark_written(4);
    let bytes = a.snapshot().encode();
    let b = Aggregates::from_snapshot(&Snapshot::decode(&bytes).unwrap());
    assert_eq!(b.high_water(), Some(6));
    for by in [Grouping::Day, Grouping::Country, Grouping::Trunk] {
        assert_eq!(
            a.query(Day(0), Day(u32::MAX), by),
            b.query(Day(0), Day(u32::MAX), by),
            "{by:?}"
        );
    }
}

#[test]
fn dirty_days_are_handed_out_once_and_rebuild_the_state_day_by_day() {
    let mut a = sample();
    let first = a.take_dirty();
    assert_eq!(
        first.iter().map(|d| d.day).collect::<Vec<_>>(),
        [20_000, 20_001, 20_003]
    );
    assert!(a.take_dirty().is_empty(), "nothing changed since");
    a.record(&call(7, 20_001, Some("DE"), Some("carrier-a"), None));
    let second = a.take_dirty();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].day, 20_001);
    assert_eq!(second[0].total.calls, 3);
    // the latest record of each day, as a store keyed by day would hold them
    let mut b = Aggregates::new();
    for d in first.iter().filter(|d| d.day != 20_001).chain(&second) {
        b.restore_day(&DayRecord::decode(&d.encode()).unwrap());
    }
    assert!(b.take_dirty().is_empty(), "restored days are not dirty");
    for by in [Grouping::Day, Grouping::Country, Grouping::Trunk] {
        assert_eq!(
            a.query(Day(0), Day(u32::MAX), by),
            b.query(Day(0), Day(u32::MAX), by)
        );
    }
    // a restored day keeps counting
    b.record(&call(8, 20_003, Some("KR"), Some("carrier-b"), Some(1_000)));
    let kr = b.query(Day(20_003), Day(20_003), Grouping::Country);
    assert_eq!((kr[0].calls, kr[0].answered), (2, 1));
}

#[test]
fn garbage_bytes_are_refused_not_misread() {
    assert!(Snapshot::decode(&[]).is_err());
    assert!(Snapshot::decode(&[9, 1, 2]).is_err());
    let mut bytes = sample().snapshot().encode();
    bytes.truncate(bytes.len() - 3);
    assert!(Snapshot::decode(&bytes).is_err());
}

#[test]
fn names_past_the_limit_are_counted_under_other() {
    let mut a = Aggregates::new();
    for i in 0..MAX_NAMES + 10 {
        a.record(&call(i as u64, 20_000, None, Some(&format!("t{i}")), None));
    }
    let rows = a.query(Day(20_000), Day(20_000), Grouping::Trunk);
    let other = find(&rows, &Key::Trunk(Some(OTHER.into())));
    assert!(other.calls >= 9, "{}", other.calls);
    assert_eq!(
        rows.iter().map(|r| r.calls).sum::<u64>(),
        (MAX_NAMES + 10) as u64
    );
}
