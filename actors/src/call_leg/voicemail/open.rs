//! A caller dials a mailbox to listen. A subscriber's own: the voicemail number (`[voicemail]
//! number`, `*98`), the feature code `*97`, or their own number from their own phone
//! (`routing.rs` and `feature.rs` send those here). Any mailbox: the access number
//! (`[voicemail] access_number`, none by default), which anyone may dial, from any phone; or
//! `*` at the PIN prompt of one's own. The leg answers the call itself as the part in
//! `listen.rs`.
//!
//! What the session starts with is read here, on the leg's arbiter (sled serves records and
//! settings from memory): the messages, whether the mailbox is full, the PIN, the wrong PINs
//! counted so far and a lockout. Who keys the PIN: every caller when `[voicemail]
//! pin_from_own_phone` is on (the default); with it off the subscriber's own phone goes
//! straight to the menu; a mailbox without a PIN lets its own phone in either way, so the
//! subscriber can choose one.
//!
//! Another mailbox is opened the same way by `keyed.rs` when the menu asks (`OpenMailbox`).
//!
//! Guarantees: the voicemail number and `*97` open only the caller's own mailbox, for a
//! subscriber (anyone else hears 403); another mailbox always takes its PIN, never the trust
//! of the caller's phone; a call without an offer is refused (488) before anything is set up;
//! with voicemail off for the switch both numbers answer 480.

use switchboard_engine::numbering::Aor;
use switchboard_engine::voicemail::{CaptureLimits, MenuConfig, VoicemailRecord};
use tracing::{info, warn};

use super::super::CallLeg;
use super::listen::{ListenCall, ListenSetup};
use super::VoicemailCall;
use crate::clock::{now, unix_now};
use crate::mailbox::Capacity;
use crate::shared::Shared;

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
        let menu = MenuConfig {
            trusted: !config.pin_from_own_phone || pin.is_none(),
            pin,
            pin_failures: settings.pin_failures_now(now_unix, &lockout),
            full: capacity == Capacity::Full,
            ..menu_config(&self.shared, now_unix)
        };
        let number = config.number.clone();
        self.answer_listen(
            i,
            Some(mailbox.clone()),
            menu,
            messages,
            Some(&mailbox),
            &number,
        );
    }

    /// The INVITE of transaction `i` dials the access number: anyone (`caller` when a
    /// subscriber) is asked which mailbox, then its PIN.
    pub(in crate::call_leg) fn listen_any(&mut self, i: usize, caller: Option<Aor>) {
        let config = &self.shared.config.voicemail;
        if !config.enabled {
            return self.txns[i]
                .ctx
                .respond(now(), 480, "Voicemail Not Available", &[]);
        }
        let menu = MenuConfig {
            ask_mailbox: true,
            ..menu_config(&self.shared, unix_now())
        };
        let number = config.access_number.clone();
        self.answer_listen(i, None, menu, Vec::new(), caller.as_ref(), &number);
    }

    /// Answers the INVITE of transaction `i` with a mailbox session on `mailbox` (`None`: the
    /// caller says which); the calls table files it as `caller` dialing `number`.
    fn answer_listen(
        &mut self,
        i: usize,
        mailbox: Option<Aor>,
        menu: MenuConfig,
        messages: Vec<VoicemailRecord>,
        caller: Option<&Aor>,
        number: &str,
    ) {
        let t = now();
        let Some(offer) = super::super::anchoring::sdp_of(self.txns[i].ctx.request()) else {
            // the switch answers with its own media, so it needs the phone's offer
            return self.txns[i].ctx.respond(t, 488, "Offer Required", &[]);
        };
        let Some(me) = self.me.clone() else {
            return self.txns[i]
                .ctx
                .respond(t, 500, "Server Internal Error", &[]);
        };
        let config = &self.shared.config.voicemail;
        let who = mailbox
            .as_ref()
            .map_or_else(|| "asked".to_owned(), |m| m.redacted().to_string());
        let setup = ListenSetup {
            mailbox,
            silence_dbfs: menu.greeting.silence_dbfs,
            config: menu,
            messages,
            shared: self.shared.clone(),
            writer: self.shared.deposits.clone(),
            lockout: config.pin_lockout(),
            domain: self.shared.local.domain.to_string(),
            heard: me.clone().recipient(),
            greetings: me.recipient(),
        };
        let Some(media) = self.own_media(&offer) else {
            return self.txns[i].ctx.respond(t, 488, "Not Acceptable Here", &[]);
        };
        self.file_call(caller, number);
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
            info!(mailbox = %who, "mailbox call answered");
            self.voicemail = Some(VoicemailCall::listen(call));
        }
    }
}

/// How a mailbox session runs, whoever's mailbox: the operator's sign-in rules, greeting
/// limits and time zone, at `now_unix`.
fn menu_config(shared: &Shared, now_unix: u64) -> MenuConfig {
    let config = &shared.config.voicemail;
    MenuConfig {
        max_pin_failures: config.pin_lockout().failures,
        pin_attempts: config.pin_attempts,
        greeting: CaptureLimits {
            max_length: std::time::Duration::from_secs(60),
            ..CaptureLimits::default()
        },
        now_unix,
        utc_offset: config.utc_offset_minutes * 60,
        ..MenuConfig::default()
    }
}
