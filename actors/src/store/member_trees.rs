//! The sled trees of members and hot desk, opened with the store (`members.rs` reads and
//! writes them). A leaf: it names nothing of the store.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use switchboard_engine::members::{
    HOTDESK_BY_NUMBER_TREE, HOTDESK_TREE, MEMBERS_BY_NUMBER_TREE, MEMBERS_BY_OUTSIDE_TREE,
    MEMBERS_TREE,
};

/// The trees of members and hot desk.
#[derive(Clone)]
pub struct MemberTrees {
    pub(super) members: sled::Tree,
    pub(super) by_number: sled::Tree,
    pub(super) by_outside: sled::Tree,
    pub(super) hotdesk: sled::Tree,
    pub(super) hotdesk_by_number: sled::Tree,
    /// A hot-desk session was ever stored (at open, or since): until then every phone is
    /// itself and every number rings alone, and the lookups on each call and message are
    /// skipped. Only this process writes the store while it runs.
    hotdesk_used: Arc<AtomicBool>,
}

impl MemberTrees {
    pub(super) fn open(db: &sled::Db) -> sled::Result<MemberTrees> {
        let hotdesk = db.open_tree(HOTDESK_TREE)?;
        Ok(MemberTrees {
            members: db.open_tree(MEMBERS_TREE)?,
            by_number: db.open_tree(MEMBERS_BY_NUMBER_TREE)?,
            by_outside: db.open_tree(MEMBERS_BY_OUTSIDE_TREE)?,
            hotdesk_used: Arc::new(AtomicBool::new(!hotdesk.is_empty())),
            hotdesk,
            hotdesk_by_number: db.open_tree(HOTDESK_BY_NUMBER_TREE)?,
        })
    }

    /// Whether a hot-desk session may exist.
    pub(super) fn hotdesk_used(&self) -> bool {
        self.hotdesk_used.load(Ordering::Acquire)
    }

    /// A session is about to be stored.
    pub(super) fn hotdesk_in_use(&self) {
        self.hotdesk_used.store(true, Ordering::Release);
    }
}
