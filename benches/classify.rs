//! classify_*: the numbering plan reading a dialed string into a typed destination (the
//! routing plugin's input). Goal: under 1 µs.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_engine::numbering::{ClassifyCache, NumberFormat, NumberingPlan, Provider};

fn classify(c: &mut Criterion) {
    let plan = NumberingPlan::new("KR")
        .unwrap()
        .with_own_ranges(vec!["+8211".into()])
        .with_provider(Provider {
            name: "kt".into(),
            prefixes: vec!["+8270".into()],
            format: NumberFormat {
                national: true,
                ..NumberFormat::default()
            },
        });
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(1));
    for (name, input) in [
        ("classify_national_subscriber", "011-123-4567"),
        ("classify_e164_pstn", "+1 212 555 1234"),
        ("classify_extension", "1001"),
        ("classify_personal", "02-6200-6200-082"),
        ("classify_enterprise", "6200-6200#082"),
        ("classify_email", "kim@acme.example"),
        ("classify_feature", "*720111234567"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| plan.classify(black_box(input)).unwrap())
        });
    }
    // the per-arbiter memo, warm: the same number dialed again
    let mut cache = ClassifyCache::new(4096);
    for (name, input) in [
        ("classify_cached_national_subscriber", "011-123-4567"),
        ("classify_cached_e164_pstn", "+1 212 555 1234"),
    ] {
        cache.classify(&plan, input).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| cache.classify(&plan, black_box(input)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, classify);
criterion_main!(benches);
