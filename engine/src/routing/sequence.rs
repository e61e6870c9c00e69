//! The targets one call tries, in order: forwarding followed hop by hop, a subscriber's
//! busy / no-answer / unreachable forwards when its devices do not take the call, and a trunk
//! group failed over member by member.
//!
//! The call leg drives it: it reports each routing decision (`decided`), what it found when
//! it looked the subscriber up (`located`), that every branch of the current attempt ended
//! without an answer (`failed`, with the best code), an answer (`answered`) and timer expiry
//! (`handle_timeout`); each call returns the next `Step`. Loop protection: an address already
//! on the chain is not routed again; at most `max_hops` forwards per call.
//!
//! Invariant: after `Step::Respond` or `Step::Seal` every further input returns `Step::Wait`.

use std::time::Instant;

use crate::numbering::{Aor, Destination};
use crate::trunk::{fails_over, TrunkId, Trunks};

use super::{history, Decision, DiversionReason, Fallbacks, Hop, Target};

/// What the call leg does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Route this destination (a forwarding hop): look its subscriber up if it is one, ask the
    /// router, report with `decided`. `announce`: send 181 Call Is Being Forwarded first.
    Route {
        destination: Destination,
        announce: bool,
    },
    /// Look this subscriber's devices up and report with `located`.
    Locate { aor: Aor },
    /// Ring the devices just located.
    Fork,
    /// Send the request to this trunk (a new attempt), with credentials for the challenge
    /// the trunk just sent when `authenticate`.
    Trunk {
        trunk: TrunkId,
        request_uri: String,
        authenticate: bool,
    },
    /// Send the request to a URI of another domain.
    External { uri: String, announce: bool },
    /// The subscriber looked up last takes the call in their mailbox (`reason`: why it left
    /// the phones); the switch answers. No more attempts follow.
    Voicemail { reason: DiversionReason },
    /// Cancel the devices still ringing (the no-answer time ran out); `failed` follows.
    Cancel,
    /// Answer the caller with this.
    Respond { code: u16, reason: String },
    /// No more attempts: the best answer of the last one goes to the caller.
    Seal,
    /// Nothing to do until the next input.
    Wait,
}

#[derive(Debug)]
enum Stage {
    Routing,
    Ringing {
        otherwise: Fallbacks,
    },
    Trunks {
        members: Vec<TrunkId>,
        at: usize,
        number: String,
        authenticated: bool,
        /// A `stale=true` challenge after our credentials was answered again.
        stale_retried: bool,
    },
    External,
    Done,
}

#[derive(Debug)]
pub struct RouteSequence {
    invite: bool,
    max_hops: usize,
    /// The address being routed or rung.
    current: String,
    hops: Vec<Hop>,
    stage: Stage,
    no_answer_at: Option<Instant>,
    no_answer_fired: bool,
}

impl RouteSequence {
    /// A call (`invite`) or other request to `first` (its chain key, `destination_key`).
    pub fn new(invite: bool, first: String, max_hops: usize) -> RouteSequence {
        RouteSequence {
            invite,
            max_hops,
            current: first,
            hops: Vec::new(),
            stage: Stage::Routing,
            no_answer_at: None,
            no_answer_fired: false,
        }
    }

    /// Addresses the call was forwarded from, oldest first.
    pub fn history(&self) -> &[Hop] {
        &self.hops
    }

    /// History-Info and Diversion lines for the current attempt (empty if not forwarded).
    pub fn history_headers(&self, domain: &str) -> String {
        history::headers(&self.hops, &self.current, domain)
    }

    /// Whether the current stage rings a subscriber's devices (not a trunk or another domain).
    pub fn is_ringing(&self) -> bool {
        matches!(self.stage, Stage::Ringing { .. })
    }

    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    /// The router decided for the current address.
    pub fn decided(&mut self, decision: Decision, trunks: &Trunks) -> Step {
        if !matches!(self.stage, Stage::Routing) {
            return Step::Wait;
        }
        match decision {
            Decision::Deliver { aor, otherwise } => {
                self.current = aor.as_str().to_owned();
                self.stage = Stage::Ringing { otherwise };
                Step::Locate { aor }
            }
            Decision::Forward { target, reason } => self.forward(target, reason, false),
            Decision::Trunk { group, number } => {
                let members = trunks.group(&group);
                let Some(&first) = members.first() else {
                    return self.respond(500, "Trunk Not Configured");
                };
                let request_uri = trunks.request_uri(first, &number);
                self.stage = Stage::Trunks {
                    members,
                    at: 0,
                    number,
                    authenticated: false,
                    stale_retried: false,
                };
                Step::Trunk {
                    trunk: first,
                    request_uri,
                    authenticate: false,
                }
            }
            Decision::Reject { code, reason } => self.respond(code, &reason),
        }
    }

    /// What the lookup of the subscriber to ring found.
    pub fn located(&mut self, now: Instant, account: bool, devices: usize) -> Step {
        let Stage::Ringing { otherwise } = &mut self.stage else {
            return Step::Wait;
        };
        if devices == 0 {
            return match otherwise.unreachable.take() {
                Some(t) => self.forward(t, DiversionReason::Unavailable, false),
                None if account => self.respond(480, "Temporarily Unavailable"),
                None => self.respond(404, "Not Found"),
            };
        }
        if self.invite {
            if let Some((_, ring)) = &otherwise.no_answer {
                self.no_answer_at = Some(now + *ring);
            }
        }
        Step::Fork
    }

