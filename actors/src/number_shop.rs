//! The number shop of a running switch: the engine's `Desk` behind a lock, written through the
//! store after every change, and the payment provider client.
//!
//! Every operation takes the lock, reads the wall clock once (`now`), drives the desk, then
//! writes the records the desk marks changed and flushes them before it returns: an answered
//! change is on disk. On assignment the order's account (HA1 values made from the buyer's
//! password when the order was placed) is written first, so a crash between the two writes
//! is repaired by the provider's next delivery of the same webhook (assigning is idempotent).
//! Callers run these from `web::block`: they block on disk and on the provider.

use std::sync::Mutex;
use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};
use switchboard_engine::inventory::webhook::SignatureError;
use switchboard_engine::inventory::{
    parse_inventory, Desk, DeskError, InventoryError, Order, UnixTime,
};
use switchboard_engine::numbering::{Aor, NumberingPlan};
use tracing::{info, warn};

use crate::clock::unix_now;
use crate::config::Numbers;
use crate::store::{Store, StoreError};

/// What the shop refused or failed at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShopError {
    #[error(transparent)]
    Desk(#[from] DeskError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("payment provider: {0}")]
    Provider(String),
    #[error("webhook refused: {0}")]
    Signature(#[from] SignatureError),
    #[error("cannot read the inventory file {0}: {1}")]
    File(String, String),
}

/// The shop: the desk, where it is stored, and the plan its numbers are read with.
pub struct NumberShop {
    desk: Mutex<Desk>,
    db: Store,
    plan: NumberingPlan,
    config: Numbers,
    agent: ureq::Agent,
}

/// A fresh secret token (hold tokens, order ids): `len` characters from the OS generator.
pub fn token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, len)
}

impl NumberShop {
    /// Restores the shop from the store and loads the configured inventory file.
    pub fn open(db: Store, plan: NumberingPlan, config: Numbers) -> Result<NumberShop, ShopError> {
        let r = db.numbers()?;
        let desk = Desk::restore(config.terms(), r.classes, r.blocks, r.slots, r.orders);
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(config.provider_timeout_ms)))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let shop = NumberShop {
            desk: Mutex::new(desk),
            db,
            plan,
            config,
            agent,
        };
        shop.release_removed()?;
        if let Some(path) = &shop.config.inventory_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ShopError::File(path.display().to_string(), e.to_string()))?;
            let report = shop.load(&text)?;
            info!(
                file = %path.display(),
                added = report.added,
                present = report.present,
                "number inventory loaded"
            );
        }
        Ok(shop)
    }

    pub fn config(&self) -> &Numbers {
        &self.config
    }

    pub fn plan(&self) -> &NumberingPlan {
        &self.plan
    }

    /// Runs `f` on the desk at the current time, then writes what it changed.
    pub fn with_desk<R>(&self, f: impl FnOnce(&mut Desk, UnixTime) -> R) -> Result<R, ShopError> {
        let mut desk = self.desk.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut desk, UnixTime(unix_now()));
        self.db.write_numbers(&mut desk)?;
        Ok(out)
    }

    /// Loads an inventory text (classes and blocks).
    pub fn load(&self, text: &str) -> Result<switchboard_engine::inventory::LoadReport, ShopError> {
        let lines = parse_inventory(text)?;
        Ok(self.with_desk(|d, _| d.load(&self.plan, &lines))??)
    }

    /// Account `aor` was removed: the number sold as it goes back on sale after the
    /// quarantine (`[numbers] quarantine_days`). Returns the number's key, if one was sold as
    /// it.
    pub fn release_account(&self, aor: &Aor) -> Result<Option<String>, ShopError> {
        let key = self.with_desk(|d, now| d.release(now, aor.as_str()))?;
        if key.is_some() {
            info!(account = %aor.redacted(), "sold number released into quarantine");
        }
        Ok(key)
    }

    /// Releases the sold numbers whose account no longer exists (removed while the shop did
    /// not hear of it: the switch stopped between the removal and the shop's write).
    fn release_removed(&self) -> Result<(), ShopError> {
        let sold = self
            .desk
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sold_accounts();
        for account in sold {
            let aor = Aor::from_canonical(&account);
            if self.db.account(&aor)?.is_none() {
                self.release_account(&aor)?;
            }
        }
        Ok(())
    }

    /// Writes the account of an order that was just assigned; returns its address.
    pub fn write_account(&self, order: &Order) -> Result<Aor, ShopError> {
        let aor = Aor::from_canonical(&order.account);
        self.db.put_account(&aor, &order.credentials)?;
        self.db.claim(&aor)?;
        self.db.flush()?;
        info!(order = %order.id, account = %aor.redacted(), "number assigned");
        Ok(aor)
    }

    /// Asks the provider for a payment of `order` (`docs/payments.md`): its payment id and
    /// the page the buyer pays on.
    pub fn create_payment(&self, order: &Order) -> Result<(String, String), ShopError> {
        let url = format!(
            "{}/payments",
            self.config.provider_url.trim_end_matches('/')
        );
        let body = serde_json::json!({
            "order_id": order.id,
            "amount_minor": order.price.minor,
            "currency": order.price.currency,
            "description": format!("number {}", order.display),
            "return_url": self.config.return_url.replace("{order}", &order.id),
        })
        .to_string();
        let mut resp = self
            .agent
            .post(&url)
            .content_type("application/json")
            .send(body)
            .map_err(|e| ShopError::Provider(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .map_err(|e| ShopError::Provider(e.to_string()))?;
        if !(200..300).contains(&status) {
            warn!(status, "payment provider refused to create a payment");
            return Err(ShopError::Provider(format!("HTTP {status}")));
        }
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| ShopError::Provider(e.to_string()))?;
        match (v["payment_id"].as_str(), v["redirect_url"].as_str()) {
            (Some(id), Some(url)) if !id.is_empty() && id.len() <= 128 => {
                Ok((id.to_owned(), url.to_owned()))
            }
            _ => Err(ShopError::Provider(
                "the answer lacks payment_id or redirect_url".into(),
            )),
        }
    }
}
