//! plugin_*: routing through the Lua plugin host. Goals: a routing decision through the
//! default plugin under 5 µs, a reload (read, compile, run the tests table, publish) under
//! 5 ms. `plugin_route_plain_*` is the built-in Rust router on the same requests, for the
//! ratio.

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use switchboard_actors::metrics::Metrics;
use switchboard_actors::plugin::{Limits, PluginHost, RouterMode, DEFAULT_PLUGIN};
use switchboard_engine::forwarding::{ForwardingRecord, NoAnswer};
use switchboard_engine::numbering::{Aor, NumberingPlan};
use switchboard_engine::proxy::Local;
use switchboard_engine::routing::{CalleeState, PlainRouter, RouteRequest, Router};
use switchboard_engine::sip::Method;

fn plan() -> NumberingPlan {
    NumberingPlan::new("KR")
        .unwrap()
        .with_own_ranges(vec!["+8211".into()])
}

fn plugin_route(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("sb-bench-plugins-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("default.lua"), DEFAULT_PLUGIN).unwrap();
    let local = Arc::new(Local::new("127.0.0.1", 5060, "sb.example"));
    let host = PluginHost::start(
        Some(dir.clone()),
        plan(),
        local,
        Limits::default(),
        RouterMode::Lua,
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let lua = host.router();
    let plain = PlainRouter::new(plan());

    let p = plan();
    let subscriber = p.classify("011-123-4567").unwrap();
    let pstn = p.classify("+1 212 555 1234").unwrap();
    let caller = Aor::from_canonical("+82111230000");
    let callee = CalleeState {
        aor: Some(Aor::from_canonical("+82111234567")),
        account: true,
        devices: 2,
        voicemail: false,
        forwarding: ForwardingRecord {
            busy: Some("1002".into()),
            no_answer: Some(NoAnswer {
                target: "+82111239999".into(),
                ring_secs: 20,
            }),
            ..Default::default()
        },
    };
    let req = |d, callee| RouteRequest {
        method: Method::Invite,
        dialed: "011-123-4567",
        destination: d,
        caller: Some(&caller),
        time: 1_764_547_200,
        callee,
        history: &[],
    };
    let sub_req = req(&subscriber, Some(&callee));
    let pstn_req = req(&pstn, None);

    let mut g = c.benchmark_group("plugin");
    g.throughput(Throughput::Elements(1));
    g.bench_function("plugin_route_lua_subscriber_with_forwards", |b| {
        b.iter(|| lua.route(black_box(&sub_req)).unwrap())
    });
    g.bench_function("plugin_route_lua_pstn", |b| {
        b.iter(|| lua.route(black_box(&pstn_req)).unwrap())
    });
    g.bench_function("plugin_route_plain_subscriber_with_forwards", |b| {
        b.iter(|| plain.route(black_box(&sub_req)).unwrap())
    });
    g.bench_function("plugin_route_plain_pstn", |b| {
        b.iter(|| plain.route(black_box(&pstn_req)).unwrap())
    });
    g.bench_function("plugin_router_lookup_per_call", |b| {
        b.iter(|| black_box(host.router()))
    });
    g.sample_size(30);
    g.bench_function("plugin_reload_default", |b| {
        b.iter(|| host.reload().unwrap())
    });
    // the first call on each signalling thread after a reload compiles the new version
    g.bench_function("plugin_reload_then_first_route", |b| {
        b.iter(|| {
            host.reload().unwrap();
            host.router().route(black_box(&sub_req)).unwrap()
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, plugin_route);
criterion_main!(benches);
