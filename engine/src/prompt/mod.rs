//! What the switch says: prompts as lists of clips from the shipped prompt set.
//!
//! - `clip`: [`Clip`], one recorded word or sentence, and [`CLIPS`], the table of every clip
//!   the engine can ask for with the English text each says (the prompt set is rendered from
//!   it);
//! - `phrase`: [`Phrase`], clips in order, with numbers, digit strings, callers, times of day,
//!   days, counts and lengths of time said in English;
//! - `voicemail`: the sentences of voicemail (greetings, menus, message envelopes).
//!
//! Pure data and functions: the owner of a call plays a phrase's clips one after another.

pub mod clip;
mod phrase;
pub mod voicemail;

pub use clip::{script, Clip, CLIPS};
pub use phrase::Phrase;
