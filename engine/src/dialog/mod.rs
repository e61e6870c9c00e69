//! Dialogs the switch takes part in as a user agent (RFC 3261 §12), as opposed to the calls
//! it proxies (`proxy`).
//!
//! - `party`: a call the switch answers itself with its own SDP (conference, voicemail).
//! - `outbound`: a call the switch places (a conference dialling its members).
//! - `notice`: a call the switch places to read a text message out to a landline, through
//!   the trunks of a group, on `outbound`.
//! - `confirm`: a call the switch answers and hangs up, confirming a feature code (a party).
//! - `proxied`: what the switch knows of a dialog it record-routes, to end it itself (BYE to
//!   both sides when the call's media died).
//!
//! `party` and `outbound` share what happens inside the dialog once it exists (`in_dialog`:
//! the peer's requests, our BYE), its state (`state`: route set, target, CSeqs), the answers
//! we give in it (`answers`, through server transactions; `answered`: an INVITE's, our 2xx
//! repeated until the ACK) and their events (`event`).

mod answered;
mod answers;
mod confirm;
mod event;
mod in_dialog;
mod notice;
mod outbound;
mod party;
mod proxied;
mod state;

pub use confirm::{Answer, ConfirmDialog, ConfirmOutput, Prompt};
pub use event::{CallEvent, DialogError, DialogOutput, EndReason, NORMAL_CLEARING};
pub use notice::{NoticeCall, NoticeDial, NoticeEvent, NoticeRoute, REASON_UNUSABLE};
pub use outbound::{Dial, OutboundCall};
pub use party::{PartyAnswer, PartyDialog, Provisional};
pub use proxied::{Outgoing, ProxiedDialog};
