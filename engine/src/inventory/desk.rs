//! The desk: price classes, blocks, the stock and the orders together, with the deadlines
//! that free held numbers and expire unpaid orders, the cap on the holds one source may have
//! running at once, and the queue of records to write.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::numbering::{Destination, NumberingPlan};
use crate::store::AccountRecord;

use super::file::{BlockLine, InventoryLine};
use super::holders::Holders;
use super::listing::{nth, Listed, ListingError};
use super::order::{Approval, Order, OrderError, OrderInput, OrderState, OrderStep};
use super::stock::{Filter, Page, Slot, SlotState, Stock};
use super::{NumberKind, PriceClass, UnixTime};

/// How long holds and unpaid orders last, and how many holds one source may have running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    pub hold: Duration,
    pub pay_within: Duration,
    pub holds_per_source: u32,
    /// A sold number whose account was removed goes back on sale this long after.
    pub quarantine: Duration,
}

impl Default for Terms {
    /// Holds of 15 minutes, 5 at once per source; 30 minutes to pay; 90 days of quarantine.
    fn default() -> Terms {
        Terms {
            hold: Duration::from_secs(15 * 60),
            pay_within: Duration::from_secs(30 * 60),
            holds_per_source: 5,
            quarantine: Duration::from_secs(90 * 86_400),
        }
    }
}

/// A number held for a buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub number: String,
    pub token: String,
    pub until: UnixTime,
}

/// A loaded block: its line, its country and how many of its numbers were new.
#[derive(Debug, Clone, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct Block {
    pub id: u64,
    pub line: BlockLine,
    pub country: u16,
    pub added: u64,
}

/// A record that changed and must be written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dirty {
    Class(String),
    Block(u64),
    Number(String),
    Order(String),
}

/// Why the desk refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeskError {
    #[error("no such number for sale")]
    NoSuchNumber,
    #[error("the number is not available")]
    Taken,
    #[error("no valid hold with this token")]
    NoHold,
    #[error(
        "this client holds {limit} numbers already, the most it may at once; one is free \
         again in {retry_after_secs} s, or as soon as one becomes an order"
    )]
    TooManyHolds { limit: u32, retry_after_secs: u64 },
    #[error("no such order")]
    NoSuchOrder,
    #[error("unknown price class {0:?}")]
    UnknownClass(String),
    #[error("block {first:?}: {source}")]
    Listing { first: String, source: ListingError },
    #[error(transparent)]
    Order(#[from] OrderError),
}

/// What a load added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub classes: usize,
    pub blocks: usize,
    /// Numbers new to the stock.
    pub added: u64,
    /// Numbers already there (loading a file twice adds nothing).
    pub present: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Hold(String),
    Order(String),
}

/// The number shop's state.
#[derive(Debug, Default)]
pub struct Desk {
    terms: Terms,
    classes: BTreeMap<String, PriceClass>,
    blocks: Vec<Block>,
    stock: Stock,
    orders: BTreeMap<String, Order>,
    deadlines: BTreeSet<(UnixTime, Due)>,
    holders: Holders,
    dirty: VecDeque<Dirty>,
}

impl Desk {
    pub fn new(terms: Terms) -> Desk {
        Desk {
            terms,
            ..Desk::default()
        }
    }

    /// A desk from its stored records.
    pub fn restore(
        terms: Terms,
        classes: Vec<PriceClass>,
        blocks: Vec<Block>,
        slots: Vec<Slot>,
        orders: Vec<Order>,
    ) -> Desk {
        let mut d = Desk::new(terms);
        d.classes = classes.into_iter().map(|c| (c.name.clone(), c)).collect();
        d.blocks = blocks;
        d.blocks.sort_by_key(|b| b.id);
        for s in slots {
            if let SlotState::Held { until, .. } = &s.state {
                d.deadlines
                    .insert((*until, Due::Hold(s.listed.key.clone())));
            }
            d.stock.insert(s);
        }
        for o in orders {
            if o.state == OrderState::Open && !o.paid {
                d.deadlines.insert((o.pay_by, Due::Order(o.id.clone())));
            }
            d.orders.insert(o.id.clone(), o);
        }
        d
    }

