//! The digest decision for one request.

use super::nonce::{NonceCheck, Nonces, ReplayWindow};
use crate::sip::digest::{write_challenge, Algorithm, Credentials};
use crate::store::AccountRecord;

/// What to do with a request after looking at its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The credentials are right; `username` is the name they were made for.
    Authenticated { username: String },
    /// Send a challenge (no credentials, a nonce we did not issue, or a stale one).
    Challenge { stale: bool },
    /// Wrong credentials, unknown user or a replay: the same answer for all of them.
    Forbidden,
}

/// The digest decision with one case kept apart: a right digest whose nonce count (or, without
/// qop, whose nonce) the replay window has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Decided: what `verify` returns.
    Decided(AuthOutcome),
    /// The digest is right for its nonce, cnonce and nonce count, and only the replay window
    /// refuses it: `refusal` (403 with qop, a stale challenge without). Refused like any
    /// other replay unless the caller knows the request for a retransmission of one it
    /// already carried out (`registrar::repeat`, REGISTER only).
    Replayed { refusal: AuthOutcome },
}

impl Checked {
    /// The decision for a request not known to be a retransmission: a replay is refused.
    pub fn outcome(self) -> AuthOutcome {
        match self {
            Checked::Decided(o) => o,
            Checked::Replayed { refusal } => refusal,
        }
    }
}

/// Checks `creds` for `method` against `account` (`None` when the user is unknown). The
/// work done is the same whether or not the account exists, so timing does not tell them
/// apart either.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    creds: Option<&Credentials<'_>>,
    method: &str,
    realm: &str,
    algorithms: &[Algorithm],
    account: Option<&AccountRecord>,
    nonces: &Nonces,
    replay: &mut ReplayWindow,
    now: u64,
) -> AuthOutcome {
    check(
        creds, method, realm, algorithms, account, nonces, replay, now,
    )
    .outcome()
}

/// `verify`, saying apart a right digest that only the replay window refuses. The window
/// records the nonce count only when it accepts it, so a replay leaves it as it was.
#[allow(clippy::too_many_arguments)]
pub fn check(
    creds: Option<&Credentials<'_>>,
    method: &str,
    realm: &str,
    algorithms: &[Algorithm],
    account: Option<&AccountRecord>,
    nonces: &Nonces,
    replay: &mut ReplayWindow,
    now: u64,
) -> Checked {
    let decided = Checked::Decided;
    let Some(c) = creds else {
        return decided(AuthOutcome::Challenge { stale: false });
    };
    if c.realm != realm || !algorithms.contains(&c.algorithm) {
        return decided(AuthOutcome::Challenge { stale: false });
    }
    let issued_at = match nonces.check(c.nonce, now) {
        NonceCheck::Forged => return decided(AuthOutcome::Challenge { stale: false }),
        NonceCheck::Stale => None,
        NonceCheck::Fresh { issued_at } => Some(issued_at),
    };
    let cred = account
        .filter(|a| a.realm == realm)
        .and_then(|a| a.credential(c.username));
    let dummy = [0u8; 32];
    let ha1: &[u8] = match (cred, c.algorithm) {
        (Some(cr), Algorithm::Md5) => &cr.md5,
        (Some(cr), Algorithm::Sha256) => &cr.sha256,
        (None, alg) => &dummy[..alg.len()],
    };
    let digest_ok = c.verify(method, ha1) && cred.is_some();
    let Some(issued_at) = issued_at else {
        // RFC 7616 §3.3: stale only when the digest itself was valid
        return decided(if digest_ok {
            AuthOutcome::Challenge { stale: true }
        } else {
            AuthOutcome::Forbidden
        });
    };
    if !digest_ok {
        return decided(AuthOutcome::Forbidden);
    }
    if c.qop_auth {
        let (Some(cnonce), Some(nc)) = (c.cnonce, c.nc) else {
            return decided(AuthOutcome::Forbidden);
        };
        if !replay.accept(c.nonce, cnonce, nc, issued_at) {
            return Checked::Replayed {
                refusal: AuthOutcome::Forbidden,
            };
        }
    } else {
        // without qop there is no nonce count; accept each nonce once per user
        if !replay.accept(c.nonce, "", 1, issued_at) {
            return Checked::Replayed {
                refusal: AuthOutcome::Challenge { stale: true },
            };
        }
    }
    decided(AuthOutcome::Authenticated {
        username: c.username.to_owned(),
    })
}

