//! A subscriber dials their mailbox: the voicemail number (`[voicemail] number`, `*98`), the
//! feature code `*97`, or their own number from their own phone (`routing.rs` and
//! `feature.rs` send those here). The leg answers the call itself as the part in
//! `listen.rs`, on the mailbox of the caller, whose credentials the INVITE proved.
//!
//! What the session starts with is read here, on the leg's arbiter (sled serves records and
//! settings from memory): the messages, whether the mailbox is full, the PIN, the wrong PINs
//! counted so far and a lockout. Who keys the PIN: every caller when `[voicemail]
//! pin_from_own_phone` is on (the default); with it off the subscriber's own phone goes
//! straight to the menu; a mailbox without a PIN lets its own phone in either way, so the
//! subscriber can choose one.
//!
//! Guarantees: only a subscriber reaches a mailbox, and only their own (anyone else hears
//! 403); a call without an offer is refused (488) before anything is set up; with voicemail
//! off for the switch the number answers 480.

use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::{CaptureLimits, MenuConfig};
use tracing::{info, warn};

use super::super::CallLeg;
use super::listen::{ListenCall, ListenSetup};
use super::VoicemailCall;
use crate::clock::{now, unix_now};
use crate::mailbox::Capacity;

impl CallLeg {
    /// The INVITE of transaction `i` dials `caller`'s own mailbox.
    pub(in crate::call_leg) fn listen(&mut self, i: usize, caller: Option<Aor>) {
        let t = now();
        let Some(mailbox) = caller else {
            return self.txns[i]
                .ctx
                .respond(t, 403, "Mailboxes Are For Subscribers", &[]);
        };
        let config = &self.shared.config.voicemail;
        if !config.enabled {
            return self.txns[i]
                .ctx
                .respond(t, 480, "Voicemail Not Available", &[]);
        }
        let Some(offer) = super::super::anchoring::sdp_of(self.txns[i].ctx.request()) else {
            // the switch answers with its own media, so it needs the phone's offer
            return self.txns[i].ctx.respond(t, 488, "Offer Required", &[]);
        };
        let Some(me) = self.me.clone() else {
            return self.txns[i]
                .ctx
                .respond(t, 500, "Server Internal Error", &[]);
        };
        let mailboxes = &self.shared.mailboxes;
        let read = mailboxes.settings(&mailbox).and_then(|s| {
            let messages = mailboxes.messages(&mailbox)?;
            Ok((s, messages, mailboxes.capacity(&mailbox)?))
        });
        let (settings, messages, capacity) = match read {
            Ok(r) => r,
            Err(e) => {
                warn!(mailbox = %mailbox.redacted(), error = %e, "mailbox not readable");
                return self.txns[i]
                    .ctx
                    .respond(t, 480, "Mailbox Not Available", &[]);
            }
        };
        let now_unix = unix_now();
        let lockout = config.pin_lockout();
        let pin = settings.pin();
        let greeting = CaptureLimits {
            max_length: std::time::Duration::from_secs(60),
            ..CaptureLimits::default()
        };
        let menu = MenuConfig {
            trusted: !config.pin_from_own_phone || pin.is_none(),
            pin,
            pin_failures: settings.pin_failures_now(now_unix, &lockout),
            max_pin_failures: lockout.failures,
            pin_attempts: config.pin_attempts,
            greeting,
            now_unix,
            utc_offset: config.utc_offset_minutes * 60,
            full: capacity == Capacity::Full,
            ..MenuConfig::default()
        };
        let setup = ListenSetup {
            mailbox: mailbox.clone(),
            config: menu,
            messages,
            mailboxes: mailboxes.clone(),
            writer: self.shared.deposits.clone(),
            lockout,
            silence_dbfs: greeting.silence_dbfs,
            domain: self.shared.local.domain.to_string(),
            heard: me.clone().recipient(),
            greetings: me.recipient(),
        };
        let number = config.number.clone();
        let Some(media) = self.own_media(&offer) else {
            return self.txns[i].ctx.respond(t, 488, "Not Acceptable Here", &[]);
        };
        self.file_call(Some(&mailbox), &number);
        let local = self.shared.local.clone();
        let call = ListenCall::answer(
            t,
            &mut self.txns[i],
            &local,
            &mut self.entropy,
            media,
            setup,
        );
        if let Some(call) = call {
            info!(mailbox = %mailbox.redacted(), "mailbox call answered");
            self.voicemail = Some(VoicemailCall::listen(call));
        }
    }
}
