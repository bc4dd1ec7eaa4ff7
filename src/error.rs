//! The crate's one error type and its stable codes.
//!
//! Every failure the engine can report is a variant of [`Error`]. Each variant maps to exactly one
//! [`ErrorCode`], whose string form (`"ERR_SQL"`, …) is part of the public contract: JavaScript
//! receives it as `SyncError.code`. `code()` is an exhaustive match, so a new variant cannot ship
//! without a code. Nothing here names rusqlite; the storage layer converts its errors into
//! [`Error::Sql`] itself.

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, by category.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite rejected a statement (syntax, constraint, missing object, …). `message` is SQLite's.
    #[error("{message}")]
    Sql {
        message: String,
        /// SQLite's primary result code, when SQLite produced one.
        sqlite_code: Option<i32>,
    },
    /// The database is locked by another connection; trying again later may succeed.
    #[error("database is busy: {0}")]
    Busy(String),
    /// The database was closed; no further calls are possible.
    #[error("the database is closed")]
    Closed,
    /// The caller passed something the API does not accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `enableSync` named a table that does not exist.
    #[error("no such table: {0}")]
    TableNotFound(String),
    /// `enableSync` named a table without a declared primary key.
    #[error("table {0} has no primary key; only tables with a primary key can be synced")]
    NoPrimaryKey(String),
    /// The name belongs to the engine's internal tables (or SQLite's own) and cannot be synced.
    #[error("{0} is an internal table and cannot be synced")]
    ReservedTable(String),
    /// The name is a view, virtual table or other object that is not an ordinary table.
    #[error("{0} is not an ordinary table")]
    NotATable(String),
    /// `enableSync` named a table whose primary key sync cannot keep apart: keys that compare
    /// equal while their bytes differ (a collation other than BINARY).
    #[error("unsupported primary key: {0}")]
    UnsupportedKey(String),
    /// The table is not marked for sync.
    #[error("table {0} is not synced")]
    TableNotSynced(String),
    /// The requested storage is not available in this runtime or build.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
    /// The engine's own bookkeeping is unreadable; the database was modified outside the engine.
    #[error("internal sync data is corrupt: {0}")]
    Corrupt(String),
    /// A bundle could not be decoded: truncated, garbage, or structurally invalid.
    #[error("malformed bundle: {0}")]
    BundleMalformed(String),
    /// A bundle's content does not match its integrity digest.
    #[error("bundle integrity check failed: its content was altered")]
    BundleTampered,
    /// A bundle uses a format version (or feature flags) this build cannot read.
    #[error("unsupported bundle format version {version} (flags {flags:#06x})")]
    BundleVersion { version: u16, flags: u16 },
    /// A bundle is larger than the configured limit.
    #[error("bundle of {size} bytes exceeds the limit of {limit} bytes")]
    BundleTooLarge { size: usize, limit: usize },
    /// A change names a column or key that the local table does not have.
    #[error("schema mismatch: {0}")]
    SchemaMismatch(String),
    /// No conflict with that id is open.
    #[error("no open conflict with id {0}")]
    ConflictNotFound(String),
    /// A record claims the identity (origin and sequence number) of a record already held, with
    /// other content: two devices share an id, or a device reused its counter after losing data.
    #[error(
        "record {0} differs from the record with that origin and sequence number already held"
    )]
    RecordMismatch(String),
    /// A bug: an impossible state was reached. Please report it.
    #[error("internal error: {0}")]
    Internal(String),
    /// The relay refused the token: missing, expired or forged (HTTP 401).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The token is valid but does not allow this: another space or another device (HTTP 403).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A message, request or record is larger than the protocol or the relay allows (HTTP 413).
    #[error("too large: {0}")]
    TooLarge(String),
    /// The relay asks this device to slow down (HTTP 429), for `retry_after_ms` when it says.
    #[error("rate limited: {message}")]
    RateLimited {
        message: String,
        retry_after_ms: Option<u64>,
    },
    /// The connection failed or dropped before an answer came.
    #[error("network error: {0}")]
    Network(String),
    /// A malformed or unexpected sync protocol message (HTTP 400).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The two sides of a sync connection speak no common protocol version.
    #[error("no common protocol version: this side speaks {ours:?}, the other side {theirs:?}")]
    ProtocolVersion { ours: Vec<u64>, theirs: Vec<u64> },
}

/// The stable, public identifier of an error category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    Sql,
    Busy,
    Closed,
    InvalidArgument,
    TableNotFound,
    NoPrimaryKey,
    ReservedTable,
    NotATable,
    UnsupportedKey,
    TableNotSynced,
    StorageUnavailable,
    Corrupt,
    BundleMalformed,
    BundleTampered,
    BundleVersion,
    BundleTooLarge,
    SchemaMismatch,
    ConflictNotFound,
    RecordMismatch,
    /// A bug: a panic or an impossible state.
    Internal,
    Unauthorized,
    Forbidden,
    TooLarge,
    RateLimited,
    Network,
    /// A malformed or unexpected protocol message, or no common protocol version.
    Protocol,
}

