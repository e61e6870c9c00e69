//! The number shop: the operator's inventory of numbers for sale, searches, holds, orders,
//! payments and approval.
//!
//! What it is: the operator loads blocks of numbers per country and kind (personal numbers
//! `02-6200-6200-082`, enterprise numbers `6200-6200#082`, plain numbers of the plan's own
//! ranges), each block with a price class. Every number is read by the numbering plan's own
//! classifier ([`crate::numbering::NumberingPlan::classify`]), so the shop sells exactly the
//! numbers the switch routes. A buyer searches ([`Pattern`]), holds one number for a while
//! ([`Desk::reserve`]; one client has at most `Terms::holds_per_source` holds running), turns
//! the hold into an [`Order`], pays it through a payment provider and, for enterprise
//! numbers, waits for the operator's approval; then the number is assigned and the order's
//! account (made by the caller from the buyer's password) is written.
//!
//! How to drive it: [`Desk`] is sans-IO. Every call takes the current time `now`
//! ([`UnixTime`], wall-clock seconds, since orders outlive restarts); secrets (hold tokens,
//! order ids) come from the caller. After each call the records to write are drained with
//! [`Desk::poll_dirty`]; [`Desk::restore`] rebuilds a desk from them.
//!
//! What it guarantees: a number is listed as available only when it is neither held, ordered
//! nor assigned (an expired hold or an expired order frees its number at the next call made
//! with a later `now`); an order assigns its number at most once, whatever order payments and
//! approval come in and however often a payment is delivered; a payment for an expired or
//! refused order is recorded and assigns nothing. Payment webhooks are authenticated by
//! [`webhook::verify`] (HMAC-SHA256 with a timestamp, `docs/payments.md`).

mod desk;
mod file;
mod holders;
mod listing;
mod order;
mod pattern;
mod stock;
pub mod webhook;

pub use desk::{Block, Desk, DeskError, Dirty, Hold, LoadReport, Terms};
pub use file::{parse_inventory, BlockLine, InventoryError, InventoryLine, MAX_BLOCK};
pub use listing::{Listed, ListingError};
pub use order::{Approval, Order, OrderError, OrderInput, OrderState, OrderStep, PaymentRecord};
pub use pattern::{Pattern, PatternError};
pub use stock::{Filter, Page, Slot, SlotState, Stock};

use std::fmt;
use std::time::Duration;

/// Wall-clock time in whole seconds since the Unix epoch.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode,
)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// This time plus `d` (whole seconds).
    pub fn after(self, d: Duration) -> UnixTime {
        UnixTime(self.0.saturating_add(d.as_secs()))
    }
}

/// What kind of number a block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum NumberKind {
    /// `area-local-country`, e.g. `02-6200-6200-082`.
    Personal,
    /// `local#country`, e.g. `6200-6200#082`; sold only with the operator's approval.
    Enterprise,
    /// A phone number of one of the plan's own ranges, e.g. `+82 11 123 4567`.
    Range,
}

impl NumberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::Personal => "personal",
            NumberKind::Enterprise => "enterprise",
            NumberKind::Range => "range",
        }
    }

    /// Reads `personal`, `enterprise` or `range`.
    pub fn parse(s: &str) -> Option<NumberKind> {
        match s {
            "personal" => Some(NumberKind::Personal),
            "enterprise" => Some(NumberKind::Enterprise),
            "range" => Some(NumberKind::Range),
            _ => None,
        }
    }
}

impl fmt::Display for NumberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money in integer minor units (cents, won) of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub struct Price {
    pub minor: u64,
    /// Three upper-case letters (`KRW`, `USD`).
    pub currency: String,
}

impl Price {
    /// Whether `currency` is three ASCII upper-case letters.
    pub fn is_currency(currency: &str) -> bool {
        currency.len() == 3 && currency.bytes().all(|c| c.is_ascii_uppercase())
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.minor, self.currency)
    }
}

/// A named price (`standard`, `golden`); every block names one.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct PriceClass {
    pub name: String,
    pub price: Price,
}

/// Whether `s` is a price class name: `[a-z0-9_-]{1,32}`.
pub fn is_class_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-'))
}
