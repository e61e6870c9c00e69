//! Late retransmissions of an authenticated REGISTER.
//!
//! A REGISTER has no server transaction: the worker's ring of recent answers
//! (`txn::answers`) repeats an answer while it holds it, and a retransmission it no longer
//! holds reaches the registrar again. Its credentials are the same bytes, so the digest replay
//! window has seen their nonce count and refuses them, yet the phone's client transaction
//! still waits for the answer it lost (64*T1, Timer F, RFC 3261 §17.1.2.2) and should hear
//! the same 200 again.
//!
//! So an address's owner remembers the Call-ID and CSeq of the REGISTERs it applied within
//! that window (the same request: a new request of a Call-ID has a higher CSeq, §8.1.1.5),
//! and `admit` answers a request again, applying nothing, only when all of these hold:
//!
//! - the digest is right for its nonce, cnonce and nonce count, and only the replay window
//!   refuses it (`auth::Checked::Replayed`); a wrong digest is refused as before;
//! - its Call-ID, CSeq and Authorization header (the same bytes: a retransmission repeats
//!   them) are those of a REGISTER applied to this address less than the window ago. Another
//!   CSeq, Call-ID or credentials with a seen nonce count is a replay, refused as before, and
//!   so is the same request once its client transaction is over.
//!
//! It is kept per address of record, not per binding, so a removal (`Expires: 0`, or `*`)
//! retransmitted after its binding is gone is answered again too. A few requests are kept, one
//! per Call-ID (the devices of one number registering within the same half minute); a phone
//! sends no new REGISTER before the last one's answer or timeout (§10.2), so a newer CSeq of a
//! Call-ID takes its older one's place. The window is bounded by time and by count, and
//! nothing outlives it: `expire` frees what is past it.

use std::time::{Duration, Instant};

use crate::auth::{AuthOutcome, Checked};
use crate::sip::Message;

/// At most this many REGISTERs are remembered per address (the oldest goes first).
pub const MOST: usize = 4;

/// The REGISTERs applied to one address of record within the retransmission window.
#[derive(Debug, Clone)]
pub struct RecentRegisters {
    window: Duration,
    /// One per Call-ID, in no particular order; empty (no allocation) when nothing is recent.
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    call_id: Box<str>,
    cseq: u32,
    /// A hash of the request's Authorization header value (0 without one).
    credentials: u64,
    at: Instant,
}

/// The hash of `req`'s Authorization header value that an entry keeps.
fn credentials(req: &Message) -> u64 {
    use std::hash::BuildHasher;
    req.header(crate::sip::HeaderName::Authorization)
        .map_or(0, |v| rustc_hash::FxBuildHasher.hash_one(v.as_bytes()))
}

/// What to do with an authenticated REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The credentials are good: apply it.
    Apply,
    /// A retransmission of a REGISTER already applied: answer 200 with the bindings as they
    /// are, applying nothing.
    AnswerAgain,
    /// Refused with this decision (a challenge or 403).
    Refuse(AuthOutcome),
}

impl RecentRegisters {
    /// Remembers requests for `window` (64*T1, the client transaction's life).
    pub fn new(window: Duration) -> RecentRegisters {
        RecentRegisters {
            window,
            entries: Vec::new(),
        }
    }

    /// Notes that `req` was applied at `now`. A request without Call-ID or CSeq (which the
    /// registrar refuses) is not noted.
    pub fn record(&mut self, req: &Message, now: Instant) {
        let (Some(call_id), Some(cseq)) = (req.call_id(), req.cseq()) else {
            return;
        };
        self.expire(now);
        if let Some(e) = self.entries.iter_mut().find(|e| &*e.call_id == call_id) {
            // a refresh of the same Call-ID: no allocation
            e.cseq = cseq.seq;
            e.credentials = credentials(req);
            e.at = now;
            return;
        }
        if self.entries.len() >= MOST {
            let oldest = (0..self.entries.len())
                .min_by_key(|&i| self.entries[i].at)
                .unwrap_or(0);
            self.entries.swap_remove(oldest);
        }
        // room for what is used only (most numbers have one device)
        self.entries.reserve_exact(1);
        self.entries.push(Entry {
            call_id: call_id.into(),
            cseq: cseq.seq,
            credentials: credentials(req),
            at: now,
        });
    }

