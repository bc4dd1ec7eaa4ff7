//! The one MessagePack codec: every binary form this crate reads or writes goes through here.
//!
//! | module | owns |
//! |---|---|
//! | [`read`] | a cursor over untrusted bytes: lengths checked before allocating, text and blobs borrowed |
//! | [`write`](mod@write) | appending canonical (shortest) encodings to a buffer |
//! | [`changes`] | the change-set form of one record, and a cursor reading it row by row |
//! | [`diff`] | the net change of a row between two encoded images, in the change-set form |
//!
//! The bundle framing ([`bundle`](crate::bundle)) and the stored forms of the engine's own tables
//! (row merge states, clocks, keys) are built from these pieces. Pure: no I/O, no SQL.

pub mod changes;
pub mod diff;
pub mod read;
pub mod write;

pub use read::{DecodeError, Reader};
