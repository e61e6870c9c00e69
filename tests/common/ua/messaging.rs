//! MESSAGE: sending one (as this agent or another address) and answering requests.

use super::*;

impl Ua {
    /// Sends a MESSAGE to `to` (a user part at the switch) with `from` (a URI; `None`: this
    /// agent's own address, answering the switch's challenge with our password) and returns
    /// the final answer.
    pub async fn message(
        &mut self,
        to: &str,
        from: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Message {
        let uri = format!("sip:{to}@{}", self.server);
        let call_id = format!("msg-{}", self.token());
        let from = from.map_or_else(|| self.aor(), str::to_owned);
        let mut auth: Option<String> = None;
        for cseq in 1..=2u32 {
            let via = self.via();
            let tag = self.token();
            let mut b = RequestBuilder::new("MESSAGE", &uri)
                .header("Via", &via)
                .header("Max-Forwards", "70")
                .header("From", &format!("{}<{from}>;tag={tag}", self.shown()))
                .header("To", &format!("<{uri}>"))
                .header("Call-ID", &call_id)
                .header("CSeq", &format!("{cseq} MESSAGE"));
            if let Some(a) = &auth {
                b = b.header("Proxy-Authorization", a);
            }
            self.send(b.build(Some((content_type, body))));
            let resp = self.final_response(&call_id, "MESSAGE").await;
            if resp.status() != Some(407) || auth.is_some() {
                return resp;
            }
            auth =
                Some(self.answer_challenge(&resp, HeaderName::ProxyAuthenticate, "MESSAGE", &uri));
        }
        unreachable!()
    }

    fn shown(&self) -> String {
        if self.display.is_empty() {
            String::new()
        } else {
            format!("\"{}\" ", self.display)
        }
    }

    /// A plain-text MESSAGE from this agent's own address.
    pub async fn text(&mut self, to: &str, text: &str) -> Message {
        self.message(to, None, "text/plain;charset=UTF-8", text.as_bytes())
            .await
    }

    /// Sends a response with a fresh To tag.
    pub fn reply(&mut self, req: &Message, code: u16) {
        let tag = self.e.token(8);
        self.reply_tagged(req, code, &tag, None);
    }

    pub fn reply_tagged(&self, req: &Message, code: u16, tag: &str, body: Option<(&str, &[u8])>) {
        let contact = format!("<{}>", self.contact());
        let mut b = ResponseBuilder::new(req, code, switchboard_engine::sip::reason_phrase(code))
            .to_tag(tag);
        if (101..300).contains(&code) {
            b = b.record_route().header("Contact", &contact);
        }
        if let Some((t, body)) = body {
            b = b.body(t, body);
        }
        self.send(b.build());
    }
}
