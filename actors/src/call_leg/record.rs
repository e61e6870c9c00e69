//! The call's detail record (`switchboard_engine::cdr`): what the leg learns of the call as it
//! goes (the INVITE's caller and dialed number with their escapes decoded, where routing sent
//! it, the trunk, ringing, the answer, the final status and the plugin version), written once
//! when the call ends.
//!
//! Guarantees: a call whose INVITE got a final answer (other than a 401/407 challenge) has
//! exactly one record: `end_call` hands it to the CDR writer the first time it runs after that
//! answer, and never again (`written`). A challenge the caller never answers leaves no record
//! (it was a step of a call that did not happen); a call that ends without any final answer
//! (the switch stopping, an internal failure, a media timeout) gets one with outcome `failed`.
//! Off-net calls (those that left by a trunk) and were answered are rated when the record is
//! made, against the table of the caller's billing plan (the default table when it has none);
//! the billing settles the charge once the record is written (`crate::billing`).

use switchboard_engine::cdr::{party, CallRecord, MediaMode, Outcome};
use switchboard_engine::flow::Flow;
use switchboard_engine::numbering::{Aor, Destination};
use switchboard_engine::sip::Message as SipMessage;

use super::CallLeg;
use crate::clock::unix_now_ms;

/// What is known of the call so far.
#[derive(Default)]
pub(super) struct Draft {
    setup_unix_ms: u64,
    caller: String,
    dialed: String,
    routed: Option<String>,
    /// The destination's country (ISO 3166 alpha-2), from the numbering metadata.
    country: Option<String>,
    trunk: Option<String>,
    /// The call left by `trunk` (rather than came in by it): it is rated.
    outbound: bool,
    answer_unix_ms: Option<u64>,
    /// The INVITE's final status (the latest attempt's).
    status: Option<u16>,
    rang: bool,
    anchored: bool,
    plugin_version: u64,
    /// The caller is one of our subscribers, authenticated (it may be billed).
    identified: bool,
    written: bool,
}

impl CallLeg {
    /// An INVITE outside any dialog arrived on `flow`: the call starts now (its first attempt
    /// only; the one re-sent with credentials keeps the start).
    pub(super) fn record_setup(&mut self, invite: &SipMessage, flow: &Flow) {
        let trunk = self
            .shared
            .trunks
            .by_source(flow.remote)
            .map(|id| self.shared.trunks.get(id).name.clone());
        let d = self.record.get_or_insert_with(|| Draft {
            setup_unix_ms: unix_now_ms(),
            ..Draft::default()
        });
        // as people write them: `6200-6200#082`, not the URI's `6200-6200%23082`
        if d.dialed.is_empty() {
            d.dialed = invite.request_uri().map(|u| party(&u)).unwrap_or_default();
        }
        if d.caller.is_empty() {
            d.caller = invite.from().map(|f| party(f.uri())).unwrap_or_default();
        }
        if trunk.is_some() {
            d.trunk = trunk;
        }
    }

    /// The caller was identified (canonical number of the subscriber).
    pub(super) fn record_caller(&mut self, caller: Option<&Aor>) {
        if let (Some(d), Some(c)) = (self.record.as_mut(), caller) {
            d.caller = c.as_str().to_owned();
            d.identified = true;
        }
    }

    /// The subscriber calling and the number the call is rated for (as routed, else as
    /// dialed), when the caller is an identified subscriber.
    pub(super) fn rated_parties(&self) -> Option<(String, String)> {
        let d = self.record.as_ref().filter(|d| d.identified)?;
        let to = d.routed.as_deref().unwrap_or(&d.dialed);
        Some((d.caller.clone(), to.to_owned()))
    }

    /// Routing takes the call to `destination`.
    pub(super) fn record_routed(&mut self, destination: &Destination) {
        // a destination without a country (a sold enterprise number's account) keeps the one
        // of the number dialled
        if let (Some(d), Some(c)) = (
            self.record.as_mut(),
            switchboard_engine::numbering::country_of(destination),
        ) {
            d.country = Some(c);
        }
        let routed = match destination {
            Destination::Subscriber(a) | Destination::Pstn(a) => a.as_str(),
            Destination::Personal { e164, .. } | Destination::Provider { e164, .. } => {
                e164.as_str()
            }
            _ => return,
        };
        if let Some(d) = self.record.as_mut() {
            d.routed = Some(routed.to_owned());
        }
    }

    /// The call left by trunk `name`.
    pub(super) fn record_trunk(&mut self, name: &str) {
        if let Some(d) = self.record.as_mut() {
            d.trunk = Some(name.to_owned());
            d.outbound = true;
        }
    }

    /// A provisional response of the INVITE went upstream (180 or 183: it rang).
    pub(super) fn record_ringing(&mut self) {
        if let Some(d) = self.record.as_mut() {
            d.rang = true;
        }
    }

    /// The INVITE was answered (2xx).
    pub(super) fn record_answered(&mut self) {
        let anchored = self.media.is_some();
        if let Some(d) = self.record.as_mut() {
            d.answer_unix_ms.get_or_insert_with(unix_now_ms);
            d.anchored |= anchored;
        }
    }

    /// The INVITE's final status went upstream; `version`: the plugin version routing it.
    pub(super) fn record_final(&mut self, code: u16, version: Option<u64>) {
        let anchored = self.media.is_some();
        if let Some(d) = self.record.as_mut() {
            d.status = Some(code);
            d.anchored |= anchored;
            if let Some(v) = version {
                d.plugin_version = v;
            }
        }
    }

    /// Whether the call's record went to the CDR writer.
    pub(super) fn record_written(&self) -> bool {
        self.record.as_ref().is_some_and(|d| d.written)
    }

    /// The call ended for `reason`: its record goes to the CDR writer, once.
    pub(super) fn record_end(&mut self, reason: &str) {
        let Some(d) = self.record.as_mut() else {
            return;
        };
        if d.written || matches!(d.status, Some(401 | 407)) {
            return;
        }
        d.written = true;
        let end = unix_now_ms();
        let (outcome, cause) = match d.status {
            Some(code) => (Outcome::from_status(code, d.rang), code),
            None => (Outcome::Failed, 0),
        };
        let mut r = CallRecord {
            id: 0,
            call_id: self.call_id.to_string(),
            caller: std::mem::take(&mut d.caller),
            dialed: std::mem::take(&mut d.dialed),
            routed: d.routed.take(),
            trunk: d.trunk.take(),
            country: d.country.take(),
            setup_unix_ms: d.setup_unix_ms,
            answer_unix_ms: d.answer_unix_ms.filter(|_| outcome == Outcome::Answered),
            end_unix_ms: end.max(d.setup_unix_ms),
            outcome,
            cause,
            reason: reason.to_owned(),
            media: if d.anchored {
                MediaMode::Anchored
            } else {
                MediaMode::Direct
            },
            plugin_version: d.plugin_version,
            charge: None,
        };
        if d.outbound && r.outcome == Outcome::Answered {
            let to = r.routed.as_deref().unwrap_or(&r.dialed);
            // the caller's billing plan picks the table (the default when it names none)
            let plan = self
                .shared
                .billing
                .wallets()
                .plan(&r.caller)
                .map(str::to_owned);
            r.charge = self
                .shared
                .tariffs
                .current()
                .table_for(plan.as_deref())
                .and_then(|t| t.charge(to, r.duration_ms()));
        }
        self.shared.cdrs.write(r);
    }
}
