//! `analytics::Aggregates::record` allocates nothing once the day, the names and the
//! currency of a record have been seen: the CDR writer's per-call cost is additions only.
//!
//! A counting global allocator tallies allocations per thread (tests run in parallel); the
//! test warms the aggregate with one record of each kind, then records thousands more on the
//! same day and asserts the count did not move.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use switchboard_engine::analytics::{Aggregates, Day, Grouping};
use switchboard_engine::cdr::{CallRecord, Charge, MediaMode, Outcome};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // try_with: the allocator also runs while thread-locals are torn down
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every call is passed on unchanged to the system allocator; counting touches only a
// const-initialized thread-local Cell, which neither allocates nor re-enters the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract for `alloc` is the system allocator's
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from this allocator, that is from `System`
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn records() -> Vec<CallRecord> {
    let setup = 20_000 * 86_400_000 + 3_600_000;
    let mut out = Vec::new();
    for (i, country) in ["KR", "DE", "US"].iter().enumerate() {
        for trunk in [Some("carrier-a"), Some("carrier-b"), None] {
            for answered in [true, false] {
                out.push(CallRecord {
                    id: out.len() as u64,
                    call_id: "c".into(),
                    caller: "+4930123".into(),
                    dialed: "0082".into(),
                    routed: None,
                    trunk: trunk.map(Into::into),
                    country: Some((*country).into()),
                    setup_unix_ms: setup + i as u64,
                    answer_unix_ms: answered.then_some(setup + 2_000),
                    end_unix_ms: setup + 62_000,
                    outcome: if answered {
                        Outcome::Answered
                    } else {
                        Outcome::Busy
                    },
                    cause: 200,
                    reason: String::new(),
                    media: MediaMode::Direct,
                    plugin_version: 1,
                    charge: answered.then(|| Charge {
                        table: "retail".into(),
                        prefix: "82".into(),
                        billed_secs: 60,
                        amount_minor: 120,
                        currency: if i == 0 { "EUR" } else { "USD" }.into(),
                    }),
                });
            }
        }
    }
    out
}

#[test]
fn recording_a_known_day_and_known_names_allocates_nothing() {
    let pool = records();
    let mut a = Aggregates::new();
    for r in &pool {
        a.record(r);
    }
    let before = allocations();
    for n in 0..10_000 {
        let r = &pool[n % pool.len()];
        a.record(r);
        a.mark_written(n as u64);
    }
    assert_eq!(allocations() - before, 0, "allocations in 10,000 records");
    // and they were counted
    let rows = a.query(Day(20_000), Day(20_000), Grouping::Day);
    assert_eq!(rows[0].calls, 10_000 + pool.len() as u64);
}
