//! Operation sequences on the credit wallets (admit, reserve, release, balance changes) from
//! arbitrary bytes: nothing panics; the credit calls hold is never negative and, while no
//! debit lowered the balance, never more than the balance; the allowance of the free credit is
//! paid by it, and one more increment would not be.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::credit::{
    talk_allowance, Admission, BillingAccount, Mode, Wallets, MAX_ALLOWANCE_SECS,
};
use switchboard_engine::tariff::{Fixed, Increments, Rate};

const NUMBER: &str = "+8211";

fuzz_target!(|data: &[u8]| {
    let mut w = Wallets::new();
    let mut a = BillingAccount::new(Mode::Prepaid, None, "EUR", 0);
    a.balance_minor = 1_000;
    a.next_seq = 2;
    w.put(NUMBER, &a);
    let mut seq = 2;
    let mut lowered = false;
    for op in data.chunks(4) {
        let [kind, x, y, z] = [0, 1, 2, 3].map(|i| op.get(i).copied().unwrap_or(0));
        let call = format!("c{}", x % 8);
        let rate = Rate {
            per_minute: Fixed(u64::from(y) * 10_000),
            connection: Fixed(u64::from(z) * 1_000),
            increments: Increments {
                first_secs: 1 + u32::from(x % 60),
                next_secs: 1 + u32::from(y % 30),
            },
            currency: "EUR".into(),
        };
        match kind % 4 {
            0 => {
                if let Admission::Admitted { held } = w.admit(NUMBER, &call, Some(&rate)) {
                    assert!(held >= 0);
                }
            }
            1 => {
                if let Some(g) = w.reserve(&call) {
                    assert!(g.held >= 0);
                }
            }
            2 => {
                w.release(&call);
            }
            _ => {
                seq += 1;
                let (balance, _) = w.balance(NUMBER).unwrap_or((0, 0));
                let delta = i64::from(y) - i64::from(z);
                lowered |= delta < 0;
                w.apply(NUMBER, seq, balance + delta);
            }
        }
        let (balance, held) = w.balance(NUMBER).unwrap_or((0, 0));
        assert!(held >= 0, "held {held}");
        if !lowered {
            assert!(held <= balance, "held {held} of {balance}");
        }
        // the allowance of what is free is paid by it, and one more increment is not
        let free = w.available(NUMBER).unwrap_or(0);
        if let Some(secs) = talk_allowance(&rate, free) {
            assert!(rate.price(secs).amount_minor <= free);
            let more = secs.saturating_add(rate.increments.next_secs);
            if more <= MAX_ALLOWANCE_SECS {
                assert!(rate.price(more).amount_minor > free);
            }
        }
    }
});
