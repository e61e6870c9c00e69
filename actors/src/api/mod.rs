//! What the signalling actors receive: one module per actor kind, holding the messages it
//! takes and the answers it gives (and `media`: what a call's actor hears from its media
//! session; `mwi`: what the mailbox store and the message-summary notifier tell each other).
//! Actors hold `Recipient`s of these messages (or a small handle from here), never another
//! actor's type, so any actor can talk to any other and the crate's import graph stays
//! without circles.
//!
//! These modules import the engine and the store's record types, nothing else of this crate.
//! Messages between actors of one folder (an Extension and its Directory or Delivery, a
//! ChatRoom and its directory) stay in that folder; the store's actor and the queue writer,
//! which sit below every signalling actor, declare theirs in `store`.

pub mod bell;
pub mod conference;
pub mod extension;
pub mod leg;
pub mod media;
pub mod mwi;
pub mod notifications;
pub mod room;
pub mod voice_notices;
pub mod voicemail;
pub mod worker;
