//! Voice notices on arbitrary input: a stored record that decodes encodes back to the same
//! bytes' meaning, a message id gives back the sequence it was made from and nothing else
//! panics, numbers spelled for speech keep their digits and every other character, and any sequence of call
//! results, deadlines and restarts given to the attempts machine keeps its promises: no call
//! while one is out, never more calls than the first plus the retries, and `Finished` once,
//! last.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use switchboard_engine::messaging::message_id;
use switchboard_engine::messaging::voice::{
    seq_of_message_id, spell_digits, AttemptResult, Cause, Failure, NoticeAction,
    NoticeAttempts, Retries, VoiceNoticeRecord,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = VoiceNoticeRecord::decode(data) {
        assert_eq!(VoiceNoticeRecord::decode(&rec.encode()), Ok(rec));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = seq_of_message_id(text);
        let spelled = spell_digits(text);
        // spelling keeps the digits in order and adds only "plus", spaces and commas
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        assert_eq!(digits(&spelled), digits(text));
        let rest = |s: &str| {
            s.chars()
                .filter(|c| !"+-0123456789 ,plus".contains(*c))
                .collect::<String>()
        };
        assert_eq!(rest(&spelled), rest(text));
    }
    let Some((&head, ops)) = data.split_first() else {
        return;
    };
    let seq = u64::from(head) * 0x0101_0101;
    assert_eq!(seq_of_message_id(&message_id(seq, "x9", "sb.example")), Some(seq));

    let retries = Retries {
        retries: u32::from(head % 4),
        after: Duration::from_secs(1),
    };
    let t0 = Instant::now();
    let mut t = t0;
    let mut n = NoticeAttempts::new(retries, 0, None);
    let (mut out, mut dials, mut finished) = (None::<u32>, 0u32, false);
    for &op in ops {
        match op % 6 {
            0 => n.begin(t),
            1 => {
                if let Some(at) = n.poll_timeout() {
                    t = t.max(at);
                }
                n.handle_timeout(t);
            }
            2 => n.handle_result(t, u32::from(op >> 3), AttemptResult::Delivered),
            3 => {
                let attempt = out.unwrap_or(u32::from(op >> 3));
                n.handle_result(t, attempt, AttemptResult::Failed(Failure::of_final(486)));
            }
            4 => {
                let attempt = out.unwrap_or(0);
                let f = Failure::new(Cause::Rejected, u16::from(op));
                n.handle_result(t, attempt, AttemptResult::Failed(f));
            }
            _ => n.give_up(Failure::new(Cause::NotSpoken, 0)),
        }
        while let Some(a) = n.poll_action() {
            assert!(!finished, "nothing after Finished: {a:?}");
            match a {
                NoticeAction::Dial { attempt } => {
                    assert!(out.is_none(), "a call while one is out");
                    dials += 1;
                    assert_eq!(attempt, dials);
                    assert!(dials <= retries.retries + 1, "{dials} calls");
                    out = Some(attempt);
                }
                NoticeAction::Waiting { attempts, .. } => {
                    assert_eq!(Some(attempts), out.take());
                }
                NoticeAction::Finished { attempts, .. } => {
                    assert!(attempts <= dials);
                    finished = true;
                }
            }
        }
        if finished {
            assert_eq!(n.poll_timeout(), None);
        }
    }
});
