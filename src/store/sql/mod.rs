//! SQL itself: running the caller's statements, keeping them out of the engine's tables, quoting
//! every identifier, moving values between SQLite and the model, and the text of the bulk
//! statements that imports and indexing run.

pub mod authorize;
pub mod bulk;
pub mod exec;
pub mod quote;
pub mod statement;
pub mod txn;
pub mod values;
