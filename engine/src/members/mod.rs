//! Members: the people an operator signs up, with the numbers they own on the switch, the
//! outside numbers they can be reached at (verified by a one-time code before anything routes
//! to them), and a hot-desk PIN that signs any phone of the network in as them.
//!
//! Three pure parts, driven with the wall clock as a parameter (`now_unix`, seconds since the
//! Unix epoch, because every state here is stored and outlives the process):
//!
//! - [`record`]: the stored member ([`MemberRecord`]), validated from what the operator sends
//!   ([`MemberDraft::validate`]), with the keys of its trees;
//! - [`verification`]: the one-time codes that prove an outside number (sends limited like
//!   the other one-time passwords, 3 per 10 minutes and 60 s apart by default; codes expire;
//!   wrong codes are counted);
//! - [`channel`]: how a code travels: by SMS, or by a call that reads it out (the default for
//!   a fixed line, which takes no SMS), and what that call says;
//! - [`secret`]: codes and PINs kept as salted hashes;
//! - [`hotdesk`]: the `*55<number>*<pin>` / `*56` dial strings, the hashed PIN with its
//!   lockout (the voicemail PIN's rules), and the sessions that end at `[hotdesk] max_hours`;
//! - [`hotdesk_menu`]: `*55` alone, the voice menu that asks for the number and the PIN by
//!   keys.
//!
//! Guarantees: an outside number routes to a member only while its claim is verified; a PIN is
//! never stored in clear; a session is live only before its end.

pub mod channel;
pub mod hotdesk;
pub mod hotdesk_menu;
pub mod record;
pub mod secret;
pub mod verification;

pub use channel::{call_group, spoken_code, Channel, ChannelError};
pub use hotdesk::{HotDeskCode, HotDeskParseError, HotDeskSession, PinError};
pub use hotdesk_menu::{HotDeskAction, HotDeskMenu, HotDeskMenuConfig, SignInOutcome};
pub use record::{
    MemberDraft, MemberError, MemberId, MemberRecord, OutsideKind, OutsideNumber,
    HOTDESK_BY_NUMBER_TREE, HOTDESK_TREE, MEMBERS_BY_NUMBER_TREE, MEMBERS_BY_OUTSIDE_TREE,
    MEMBERS_TREE,
};
pub use secret::PinHash;
pub use verification::{Verification, VerificationRules, VerifyError};
