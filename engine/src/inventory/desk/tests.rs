use super::*;
use crate::inventory::{parse_inventory, Pattern, Price};

const T0: UnixTime = UnixTime(1_700_000_000);

const TEXT: &str = "class standard 10000 KRW\nclass golden 500000 KRW\n\
block personal standard 20 02-6200-6200-082\n\
block enterprise golden 3 6200-7776#082\n";

fn plan() -> NumberingPlan {
    NumberingPlan::new("KR").unwrap()
}

fn desk() -> Desk {
    let mut d = Desk::new(Terms::default());
    d.load(&plan(), &parse_inventory(TEXT).unwrap()).unwrap();
    d
}

fn account() -> AccountRecord {
    AccountRecord {
        realm: "r".into(),
        credentials: Vec::new(),
        created_unix: 0,
    }
}

fn keys(d: &mut Desk, now: UnixTime, f: &Filter) -> Vec<String> {
    let page = d.search(now, f, None, 1000);
    page.numbers.iter().map(|l| l.key.clone()).collect()
}

const FIRST: &str = "+82262006200";
/// The client making the holds.
const SRC: &str = "192.0.2.1";

#[test]
fn loading_reads_every_number_and_a_second_load_adds_nothing() {
    let mut d = desk();
    assert_eq!(d.stock().len(), 23);
    assert_eq!(d.blocks().len(), 2);
    assert_eq!(d.blocks()[1].country, 82);
    let again = d.load(&plan(), &parse_inventory(TEXT).unwrap()).unwrap();
    assert_eq!((again.added, again.present, again.blocks), (0, 23, 0));
    assert_eq!(d.stock().len(), 23);
}

#[test]
fn a_bad_block_refuses_the_whole_text() {
    let mut d = Desk::new(Terms::default());
    let text =
        "class std 1 KRW\nblock personal std 5 02-6200-6200-082\nblock personal std 2 6200#082\n";
    let err = d
        .load(&plan(), &parse_inventory(text).unwrap())
        .unwrap_err();
    assert!(matches!(err, DeskError::Listing { .. }), "{err}");
    assert!(d.stock().is_empty());
    assert_eq!(d.classes().count(), 0);
    let unknown = parse_inventory("block personal cheap 1 02-6200-6200-082").unwrap();
    assert_eq!(
        d.load(&plan(), &unknown),
        Err(DeskError::UnknownClass("cheap".into()))
    );
}

#[test]
fn search_filters_by_kind_country_and_pattern_and_pages() {
    let mut d = desk();
    let ent = Filter {
        kind: Some(NumberKind::Enterprise),
        ..Filter::default()
    };
    assert_eq!(
        keys(&mut d, T0, &ent),
        ["62007776#082", "62007777#082", "62007778#082"]
    );
    let golden = Filter {
        pattern: Some(Pattern::parse("~4").unwrap()),
        ..Filter::default()
    };
    assert_eq!(keys(&mut d, T0, &golden), ["62007777#082"]);
    let ends = Filter {
        pattern: Some(Pattern::parse("19$").unwrap()),
        country: Some(82),
        ..Filter::default()
    };
    assert_eq!(keys(&mut d, T0, &ends), ["+82262006219"]);
    let nowhere = Filter {
        country: Some(1),
        ..Filter::default()
    };
    assert!(keys(&mut d, T0, &nowhere).is_empty());

    let all = Filter::default();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = d.search(T0, &all, after.as_deref(), 7);
        assert!(page.numbers.len() <= 7);
        seen.extend(page.numbers.iter().map(|l| l.key.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23, "every number once over the pages");
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted, seen);
}