    pub fn terms(&self) -> Terms {
        self.terms
    }

    pub fn classes(&self) -> impl Iterator<Item = &PriceClass> {
        self.classes.values()
    }

    pub fn class(&self, name: &str) -> Option<&PriceClass> {
        self.classes.get(name)
    }

    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    pub fn stock(&self) -> &Stock {
        &self.stock
    }

    pub fn order(&self, id: &str) -> Option<&Order> {
        self.orders.get(id)
    }

    /// Orders with this label (`Order::label`), or all; oldest first.
    pub fn orders(&self, label: Option<&str>) -> Vec<&Order> {
        let mut v: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| label.is_none_or(|l| o.label() == l))
            .collect();
        v.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        v
    }

    /// The next record to write.
    pub fn poll_dirty(&mut self) -> Option<Dirty> {
        self.dirty.pop_front()
    }

    /// When the next hold or unpaid order runs out.
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// Frees the holds and expires the unpaid orders whose time is up at `now`. Every other
    /// call does this first.
    pub fn handle_timeout(&mut self, now: UnixTime) {
        while let Some((t, _)) = self.deadlines.first() {
            if *t > now {
                break;
            }
            let Some((_, due)) = self.deadlines.pop_first() else {
                break;
            };
            match due {
                Due::Hold(key) => {
                    if let Some(slot) = self.stock.get_mut(&key) {
                        if matches!(&slot.state, SlotState::Held { until, .. } if *until <= now) {
                            slot.state = SlotState::Free;
                            self.holders.release(&key);
                            self.dirty.push_back(Dirty::Number(key));
                        }
                    }
                }
                Due::Order(id) => {
                    // the order's own check decides; a paid order stays
                    let _ = self.apply(now, &id, OrderInput::Tick);
                }
            }
        }
    }

    /// Loads classes and blocks read from an inventory text. Every line is checked before
    /// anything changes; numbers already in the stock are left as they are.
    pub fn load(
        &mut self,
        plan: &NumberingPlan,
        lines: &[InventoryLine],
    ) -> Result<LoadReport, DeskError> {
        let mut classes = self.classes.clone();
        let mut blocks: Vec<(BlockLine, Vec<Listed>)> = Vec::new();
        for line in lines {
            match line {
                InventoryLine::Class(c) => {
                    classes.insert(c.name.clone(), c.clone());
                }
                InventoryLine::Block(b) => {
                    if !classes.contains_key(&b.class) {
                        return Err(DeskError::UnknownClass(b.class.clone()));
                    }
                    let err = |source| DeskError::Listing {
                        first: b.first.clone(),
                        source,
                    };
                    let mut listed = Vec::with_capacity(b.count as usize);
                    for i in 0..b.count {
                        let spelled =
                            nth(&b.first, b.kind, i).ok_or(err(ListingError::Overflow))?;
                        listed.push(Listed::read(plan, b.kind, &spelled, &b.class).map_err(err)?);
                    }
                    blocks.push((b.clone(), listed));
                }
            }
        }
        let mut report = LoadReport::default();
        for line in lines {
            if let InventoryLine::Class(c) = line {
                self.classes.insert(c.name.clone(), c.clone());
                self.dirty.push_back(Dirty::Class(c.name.clone()));
                report.classes += 1;
            }
        }
        for (line, listed) in blocks {
            let country = listed.first().map_or(0, |l| l.country);
            let mut added = 0;
            for l in listed {
                let key = l.key.clone();
                if self.stock.insert(Slot {
                    listed: l,
                    state: SlotState::Free,
                }) {
                    added += 1;
                    self.dirty.push_back(Dirty::Number(key));
                }
            }
            report.added += added;
            report.present += line.count - added;
            if !self.blocks.iter().any(|b| b.line == line) {
                let id = self.blocks.last().map_or(1, |b| b.id + 1);
                self.blocks.push(Block {
                    id,
                    line,
                    country,
                    added,
                });
                self.dirty.push_back(Dirty::Block(id));
                report.blocks += 1;
            }
        }
        Ok(report)
    }

    /// The stock key of a number as written (`02-6200-6200-082`, `+82262006200`,
    /// `6200-6200#082` or a key itself).
    pub fn key_of(&self, plan: &NumberingPlan, written: &str) -> Option<String> {
        if self.stock.contains(written) {
            return Some(written.to_owned());
        }
        let key = match plan.classify(written).ok()? {
            Destination::Personal { e164, .. } | Destination::Subscriber(e164) => e164.to_string(),
            Destination::Enterprise { local, country } => format!("{local}#{country:03}"),
            Destination::Pstn(e164) | Destination::Provider { e164, .. } => e164.to_string(),
            _ => return None,
        };
        self.stock.contains(&key).then_some(key)
    }

    /// Free numbers matching `filter` at `now`.
    pub fn search(
        &mut self,
        now: UnixTime,
        filter: &Filter,
        after: Option<&str>,
        limit: usize,
    ) -> Page<'_> {
        self.handle_timeout(now);
        self.stock.search(now, filter, after, limit)
    }

    /// Holds number `key` for `terms.hold` under `token` (a secret the caller made) for
    /// `source` (the client, as the caller names it: an address), which may have at most
    /// `terms.holds_per_source` holds running at once.
    pub fn reserve(
        &mut self,
        now: UnixTime,
        key: &str,
        token: String,
        source: &str,
    ) -> Result<Hold, DeskError> {
        self.handle_timeout(now);
        let until = now.after(self.terms.hold);
        let slot = self.stock.get(key).ok_or(DeskError::NoSuchNumber)?;
        if !slot.is_free(now) {
            return Err(DeskError::Taken);
        }
        let limit = self.terms.holds_per_source;
        if let (held, Some(first)) = self.holders.of(source) {
            if held >= limit as usize {
                return Err(DeskError::TooManyHolds {
                    limit,
                    retry_after_secs: first.0.saturating_sub(now.0).max(1),
                });
            }
        }
        if let Some(slot) = self.stock.get_mut(key) {
            slot.state = SlotState::Held {
                token: token.clone(),
                until,
            };
        }
        self.holders.add(source, key, until);
        self.deadlines.insert((until, Due::Hold(key.to_owned())));
        self.dirty.push_back(Dirty::Number(key.to_owned()));
        Ok(Hold {
            number: key.to_owned(),
            token,
            until,
        })
    }

    /// Account `account` was removed: the number sold as it goes back on sale once its
    /// quarantine (`Terms::quarantine`) is over. Returns the number's key; `None` when no
    /// number was sold as that account (or it was released already).
    pub fn release(&mut self, now: UnixTime, account: &str) -> Option<String> {
        // the order the number is sold by now (a number sold, released and sold again has
        // an older assigned order for the same account)
        let key = self
            .orders
            .values()
            .filter(|o| o.state == OrderState::Assigned && o.account == account)
            .find(|o| {
                self.stock.get(&o.number).is_some_and(
                    |s| matches!(&s.state, SlotState::Assigned { order } if *order == o.id),
                )
            })?
            .number
            .clone();
        let slot = self.stock.get_mut(&key)?;
        slot.state = SlotState::Aging {
            until: now.after(self.terms.quarantine),
        };
        self.dirty.push_back(Dirty::Number(key.clone()));
        Some(key)
    }

    /// The accounts of the numbers sold and not released (to check against the accounts
    /// that still exist).
    pub fn sold_accounts(&self) -> Vec<String> {
        self.orders
            .values()
            .filter(|o| o.state == OrderState::Assigned)
            .filter(|o| {
                self.stock.get(&o.number).is_some_and(
                    |s| matches!(&s.state, SlotState::Assigned { order } if *order == o.id),
                )
            })
            .map(|o| o.account.clone())
            .collect()
    }

    /// Turns the hold on `key` made with `token` into order `id` (a fresh id the caller
    /// made); `credentials` are written as the number's account when it is assigned.
    pub fn place(
        &mut self,
        now: UnixTime,
        key: &str,
        token: &str,
        id: String,
        credentials: AccountRecord,
    ) -> Result<&Order, DeskError> {
        self.handle_timeout(now);
        let slot = self.stock.get(key).ok_or(DeskError::NoSuchNumber)?;
        match &slot.state {
            SlotState::Held { token: t, until } if t == token && *until > now => {}
            _ => return Err(DeskError::NoHold),
        }
        let listed = slot.listed.clone();
        let class = self
            .classes
            .get(&listed.class)
            .ok_or_else(|| DeskError::UnknownClass(listed.class.clone()))?;
        let pay_by = now.after(self.terms.pay_within);
        let order = Order {
            id: id.clone(),
            number: listed.key.clone(),
            display: listed.display.clone(),
            kind: listed.kind,
            account: listed.account().to_string(),
            credentials,
            price: class.price.clone(),
            created: now,
            pay_by,
            approval: if listed.kind == NumberKind::Enterprise {
                Approval::Waiting
            } else {
                Approval::NotNeeded
            },
            paid: false,
            state: OrderState::Open,
            payments: Vec::new(),
            provider_payment: None,
            redirect_url: None,
            updated: now,
        };
        if let Some(slot) = self.stock.get_mut(key) {
            slot.state = SlotState::Ordered { order: id.clone() };
        }
        self.holders.release(key);
        self.deadlines.insert((pay_by, Due::Order(id.clone())));
        self.dirty.push_back(Dirty::Number(key.to_owned()));
        self.dirty.push_back(Dirty::Order(id.clone()));
        self.orders.insert(id.clone(), order);
        Ok(&self.orders[&id])
    }

    /// Notes the provider's payment id and payment page on an order.
    pub fn set_provider_payment(
        &mut self,
        id: &str,
        payment: String,
        redirect_url: String,
    ) -> Result<(), DeskError> {
        let o = self.orders.get_mut(id).ok_or(DeskError::NoSuchOrder)?;
        o.provider_payment = Some(payment);
        o.redirect_url = Some(redirect_url);
        self.dirty.push_back(Dirty::Order(id.to_owned()));
        Ok(())
    }

    /// Gives order `id` an input (a payment, the operator's decision) at `now`. On
    /// `OrderStep::Assign` the caller writes the order's account.
    pub fn handle_order(
        &mut self,
        now: UnixTime,
        id: &str,
        input: OrderInput,
    ) -> Result<OrderStep, DeskError> {
        self.handle_timeout(now);
        self.apply(now, id, input)
    }

    fn apply(
        &mut self,
        now: UnixTime,
        id: &str,
        input: OrderInput,
    ) -> Result<OrderStep, DeskError> {
        let o = self.orders.get_mut(id).ok_or(DeskError::NoSuchOrder)?;
        let step = o.handle(now, input)?;
        let key = o.number.clone();
        let state = match step {
            OrderStep::Assign => Some(SlotState::Assigned {
                order: id.to_owned(),
            }),
            OrderStep::Release => Some(SlotState::Free),
            _ => None,
        };
        if !matches!(step, OrderStep::Duplicate | OrderStep::Unchanged) {
            self.dirty.push_back(Dirty::Order(id.to_owned()));
        }
        if let Some(state) = state {
            if let Some(slot) = self.stock.get_mut(&key) {
                // only the order's own number changes (never one held or sold since)
                if matches!(&slot.state, SlotState::Ordered { order } if order == id) {
                    slot.state = state;
                    self.dirty.push_back(Dirty::Number(key));
                }
            }
        }
        Ok(step)
    }
}

#[cfg(test)]
mod tests;
