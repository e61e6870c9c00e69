//! The inventory file parser on arbitrary text, then every block it accepts loaded into a
//! desk through the numbering plan (counts kept small): nothing may panic, a refused text
//! leaves the desk empty, and a loaded one lists only numbers the plan reads.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::inventory::{
    parse_inventory, Desk, Filter, InventoryLine, Listed, Terms, UnixTime,
};
use switchboard_engine::numbering::NumberingPlan;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(lines) = parse_inventory(text) else {
        return;
    };
    let small = lines.iter().all(|l| match l {
        InventoryLine::Block(b) => b.count <= 50,
        InventoryLine::Class(_) => true,
    });
    if !small {
        return;
    }
    let plan = NumberingPlan::new("KR").unwrap();
    let mut desk = Desk::new(Terms::default());
    match desk.load(&plan, &lines) {
        Ok(_) => {
            let page = desk.search(UnixTime(0), &Filter::default(), None, 1000);
            for l in page.numbers {
                let again = Listed::read(&plan, l.kind, &l.display, &l.class).unwrap();
                assert_eq!(&again, l);
            }
        }
        Err(_) => assert!(desk.stock().is_empty()),
    }
});
