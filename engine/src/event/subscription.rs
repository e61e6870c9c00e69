//! The notifier side of one subscription (RFC 6665 §4.2): its dialog, its state, its expiry,
//! and when the next NOTIFY goes, whatever the event package.
//!
//! The machine decides; it sends nothing itself. The owner feeds it what happens (the
//! resource changed, the subscriber refreshed, a NOTIFY was answered, time passed) and asks
//! `poll_notify` whether a NOTIFY is due. Bursts are coalesced: at most one NOTIFY per
//! `interval`, never two in flight, and the one that goes carries the newest state, so a
//! watcher of a presentity that changes a thousand times a second still gets one NOTIFY per
//! interval. A final (terminated) NOTIFY does not wait for the interval.

use std::time::{Duration, Instant};

use crate::sip::{HeaderName, Message, NameAddr, Scheme};

/// The dialog a SUBSCRIBE made, seen from the notifier (RFC 6665 §4.1.2.1, RFC 3261 §12.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    pub call_id: String,
    /// Our tag (the To tag of our answers, the From tag of our NOTIFYs).
    pub local_tag: String,
    /// The SUBSCRIBE's To without its tag: the From of our NOTIFYs.
    pub local_uri: String,
    /// The SUBSCRIBE's From without its tag: the To of our NOTIFYs.
    pub remote_uri: String,
    pub remote_tag: String,
    /// The subscriber's Contact URI: the Request-URI of our NOTIFYs.
    pub remote_target: String,
    /// The SUBSCRIBE's Record-Route values in order: the Route of our NOTIFYs.
    pub route_set: Vec<String>,
    /// The event package (the Event header's token, lower case), repeated in every NOTIFY.
    pub event: String,
    /// The Event header's `id` parameter, repeated in every NOTIFY.
    pub event_id: Option<String>,
}

/// Why a SUBSCRIBE cannot make a dialog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    #[error("Missing Contact")]
    NoContact,
    /// A Contact that cannot be a Request-URI (not SIP, or with URI headers).
    #[error("Bad Contact")]
    BadContact,
    #[error("Missing From Tag")]
    NoFromTag,
    #[error("Bad From or To")]
    BadAddress,
}

impl DialogError {
    /// The status of the answer (400 for all: the request is malformed).
    pub fn status(self) -> u16 {
        400
    }
}

impl Dialog {
    /// The dialog of an initial SUBSCRIBE, with `local_tag` as our tag.
    pub fn from_subscribe(req: &Message, local_tag: &str) -> Result<Dialog, DialogError> {
        let from = req.from().ok_or(DialogError::BadAddress)?;
        let to = req.to().ok_or(DialogError::BadAddress)?;
        let remote_tag = from.tag().ok_or(DialogError::NoFromTag)?.to_owned();
        let remote_target = target_of(req)?;
        let route_set = req
            .header_values(HeaderName::RecordRoute)
            .map(|r| r.trim().to_owned())
            .collect();
        Ok(Dialog {
            call_id: req.call_id().unwrap_or("").to_owned(),
            local_tag: local_tag.to_owned(),
            local_uri: without_params(&to),
            remote_uri: without_params(&from),
            remote_tag,
            remote_target,
            route_set,
            event: req
                .header(HeaderName::Event)
                .map(event_package)
                .unwrap_or_default(),
            event_id: req
                .header(HeaderName::Event)
                .and_then(|e| event_param(e, "id"))
                .map(str::to_owned),
        })
    }

    /// A refreshing SUBSCRIBE may move the subscriber (RFC 6665 §4.1.2.1: its Contact is the
    /// new remote target).
    /// A refresh without a Contact keeps the target; one with a Contact that cannot be a
    /// Request-URI is refused, as in the initial SUBSCRIBE.
    pub fn retarget(&mut self, req: &Message) -> Result<(), DialogError> {
        if req.contacts().next().is_some() {
            self.remote_target = target_of(req)?;
        }
        Ok(())
    }

    /// Whether an in-dialog request belongs to this dialog (Call-ID, both tags).
    pub fn matches(&self, req: &Message) -> bool {
        req.call_id() == Some(self.call_id.as_str())
            && req.from_tag() == Some(self.remote_tag.as_str())
            && req.to_tag() == Some(self.local_tag.as_str())
    }
}

