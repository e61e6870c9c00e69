//! The call analytics (`switchboard_engine::analytics`) at the scale of ten million call
//! records: a year (365 UTC days) of calls to 200 countries over 20 trunks, 60 % answered,
//! the off-net ones charged in one of 3 currencies.
//!
//! - analytics_record: one `record` on the call path (the day and names already known), the
//!   cost the CDR writer pays per call
//! - analytics_feed_10m_records: building the whole year's state from ten million records
//! - analytics_query_{days,countries,trunks}_10m_365d: the console's queries over the full
//!   year of that state; `_30d` over the last month
//! - analytics_take_dirty_one_day: the holder's periodic save when one day changed
//! - analytics_snapshot_10m: encoding the whole state (what a full save writes)

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::analytics::{Aggregates, Day, Grouping, Snapshot};
use switchboard_engine::cdr::{CallRecord, Charge, MediaMode, Outcome};

const RECORDS: u64 = 10_000_000;
const DAYS: u64 = 365;
const COUNTRIES: usize = 200;
const TRUNKS: usize = 20;
const FIRST_DAY: u32 = 20_000;
const DAY_MS: u64 = 86_400_000;

/// One record per (country, trunk, outcome) pair, reused with new times and ids.
fn pool() -> Vec<CallRecord> {
    let currencies = ["EUR", "USD", "KRW"];
    let mut out = Vec::new();
    for c in 0..COUNTRIES {
        for t in 0..TRUNKS {
            for answered in [true, false] {
                let n = out.len();
                out.push(CallRecord {
                    id: 0,
                    call_id: format!("bench-{n}"),
                    caller: "+4930123456".into(),
                    dialed: "00821012345678".into(),
                    routed: Some("+821012345678".into()),
                    trunk: Some(format!("trunk-{t:02}")),
                    country: Some(format!("C{c:03}")),
                    setup_unix_ms: 0,
                    answer_unix_ms: None,
                    end_unix_ms: 0,
                    outcome: if answered {
                        Outcome::Answered
                    } else {
                        Outcome::NoAnswer
                    },
                    cause: if answered { 200 } else { 487 },
                    reason: "hung up by the caller".into(),
                    media: MediaMode::Direct,
                    plugin_version: 1,
                    charge: answered.then(|| Charge {
                        table: "retail".into(),
                        prefix: "82".into(),
                        billed_secs: 60,
                        amount_minor: 7 + (n % 50) as i64,
                        currency: currencies[n % 3].into(),
                    }),
                });
            }
        }
    }
    out
}

/// Record `i` of the ten million: spread evenly over the days, 60 % answered.
fn shape(pool: &mut [CallRecord], i: u64) -> &CallRecord {
    let answered = i % 5 < 3;
    let base = ((i * 7919) as usize % (COUNTRIES * TRUNKS)) * 2;
    let r = &mut pool[base + usize::from(!answered)];
    let day = u64::from(FIRST_DAY) + i * DAYS / RECORDS;
    r.id = i;
    r.setup_unix_ms = day * DAY_MS + (i % 86_000) * 1_000;
    let talk = 20_000 + (i % 300) * 1_000;
    r.answer_unix_ms = answered.then_some(r.setup_unix_ms + 5_000);
    r.end_unix_ms = r.setup_unix_ms + 5_000 + if answered { talk } else { 0 };
    r
}

fn year(pool: &mut [CallRecord]) -> Aggregates {
    let mut a = Aggregates::new();
    for i in 0..RECORDS {
        a.record(shape(pool, i));
    }
    a
}

fn analytics(c: &mut Criterion) {
    let mut pool = pool();
    let mut g = c.benchmark_group("analytics");

    g.sample_size(10);
    g.throughput(Throughput::Elements(RECORDS));
    g.bench_function("analytics_feed_10m_records", |b| {
        b.iter(|| black_box(year(&mut pool)))
    });

    let mut a = year(&mut pool);
    let first = Day(FIRST_DAY);
    let last = Day(FIRST_DAY + DAYS as u32 - 1);
    let total: u64 = a
        .query(first, last, Grouping::Day)
        .iter()
        .map(|r| r.calls)
        .sum();
    assert_eq!(total, RECORDS);
    assert_eq!(a.query(first, last, Grouping::Country).len(), COUNTRIES);

    g.sample_size(50);
    g.throughput(Throughput::Elements(1));
    for (name, by) in [
        ("days", Grouping::Day),
        ("countries", Grouping::Country),
        ("trunks", Grouping::Trunk),
    ] {
        g.bench_function(format!("analytics_query_{name}_10m_365d"), |b| {
            b.iter(|| black_box(a.query(black_box(first), black_box(last), by)))
        });
        let month = Day(last.0 - 29);
        g.bench_function(format!("analytics_query_{name}_10m_30d"), |b| {
            b.iter(|| black_box(a.query(black_box(month), black_box(last), by)))
        });
    }

    g.bench_function("analytics_snapshot_10m", |b| {
        b.iter(|| black_box(a.snapshot().encode()))
    });
    let bytes = a.snapshot().encode();
    assert!(Snapshot::decode(&bytes).is_ok());
    eprintln!(
        "analytics: snapshot of 10M records over {DAYS} days: {} bytes",
        bytes.len()
    );

    // steady state on the call path: today, known names
    a.take_dirty();
    let mut i = RECORDS - 1;
    g.sample_size(100);
    g.bench_function("analytics_record", |b| {
        b.iter(|| {
            i = RECORDS - 1 - (i + 1) % 1000;
            a.record(black_box(shape(&mut pool, i)));
        })
    });
    g.bench_function("analytics_take_dirty_one_day", |b| {
        b.iter(|| {
            a.record(shape(&mut pool, RECORDS - 1));
            black_box(a.take_dirty())
        })
    });
    g.finish();
}

criterion_group!(benches, analytics);
criterion_main!(benches);
