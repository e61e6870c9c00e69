//! A call that goes to a subscriber's mailbox: the routing sequence said so
//! (`Step::Voicemail`: busy, not answered, no device registered, or forwarded there), and the
//! leg answers it itself as the part in `deposit.rs`, for the caller to leave a message.
//!
//! What the caller hears depends on the mailbox (read here, on the leg's arbiter: sled serves
//! settings and records from memory, greetings are a small file each): the subscriber's
//! greeting for the reason, and whether the mailbox is full. The media is the call's anchored
//! session when it has one (a caller who heard ringback keeps the answer it got), else a
//! session of the switch's own.
//!
//! Guarantees: a call whose mailbox cannot be reached (no offer from the caller, no media
//! port, no subscriber) is answered 480 as if there were no voicemail; the routing sequence
//! is over once the switch answers (its 2xx is not a routed answer: the subscriber is not on
//! the phone).

use std::sync::Arc;

use switchboard_engine::routing::DiversionReason;
use switchboard_engine::voicemail::{CaptureLimits, DepositConfig, Greeting, Reason};
use tracing::{info, warn};

use super::super::party::OwnMedia;
use super::super::CallLeg;
use super::deposit::{DepositCall, DepositSetup};
use super::VoicemailCall;
use crate::clock::now;
use crate::mailbox::Capacity;

impl CallLeg {
    /// The call of transaction `i` goes to the mailbox of the subscriber it was for.
    pub(in crate::call_leg) fn voicemail(&mut self, i: usize, why: DiversionReason) {
        let t = now();
        let unavailable = |leg: &mut CallLeg, i: usize| {
            leg.txns[i]
                .ctx
                .respond(t, 480, "Temporarily Unavailable", &[]);
        };
        let (Some(me), Some(setup)) = (self.me.clone(), self.txns[i].setup.as_ref()) else {
            return unavailable(self, i);
        };
        let Some(mailbox) = setup.location().map(|(a, _)| a.clone()) else {
            return unavailable(self, i);
        };
        let caller = setup
            .caller()
            .map_or_else(|| "anonymous".to_owned(), |a| a.as_str().to_owned());
        let Some(offer) = super::super::anchoring::sdp_of(self.txns[i].ctx.request()) else {
            return unavailable(self, i);
        };
        let mailboxes = &self.shared.mailboxes;
        let (settings, capacity) =
            match (mailboxes.settings(&mailbox), mailboxes.capacity(&mailbox)) {
                (Ok(s), Ok(c)) => (s, c),
                (Err(e), _) | (_, Err(e)) => {
                    warn!(mailbox = %mailbox.redacted(), error = %e, "mailbox not readable");
                    return unavailable(self, i);
                }
            };
        if !self.shared.config.voicemail.enabled || !settings.enabled {
            // voicemail is off (for everyone, or for this subscriber): a forward to it too
            return unavailable(self, i);
        }
        let reason = match why {
            DiversionReason::UserBusy => Reason::Busy,
            _ => Reason::Unavailable,
        };
        let own = match reason {
            Reason::Busy => Greeting::Busy,
            Reason::Unavailable => Greeting::Unavailable,
        };
        let mut greetings = Vec::new();
        for kind in [own, Greeting::Name] {
            if !settings.greetings.has(kind) {
                continue;
            }
            match mailboxes.greeting(&mailbox, kind) {
                Ok(Some((rate, samples))) => greetings.push((kind, rate, Arc::from(samples))),
                Ok(None) => {}
                Err(e) => warn!(mailbox = %mailbox.redacted(), error = %e, "greeting not readable"),
            }
        }
        let mut present = settings.greetings;
        for kind in [own, Greeting::Name] {
            present.set(kind, greetings.iter().any(|(k, _, _)| *k == kind));
        }
        let limits = mailboxes.limits();
        let (full, max_length) = match capacity {
            Capacity::Full => (true, limits.max_message),
            Capacity::Room(d) => (false, d),
        };
        let config = DepositConfig {
            reason,
            number: mailbox.as_str().to_owned(),
            greetings: present,
            full,
            capture: CaptureLimits {
                max_length,
                min_length: limits.min_message,
                ..CaptureLimits::default()
            },
            max_call: max_length + std::time::Duration::from_secs(180),
            ..DepositConfig::default()
        };
        // an anchored call keeps its session (and the answer the caller may have had with
        // ringback); otherwise the switch opens its own
        let media = match self.media.take() {
            Some(m) => m.into_own().map(|(session, sdp, codec)| OwnMedia {
                session,
                sdp,
                codec,
                origin: 0,
            }),
            None => self.own_media(&offer),
        };
        self.callee_offer = None;
        let Some(media) = media else {
            return unavailable(self, i);
        };
        // the switch answers: the sequence is over, and its 2xx is not a routed answer
        self.txns[i].setup = None;
        let setup = DepositSetup {
            mailbox: mailbox.clone(),
            caller,
            config,
            greetings,
            writer: self.shared.deposits.clone(),
            heard: me.recipient(),
        };
        let local = self.shared.local.clone();
        let call = DepositCall::answer(
            t,
            &mut self.txns[i],
            &local,
            &mut self.entropy,
            media,
            setup,
        );
        if let Some(call) = call {
            info!(mailbox = %mailbox.redacted(), reason = why.as_str(), "call answered by voicemail");
            self.voicemail = Some(VoicemailCall::deposit(call));
        }
    }
}
