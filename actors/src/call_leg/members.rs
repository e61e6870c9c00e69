//! Members in routing: outside numbers that reach a member, and hot desk.
//!
//! - A call or MESSAGE (from a subscriber or a trunk) to an outside number a member claimed
//!   and verified is routed to the member: to its first number on the switch, whose devices
//!   ring together with those of its other numbers. An unverified claim changes nothing: the
//!   number routes as any outside number does.
//! - `*55<number>*<pin>` from a registered phone signs it in as the member owning `<number>`;
//!   `*56` signs it out; `*55` alone answers with the voice menu (`voicemail/hotdesk.rs`)
//!   that asks for the number and the PIN and signs in through [`sign_in`] too. Both are confirmed like feature codes (`feature.rs`: the switch
//!   answers, chimes and hangs up) once the change is on disk. While signed in (until
//!   `[hotdesk] max_hours`), ringing the member's number rings the phone too, and the phone's
//!   calls present the member's number (P-Asserted-Identity).
//!
//! Guarantees: a wrong PIN is refused (403) and counted toward the member's lockout; a locked
//! member takes no PIN; hot desk is for subscribers only (a trunk or another domain hears
//! 403); lookups that fail leave the request routed as if there were no member.

use actix::{ActorFutureExt, AsyncContext, Context, WrapFuture};
use switchboard_engine::members::{
    HotDeskCode, HotDeskParseError, HotDeskSession, PinError, SignInOutcome,
};
use switchboard_engine::numbering::{Aor, Destination};
use switchboard_engine::sip::Method;
use tracing::{info, warn};

use super::CallLeg;
use crate::api::extension::Located;
use crate::clock::{now, unix_now};
use crate::shared::Shared;
use crate::store::api::Flush;

/// A member's first number and its other ones.
pub(super) type Ring = (Aor, Vec<Aor>);

impl CallLeg {
    /// A request to a member's verified outside number goes to the member's first number on
    /// the switch (the member's other numbers ring with it, `member_devices`); any other
    /// destination stays as it is. With the member: its first number and its other ones.
    pub(super) fn member_destination(&self, dest: Destination) -> (Destination, Option<Ring>) {
        let e164 = match &dest {
            Destination::Pstn(a) | Destination::Provider { e164: a, .. } => a,
            Destination::Personal { e164, .. }
                if self.shared.plan.subscriber_of(&dest).is_none() =>
            {
                e164
            }
            _ => return (dest, None),
        };
        let member = match self.shared.db.member_reached_at(e164) {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, "member lookup failed; routed as an outside number");
                return (dest, None);
            }
        };
        let Some((id, m)) = member else {
            return (dest, None);
        };
        let mut numbers = m.numbers.iter().map(|n| Aor::from_canonical(n));
        let Some(first) = numbers.next() else {
            return (dest, None);
        };
        info!(member = %id, number = %e164.redacted(), "outside number reaches a member");
        let ring = (first.clone(), numbers.collect());
        (Destination::Subscriber(first), Some(ring))
    }

    /// The caller as it presents itself: the member's number while its phone is signed in by
    /// hot desk, else the caller itself.
    pub(super) fn presented_caller(&self, caller: Option<Aor>) -> (Option<Aor>, bool) {
        let Some(phone) = caller else {
            return (None, false);
        };
        match self.shared.db.hotdesk_of_phone(&phone, unix_now()) {
            Ok(Some(s)) => (Some(Aor::from_canonical(&s.number)), true),
            Ok(None) => (Some(phone), false),
            Err(e) => {
                warn!(error = %e, "hot-desk lookup failed");
                (Some(phone), false)
            }
        }
    }

    /// Adds to what the lookup of `aor` found the devices that ring with it: the phones
    /// signed in as `aor` by hot desk, and (`also`) the member's other numbers, with theirs.
    pub(super) fn member_devices(&self, aor: &Aor, also: &[Aor], located: &mut Located) {
        let extra = self
            .shared
            .db
            .hotdesk_devices(aor, also, unix_now(), &located.bindings);
        located.bindings.extend(extra);
    }

    /// A hot-desk code (`*55<number>*<pin>`, `*56`) dialed by `caller`.
    pub(super) fn hot_desk(
        &mut self,
        i: usize,
        method: Method,
        caller: Option<Aor>,
        code: Result<HotDeskCode, HotDeskParseError>,
        ctx: &mut Context<Self>,
    ) {
        let t = now();
        if method != Method::Invite {
            return self.txns[i].ctx.respond(t, 404, "Not Found", &[]);
        }
        let Some(phone) = caller else {
            return self.txns[i]
                .ctx
                .respond(t, 403, "Feature Codes Are For Subscribers", &[]);
        };
        let code = match code {
            Ok(c) => c,
            Err(_) => return self.txns[i].ctx.respond(t, 484, "Address Incomplete", &[]),
        };
        let done = match code {
            HotDeskCode::SignOut => match self.shared.db.hotdesk_sign_out(&phone) {
                Ok(s) => {
                    if let Some(s) = s {
                        info!(phone = %phone.redacted(), member = s.member, "hot desk: signed out");
                    }
                    "Hot Desk Signed Out"
                }
                Err(e) => {
                    warn!(error = %e, "hot-desk session not removed");
                    return self.txns[i]
                        .ctx
                        .respond(t, 500, "Server Internal Error", &[]);
                }
            },
            HotDeskCode::SignIn { number, pin } => {
                match sign_in(&self.shared, &phone, &number, &pin) {
                    Ok(()) => "Hot Desk Signed In",
                    Err(e) => {
                        let (code, reason) = e.sip();
                        return self.txns[i].ctx.respond(t, code, reason, &[]);
                    }
                }
            }
            HotDeskCode::Menu => return self.hot_desk_menu(i, phone),
        };
        // on disk before the phone hears the confirmation
        let key = self.txns[i].key.clone();
        let fut = self.shared.store.flush.send(Flush);
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            let Some(i) = act.txns.index_of(&key) else {
                return;
            };
            match res {
                Ok(Ok(_)) => act.confirm(i, done),
                _ => act.txns[i]
                    .ctx
                    .respond(now(), 500, "Server Internal Error", &[]),
            }
            act.after(ctx);
        }));
    }
}

