//! credit_*: the prepaid work of one off-net call, done in the CallLeg under the wallets' lock
//! (so every prepaid call of the switch waits on it). Goal: well under 1 µs each.
//! `credit_admit_reserve_release_10k` is a call's whole life in the wallets (the check at
//! routing, the reservation at the answer, the release at settlement) among 10,000 accounts;
//! `credit_allowance` the allowance division alone.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use switchboard_engine::credit::{talk_allowance, BillingAccount, Mode, Wallets};
use switchboard_engine::tariff::{Fixed, Increments, Rate};

fn credit(c: &mut Criterion) {
    let rate = Rate {
        per_minute: Fixed(85_000),
        connection: Fixed(5_000),
        increments: Increments {
            first_secs: 30,
            next_secs: 6,
        },
        currency: "EUR".into(),
    };
    let mut w = Wallets::new();
    let numbers: Vec<String> = (0..10_000).map(|n| format!("+82110{n:06}")).collect();
    for n in &numbers {
        let mut a = BillingAccount::new(Mode::Prepaid, None, "EUR", 0);
        a.balance_minor = 10_000;
        a.next_seq = 2;
        w.put(n, &a);
    }
    let calls: Vec<String> = (0..1024).map(|n| format!("call-{n}@host")).collect();
    let mut i = 0;
    c.bench_function("credit_admit_reserve_release_10k", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let n = &numbers[i * 7 % numbers.len()];
            black_box(w.admit(n, &calls[i], Some(&rate)));
            black_box(w.reserve(&calls[i]));
            black_box(w.release(&calls[i]))
        })
    });
    let mut balance = 0i64;
    c.bench_function("credit_allowance", |b| {
        b.iter(|| {
            balance = (balance + 37) % 100_000;
            black_box(talk_allowance(black_box(&rate), black_box(balance)))
        })
    });
}

criterion_group!(benches, credit);
criterion_main!(benches);
