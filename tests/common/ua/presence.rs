//! Events for the test agent: SUBSCRIBE dialogs (presence of a number or a buddy list, a
//! mailbox's message-summary), their NOTIFYs (answered 200), and PUBLISH with entity tags.

use std::time::Duration;

use switchboard_engine::sip::{HeaderName, Message, Method, RequestBuilder};

use super::Ua;

/// A subscription as the subscriber sees it.
#[derive(Clone, Debug)]
pub struct Sub {
    pub call_id: String,
    pub uri: String,
    pub from_tag: String,
    pub to_tag: Option<String>,
    /// Where in-dialog requests go (the notifier's Contact).
    pub target: String,
    pub cseq: u32,
    pub list: bool,
    /// The event package (`presence`, `message-summary`).
    pub event: String,
}

/// A PIDF's basic status and a NOTIFY's Subscription-State, for asserts.
pub fn sub_state(m: &Message) -> String {
    m.header_by_name("Subscription-State")
        .unwrap_or("")
        .to_owned()
}

impl Ua {
    fn subscribe_request(&mut self, sub: &Sub, expires: u32, auth: Option<&str>) -> bytes::Bytes {
        let event = sub.event.clone();
        self.subscribe_event_request(sub, &event, expires, auth)
    }

    fn subscribe_event_request(
        &mut self,
        sub: &Sub,
        event: &str,
        expires: u32,
        auth: Option<&str>,
    ) -> bytes::Bytes {
        let contact = format!("<{}>", self.contact());
        self.subscribe_full_request(sub, event, expires, auth, &contact)
    }

    fn subscribe_full_request(
        &mut self,
        sub: &Sub,
        event: &str,
        expires: u32,
        auth: Option<&str>,
        contact: &str,
    ) -> bytes::Bytes {
        let via = self.via();
        let to = match &sub.to_tag {
            Some(t) => format!("<{}>;tag={t}", sub.uri),
            None => format!("<{}>", sub.uri),
        };
        let mut b = RequestBuilder::new("SUBSCRIBE", &sub.target)
            .header("Via", &via)
            .header("Max-Forwards", "70")
            .header("From", &format!("<{}>;tag={}", self.aor(), sub.from_tag))
            .header("To", &to)
            .header("Call-ID", &sub.call_id)
            .header("CSeq", &format!("{} SUBSCRIBE", sub.cseq))
            .header("Contact", contact)
            .header("Event", event)
            .header("Expires", &expires.to_string());
        if sub.list {
            b = b.header("Supported", "eventlist").header(
                "Accept",
                "application/pidf+xml, application/rlmi+xml, multipart/related",
            );
        } else if event == "message-summary" {
            b = b.header("Accept", "application/simple-message-summary");
        } else {
            b = b.header("Accept", "application/pidf+xml");
        }
        if let Some(a) = auth {
            b = b.header("Proxy-Authorization", a);
        }
        b.build(None)
    }

    /// SUBSCRIBE to the presence of `target_user` at the switch (`buddies-<n>` for a buddy
    /// list), answering a challenge; the final answer and the dialog.
    pub async fn subscribe(&mut self, target_user: &str, expires: u32) -> (Message, Sub) {
        self.subscribe_event(target_user, "presence", expires).await
    }

    /// SUBSCRIBE to `event` of `target_user`, answering a challenge.
    pub async fn subscribe_event(
        &mut self,
        target_user: &str,
        event: &str,
        expires: u32,
    ) -> (Message, Sub) {
        let uri = format!("sip:{target_user}@{}", super::uri_host(self.server.ip()));
        let mut sub = Sub {
            call_id: format!("sub-{}", self.token()),
            target: uri.clone(),
            uri,
            from_tag: self.token(),
            to_tag: None,
            cseq: 0,
            list: target_user.starts_with("buddies-"),
            event: event.to_owned(),
        };
        let mut auth: Option<String> = None;
        for _ in 0..2 {
            sub.cseq += 1;
            let req = self.subscribe_event_request(&sub, event, expires, auth.as_deref());
            self.send(req);
            let cid = sub.call_id.clone();
            let resp = self.final_response(&cid, "SUBSCRIBE").await;
            if resp.status() == Some(407) && auth.is_none() && !self.password.is_empty() {
                let target = sub.target.clone();
                auth = Some(self.answer_challenge(
                    &resp,
                    HeaderName::ProxyAuthenticate,
                    "SUBSCRIBE",
                    &target,
                ));
                continue;
            }
            if resp.status().is_some_and(|c| (200..300).contains(&c)) {
                sub.to_tag = resp.to_tag().map(str::to_owned);
                if let Some(c) = resp.contacts().next() {
                    sub.target = c.uri().as_str().to_owned();
                }
            }
            return (resp, sub);
        }
        unreachable!()
    }

