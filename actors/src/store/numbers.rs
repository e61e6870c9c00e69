//! The number shop in the store: one tree, `numbers`, with one record per price class
//! (`c/<name>`), block (`b/<id>`, big-endian), number (`n/<key>`) and order (`o/<id>`).
//!
//! The shop's desk says which records changed (`Desk::poll_dirty`); `write_numbers` writes
//! them and flushes before the change is answered, so an answered change survives a crash.

use switchboard_engine::inventory::{Block, Desk, Dirty, Order, PriceClass, Slot};
use switchboard_engine::store;

use super::{decode, Store, StoreError};

const TREE: &str = "numbers";

/// Everything the shop stored: classes, blocks, numbers and orders.
pub struct ShopRecords {
    pub classes: Vec<PriceClass>,
    pub blocks: Vec<Block>,
    pub slots: Vec<Slot>,
    pub orders: Vec<Order>,
}

fn key(d: &Dirty) -> Vec<u8> {
    match d {
        Dirty::Class(n) => [b"c/", n.as_bytes()].concat(),
        Dirty::Block(id) => [&b"b/"[..], &id.to_be_bytes()].concat(),
        Dirty::Number(k) => [b"n/", k.as_bytes()].concat(),
        Dirty::Order(id) => [b"o/", id.as_bytes()].concat(),
    }
}

impl Store {
    fn numbers_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(TREE)?)
    }

    /// Reads every record of the shop.
    pub fn numbers(&self) -> Result<ShopRecords, StoreError> {
        let tree = self.numbers_tree()?;
        let mut out = ShopRecords {
            classes: Vec::new(),
            blocks: Vec::new(),
            slots: Vec::new(),
            orders: Vec::new(),
        };
        for item in tree.iter() {
            let (k, v) = item?;
            let name = String::from_utf8_lossy(&k).into_owned();
            match k.get(..2) {
                Some(b"c/") => out.classes.push(decode(&name, &v)?),
                Some(b"b/") => out.blocks.push(decode(&name, &v)?),
                Some(b"n/") => out.slots.push(decode(&name, &v)?),
                Some(b"o/") => out.orders.push(decode(&name, &v)?),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Writes the records the desk changed and flushes them to disk.
    pub fn write_numbers(&self, desk: &mut Desk) -> Result<(), StoreError> {
        let tree = self.numbers_tree()?;
        let mut batch = sled::Batch::default();
        let mut any = false;
        while let Some(d) = desk.poll_dirty() {
            let value = match &d {
                Dirty::Class(n) => desk.class(n).map(store::encode),
                Dirty::Block(id) => desk
                    .blocks()
                    .iter()
                    .find(|b| b.id == *id)
                    .map(store::encode),
                Dirty::Number(k) => desk.stock().get(k).map(store::encode),
                Dirty::Order(id) => desk.order(id).map(store::encode),
            };
            match value {
                Some(v) => batch.insert(key(&d), v),
                None => batch.remove(key(&d)),
            }
            any = true;
        }
        if any {
            tree.apply_batch(batch)?;
            tree.flush()?;
        }
        Ok(())
    }
}