/// Why a hot-desk sign-in was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SignInRefused {
    /// No member owns the number, or the PIN is wrong or not set.
    Refused,
    /// Hot desk is locked for the number after wrong PINs.
    Locked,
    /// The store failed.
    Failed,
}

impl SignInRefused {
    /// The answer to a `*55<number>*<pin>` INVITE.
    fn sip(self) -> (u16, &'static str) {
        match self {
            SignInRefused::Refused => (403, "Hot Desk Refused"),
            SignInRefused::Locked => (403, "Hot Desk Locked"),
            SignInRefused::Failed => (500, "Server Internal Error"),
        }
    }

    /// What the voice menu is told.
    pub(super) fn outcome(self) -> SignInOutcome {
        match self {
            SignInRefused::Refused => SignInOutcome::Refused,
            SignInRefused::Locked => SignInOutcome::Locked,
            SignInRefused::Failed => SignInOutcome::Failed,
        }
    }
}

/// Checks the PIN of the member owning `number` and signs `phone` in as that number (written,
/// not flushed: the caller flushes before it confirms).
pub(super) fn sign_in(
    shared: &Shared,
    phone: &Aor,
    number: &str,
    pin: &str,
) -> Result<(), SignInRefused> {
    let db = &shared.db;
    let internal = |e: &dyn std::fmt::Display| {
        warn!(error = %e, "hot desk not signed in");
        SignInRefused::Failed
    };
    let Ok(number) = shared.plan.canonical(number) else {
        return Err(SignInRefused::Refused);
    };
    let (id, _) = db
        .member_by_number(&number)
        .map_err(|e| internal(&e))?
        .ok_or(SignInRefused::Refused)?;
    let unix = unix_now();
    let lockout = shared.config.hotdesk.pin_lockout();
    let (checked, _) = db
        .modify_member(id, |m| m.check_pin(unix, &lockout, pin))
        .map_err(|e| internal(&e))?;
    match checked {
        Ok(()) => {}
        Err(PinError::Locked { .. }) => return Err(SignInRefused::Locked),
        Err(e) => {
            info!(phone = %phone.redacted(), member = %id, error = %e, "hot desk: PIN refused");
            return Err(SignInRefused::Refused);
        }
    }
    let max = shared.config.hotdesk.max();
    let session = HotDeskSession::start(id.0, number.as_str(), phone.as_str(), unix, max);
    db.hotdesk_sign_in(&session).map_err(|e| internal(&e))?;
    info!(phone = %phone.redacted(), member = %id, "hot desk: signed in");
    Ok(())
}
