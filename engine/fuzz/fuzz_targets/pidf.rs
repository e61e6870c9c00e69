//! The PIDF parser on arbitrary bytes: it must answer without panicking, and every document it
//! accepts renders to a body it accepts again as the same document (render and parse are
//! exact inverses on what parse produces). Contact feature tags are read from the same bytes
//! and may set only the defined capability bits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::presence::caps::Caps;
use switchboard_engine::presence::pidf;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = pidf::parse(data) {
        let mut out = String::new();
        pidf::render(&doc, &mut out);
        assert!(
            out.len() <= pidf::MAX_BODY,
            "parse keeps renderings within the limit"
        );
        match pidf::parse(out.as_bytes()) {
            Ok(again) => assert_eq!(again, doc, "{out}"),
            Err(e) => panic!("rendering of an accepted document refused: {e}\n{out}"),
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let c = Caps::from_contact(s);
        assert_eq!(c.0 & !0x1f, 0);
        assert!(c.is_declared() || c == Caps::assumed());
    }
});
