//! How a response context ends: the best final response of a stage (§16.7 steps 5 and 6),
//! the report of an exhausted stage to the owner, and termination once every transaction is
//! done.

use std::time::Instant;

use super::{best, Best, ContextEvent, Output, ProxyContext, Server};
use crate::sip::{reason_phrase, Forward, HeaderName, ResponseBuilder};
use crate::txn::ServerNonInvite;

impl ProxyContext {
    pub(super) fn emit_finished(&mut self, code: u16) {
        self.final_code = Some(code);
        self.out
            .push_back(Output::Event(ContextEvent::Finished { code }));
    }

    pub(super) fn consider(&mut self, candidate: Best) {
        let replace = match &self.best {
            None => true,
            Some(cur) => best::better(candidate.code(), cur.code()),
        };
        if replace {
            self.best = Some(candidate);
        }
    }

    /// Sends the best final once every branch has one (and no 2xx went up); before the seal,
    /// reports the stage exhausted instead.
    pub(super) fn maybe_finish(&mut self, now: Instant) {
        if self.finished || self.branches.iter().any(|b| b.final_code.is_none()) {
            return;
        }
        if !self.sealed {
            if !self.exhausted && !self.branches.is_empty() {
                self.exhausted = true;
                let code = self.best.as_ref().map_or(408, Best::code);
                self.out
                    .push_back(Output::Event(ContextEvent::Exhausted { code }));
            }
            return;
        }
        let Some(best) = self.best.take() else { return };
        let code = match &best {
            Best::Local(408) if self.canceled => 487,
            b => best::upstream_code(b.code()),
        };
        let bytes = match best {
            Best::Response(m) if m.status() == Some(code) => {
                let own: Vec<&str> = m
                    .header_lines(HeaderName::WwwAuthenticate)
                    .chain(m.header_lines(HeaderName::ProxyAuthenticate))
                    .collect();
                let mut extra = String::new();
                for (name, v) in &self.challenges {
                    if !own.contains(&v.as_str()) {
                        extra.push_str(name.as_str());
                        extra.push_str(": ");
                        extra.push_str(v);
                        extra.push_str("\r\n");
                    }
                }
                Forward::response().extra_headers(&extra).to_bytes(&m)
            }
            _ => {
                let reason = if code == 480 {
                    "No Answer"
                } else {
                    reason_phrase(code)
                };
                ResponseBuilder::new(&self.request, code, reason)
                    .to_tag(&self.to_tag)
                    .via_fix(self.via_fix)
                    .build()
            }
        };
        self.finished = true;
        self.emit_finished(code);
        self.server_respond(now, code, bytes);
    }

    /// A non-INVITE context whose final response went upstream, reduced to what is left to
    /// do: its server transaction, which answers the request's retransmissions with that
    /// response until Timer J (§17.2.2). The branches are given up: nothing is cancelled for
    /// a non-INVITE request (§9.1), a branch still without an answer stops retransmitting,
    /// and its late response finds no transaction. Holding a few hundred bytes for Timer J
    /// instead of the whole context is what keeps a proxy's memory flat at thousands of
    /// messages a second. The context comes back unchanged when it is an INVITE's, has not
    /// answered, or has output not yet drained (`poll_output`).
    pub fn into_answered(self) -> Result<ServerNonInvite, Box<ProxyContext>> {
        match self.server {
            Server::NonInvite(s) if self.finished && self.out.is_empty() && s.is_completed() => {
                Ok(s)
            }
            server => Err(Box::new(ProxyContext { server, ..self })),
        }
    }

    pub(super) fn check_terminated(&mut self) {
        if self.terminated || !self.finished {
            return;
        }
        let server_done = self.server.is_terminated();
        let cancel_done = self
            .cancel_server
            .as_ref()
            .is_none_or(|s| s.is_terminated());
        let branches_done = self.branches.iter().all(|b| {
            b.client.is_terminated() && b.cancel.as_ref().is_none_or(|x| x.is_terminated())
        });
        if server_done && cancel_done && branches_done {
            self.terminated = true;
            self.out.push_back(Output::Event(ContextEvent::Terminated));
        }
    }
}