/// The first Contact's URI as a NOTIFY's Request-URI: SIP, no URI headers, no spaces.
fn target_of(req: &Message) -> Result<String, DialogError> {
    let contact = req.contacts().next().ok_or(DialogError::NoContact)?;
    let target = contact.uri();
    let sip = matches!(target.scheme(), Scheme::Sip | Scheme::Sips);
    if !sip || !target.headers().is_empty() || target.as_str().contains(char::is_whitespace) {
        return Err(DialogError::BadContact);
    }
    Ok(target.as_str().to_owned())
}

/// Whether a final answer to a NOTIFY ends the subscription (RFC 6665 §4.2.2, RFC 5057 §5.1:
/// the subscriber no longer knows the dialog, does not answer, or refuses the usage).
pub fn ends_usage(code: u16) -> bool {
    matches!(
        code,
        0 | 404 | 405 | 408 | 410 | 416 | 480..=485 | 489 | 501 | 604
    )
}

/// A name-addr without its header parameters (the tag and anything after the URI).
fn without_params(a: &NameAddr<'_>) -> String {
    match a.display() {
        Some(d) if !d.is_empty() => format!("{d} <{}>", a.uri().as_str()),
        _ => format!("<{}>", a.uri().as_str()),
    }
}

/// The package of an Event header value (`presence;id=7` -> `presence`), lower-cased.
pub fn event_package(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A parameter of an Event header value.
pub fn event_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    value.split(';').skip(1).find_map(|p| {
        let (n, v) = p.split_once('=').unwrap_or((p, ""));
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Where a subscription stands (RFC 6665 §4.1.3 Subscription-State).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not authorized (yet): the subscriber learns nothing of the resource.
    Pending,
    Active,
    /// Ended, with the reason the final NOTIFY gives (`timeout`, `rejected`, `deactivated`,
    /// `noresource`).
    Terminated(&'static str),
}

/// A NOTIFY to send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyDue {
    pub cseq: u32,
    pub state: State,
    /// Seconds the subscription has left (for `Subscription-State: active;expires=`).
    pub expires_in: u32,
    /// Whether the NOTIFY carries the resource's state (only an active one does).
    pub with_state: bool,
    /// The how-manieth NOTIFY of this subscription, from 0 (RFC 4662 `version`).
    pub version: u64,
    /// Whether this NOTIFY is the first since the subscription started or was refreshed
    /// (resource lists send full state then).
    pub full: bool,
}

/// The notifier state of one subscription.
#[derive(Debug)]
pub struct Subscription {
    dialog: Dialog,
    state: State,
    expires_at: Instant,
    interval: Duration,
    last_sent: Option<Instant>,
    in_flight: bool,
    /// Something changed since the last NOTIFY.
    dirty: bool,
    full: bool,
    final_sent: bool,
    /// Started with expires zero by an allowed watcher: the one NOTIFY carries the state and
    /// ends it.
    fetch: bool,
    done: bool,
    cseq: u32,
    sent: u64,
}

impl Subscription {
    /// A new subscription; its first NOTIFY is due at once (RFC 6665 §4.2.1.2). `expires` of
    /// zero is a fetch: one NOTIFY with the state, terminated.
    pub fn new(
        dialog: Dialog,
        now: Instant,
        expires: Duration,
        interval: Duration,
        state: State,
    ) -> Subscription {
        let mut s = Subscription {
            dialog,
            state,
            expires_at: now + expires,
            interval,
            last_sent: None,
            in_flight: false,
            dirty: true,
            full: true,
            final_sent: false,
            fetch: false,
            done: false,
            cseq: 0,
            sent: 0,
        };
        if expires.is_zero() {
            s.fetch_then_end();
        }
        s
    }

    fn fetch_then_end(&mut self) {
        // the one NOTIFY carries the state as the subscriber may see it (none while pending),
        // and says it ended
        self.fetch = self.state == State::Active;
        self.state = State::Terminated("timeout");
    }

    pub fn dialog(&self) -> &Dialog {
        &self.dialog
    }

    pub fn dialog_mut(&mut self) -> &mut Dialog {
        &mut self.dialog
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the subscription is over: its final NOTIFY was answered (or it was dropped
    /// because the subscriber is gone). The owner forgets it.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Seconds left, rounded down, for the answer to a SUBSCRIBE.
    pub fn expires_in(&self, now: Instant) -> u32 {
        self.expires_at.saturating_duration_since(now).as_secs() as u32
    }

    /// A refreshing SUBSCRIBE (RFC 6665 §4.2.1.2): a NOTIFY follows with the full state; an
    /// `expires` of zero unsubscribes (a final NOTIFY follows).
    pub fn refresh(&mut self, now: Instant, expires: Duration) {
        if matches!(self.state, State::Terminated(_)) {
            return;
        }
        self.expires_at = now + expires;
        self.dirty = true;
        self.full = true;
        // a NOTIFY answers every refresh at once, whatever the interval
        self.last_sent = None;
        if expires.is_zero() {
            self.state = State::Terminated("timeout");
        }
    }

    /// The resource changed: a NOTIFY is due (when the interval allows).
    pub fn changed(&mut self) {
        if self.state == State::Active {
            self.dirty = true;
        }
    }

    /// The subscriber was allowed (`Active`), is waiting (`Pending`) or was refused
    /// (`Terminated("rejected")`).
    pub fn set_state(&mut self, state: State) {
        if matches!(self.state, State::Terminated(_)) || self.state == state {
            return;
        }
        self.state = state;
        self.dirty = true;
        self.full = true;
    }

    /// What the subscriber was told no longer holds as a whole (a resource list changed its
    /// members): the next NOTIFY carries the full state.
    pub fn resync(&mut self) {
        if !matches!(self.state, State::Terminated(_)) {
            self.dirty = true;
            self.full = true;
        }
    }

    /// Ends the subscription with a final NOTIFY giving `reason`.
    pub fn terminate(&mut self, reason: &'static str) {
        self.set_state(State::Terminated(reason));
    }

    /// The NOTIFY to send now, if one is due.
    pub fn poll_notify(&mut self, now: Instant) -> Option<NotifyDue> {
        if self.done || self.in_flight || !self.dirty || self.final_sent {
            return None;
        }
        let terminated = matches!(self.state, State::Terminated(_));
        let interval_over = self.last_sent.is_none_or(|l| now >= l + self.interval);
        if !terminated && !interval_over {
            return None;
        }
        self.dirty = false;
        self.in_flight = true;
        self.last_sent = Some(now);
        self.final_sent = terminated;
        self.cseq += 1;
        let version = self.sent;
        self.sent += 1;
        let full = std::mem::take(&mut self.full);
        Some(NotifyDue {
            cseq: self.cseq,
            state: self.state,
            expires_in: self.expires_in(now),
            with_state: self.state == State::Active || (terminated && self.fetch),
            version,
            full,
        })
    }

    /// The final answer to the NOTIFY in flight (0: its transaction timed out).
    pub fn on_response(&mut self, code: u16) {
        if !self.in_flight {
            return;
        }
        self.in_flight = false;
        // a subscriber that no longer knows the dialog, does not answer, or refuses the
        // usage ends the subscription without a final NOTIFY
        if self.final_sent || ends_usage(code) {
            self.done = true;
            if !matches!(self.state, State::Terminated(_)) {
                self.state = State::Terminated("giveup");
            }
        }
    }

    /// When `handle_timeout` is next due: the expiry, or the end of the coalescing interval
    /// while a change waits.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done || self.final_sent {
            return None;
        }
        let mut at = None;
        if !matches!(self.state, State::Terminated(_)) {
            at = Some(self.expires_at);
        }
        if self.dirty && !self.in_flight {
            let due = self
                .last_sent
                .map_or(self.expires_at, |l| l + self.interval);
            at = Some(at.map_or(due, |a: Instant| a.min(due)));
        }
        at
    }

    /// Time passed: an expired subscription ends (`timeout`).
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.expires_at && !matches!(self.state, State::Terminated(_)) {
            self.state = State::Terminated("timeout");
            self.dirty = true;
        }
    }
}

#[cfg(test)]
mod tests;
