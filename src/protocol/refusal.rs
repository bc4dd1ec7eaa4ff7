//! From a relay's refusal to the crate's [`Error`]: the one mapping of the codes a relay sends to
//! error variants, shared by an `Error` message on a WebSocket and (through a [`Refusal`] built
//! from it) an HTTP error body, so a device reports the relay's code whichever way it came.
//!
//! A relay sends `ERR_UNAUTHORIZED`, `ERR_FORBIDDEN`, `ERR_TOO_LARGE`, `ERR_RATE_LIMITED`,
//! `ERR_PROTOCOL` (with the versions it speaks when it refuses a version), `ERR_RECORD_MISMATCH`
//! (a pushed record whose origin and sequence number it holds with other bytes), `ERR_BUSY` (its
//! storage is busy: retryable) and `ERR_INTERNAL` (its own bug). Any other code, including one this
//! build does not know, is reported as `ERR_PROTOCOL` naming the relay's code, so an error always
//! carries a code of this build's list.

use super::message::Refusal;
use super::SUPPORTED_VERSIONS;
use crate::error::{Error, ErrorCode};

impl Refusal {
    /// The error this refusal reports.
    pub fn into_error(self) -> Error {
        let Refusal {
            code,
            message,
            retry_after_ms,
            versions,
        } = self;
        let known = ErrorCode::ALL.into_iter().find(|c| c.as_str() == code);
        match known {
            Some(ErrorCode::Unauthorized) => Error::Unauthorized(message),
            Some(ErrorCode::Forbidden) => Error::Forbidden(message),
            Some(ErrorCode::TooLarge) => Error::TooLarge(message),
            Some(ErrorCode::RateLimited) => Error::RateLimited {
                message,
                retry_after_ms,
            },
            Some(ErrorCode::Network) => Error::Network(message),
            Some(ErrorCode::Protocol) if !versions.is_empty() => Error::ProtocolVersion {
                ours: SUPPORTED_VERSIONS.to_vec(),
                theirs: versions,
            },
            Some(ErrorCode::Protocol) => Error::Protocol(format!("the relay says: {message}")),
            Some(ErrorCode::RecordMismatch) => Error::RecordMismatch(message),
            Some(ErrorCode::Busy) => Error::Busy(message),
            Some(ErrorCode::Internal) => Error::Internal(format!("the relay failed: {message}")),
            _ => Error::Protocol(format!("the relay refused with {code:?}: {message}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn refusal(code: &str) -> Refusal {
        Refusal {
            code: code.into(),
            message: "no".into(),
            retry_after_ms: None,
            versions: Vec::new(),
        }
    }

    #[test]
    fn a_relay_code_becomes_the_same_code() {
        for code in [
            "ERR_UNAUTHORIZED",
            "ERR_FORBIDDEN",
            "ERR_TOO_LARGE",
            "ERR_RATE_LIMITED",
            "ERR_NETWORK",
            "ERR_PROTOCOL",
            "ERR_RECORD_MISMATCH",
            "ERR_BUSY",
            "ERR_INTERNAL",
        ] {
            assert_eq!(refusal(code).into_error().code().as_str(), code);
        }
    }

    #[test]
    fn rate_limits_keep_their_delay_and_version_refusals_their_versions() {
        let mut limited = refusal("ERR_RATE_LIMITED");
        limited.retry_after_ms = Some(1_500);
        assert_eq!(
            limited.into_error(),
            Error::RateLimited {
                message: "no".into(),
                retry_after_ms: Some(1_500)
            }
        );
        let mut version = refusal("ERR_PROTOCOL");
        version.versions = vec![2, 3];
        assert_eq!(
            version.into_error(),
            Error::ProtocolVersion {
                ours: vec![1],
                theirs: vec![2, 3]
            }
        );
    }

    #[test]
    fn other_and_unknown_codes_are_protocol_errors_that_name_them() {
        for code in ["ERR_SQL", "ERR_FROM_THE_FUTURE", ""] {
            let error = refusal(code).into_error();
            assert_eq!(error.code(), ErrorCode::Protocol);
            assert!(error.to_string().contains(&format!("{code:?}")));
        }
    }
}
