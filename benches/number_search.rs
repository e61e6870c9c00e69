//! number_search_*: `GET /v1/numbers/available` over an inventory of 1,000,000 enterprise
//! numbers (`1000-0000#082` up): one page of 20 free numbers, without a pattern (the first
//! page), with a common pattern (`777`), and with a rare one (`^1099998`, a few matches at
//! the end: the whole stock is scanned, the worst case of an unindexed search).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use switchboard_engine::inventory::{
    parse_inventory, Desk, Filter, NumberKind, Pattern, Terms, UnixTime,
};
use switchboard_engine::numbering::NumberingPlan;

fn search(c: &mut Criterion) {
    let plan = NumberingPlan::new("KR").unwrap();
    let mut desk = Desk::new(Terms::default());
    let text = "class std 10000 KRW\nblock enterprise std 1000000 1000-0000#082\n";
    let report = desk.load(&plan, &parse_inventory(text).unwrap()).unwrap();
    assert_eq!(report.added, 1_000_000);
    while desk.poll_dirty().is_some() {}
    let now = UnixTime(1_700_000_000);
    let mut g = c.benchmark_group("number_search");
    g.sample_size(20);
    for (name, pattern, want) in [
        ("number_search_1m_first_page", None, 20),
        ("number_search_1m_contains_777", Some("777"), 20),
        ("number_search_1m_rare_prefix", Some("^1099998"), 10),
    ] {
        let filter = Filter {
            kind: Some(NumberKind::Enterprise),
            country: Some(82),
            pattern: pattern.map(|p| Pattern::parse(p).unwrap()),
        };
        assert_eq!(desk.search(now, &filter, None, 20).numbers.len(), want);
        g.bench_function(name, |b| {
            b.iter(|| desk.search(now, black_box(&filter), None, 20).numbers.len())
        });
    }
    g.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
