//! The `http` gateway: each SMS is one POST of `{"to","text","from"}` as JSON to an SMS
//! provider's URL, with `Authorization: Bearer <token>` when a token is configured.
//!
//! A 2xx answer is acceptance; any other status a refusal (`HTTP <code>`), a transport failure
//! (DNS, connect, TLS, timeout) unreachable. Redirects are not followed: a provider's API does
//! not move, and a 3xx is reported as such. http:// and https:// (rustls with the webpki root
//! certificates built in) both work; the whole request takes at most `timeout_ms`.
//!
//! The token is never logged by this module; ureq's own wire log at trace level would show it,
//! so production filters keep `ureq` at info or above. Destinations are logged only redacted.

use std::time::Duration;

use tracing::debug;
use ureq::http::Uri;

use super::gateway::{Gateway, GatewayError, Sms};
use super::redact::Destination;
use crate::config::NotifyHttp;

/// Most bytes of a provider's answer read (and dropped) so the connection can be reused.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;

pub struct HttpGateway {
    url: String,
    /// The whole `Authorization` value, or `None` without a token.
    authorization: Option<String>,
    from: String,
    agent: ureq::Agent,
}

impl HttpGateway {
    /// Checks the URL, token and timeout; makes no request.
    pub fn new(cfg: &NotifyHttp) -> Result<HttpGateway, String> {
        let uri: Uri = cfg
            .url
            .parse()
            .map_err(|e| format!("notify.http.url: {:?} is not a URL: {e}", cfg.url))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some_and(|h| !h.is_empty()) => {}
            _ => {
                return Err(format!(
                    "notify.http.url: {:?} must be an http:// or https:// URL with a host",
                    cfg.url
                ))
            }
        }
        // visible ASCII only, so the header can neither be rejected nor split
        if !cfg.token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("notify.http.token: must be visible ascii without spaces".into());
        }
        if cfg.timeout_ms == 0 {
            return Err("notify.http.timeout_ms: must be at least 1".into());
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(cfg.timeout_ms)))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(HttpGateway {
            url: cfg.url.clone(),
            authorization: (!cfg.token.is_empty()).then(|| format!("Bearer {}", cfg.token)),
            from: cfg.from.clone(),
            agent,
        })
    }
}

impl Gateway for HttpGateway {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn send(&mut self, sms: &Sms) -> Result<(), GatewayError> {
        let mut req = self.agent.post(&self.url).content_type("application/json");
        if let Some(auth) = &self.authorization {
            req = req.header("Authorization", auth);
        }
        let mut resp = req
            .send(body(sms, &self.from))
            .map_err(|e| GatewayError::Unreachable(format!("sms provider: {e}")))?;
        let status = resp.status().as_u16();
        // drained so the connection can be reused; the answer's content does not matter
        let _ = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec();
        if resp.status().is_success() {
            debug!(to = %Destination(&sms.to), status, "sms accepted by the http provider");
            Ok(())
        } else {
            debug!(to = %Destination(&sms.to), status, "sms refused by the http provider");
            Err(GatewayError::Refused(format!("HTTP {status}")))
        }
    }
}

/// The JSON body of one SMS.
fn body(sms: &Sms, from: &str) -> String {
    serde_json::json!({
        "to": sms.to,
        "text": sms.text,
        "from": from,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> NotifyHttp {
        NotifyHttp {
            url: url.into(),
            token: "tok".into(),
            from: "Switchboard".into(),
            timeout_ms: 1000,
        }
    }

    #[test]
    fn the_body_carries_to_text_and_from_with_json_escapes() {
        let sms = Sms {
            to: "+821012345678".into(),
            text: "2 new \"messages\"\n안녕".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&body(&sms, "Switchboard")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "to": "+821012345678",
                "text": "2 new \"messages\"\n안녕",
                "from": "Switchboard",
            })
        );
    }

    #[test]
    fn new_takes_http_and_https_urls_only() {
        assert!(HttpGateway::new(&cfg("http://127.0.0.1:8080/sms")).is_ok());
        assert!(HttpGateway::new(&cfg("https://sms.example/v1/send")).is_ok());
        let e = HttpGateway::new(&cfg("ftp://sms.example/")).err().unwrap();
        assert!(e.starts_with("notify.http.url"), "{e}");
        assert!(HttpGateway::new(&cfg("not a url")).is_err());
    }

    #[test]
    fn a_token_with_a_line_break_is_rejected_without_being_echoed() {
        let mut c = cfg("http://127.0.0.1/");
        c.token = "abc\r\nX-Evil: 1".into();
        let e = HttpGateway::new(&c).err().unwrap();
        assert!(e.contains("notify.http.token"));
        assert!(!e.contains("abc"), "{e}");
    }

    #[test]
    fn no_token_sends_no_authorization() {
        let mut c = cfg("http://127.0.0.1/");
        c.token.clear();
        assert!(HttpGateway::new(&c).unwrap().authorization.is_none());
        let g = HttpGateway::new(&cfg("http://127.0.0.1/")).unwrap();
        assert_eq!(g.authorization.as_deref(), Some("Bearer tok"));
    }
}
