//! The lookups members add to routing, on a store of 10,000 members (each owning one number
//! and claiming one verified outside number) and 1,000 phones signed in by hot desk:
//!
//! - `member_reached_at_10k`: a call or MESSAGE to an outside number finds its member (the
//!   index, then the record and its verified claim);
//! - `hotdesk_of_phone_miss_10k`: what every call from a subscriber pays (is its phone signed
//!   in as a member? mostly not);
//! - `hotdesk_phones_10k`: what each lookup of a called number pays (the phones signed in as
//!   it, a prefix scan).
//!
//! The store lives in a temporary directory under `target/`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use switchboard_actors::store::Store;
use switchboard_engine::members::{HotDeskSession, MemberDraft};
use switchboard_engine::numbering::{Aor, NumberingPlan};
use switchboard_engine::store::AccountRecord;

const MEMBERS: u64 = 10_000;
const NOW: u64 = 1_800_000_000;

fn setup() -> (Store, std::path::PathBuf) {
    let dir = std::env::current_dir()
        .unwrap()
        .join("target")
        .join(format!("bench-member-lookup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir, 1000, 64).unwrap();
    let plan = NumberingPlan::new("KR")
        .unwrap()
        .with_own_ranges(vec!["+8211".into()]);
    for i in 0..MEMBERS {
        let number = format!("{}", 100_000 + i);
        let account = AccountRecord {
            realm: "bench".into(),
            credentials: Vec::new(),
            created_unix: 0,
        };
        store
            .put_account(&Aor::from_canonical(&number), &account)
            .unwrap();
        let draft = MemberDraft {
            name: format!("member {i}"),
            email: format!("m{i}@example.com"),
            country: "KR".into(),
            numbers: vec![number.clone()],
            reachable_at: Some(format!("+8210{:08}", i)),
            other_numbers: Vec::new(),
        }
        .validate(&plan)
        .unwrap();
        let (id, _) = store.create_member(&draft, NOW).unwrap();
        store
            .modify_member(id, |m| {
                m.outside[0].verification.verified_unix = Some(NOW);
            })
            .unwrap();
        if i % 10 == 0 {
            let phone = format!("{}", 200_000 + i);
            let s =
                HotDeskSession::start(id.0, &number, &phone, NOW, Duration::from_secs(12 * 3600));
            store.hotdesk_sign_in(&s).unwrap();
        }
    }
    (store, dir)
}

fn lookups(c: &mut Criterion) {
    let (store, dir) = setup();
    let outside: Vec<Aor> = (0..MEMBERS)
        .step_by(97)
        .map(|i| Aor::from_canonical(&format!("+8210{:08}", i)))
        .collect();
    let mut n = 0;
    c.bench_function("member_reached_at_10k", |b| {
        b.iter(|| {
            n = (n + 1) % outside.len();
            assert!(store.member_reached_at(&outside[n]).unwrap().is_some());
        })
    });
    let phones: Vec<Aor> = (0..MEMBERS)
        .step_by(97)
        .map(|i| Aor::from_canonical(&format!("{}", 300_000 + i)))
        .collect();
    c.bench_function("hotdesk_of_phone_miss_10k", |b| {
        b.iter(|| {
            n = (n + 1) % phones.len();
            assert!(store.hotdesk_of_phone(&phones[n], NOW).unwrap().is_none());
        })
    });
    let numbers: Vec<Aor> = (0..MEMBERS)
        .step_by(10)
        .map(|i| Aor::from_canonical(&format!("{}", 100_000 + i)))
        .collect();
    c.bench_function("hotdesk_phones_10k", |b| {
        b.iter(|| {
            n = (n + 1) % numbers.len();
            assert_eq!(store.hotdesk_phones(&numbers[n], NOW).unwrap().len(), 1);
        })
    });
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, lookups);
criterion_main!(benches);
