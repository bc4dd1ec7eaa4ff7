//! The wasm-bindgen boundary: the only code that knows JavaScript exists.
//!
//! It exports the class [`handle::DatabaseHandle`], wrapping an [`Engine`](crate::Engine), with its
//! sync rounds ([`round::SyncRound`], stepped from TypeScript), the network transports
//! `HttpTransport` and `WebSocketTransport` that carry a round's messages ([`transport`]), the
//! list of error codes, the OPFS pool's functions and the panic hook (`panic.rs`). Values cross as
//! plain JS values (numbers, bigints, strings, `Uint8Array`s, objects); errors cross as JS `Error`s
//! named `SyncError` carrying `code` and `retryable`, which the TypeScript wrapper turns into
//! `SyncError` instances. Nothing here panics on any input; a panic elsewhere (a bug) is reported
//! to the wrapper before the instance stops.

mod convert;
mod error;
mod handle;
mod opfs;
mod panic;
mod round;
mod transport;

use wasm_bindgen::prelude::*;

use crate::error::ErrorCode;

/// Every error code the engine can raise, in a stable order.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL
        .iter()
        .map(|code| code.as_str().to_owned())
        .collect()
}
