//! A prepaid caller's off-net call: checked before it leaves by a trunk, given the talk time
//! its credit pays at the answer, and cut by the switch (a BYE to each side) when that time is
//! over, as Kamailio's cnxcc does.
//!
//! The arithmetic and the holds are `switchboard_engine::credit` (`Wallets`, shared by every
//! call in `crate::billing::Billing`); this file carries the decisions out:
//! - before the first trunk attempt, `credit_admit`: a caller whose free credit does not pay
//!   the destination's first increment (connection fee included) is answered 402 Insufficient
//!   Credit after a spoken announcement as early media (`refusal.rs`: 183 with the switch's
//!   SDP, the prompt, then the 402), and nothing leaves the switch;
//! - at the answer, `credit_answered`: the call holds the price of its whole allowance and the
//!   leg arms its cut [`CUT_MARGIN`] before the allowance is over, so the talked time the
//!   record bills (rounded up to the second) never passes the last paid increment;
//! - at the cut, `credit_check`: BYEs go out and the call ends with reason
//!   `credit exhausted`. The charge is debited when the record is written (`crate::billing`),
//!   which also gives the hold back.

use std::time::{Duration, Instant};

use switchboard_engine::credit::Admission;
use switchboard_engine::prompt::clip;
use switchboard_engine::routing::Step;
use tracing::{info, warn};

use super::CallLeg;
use crate::clock::now;

/// How long before the end of the paid time the switch sends its BYEs: the timer may fire a
/// little late and the record rounds the talked time up to whole seconds.
pub const CUT_MARGIN: Duration = Duration::from_millis(200);

/// The Reason header of the switch's BYEs (RFC 3326).
const REASON_CREDIT: &str = "SIP;cause=402;text=\"Credit Exhausted\"";

/// A metered call: the account paying and when the credit runs out.
pub(super) struct Metered {
    number: String,
    cut_at: Option<Instant>,
}

impl CallLeg {
    /// The call is about to leave by a trunk: the prepaid check. The refusal to answer, if the
    /// caller cannot pay.
    pub(super) fn credit_admit(&mut self, i: usize) -> Option<Step> {
        let (number, destination) = self.rated_parties()?;
        let tariffs = self.shared.tariffs.current();
        let admission = {
            let mut wallets = self.shared.billing.wallets();
            if !wallets.is_prepaid(&number) {
                return None;
            }
            let table = tariffs.table_for(wallets.plan(&number));
            let rate = table.and_then(|t| t.lookup(&destination)).map(|(_, r)| r);
            wallets.admit(&number, &self.call_id, rate)
        };
        match admission {
            Admission::Unmetered => None,
            Admission::Admitted { held } => {
                info!(held, "prepaid call admitted");
                self.credit = Some(Metered {
                    number,
                    cut_at: None,
                });
                None
            }
            Admission::Refused { needed, available } => {
                info!(
                    needed,
                    available, "prepaid call refused: insufficient credit"
                );
                Some(self.refuse_announced(i, 402, "Insufficient Credit", clip::CREDIT_LOW))
            }
            Admission::Unpriced => {
                info!("prepaid call refused: no price for the destination");
                Some(self.refuse_announced(i, 402, "No Price For Destination", clip::NO_PRICE))
            }
        }
    }

    /// The call was answered: how long it may talk, and when the switch cuts it.
    pub(super) fn credit_answered(&mut self) {
        let Some(m) = self.credit.as_mut() else {
            return;
        };
        if m.cut_at.is_some() {
            return;
        }
        let grant = self.shared.billing.wallets().reserve(&self.call_id);
        let Some(grant) = grant else {
            self.credit = None;
            return;
        };
        let paid = Duration::from_secs(u64::from(grant.secs));
        m.cut_at = Some(now() + paid.saturating_sub(CUT_MARGIN));
        info!(
            number = %switchboard_engine::numbering::Redacted(&m.number),
            secs = grant.secs,
            held = grant.held,
            "prepaid call answered"
        );
    }

    /// When the credit of the call runs out, if it is metered and answered.
    pub(super) fn credit_deadline(&self) -> Option<Instant> {
        self.credit.as_ref().and_then(|m| m.cut_at)
    }

    /// The credit ran out at `t`: the switch ends the call.
    pub(super) fn credit_check(&mut self, t: Instant) {
        if self.credit_deadline().is_some_and(|at| at <= t) && !self.call.is_ended() {
            info!(reason = "credit exhausted", "call ended by the switch");
            if !self.bye_both(REASON_CREDIT) {
                warn!("credit exhausted but the dialog is unknown: no BYE sent");
            }
            self.end_call("credit exhausted");
        }
    }

    /// The call ended: nothing more to cut (its hold goes with its record).
    pub(super) fn credit_ended(&mut self) {
        if let Some(m) = self.credit.as_mut() {
            m.cut_at = None;
        }
    }
}
