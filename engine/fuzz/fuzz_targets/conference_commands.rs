//! The conference's digit parsers on arbitrary input. Text that parses as a `Pin` gives back
//! the same text. The bytes also drive a `PinEntry` and a `CommandCollector` as a run of
//! 2-byte records (a digit or a timeout, and a time gap): neither may panic; the entry gives
//! at most one final outcome, fewer retries than its attempts, and no deadline once over;
//! the collector only completes a command on the digit that ends it, right after a `*`, holds
//! no more than `MAX_COMMAND_DIGITS` and has a deadline exactly while it holds digits; and
//! `parse_command` agrees with the digits a command is given by.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use switchboard_engine::conference::{
    parse_command, CommandCollector, Parse, Pin, PinConfig, PinEntry, MAX_COMMAND_DIGITS,
};
use switchboard_engine::media::dtmf::Digit;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(pin) = Pin::parse(text) {
            assert_eq!(pin.as_str(), text);
        }
    }
    let Some((&head, rest)) = data.split_first() else {
        return;
    };

    // record: byte 0 = digit (low 4 bits, RFC 4733 events 0-15) or, with bit 4, a timeout;
    // byte 1 = the time before it, in units of 100 ms
    let records: Vec<(Option<Digit>, Duration)> = rest
        .chunks_exact(2)
        .map(|r| {
            let digit = (r[0] & 0x10 == 0).then(|| Digit::from_event(r[0] & 0x0f).unwrap());
            (digit, Duration::from_millis(u64::from(r[1]) * 100))
        })
        .collect();

    let run: Vec<Digit> = records.iter().filter_map(|r| r.0).collect();
    if let Parse::Command(c) = parse_command(&run) {
        let keyed: String = run.iter().map(|d| d.as_char()).collect();
        assert_eq!(keyed, c.digits());
    }

    let attempts = u32::from(head >> 2 & 3);
    let config = PinConfig {
        participant: (head & 1 == 1).then(|| Pin::parse("1234").unwrap()),
        moderator: (head & 2 == 2).then(|| Pin::parse("99").unwrap()),
        attempts,
        first_digit: Duration::from_secs(4),
        inter_digit: Duration::from_secs(2),
        overall: Duration::from_secs(u64::from(head >> 4) * 4),
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut entry = PinEntry::new(t0, config);
    let mut collector = CommandCollector::new(Duration::from_secs(2));
    let (mut finals, mut retries) = (0, 0);
    let mut previous: Option<Digit> = None;
    let drain = |entry: &mut PinEntry, finals: &mut u32, retries: &mut u32| {
        while let Some(o) = entry.poll_outcome() {
            if o.is_final() {
                *finals += 1;
            } else {
                *retries += 1;
            }
        }
    };
    drain(&mut entry, &mut finals, &mut retries);
    for (digit, gap) in records {
        now += gap;
        match digit {
            Some(d) => {
                entry.handle_digit(now, d);
                collector.handle_digit(now, d);
                if let Some(c) = collector.poll_command() {
                    assert_eq!(c.digits().chars().nth(1), Some(d.as_char()));
                    assert_eq!(previous.map(|p| p.as_char()), Some('*'));
                }
                previous = Some(d);
            }
            None => {
                if let Some(at) = entry.poll_timeout() {
                    assert!(at >= t0);
                    entry.handle_timeout(at.max(now));
                    now = now.max(at);
                }
                if let Some(at) = collector.poll_timeout() {
                    collector.handle_timeout(at.max(now));
                    assert!(collector.pending().is_empty());
                }
            }
        }
        drain(&mut entry, &mut finals, &mut retries);
        assert!(finals <= 1, "one final outcome at most");
        assert!(retries < attempts.max(1), "{retries} retries of {attempts} attempts");
        if entry.is_finished() {
            assert_eq!(entry.poll_timeout(), None);
        }
        assert!(collector.pending().len() <= MAX_COMMAND_DIGITS);
        assert_eq!(
            collector.poll_timeout().is_some(),
            !collector.pending().is_empty()
        );
    }
});
