//! The `http` gateway (not yet written).

use super::{Gateway, GatewayError, Sms};
use crate::config::NotifyHttp;

pub struct HttpGateway;

impl HttpGateway {
    pub fn new(_cfg: &NotifyHttp) -> Result<HttpGateway, String> {
        Err("notify.gateway http is not available yet".into())
    }
}

impl Gateway for HttpGateway {
    fn kind(&self) -> &'static str {
        "http"
    }
    fn send(&mut self, _sms: &Sms) -> Result<(), GatewayError> {
        Err(GatewayError::Unreachable("not available".into()))
    }
}
