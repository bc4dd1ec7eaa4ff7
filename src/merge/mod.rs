//! The merge: pure rules that make replicas agree, whatever order changes reach them in.
//!
//! | module | owns |
//! |---|---|
//! | [`row`] | one row's merge state and how it absorbs a change (columns, existence, heads) |
//! | [`stamp`] | effective stamps: hybrid logical clocks made consistent with causality |
//! | [`order`] | the causal order in which received records are applied, per-origin queues |
//! | [`versions`] | a conflict: its id, each concurrent version of the row, whether it is listed |
//!
//! Nothing here speaks SQL; the store feeds these functions rows and records and writes back
//! what they decide.

pub mod order;
pub mod row;
pub mod stamp;
pub mod versions;

pub use row::{Change, Event, Head, RowMeta, RowValues, Stamp};