#[test]
fn a_held_number_is_hidden_until_its_hold_expires() {
    let mut d = desk();
    let hold = d.reserve(T0, FIRST, "tok-a".into(), SRC).unwrap();
    assert_eq!(hold.until, T0.after(Terms::default().hold));
    assert!(!keys(&mut d, T0, &Filter::default()).contains(&FIRST.to_owned()));
    assert_eq!(
        d.reserve(T0, FIRST, "tok-b".into(), SRC),
        Err(DeskError::Taken)
    );
    assert_eq!(d.poll_timeout(), Some(hold.until));
    let just_before = UnixTime(hold.until.0 - 1);
    assert!(!keys(&mut d, just_before, &Filter::default()).contains(&FIRST.to_owned()));
    // time passes: the hold ends by itself and the number is for sale again
    while d.poll_dirty().is_some() {}
    assert!(keys(&mut d, hold.until, &Filter::default()).contains(&FIRST.to_owned()));
    assert_eq!(d.poll_dirty(), Some(Dirty::Number(FIRST.into())));
    assert_eq!(d.stock().get(FIRST).unwrap().state, SlotState::Free);
    assert!(d.reserve(hold.until, FIRST, "tok-b".into(), SRC).is_ok());
    assert_eq!(
        d.place(hold.until, FIRST, "tok-a", "o1".into(), account())
            .unwrap_err(),
        DeskError::NoHold,
        "the old hold's token is worth nothing"
    );
}

#[test]
fn an_order_needs_a_live_hold_with_its_token() {
    let mut d = desk();
    assert_eq!(
        d.place(T0, FIRST, "x", "o1".into(), account()).unwrap_err(),
        DeskError::NoHold
    );
    let hold = d.reserve(T0, FIRST, "tok".into(), SRC).unwrap();
    assert_eq!(
        d.place(T0, FIRST, "other", "o1".into(), account())
            .unwrap_err(),
        DeskError::NoHold
    );
    assert_eq!(
        d.place(hold.until, FIRST, "tok", "o1".into(), account())
            .unwrap_err(),
        DeskError::NoHold,
        "expired"
    );
}

fn paid(minor: u64, id: &str) -> OrderInput {
    OrderInput::Paid {
        payment: id.into(),
        amount: Price {
            minor,
            currency: "KRW".into(),
        },
    }
}

#[test]
fn a_paid_order_assigns_its_number_once() {
    let mut d = desk();
    d.reserve(T0, FIRST, "tok".into(), SRC).unwrap();
    let o = d.place(T0, FIRST, "tok", "o1".into(), account()).unwrap();
    assert_eq!(o.price.minor, 10_000);
    assert_eq!(o.account, FIRST);
    assert_eq!(
        d.handle_order(T0, "o1", paid(10_000, "p1")),
        Ok(OrderStep::Assign)
    );
    assert_eq!(
        d.handle_order(T0, "o1", paid(10_000, "p1")),
        Ok(OrderStep::Duplicate)
    );
    assert_eq!(
        d.stock().get(FIRST).unwrap().state,
        SlotState::Assigned { order: "o1".into() }
    );
    let later = T0.after(Duration::from_secs(86_400));
    assert!(!keys(&mut d, later, &Filter::default()).contains(&FIRST.to_owned()));
    assert_eq!(d.orders(Some("assigned")).len(), 1);
}

#[test]
fn a_sold_number_whose_account_is_removed_goes_back_on_sale_after_its_quarantine() {
    let mut d = desk();
    d.reserve(T0, FIRST, "tok".into(), SRC).unwrap();
    d.place(T0, FIRST, "tok", "o1".into(), account()).unwrap();
    d.handle_order(T0, "o1", paid(10_000, "p1")).unwrap();
    assert_eq!(d.sold_accounts(), [FIRST]);
    assert_eq!(d.release(T0, "+829999"), None, "not a sold account");
    while d.poll_dirty().is_some() {}
    let removed = T0.after(Duration::from_secs(3_600));
    assert_eq!(d.release(removed, FIRST).as_deref(), Some(FIRST));
    assert_eq!(d.poll_dirty(), Some(Dirty::Number(FIRST.into())));
    assert!(d.sold_accounts().is_empty());
    assert_eq!(d.release(removed, FIRST), None, "released once");
    let back = removed.after(Terms::default().quarantine);
    let before = UnixTime(back.0 - 1);
    assert!(!keys(&mut d, before, &Filter::default()).contains(&FIRST.to_owned()));
    assert_eq!(
        d.reserve(before, FIRST, "t2".into(), SRC).unwrap_err(),
        DeskError::Taken,
        "still in quarantine"
    );
    assert!(keys(&mut d, back, &Filter::default()).contains(&FIRST.to_owned()));
    d.reserve(back, FIRST, "t2".into(), SRC).unwrap();
    // the old order keeps its history
    assert_eq!(d.order("o1").unwrap().state, OrderState::Assigned);
    // sold again as the same account, and released again: by its newer order
    d.place(back, FIRST, "t2", "o2".into(), account()).unwrap();
    d.handle_order(back, "o2", paid(10_000, "p2")).unwrap();
    assert_eq!(d.sold_accounts(), [FIRST]);
    assert_eq!(d.release(back, FIRST).as_deref(), Some(FIRST));
    assert!(d.sold_accounts().is_empty());
}

