//! Registration: a contact registered for some seconds, a challenge answered with digest
//! credentials.

use super::*;

impl Ua {
    /// Registers this agent's contact for `expires` seconds, answering a challenge.
    pub async fn register(&mut self, expires: u32) -> Message {
        let contact = format!("<{}>", self.contact());
        self.register_contact(&contact, Some(expires)).await
    }

    /// REGISTER with an explicit Contact value (`*`, several, with params) and Expires.
    pub async fn register_contact(&mut self, contact: &str, expires: Option<u32>) -> Message {
        let mut auth: Option<String> = None;
        for _ in 0..3 {
            self.reg_cseq += 1;
            let uri = format!("sip:{}", self.server);
            let via = self.via();
            let mut b = RequestBuilder::new("REGISTER", &uri)
                .header("Via", &via)
                .header("Max-Forwards", "70")
                .header("From", &format!("<{}>;tag={}", self.aor(), self.e.token(8)))
                .header("To", &format!("<{}>", self.aor()))
                .header("Call-ID", &self.reg_call_id.clone())
                .header("CSeq", &format!("{} REGISTER", self.reg_cseq));
            if !contact.is_empty() {
                b = b.header("Contact", contact);
            }
            if let Some(e) = expires {
                b = b.header("Expires", &e.to_string());
            }
            if let Some(a) = &auth {
                b = b.header("Authorization", a);
            }
            self.send(b.build(None));
            let cid = self.reg_call_id.clone();
            let resp = self.final_response(&cid, "REGISTER").await;
            if resp.status() != Some(401)
                || auth
                    .as_ref()
                    .is_some_and(|_| !is_stale(&resp, HeaderName::WwwAuthenticate))
            {
                return resp;
            }
            auth =
                Some(self.answer_challenge(&resp, HeaderName::WwwAuthenticate, "REGISTER", &uri));
        }
        panic!("registration kept being challenged");
    }

    /// Credentials for the first challenge of `header` in `resp`, for our user and password.
    pub fn answer_challenge(
        &mut self,
        resp: &Message,
        header: HeaderName,
        method: &str,
        uri: &str,
    ) -> String {
        let v = resp.header(header).expect("challenge present");
        let ch = Challenge::parse(v).unwrap();
        self.nc += 1;
        let cnonce = self.e.token(12);
        ch.answer(
            method,
            uri,
            &self.user.clone(),
            &self.password.clone(),
            &cnonce,
            self.nc,
        )
    }
}
