//! tariff_*: rating a call record against a tariff table (done once per off-net call when its
//! record is written). Goal: under 1 µs against a table of 100,000 prefixes.
//! `tariff_rate_100k` is the longest-prefix lookup plus the price and the `Charge` (two
//! strings) of a record; `tariff_lookup_100k` the lookup alone; `tariff_parse_100k` reading the
//! table from CSV (a reload).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use switchboard_engine::entropy::Entropy;
use switchboard_engine::tariff::parse_csv;

/// 100,000 distinct prefixes of 2 to 9 digits, with rates and increment schemes mixed.
fn table_csv(n: usize, e: &mut Entropy) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::from("prefix,per_minute,connection,first,next,currency\n");
    let schemes = ["60,60", "30,6", "1,1"];
    while seen.len() < n {
        let len = 2 + (e.next_u64() % 8) as usize;
        let p: String = (0..len)
            .map(|i| {
                let d = e.next_u64() % 10;
                char::from(b'0' + if i == 0 { 1 + d % 9 } else { d } as u8)
            })
            .collect();
        if seen.insert(p.clone()) {
            let rate = e.next_u64() % 50_000;
            let scheme = schemes[seen.len() % 3];
            out.push_str(&format!(
                "{p},{}.{:04},0.5,{scheme},EUR\n",
                rate / 10_000,
                rate % 10_000
            ));
        }
    }
    out
}

fn tariff(c: &mut Criterion) {
    let mut e = Entropy::seeded(7);
    let csv = table_csv(100_000, &mut e);
    let table = parse_csv("default", &csv).unwrap();
    let numbers: Vec<String> = (0..1024)
        .map(|_| format!("+{}", 1_000_000_000_000 + e.next_u64() % 9_000_000_000_000))
        .collect();
    let mut i = 0;
    c.bench_function("tariff_rate_100k", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(table.charge(black_box(&numbers[i]), black_box(61_500)))
        })
    });
    c.bench_function("tariff_lookup_100k", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(table.lookup(black_box(&numbers[i])).map(|(p, _)| p.len()))
        })
    });
    let mut g = c.benchmark_group("tariff_parse");
    g.sample_size(10);
    g.bench_function("tariff_parse_100k", |b| {
        b.iter(|| black_box(parse_csv("default", black_box(&csv)).unwrap().len()))
    });
    g.finish();
}

criterion_group!(benches, tariff);
criterion_main!(benches);