#[test]
fn an_unpaid_order_expires_and_frees_its_number_and_a_late_webhook_is_only_recorded() {
    let mut d = desk();
    d.reserve(T0, FIRST, "tok".into(), SRC).unwrap();
    let pay_by = d
        .place(T0, FIRST, "tok", "o1".into(), account())
        .unwrap()
        .pay_by;
    // the hold's own deadline passes while the order is open: the number stays ordered
    let after_hold = T0.after(Terms::default().hold);
    assert!(!keys(&mut d, after_hold, &Filter::default()).contains(&FIRST.to_owned()));
    assert!(keys(&mut d, pay_by, &Filter::default()).contains(&FIRST.to_owned()));
    assert_eq!(d.order("o1").unwrap().label(), "expired");
    assert_eq!(
        d.handle_order(pay_by, "o1", paid(10_000, "p1")),
        Ok(OrderStep::Recorded)
    );
    assert_eq!(d.stock().get(FIRST).unwrap().state, SlotState::Free);
    assert!(!d.order("o1").unwrap().payments[0].counted);
}

#[test]
fn a_refused_enterprise_order_frees_its_number_and_an_approved_one_assigns() {
    let mut d = desk();
    for (key, id) in [("62007777#082", "o1"), ("62007778#082", "o2")] {
        d.reserve(T0, key, format!("t-{id}"), SRC).unwrap();
        d.place(T0, key, &format!("t-{id}"), id.into(), account())
            .unwrap();
    }
    assert_eq!(d.orders(Some("pending")).len(), 2);
    let refuse = OrderInput::Refuse {
        reason: "kept for the operator".into(),
    };
    assert_eq!(d.handle_order(T0, "o1", refuse), Ok(OrderStep::Release));
    assert_eq!(
        d.stock().get("62007777#082").unwrap().state,
        SlotState::Free
    );
    assert_eq!(
        d.handle_order(T0, "o2", paid(500_000, "p2")),
        Ok(OrderStep::Progressed)
    );
    assert_eq!(
        d.handle_order(T0, "o2", OrderInput::Approve),
        Ok(OrderStep::Assign)
    );
    assert_eq!(d.order("o2").unwrap().account, "ent-62007778-082");
    assert_eq!(
        d.handle_order(T0, "o9", OrderInput::Approve),
        Err(DeskError::NoSuchOrder)
    );
}