/// The challenge values to send, one per algorithm in order of preference (RFC 8760 §2.4:
/// SHA-256 first, MD5 for older phones).
pub fn challenge_values(
    realm: &str,
    nonce: &str,
    stale: bool,
    algorithms: &[Algorithm],
) -> Vec<String> {
    algorithms
        .iter()
        .map(|&alg| {
            let mut v = String::with_capacity(128);
            write_challenge(&mut v, realm, nonce, alg, stale);
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest::{ha1, Challenge};
    use crate::store::Credential;
    use std::time::Duration;

    const REALM: &str = "switchboard";
    const BOTH: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

    fn account(password: &str) -> AccountRecord {
        let md5 = ha1(Algorithm::Md5, "1001", REALM, password);
        let sha = ha1(Algorithm::Sha256, "1001", REALM, password);
        AccountRecord {
            realm: REALM.into(),
            credentials: vec![Credential {
                username: "1001".into(),
                md5: md5.try_into().unwrap(),
                sha256: sha.try_into().unwrap(),
            }],
            created_unix: 0,
        }
    }

    fn answer(nonce: &str, alg_index: usize, password: &str, nc: u32) -> String {
        let ch = &challenge_values(REALM, nonce, false, &BOTH)[alg_index];
        Challenge::parse(ch)
            .unwrap()
            .answer("REGISTER", "sip:sb", "1001", password, "cn", nc)
    }

    #[test]
    fn right_password_authenticates_with_either_algorithm() {
        let nonces = Nonces::new([1; 32], Duration::from_secs(300));
        let nonce = nonces.issue(100);
        for alg in 0..2 {
            let mut w = ReplayWindow::default();
            let v = answer(&nonce, alg, "secret", 1);
            let c = Credentials::parse(&v).unwrap();
            let out = verify(
                Some(&c),
                "REGISTER",
                REALM,
                &BOTH,
                Some(&account("secret")),
                &nonces,
                &mut w,
                101,
            );
            assert_eq!(
                out,
                AuthOutcome::Authenticated {
                    username: "1001".into()
                }
            );
        }
    }

    #[test]
    fn wrong_password_unknown_user_and_replay_all_look_the_same() {
        let nonces = Nonces::new([1; 32], Duration::from_secs(300));
        let nonce = nonces.issue(100);
        let mut w = ReplayWindow::default();
        let v = answer(&nonce, 0, "wrong", 1);
        let c = Credentials::parse(&v).unwrap();
        let acc = account("secret");
        let wrong = verify(
            Some(&c),
            "REGISTER",
            REALM,
            &BOTH,
            Some(&acc),
            &nonces,
            &mut w,
            101,
        );
        let unknown = verify(
            Some(&c),
            "REGISTER",
            REALM,
            &BOTH,
            None,
            &nonces,
            &mut w,
            101,
        );
        let v = answer(&nonce, 0, "secret", 1);
        let c = Credentials::parse(&v).unwrap();
        assert!(matches!(
            verify(
                Some(&c),
                "REGISTER",
                REALM,
                &BOTH,
                Some(&acc),
                &nonces,
                &mut w,
                101
            ),
            AuthOutcome::Authenticated { .. }
        ));
        let replay = verify(
            Some(&c),
            "REGISTER",
            REALM,
            &BOTH,
            Some(&acc),
            &nonces,
            &mut w,
            102,
        );
        assert_eq!(wrong, AuthOutcome::Forbidden);
        assert_eq!(unknown, AuthOutcome::Forbidden);
        assert_eq!(replay, AuthOutcome::Forbidden);
    }

    #[test]
    fn expired_nonce_with_right_digest_asks_again_with_stale() {
        let nonces = Nonces::new([1; 32], Duration::from_secs(300));
        let nonce = nonces.issue(100);
        let mut w = ReplayWindow::default();
        let v = answer(&nonce, 0, "secret", 1);
        let c = Credentials::parse(&v).unwrap();
        let out = verify(
            Some(&c),
            "REGISTER",
            REALM,
            &BOTH,
            Some(&account("secret")),
            &nonces,
            &mut w,
            1000,
        );
        assert_eq!(out, AuthOutcome::Challenge { stale: true });
    }

    #[test]
    fn no_credentials_or_foreign_nonce_get_a_challenge() {
        let nonces = Nonces::new([1; 32], Duration::from_secs(300));
        let mut w = ReplayWindow::default();
        assert_eq!(
            verify(None, "REGISTER", REALM, &BOTH, None, &nonces, &mut w, 1),
            AuthOutcome::Challenge { stale: false }
        );
        let v = answer("bogus", 0, "secret", 1);
        let c = Credentials::parse(&v).unwrap();
        assert_eq!(
            verify(
                Some(&c),
                "REGISTER",
                REALM,
                &BOTH,
                Some(&account("secret")),
                &nonces,
                &mut w,
                1
            ),
            AuthOutcome::Challenge { stale: false }
        );
    }

    #[test]
    fn an_algorithm_the_operator_turned_off_is_not_accepted() {
        let nonces = Nonces::new([1; 32], Duration::from_secs(300));
        let nonce = nonces.issue(100);
        let mut w = ReplayWindow::default();
        let v = answer(&nonce, 1, "secret", 1);
        let c = Credentials::parse(&v).unwrap();
        let sha_only = [Algorithm::Sha256];
        let acc = account("secret");
        let out = verify(
            Some(&c),
            "REGISTER",
            REALM,
            &sha_only,
            Some(&acc),
            &nonces,
            &mut w,
            101,
        );
        assert_eq!(out, AuthOutcome::Challenge { stale: false });
    }

    fn check_as(v: &str, acc: &AccountRecord, nonces: &Nonces, w: &mut ReplayWindow) -> Checked {
        let c = Credentials::parse(v).unwrap();
        check(
            Some(&c),
            "REGISTER",
            REALM,
            &BOTH,
            Some(acc),
            nonces,
            w,
            101,
        )
    }

    #[test]
    fn a_right_digest_with_a_seen_nonce_count_is_told_apart_and_still_refused() {
        let nonces = Nonces::new([1; 32], Duration::from_secs(300));
        let nonce = nonces.issue(100);
        let acc = account("secret");
        let mut w = ReplayWindow::default();
        let v = answer(&nonce, 0, "secret", 1);
        assert!(matches!(
            check_as(&v, &acc, &nonces, &mut w),
            Checked::Decided(AuthOutcome::Authenticated { .. })
        ));
        let again = check_as(&v, &acc, &nonces, &mut w);
        assert_eq!(
            again,
            Checked::Replayed {
                refusal: AuthOutcome::Forbidden
            }
        );
        assert_eq!(again.outcome(), AuthOutcome::Forbidden, "verify refuses it");
        // a wrong digest with the seen count is not a replay of a right one
        let wrong = answer(&nonce, 0, "wrong", 1);
        assert_eq!(
            check_as(&wrong, &acc, &nonces, &mut w),
            Checked::Decided(AuthOutcome::Forbidden)
        );
        // the refused replay recorded nothing: the next count is still fresh
        let next = answer(&nonce, 0, "secret", 2);
        assert!(matches!(
            check_as(&next, &acc, &nonces, &mut w),
            Checked::Decided(AuthOutcome::Authenticated { .. })
        ));
    }

    #[test]
    fn without_qop_a_reused_nonce_is_a_replay_refused_with_a_stale_challenge() {
        let nonces = Nonces::new([1; 32], Duration::from_secs(300));
        let nonce = nonces.issue(100);
        let acc = account("secret");
        let mut w = ReplayWindow::default();
        let ch = format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm=MD5");
        let v = Challenge::parse(&ch)
            .unwrap()
            .answer("REGISTER", "sip:sb", "1001", "secret", "cn", 1);
        assert!(!v.contains("qop"), "{v}");
        assert!(matches!(
            check_as(&v, &acc, &nonces, &mut w),
            Checked::Decided(AuthOutcome::Authenticated { .. })
        ));
        let again = check_as(&v, &acc, &nonces, &mut w);
        assert_eq!(
            again,
            Checked::Replayed {
                refusal: AuthOutcome::Challenge { stale: true }
            }
        );
        assert_eq!(again.outcome(), AuthOutcome::Challenge { stale: true });
    }

    #[test]
    fn challenges_offer_sha256_first() {
        let v = challenge_values(REALM, "n1", true, &BOTH);
        let (a, b) = (&v[0], &v[1]);
        assert!(a.contains("algorithm=SHA-256") && a.ends_with("stale=true"));
        assert!(b.contains("algorithm=MD5"));
    }
}