    /// Every branch of the current attempt ended without an answer; `code` is the best.
    pub fn failed(&mut self, code: u16, trunks: &Trunks) -> Step {
        self.no_answer_at = None;
        match &mut self.stage {
            Stage::Ringing { otherwise, .. } => {
                // once the ring time ran out, whatever the cancelled devices answered (487,
                // or a 486/488 crossing our CANCEL) the call goes to the no-answer target
                let (target, reason) = match code {
                    _ if self.no_answer_fired => (
                        otherwise.no_answer.take().map(|n| n.0),
                        DiversionReason::NoAnswer,
                    ),
                    486 | 600 | 603 => (otherwise.busy.take(), DiversionReason::UserBusy),
                    408 | 480 => (
                        otherwise.no_answer.take().map(|n| n.0),
                        DiversionReason::NoAnswer,
                    ),
                    _ => (None, DiversionReason::Unknown),
                };
                match target {
                    Some(t) => self.forward(t, reason, true),
                    None => self.seal(),
                }
            }
            Stage::Trunks {
                members,
                at,
                number,
                authenticated,
                stale_retried,
            } => {
                let trunk = members[*at];
                let challenged = code == 401 || code == 407;
                if challenged && !*authenticated && trunks.get(trunk).credentials.is_some() {
                    *authenticated = true;
                    return Step::Trunk {
                        trunk,
                        request_uri: trunks.request_uri(trunk, number),
                        authenticate: true,
                    };
                }
                let next = *at + 1;
                if (fails_over(code) || challenged) && next < members.len() {
                    *at = next;
                    *authenticated = false;
                    *stale_retried = false;
                    let trunk = members[next];
                    return Step::Trunk {
                        trunk,
                        request_uri: trunks.request_uri(trunk, number),
                        authenticate: false,
                    };
                }
                if challenged {
                    // our credentials were refused: the caller cannot answer that challenge
                    return self.respond(500, "Trunk Authentication Failed");
                }
                self.seal()
            }
            Stage::External => self.seal(),
            Stage::Routing | Stage::Done => Step::Wait,
        }
    }

    /// The trunk challenged our credentials again, saying only that its nonce went stale
    /// (RFC 7616 §3.3): they are sent once more with the new nonce; a second stale answer is
    /// a refusal like any other.
    pub fn stale(&mut self, code: u16, trunks: &Trunks) -> Step {
        if let Stage::Trunks {
            members,
            at,
            number,
            authenticated: true,
            stale_retried,
        } = &mut self.stage
        {
            if !*stale_retried {
                *stale_retried = true;
                let trunk = members[*at];
                return Step::Trunk {
                    trunk,
                    request_uri: trunks.request_uri(trunk, number),
                    authenticate: true,
                };
            }
        }
        self.failed(code, trunks)
    }

    /// A device or the far end answered: no more attempts.
    pub fn answered(&mut self) {
        self.stage = Stage::Done;
        self.no_answer_at = None;
    }

    /// The caller gave up (CANCEL): no more attempts.
    pub fn canceled(&mut self) {
        self.answered();
    }

    /// The no-answer time of the ringing devices.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.no_answer_at
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Step {
        match self.no_answer_at {
            Some(at) if at <= now && matches!(self.stage, Stage::Ringing { .. }) => {
                self.no_answer_at = None;
                self.no_answer_fired = true;
                Step::Cancel
            }
            _ => Step::Wait,
        }
    }

    /// Leaves the current address for `target`. After devices rang (`after_ringing`), a loop
    /// or the hop limit ends the call with the answer they gave; before, with 482 / 483.
    fn forward(&mut self, target: Target, reason: DiversionReason, after_ringing: bool) -> Step {
        if target == Target::Voicemail {
            // the subscriber's own mailbox: no hop to another address, so no loop
            self.stage = Stage::Done;
            self.no_answer_at = None;
            return Step::Voicemail { reason };
        }
        let key = target.key();
        let looped = key == self.current || self.hops.iter().any(|h| h.address == key);
        if looped {
            return if after_ringing {
                self.seal()
            } else {
                self.respond(482, "Loop Detected")
            };
        }
        if self.hops.len() >= self.max_hops {
            return if after_ringing {
                self.seal()
            } else {
                self.respond(483, "Too Many Hops")
            };
        }
        let left = std::mem::replace(&mut self.current, key);
        self.hops.push(Hop {
            address: left,
            reason,
        });
        self.no_answer_fired = false;
        let announce = self.invite;
        match target {
            Target::Address(destination) => {
                self.stage = Stage::Routing;
                Step::Route {
                    destination,
                    announce,
                }
            }
            Target::Uri(uri) => {
                self.stage = Stage::External;
                Step::External { uri, announce }
            }
            Target::Voicemail => unreachable!("answered above"),
        }
    }

    fn respond(&mut self, code: u16, reason: &str) -> Step {
        self.stage = Stage::Done;
        Step::Respond {
            code,
            reason: reason.to_owned(),
        }
    }

    fn seal(&mut self) -> Step {
        self.stage = Stage::Done;
        Step::Seal
    }
}

#[cfg(test)]
mod tests;
