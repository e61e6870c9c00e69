//! ban_lookup_unbanned / ban_lookup_banned: the check every UDP datagram and TCP message
//! passes before it is parsed (`Security::is_banned` through a receive path's `BanView`),
//! with 1,000 sources banned; and ban_lookup_unbanned_no_bans with none (the usual case).
//! For scale: parsing and validating a REGISTER is about 1.2 us (`sip_parse`).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_actors::config::Config;
use switchboard_actors::metrics::Metrics;
use switchboard_actors::security::Security;
use switchboard_engine::security::Reason;

fn security(banned: u32) -> Arc<Security> {
    let mut config = Config::load(None).unwrap();
    config.security.failures = 1;
    let s = Security::new(&config, Arc::new(Metrics::new()));
    for n in 0..banned {
        s.failure(
            IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + n)),
            Reason::BadDigest,
        );
    }
    s
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("ban_lookup");
    g.throughput(Throughput::Elements(1));
    let now = switchboard_actors::clock::now();
    let none = security(0);
    let mut view = none.view();
    let phone = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    g.bench_function("ban_lookup_unbanned_no_bans", |b| {
        b.iter(|| none.is_banned(&mut view, black_box(phone), now))
    });
    let many = security(1000);
    let mut view = many.view();
    assert!(!many.is_banned(&mut view, phone, now));
    g.bench_function("ban_lookup_unbanned", |b| {
        b.iter(|| many.is_banned(&mut view, black_box(phone), now))
    });
    let scanner = IpAddr::V4(Ipv4Addr::from(0xcb00_7100 + 500));
    assert!(many.is_banned(&mut view, scanner, now));
    g.bench_function("ban_lookup_banned", |b| {
        b.iter(|| many.is_banned(&mut view, black_box(scanner), now))
    });
    g.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