#[test]
fn one_source_holds_at_most_its_share_until_a_hold_runs_out_or_becomes_an_order() {
    let mut d = Desk::new(Terms {
        holds_per_source: 3,
        ..Terms::default()
    });
    d.load(&plan(), &parse_inventory(TEXT).unwrap()).unwrap();
    let key = |i: u32| format!("+822620062{i:02}");
    let at = |secs: u64| UnixTime(T0.0 + secs);
    let hold = Terms::default().hold.as_secs();
    for i in 0..3 {
        d.reserve(at(10 * u64::from(i)), &key(i), format!("t{i}"), SRC)
            .unwrap();
    }
    while d.poll_dirty().is_some() {}
    assert_eq!(
        d.reserve(at(30), &key(3), "t3".into(), SRC),
        Err(DeskError::TooManyHolds {
            limit: 3,
            retry_after_secs: hold - 30
        }),
        "the fourth waits for the first to run out"
    );
    assert_eq!(d.poll_dirty(), None, "a refused hold changes nothing");
    assert_eq!(d.stock().get(&key(3)).unwrap().state, SlotState::Free);
    assert_eq!(
        d.reserve(at(30), &key(0), "t".into(), SRC),
        Err(DeskError::Taken),
        "a held number is taken, whoever asks"
    );
    // another client is not held back
    d.reserve(at(30), &key(3), "other".into(), "198.51.100.7")
        .unwrap();

    // a hold that becomes an order frees its place
    d.place(at(40), &key(0), "t0", "o1".into(), account())
        .unwrap();
    d.reserve(at(40), &key(4), "t4".into(), SRC).unwrap();
    assert_eq!(
        d.reserve(at(50), &key(5), "t5".into(), SRC),
        Err(DeskError::TooManyHolds {
            limit: 3,
            retry_after_secs: hold + 10 - 50
        })
    );
    // and so does one that runs out
    d.reserve(at(hold + 10), &key(5), "t5".into(), SRC).unwrap();
    assert_eq!(
        d.reserve(at(hold + 10), &key(6), "t6".into(), SRC),
        Err(DeskError::TooManyHolds {
            limit: 3,
            retry_after_secs: 10
        })
    );
    // the number that ran out may be held again, by anyone, and counts for its new holder
    d.reserve(at(hold + 20), &key(1), "again".into(), "198.51.100.7")
        .unwrap();
    d.reserve(at(hold + 20), &key(6), "t6".into(), SRC).unwrap();
}

#[test]
fn the_written_records_restore_the_same_desk() {
    let mut d = desk();
    d.reserve(T0, FIRST, "tok".into(), SRC).unwrap();
    d.place(T0, FIRST, "tok", "o1".into(), account()).unwrap();
    d.reserve(T0, "+82262006201", "tok2".into(), SRC).unwrap();
    let mut dirty = BTreeSet::new();
    while let Some(x) = d.poll_dirty() {
        dirty.insert(x);
    }
    let mut classes = Vec::new();
    let mut blocks = Vec::new();
    let mut slots = Vec::new();
    let mut orders = Vec::new();
    for x in dirty {
        match x {
            Dirty::Class(n) => classes.push(d.class(&n).unwrap().clone()),
            Dirty::Block(id) => {
                blocks.push(d.blocks().iter().find(|b| b.id == id).unwrap().clone())
            }
            Dirty::Number(k) => {
                let bytes = crate::store::encode(d.stock().get(&k).unwrap());
                slots.push(crate::store::decode::<Slot>(&bytes).unwrap());
            }
            Dirty::Order(id) => {
                let bytes = crate::store::encode(d.order(&id).unwrap());
                orders.push(crate::store::decode::<Order>(&bytes).unwrap());
            }
        }
    }
    let mut back = Desk::restore(Terms::default(), classes, blocks, slots, orders);
    assert_eq!(back.stock().len(), 23);
    assert_eq!(back.order("o1"), d.order("o1"));
    assert_eq!(back.poll_timeout(), d.poll_timeout());
    let hold_end = T0.after(Terms::default().hold);
    assert!(keys(&mut back, hold_end, &Filter::default()).contains(&"+82262006201".to_owned()));
    assert_eq!(
        back.handle_order(T0, "o1", paid(10_000, "p1")),
        Ok(OrderStep::Assign)
    );
}

#[test]
fn numbers_are_found_by_any_spelling() {
    let d = desk();
    let p = plan();
    assert_eq!(d.key_of(&p, "02-6200-6200-082").as_deref(), Some(FIRST));
    assert_eq!(d.key_of(&p, FIRST).as_deref(), Some(FIRST));
    assert_eq!(
        d.key_of(&p, "6200-7777#082").as_deref(),
        Some("62007777#082")
    );
    assert_eq!(d.key_of(&p, "02-6300-6200-082"), None);
}
