//! The `smpp` gateway (not yet written).

use super::{Gateway, GatewayError, Sms};
use crate::config::NotifySmpp;

pub struct SmppGateway;

impl SmppGateway {
    pub fn new(_cfg: &NotifySmpp) -> Result<SmppGateway, String> {
        Err("notify.gateway smpp is not available yet".into())
    }
}

impl Gateway for SmppGateway {
    fn kind(&self) -> &'static str {
        "smpp"
    }
    fn send(&mut self, _sms: &Sms) -> Result<(), GatewayError> {
        Err(GatewayError::Unreachable("not available".into()))
    }
}
