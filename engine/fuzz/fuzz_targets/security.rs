//! The security parsers and matchers on arbitrary input: a network (`trusted` entries) parses
//! or is refused without panicking, and a parsed network contains its own address; the
//! scanner User-Agent match answers for any header value (any bytes, any case), and finds a
//! scanner's name wherever it sits in the value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_engine::security::scanner::DEFAULT_SCANNERS;
use switchboard_engine::security::{Network, ScannerAgents};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(n) = Network::parse(s) {
        let addr = s.split('/').next().unwrap_or("").trim();
        let ip: std::net::IpAddr = addr.parse().expect("a parsed network's address parses");
        assert!(n.contains(ip), "{s} contains its own address");
    }
    let agents = ScannerAgents::new(&DEFAULT_SCANNERS);
    let _ = agents.matches(s);
    let wrapped = format!("{s} SIPVicious {s}");
    assert!(agents.matches(&wrapped).is_some());
});