    /// Whether `req` has the Call-ID, CSeq and credentials of a request applied less than the
    /// window ago.
    pub fn holds(&self, req: &Message, now: Instant) -> bool {
        let (Some(call_id), Some(cseq)) = (req.call_id(), req.cseq()) else {
            return false;
        };
        let creds = credentials(req);
        self.entries.iter().any(|e| {
            &*e.call_id == call_id
                && e.cseq == cseq.seq
                && e.credentials == creds
                && now.saturating_duration_since(e.at) <= self.window
        })
    }

    /// Forgets the requests past the window; frees the list once it is empty.
    pub fn expire(&mut self, now: Instant) {
        let window = self.window;
        self.entries
            .retain(|e| now.saturating_duration_since(e.at) <= window);
        if self.entries.is_empty() && self.entries.capacity() > 0 {
            self.entries = Vec::new();
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The decision for a REGISTER whose credentials were `checked`, given the requests recently
/// applied to its address.
pub fn admit(checked: Checked, req: &Message, recent: &RecentRegisters, now: Instant) -> Admission {
    match checked {
        Checked::Decided(AuthOutcome::Authenticated { .. }) => Admission::Apply,
        Checked::Decided(refusal) => Admission::Refuse(refusal),
        Checked::Replayed { .. } if recent.holds(req, now) => Admission::AnswerAgain,
        Checked::Replayed { refusal } => Admission::Refuse(refusal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{challenge_values, check, Nonces, ReplayWindow};
    use crate::flow::Flow;
    use crate::registrar::{apply, contact_values, Policy};
    use crate::sip::digest::{ha1, Algorithm, Challenge, Credentials};
    use crate::store::{AccountRecord, Credential};
    use bytes::Bytes;

    const WINDOW: Duration = Duration::from_secs(32);
    const REALM: &str = "switchboard";

    fn register(call_id: &str, cseq: u32, expires: u32, auth: Option<&str>) -> Message {
        let mut s = format!(
            "REGISTER sip:sb SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK{cseq}\r\n\
To: <sip:1001@sb>\r\nFrom: <sip:1001@sb>;tag=a\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n\
Contact: <sip:1001@192.0.2.10:5062>\r\nExpires: {expires}\r\n"
        );
        if let Some(a) = auth {
            s.push_str(&format!("Authorization: {a}\r\n"));
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        Message::parse(Bytes::from(s)).unwrap()
    }

    fn replayed() -> Checked {
        Checked::Replayed {
            refusal: AuthOutcome::Forbidden,
        }
    }

    #[test]
    fn a_replayed_digest_on_the_last_applied_call_id_and_cseq_is_answered_again() {
        let t0 = Instant::now();
        let mut recent = RecentRegisters::new(WINDOW);
        let req = register("c1", 7, 600, None);
        recent.record(&req, t0);
        let later = t0 + Duration::from_secs(20);
        assert_eq!(
            admit(replayed(), &req, &recent, later),
            Admission::AnswerAgain
        );
    }

    #[test]
    fn a_replayed_digest_on_another_cseq_or_call_id_is_refused() {
        let t0 = Instant::now();
        let mut recent = RecentRegisters::new(WINDOW);
        recent.record(&register("c1", 7, 600, None), t0);
        for other in [
            register("c1", 8, 600, None),
            register("c1", 6, 600, None),
            register("c2", 7, 600, None),
        ] {
            assert_eq!(
                admit(replayed(), &other, &recent, t0),
                Admission::Refuse(AuthOutcome::Forbidden)
            );
        }
        // without qop the replay window's refusal is a stale challenge, kept as it is
        let stale = Checked::Replayed {
            refusal: AuthOutcome::Challenge { stale: true },
        };
        assert_eq!(
            admit(stale, &register("c3", 1, 600, None), &recent, t0),
            Admission::Refuse(AuthOutcome::Challenge { stale: true })
        );
    }

    #[test]
    fn a_wrong_digest_is_refused_even_on_the_last_applied_request() {
        let t0 = Instant::now();
        let mut recent = RecentRegisters::new(WINDOW);
        let req = register("c1", 7, 600, None);
        recent.record(&req, t0);
        for refusal in [
            AuthOutcome::Forbidden,
            AuthOutcome::Challenge { stale: false },
            AuthOutcome::Challenge { stale: true },
        ] {
            assert_eq!(
                admit(Checked::Decided(refusal.clone()), &req, &recent, t0),
                Admission::Refuse(refusal)
            );
        }
        let good = Checked::Decided(AuthOutcome::Authenticated {
            username: "1001".into(),
        });
        assert_eq!(admit(good, &req, &recent, t0), Admission::Apply);
    }

    #[test]
    fn other_credentials_on_the_last_applied_call_id_and_cseq_are_a_replay() {
        let t0 = Instant::now();
        let mut recent = RecentRegisters::new(WINDOW);
        let sent = r#"Digest username="1001", nonce="n1", nc=00000001, response="aa""#;
        let other = r#"Digest username="1001", nonce="n2", nc=00000001, response="bb""#;
        recent.record(&register("c1", 7, 600, Some(sent)), t0);
        let again = register("c1", 7, 600, Some(sent));
        assert_eq!(
            admit(replayed(), &again, &recent, t0),
            Admission::AnswerAgain
        );
        // the headers of another request, copied onto this Call-ID and CSeq: a replay
        let copied = register("c1", 7, 600, Some(other));
        assert_eq!(
            admit(replayed(), &copied, &recent, t0),
            Admission::Refuse(AuthOutcome::Forbidden)
        );
    }

    #[test]
    fn the_same_request_after_the_window_is_a_replay() {
        let t0 = Instant::now();
        let mut recent = RecentRegisters::new(WINDOW);
        let req = register("c1", 7, 600, None);
        recent.record(&req, t0);
        assert!(recent.holds(&req, t0 + WINDOW));
        assert_eq!(
            admit(
                replayed(),
                &req,
                &recent,
                t0 + WINDOW + Duration::from_millis(1)
            ),
            Admission::Refuse(AuthOutcome::Forbidden)
        );
        recent.expire(t0 + WINDOW + Duration::from_millis(1));
        assert!(recent.is_empty());
        assert_eq!(recent.entries.capacity(), 0, "nothing held once it is past");
    }

    #[test]
    fn a_newer_cseq_of_a_call_id_takes_the_older_ones_place() {
        let t0 = Instant::now();
        let mut recent = RecentRegisters::new(WINDOW);
        let (old, new) = (register("c1", 7, 600, None), register("c1", 8, 600, None));
        recent.record(&old, t0);
        recent.record(&new, t0 + Duration::from_secs(1));
        assert_eq!(recent.len(), 1);
        assert!(!recent.holds(&old, t0 + Duration::from_secs(1)));
        assert!(recent.holds(&new, t0 + Duration::from_secs(1)));
    }

    #[test]
    fn a_few_devices_are_remembered_the_oldest_going_first() {
        let t0 = Instant::now();
        let mut recent = RecentRegisters::new(WINDOW);
        let one = register("device-0", 1, 600, None);
        recent.record(&one, t0);
        assert_eq!(recent.entries.capacity(), 1, "room for one device only");
        for i in 1..=MOST {
            let at = t0 + Duration::from_secs(i as u64);
            recent.record(&register(&format!("device-{i}"), 1, 600, None), at);
        }
        let now = t0 + Duration::from_secs(MOST as u64);
        assert_eq!(recent.len(), MOST);
        assert!(!recent.holds(&one, now), "the oldest made room");
        for i in 1..=MOST {
            assert!(recent.holds(&register(&format!("device-{i}"), 1, 600, None), now));
        }
    }

    /// The whole path with real digests: the replay window, the decision and the registrar.
    #[test]
    fn a_late_retransmission_gets_200_with_the_bindings_and_a_replay_gets_403() {
        let nonces = Nonces::new([3; 32], Duration::from_secs(300));
        let nonce = nonces.issue(100);
        let account = AccountRecord {
            realm: REALM.into(),
            credentials: vec![Credential {
                username: "1001".into(),
                md5: ha1(Algorithm::Md5, "1001", REALM, "pw").try_into().unwrap(),
                sha256: ha1(Algorithm::Sha256, "1001", REALM, "pw")
                    .try_into()
                    .unwrap(),
            }],
            created_unix: 0,
        };
        let algorithms = [Algorithm::Sha256, Algorithm::Md5];
        let ch = &challenge_values(REALM, &nonce, false, &algorithms)[0];
        let digest = |password: &str, nc: u32| {
            Challenge::parse(ch)
                .unwrap()
                .answer("REGISTER", "sip:sb", "1001", password, "cn", nc)
        };
        let mut window = ReplayWindow::default();
        let mut recent = RecentRegisters::new(WINDOW);
        let mut bindings = Vec::new();
        let flow = Flow::udp("192.0.2.10:5062".parse().unwrap());
        let t0 = Instant::now();
        // what the Extension does with a REGISTER, at `now` (and `unix` seconds)
        let mut handle = |req: &Message, now: Instant, unix: u64, bindings: &mut Vec<_>| {
            let v = req.header(crate::sip::HeaderName::Authorization).unwrap();
            let creds = Credentials::parse(v).unwrap();
            let checked = check(
                Some(&creds),
                "REGISTER",
                REALM,
                &algorithms,
                Some(&account),
                &nonces,
                &mut window,
                unix,
            );
            match admit(checked, req, &recent, now) {
                Admission::Apply => {
                    apply(req, bindings, unix, &Policy::default(), &flow).unwrap();
                    recent.record(req, now);
                    Ok(contact_values(bindings, unix))
                }
                Admission::AnswerAgain => Ok(contact_values(bindings, unix)),
                Admission::Refuse(o) => Err(o),
            }
        };
        let first = register("phone", 2, 600, Some(&digest("pw", 1)));
        assert_eq!(
            handle(&first, t0, 101, &mut bindings),
            Ok(vec!["<sip:1001@192.0.2.10:5062>;expires=600".to_owned()])
        );
        // the answer was lost and the ring forgot it: the same bytes 5 s later
        let again = handle(&first, t0 + Duration::from_secs(5), 106, &mut bindings);
        assert_eq!(
            again,
            Ok(vec!["<sip:1001@192.0.2.10:5062>;expires=595".to_owned()]),
            "the binding as it is, not refreshed"
        );
        // the same credentials on a new CSeq or Call-ID: a replay
        let replay = register("phone", 3, 600, Some(&digest("pw", 1)));
        assert_eq!(
            handle(&replay, t0, 106, &mut bindings),
            Err(AuthOutcome::Forbidden)
        );
        let replay = register("other", 2, 600, Some(&digest("pw", 1)));
        assert_eq!(
            handle(&replay, t0, 106, &mut bindings),
            Err(AuthOutcome::Forbidden)
        );
        // a wrong password on the very request applied: refused
        let wrong = register("phone", 2, 600, Some(&digest("nope", 1)));
        assert_eq!(
            handle(&wrong, t0, 106, &mut bindings),
            Err(AuthOutcome::Forbidden)
        );
        // a removal, retransmitted after its binding is gone: 200 with no binding
        let gone = register("phone", 3, 0, Some(&digest("pw", 2)));
        assert_eq!(handle(&gone, t0, 107, &mut bindings), Ok(vec![]));
        assert!(bindings.is_empty());
        let t = t0 + Duration::from_secs(10);
        assert_eq!(handle(&gone, t, 117, &mut bindings), Ok(vec![]));
        // and past the client transaction's life, the same bytes are a replay
        let t = t0 + WINDOW + Duration::from_secs(1);
        assert_eq!(
            handle(&gone, t, 140, &mut bindings),
            Err(AuthOutcome::Forbidden)
        );
    }
}
