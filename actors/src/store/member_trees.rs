//! The sled trees of members and hot desk, opened with the store (`members.rs` reads and
//! writes them). A leaf: it names nothing of the store.

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
}

impl MemberTrees {
    pub(super) fn open(db: &sled::Db) -> sled::Result<MemberTrees> {
        Ok(MemberTrees {
            members: db.open_tree(MEMBERS_TREE)?,
            by_number: db.open_tree(MEMBERS_BY_NUMBER_TREE)?,
            by_outside: db.open_tree(MEMBERS_BY_OUTSIDE_TREE)?,
            hotdesk: db.open_tree(HOTDESK_TREE)?,
            hotdesk_by_number: db.open_tree(HOTDESK_BY_NUMBER_TREE)?,
        })
    }
}