impl ErrorCode {
    /// Every code, in a stable order (the JS `SYNC_ERROR_CODES` list is checked against this); new
    /// codes go last.
    pub const ALL: [ErrorCode; 26] = [
        ErrorCode::Sql,
        ErrorCode::Busy,
        ErrorCode::Closed,
        ErrorCode::InvalidArgument,
        ErrorCode::TableNotFound,
        ErrorCode::NoPrimaryKey,
        ErrorCode::ReservedTable,
        ErrorCode::NotATable,
        ErrorCode::TableNotSynced,
        ErrorCode::StorageUnavailable,
        ErrorCode::Corrupt,
        ErrorCode::BundleMalformed,
        ErrorCode::BundleTampered,
        ErrorCode::BundleVersion,
        ErrorCode::BundleTooLarge,
        ErrorCode::SchemaMismatch,
        ErrorCode::ConflictNotFound,
        ErrorCode::Internal,
        ErrorCode::UnsupportedKey,
        ErrorCode::RecordMismatch,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::TooLarge,
        ErrorCode::RateLimited,
        ErrorCode::Network,
        ErrorCode::Protocol,
    ];

    /// The string form, as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Sql => "ERR_SQL",
            ErrorCode::Busy => "ERR_BUSY",
            ErrorCode::Closed => "ERR_CLOSED",
            ErrorCode::InvalidArgument => "ERR_INVALID_ARGUMENT",
            ErrorCode::TableNotFound => "ERR_TABLE_NOT_FOUND",
            ErrorCode::NoPrimaryKey => "ERR_NO_PRIMARY_KEY",
            ErrorCode::ReservedTable => "ERR_RESERVED_TABLE",
            ErrorCode::NotATable => "ERR_NOT_A_TABLE",
            ErrorCode::UnsupportedKey => "ERR_UNSUPPORTED_KEY",
            ErrorCode::TableNotSynced => "ERR_TABLE_NOT_SYNCED",
            ErrorCode::StorageUnavailable => "ERR_STORAGE_UNAVAILABLE",
            ErrorCode::Corrupt => "ERR_CORRUPT",
            ErrorCode::BundleMalformed => "ERR_BUNDLE_MALFORMED",
            ErrorCode::BundleTampered => "ERR_BUNDLE_TAMPERED",
            ErrorCode::BundleVersion => "ERR_BUNDLE_VERSION",
            ErrorCode::BundleTooLarge => "ERR_BUNDLE_TOO_LARGE",
            ErrorCode::SchemaMismatch => "ERR_SCHEMA_MISMATCH",
            ErrorCode::ConflictNotFound => "ERR_CONFLICT_NOT_FOUND",
            ErrorCode::RecordMismatch => "ERR_RECORD_MISMATCH",
            ErrorCode::Internal => "ERR_INTERNAL",
            ErrorCode::Unauthorized => "ERR_UNAUTHORIZED",
            ErrorCode::Forbidden => "ERR_FORBIDDEN",
            ErrorCode::TooLarge => "ERR_TOO_LARGE",
            ErrorCode::RateLimited => "ERR_RATE_LIMITED",
            ErrorCode::Network => "ERR_NETWORK",
            ErrorCode::Protocol => "ERR_PROTOCOL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Sql { .. } => ErrorCode::Sql,
            Error::Busy(_) => ErrorCode::Busy,
            Error::Closed => ErrorCode::Closed,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::TableNotFound(_) => ErrorCode::TableNotFound,
            Error::NoPrimaryKey(_) => ErrorCode::NoPrimaryKey,
            Error::ReservedTable(_) => ErrorCode::ReservedTable,
            Error::NotATable(_) => ErrorCode::NotATable,
            Error::UnsupportedKey(_) => ErrorCode::UnsupportedKey,
            Error::TableNotSynced(_) => ErrorCode::TableNotSynced,
            Error::StorageUnavailable(_) => ErrorCode::StorageUnavailable,
            Error::Corrupt(_) => ErrorCode::Corrupt,
            Error::BundleMalformed(_) => ErrorCode::BundleMalformed,
            Error::BundleTampered => ErrorCode::BundleTampered,
            Error::BundleVersion { .. } => ErrorCode::BundleVersion,
            Error::BundleTooLarge { .. } => ErrorCode::BundleTooLarge,
            Error::SchemaMismatch(_) => ErrorCode::SchemaMismatch,
            Error::ConflictNotFound(_) => ErrorCode::ConflictNotFound,
            Error::RecordMismatch(_) => ErrorCode::RecordMismatch,
            Error::Internal(_) => ErrorCode::Internal,
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::TooLarge(_) => ErrorCode::TooLarge,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Network(_) => ErrorCode::Network,
            Error::Protocol(_) | Error::ProtocolVersion { .. } => ErrorCode::Protocol,
        }
    }

    /// Whether the same call may succeed if simply tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Busy(_) | Error::RateLimited { .. } | Error::Network(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn codes_are_unique_and_prefixed() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(code.as_str().starts_with("ERR_"));
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
        }
    }

    #[test]
    fn busy_rate_limits_and_network_failures_are_retryable() {
        assert!(Error::Network("reset".into()).is_retryable());
        let limited = Error::RateLimited {
            message: "slow down".into(),
            retry_after_ms: Some(500),
        };
        assert!(limited.is_retryable());
        assert_eq!(limited.code().as_str(), "ERR_RATE_LIMITED");
        assert!(!Error::Protocol("bad".into()).is_retryable());
    }

    #[test]
    fn only_busy_is_retryable_among_local_errors() {
        assert!(Error::Busy("locked".into()).is_retryable());
        assert!(!Error::Closed.is_retryable());
        assert_eq!(Error::Closed.code().as_str(), "ERR_CLOSED");
    }
}