    /// A SUBSCRIBE within the dialog (a refresh; zero unsubscribes); its final answer.
    pub async fn resubscribe(&mut self, sub: &mut Sub, expires: u32) -> Message {
        sub.cseq += 1;
        let req = self.subscribe_request(sub, expires, None);
        self.send(req);
        let cid = sub.call_id.clone();
        self.final_response(&cid, "SUBSCRIBE").await
    }

    /// A refresh that gives `contact` as the new Contact; its final answer.
    pub async fn resubscribe_with_contact(
        &mut self,
        sub: &mut Sub,
        expires: u32,
        contact: &str,
    ) -> Message {
        sub.cseq += 1;
        let event = sub.event.clone();
        let req = self.subscribe_full_request(sub, &event, expires, None, contact);
        self.send(req);
        let cid = sub.call_id.clone();
        self.final_response(&cid, "SUBSCRIBE").await
    }

    /// The next NOTIFY of `sub` within `wait`, answered 200.
    pub async fn notify(&mut self, sub: &Sub, wait: Duration) -> Option<Message> {
        let cid = sub.call_id.clone();
        let m = self
            .recv_where(wait, move |m| {
                m.method() == Some(Method::Notify) && m.call_id() == Some(cid.as_str())
            })
            .await?;
        let tag = sub.from_tag.clone();
        self.reply_tagged(&m, 200, &tag, None);
        Some(m)
    }

    /// The next NOTIFY of `sub`, which must come within 5 s.
    pub async fn expect_notify(&mut self, sub: &Sub) -> Message {
        self.notify(sub, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{}: no NOTIFY for {}", self.user, sub.call_id))
    }

    /// PUBLISH of this agent's own presence (`body`: a PIDF document; `etag`: the
    /// publication it refreshes, modifies or removes); the final answer.
    pub async fn publish(
        &mut self,
        body: Option<&str>,
        etag: Option<&str>,
        expires: u32,
    ) -> Message {
        self.publish_with(body, etag, expires, &[]).await
    }

    /// PUBLISH with extra header lines.
    pub async fn publish_with(
        &mut self,
        body: Option<&str>,
        etag: Option<&str>,
        expires: u32,
        extra: &[(&str, &str)],
    ) -> Message {
        let uri = self.aor();
        let call_id = format!("pub-{}", self.token());
        let mut auth: Option<String> = None;
        for cseq in 1..=2u32 {
            let via = self.via();
            let tag = self.token();
            let mut b = RequestBuilder::new("PUBLISH", &uri)
                .header("Via", &via)
                .header("Max-Forwards", "70")
                .header("From", &format!("<{uri}>;tag={tag}"))
                .header("To", &format!("<{uri}>"))
                .header("Call-ID", &call_id)
                .header("CSeq", &format!("{cseq} PUBLISH"))
                .header("Event", "presence")
                .header("Expires", &expires.to_string());
            if let Some(e) = etag {
                b = b.header("SIP-If-Match", e);
            }
            for (n, v) in extra {
                b = b.header(n, v);
            }
            if let Some(a) = &auth {
                b = b.header("Proxy-Authorization", a);
            }
            self.send(b.build(body.map(|x| ("application/pidf+xml", x.as_bytes()))));
            let resp = self.final_response(&call_id, "PUBLISH").await;
            if resp.status() != Some(407) || auth.is_some() {
                return resp;
            }
            auth =
                Some(self.answer_challenge(&resp, HeaderName::ProxyAuthenticate, "PUBLISH", &uri));
        }
        unreachable!()
    }
}
