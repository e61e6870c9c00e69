//! Calls: INVITE (answering a 407), its outcome, CANCEL, requests inside the dialog, and the
//! callee's side (accept, a UAS call from an INVITE).

use super::*;

impl Ua {
    /// Starts a call to `target_user` (Request-URI user part) and returns it once the INVITE
    /// went out; a 407 is answered with credentials automatically.
    pub async fn invite(&mut self, target_user: &str) -> Call {
        // an agent without a password talks to a switch without authentication
        let expect_challenge = !self.password.is_empty();
        let sdp = self.sdp();
        self.invite_with(target_user, &sdp, expect_challenge).await
    }

    /// `SDP` naming this agent's own address: a phone the switch leaves to send media
    /// directly (`SDP` names 127.0.0.1, elsewhere than where the agent signals from, which
    /// looks like NAT and gets the call anchored).
    pub fn sdp(&self) -> Vec<u8> {
        at_own_address(SDP, self.local.ip())
    }

    /// `SDP_HOLD` naming this agent's own address.
    pub fn sdp_hold(&self) -> Vec<u8> {
        at_own_address(SDP_HOLD, self.local.ip())
    }

    pub async fn invite_with(&mut self, target_user: &str, sdp: &[u8], answer_407: bool) -> Call {
        let uri = format!("sip:{}@{}", target_user, self.server);
        self.invite_uri(&uri, sdp, answer_407).await
    }

    /// Starts a call to a Request-URI of any scheme (`sips:` for one that must stay on TLS).
    pub async fn invite_uri(&mut self, uri: &str, sdp: &[u8], answer_407: bool) -> Call {
        let uri = uri.to_owned();
        let call_id = format!("call-{}", self.e.token(16));
        let local_tag = self.e.token(8);
        let mut call = Call {
            call_id: call_id.clone(),
            local_uri: self.aor(),
            local_tag,
            remote_uri: uri.clone(),
            remote_tag: None,
            route: Vec::new(),
            remote_target: uri.clone(),
            cseq: 1,
            invite: Message::parse(Bytes::from_static(b"OPTIONS sip:x SIP/2.0\r\n\r\n")).unwrap(),
        };
        let mut auth: Option<String> = None;
        loop {
            let via = self.via();
            let mut b = RequestBuilder::new("INVITE", &uri)
                .header("Via", &via)
                .header("Max-Forwards", "70")
                .header(
                    "From",
                    &format!("<{}>;tag={}", call.local_uri, call.local_tag),
                )
                .header("To", &format!("<{uri}>"))
                .header("Call-ID", &call_id)
                .header("CSeq", &format!("{} INVITE", call.cseq))
                .header("Contact", &format!("<{}>", self.contact()));
            if let Some(a) = &auth {
                b = b.header("Proxy-Authorization", a);
            }
            let bytes = b.build(Some(("application/sdp", sdp)));
            call.invite = Message::parse(bytes.clone()).unwrap();
            self.send(bytes);
            if !answer_407 || auth.is_some() {
                return call;
            }
            // wait for either a 407 (answer it) or any other response (leave it queued)
            let cid = call_id.clone();
            let first = self
                .recv_where(Duration::from_secs(5), move |m| {
                    m.call_id() == Some(cid.as_str()) && m.status().is_some_and(|s| s > 100)
                })
                .await
                .expect("a response to INVITE");
            if first.status() != Some(407) {
                self.backlog.push_front(first);
                return call;
            }
            self.send(ack_for(&call.invite, &first));
            auth =
                Some(self.answer_challenge(&first, HeaderName::ProxyAuthenticate, "INVITE", &uri));
            call.cseq += 1;
        }
    }

    /// Waits for the INVITE's final response; on 2xx records the dialog and sends the ACK.
    pub async fn invite_outcome(&mut self, call: &mut Call) -> Message {
        let resp = self.final_response(&call.call_id.clone(), "INVITE").await;
        if resp.status().is_some_and(|s| (200..300).contains(&s)) {
            call.remote_tag = resp.to_tag().map(str::to_owned);
            call.route = resp
                .record_routes()
                .map(|r| format!("<{}>", r.uri()))
                .collect();
            call.route.reverse();
            if let Some(c) = resp.contacts().next() {
                call.remote_target = c.uri().as_str().to_owned();
            }
            let ack = self.in_dialog_request(call, "ACK", None, false);
            self.send(ack);
        }
        resp
    }

    /// Sends CANCEL for the call's pending INVITE.
    pub fn cancel(&self, call: &Call) {
        self.send(cancel_for(&call.invite));
    }

    /// Builds a request inside the dialog (ACK keeps the INVITE's CSeq number).
    pub fn in_dialog_request(
        &mut self,
        call: &mut Call,
        method: &str,
        body: Option<(&str, &[u8])>,
        extra_cseq: bool,
    ) -> Bytes {
        if method != "ACK" && extra_cseq {
            call.cseq += 1;
        }
        let seq = if method == "ACK" {
            call.invite.cseq().map_or(call.cseq, |c| c.seq)
        } else {
            call.cseq
        };
        let via = self.via();
        let mut b = RequestBuilder::new(method, &call.remote_target.clone())
            .header("Via", &via)
            .header("Max-Forwards", "70")
            .header(
                "From",
                &format!("<{}>;tag={}", call.local_uri, call.local_tag),
            )
            .header(
                "To",
                &match &call.remote_tag {
                    Some(t) => format!("<{}>;tag={t}", call.remote_uri),
                    None => format!("<{}>", call.remote_uri),
                },
            )
            .header("Call-ID", &call.call_id)
            .header("CSeq", &format!("{seq} {method}"))
            .header("Contact", &format!("<{}>", self.contact()));
        for r in &call.route {
            b = b.header("Route", r);
        }
        b.build(body)
    }

    /// Sends a request in the dialog and returns its final response.
    pub async fn request_in_dialog(
        &mut self,
        call: &mut Call,
        method: &str,
        body: Option<(&str, &[u8])>,
    ) -> Message {
        let req = self.in_dialog_request(call, method, body, true);
        self.send(req);
        let cid = call.call_id.clone();
        self.final_response(&cid, method).await
    }

    /// Answers a received INVITE with 180 then 200 (SDP); returns the UAS view of the dialog.
    /// The ACK is left for the caller to wait for.
    pub async fn accept(&mut self, invite: &Message) -> Call {
        let tag = self.e.token(8);
        self.reply_tagged(invite, 180, &tag, None);
        // an IPv6 agent answers with its own address (c=IN IP6)
        let sdp = match self.local {
            SocketAddr::V6(_) => at_own_address(SDP, self.local.ip()),
            SocketAddr::V4(_) => SDP.to_vec(),
        };
        self.reply_tagged(invite, 200, &tag, Some(("application/sdp", &sdp)));
        self.uas_call(invite, &tag)
    }

    /// UAS dialog state for a received dialog-creating request answered with `tag`.
    pub fn uas_call(&self, invite: &Message, tag: &str) -> Call {
        Call {
            call_id: invite.call_id().unwrap().to_owned(),
            local_uri: invite.to().unwrap().uri().as_str().to_owned(),
            local_tag: tag.to_owned(),
            remote_uri: invite.from().unwrap().uri().as_str().to_owned(),
            remote_tag: invite.from_tag().map(str::to_owned),
            route: invite
                .record_routes()
                .map(|r| format!("<{}>", r.uri()))
                .collect(),
            remote_target: invite.contacts().next().unwrap().uri().as_str().to_owned(),
            cseq: 100,
            invite: invite.clone(),
        }
    }
}
