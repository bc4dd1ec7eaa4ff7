//! The `token` option: a string, or a function returning a string or a promise of one, called on
//! every connect (HTTP: at the start of every round; WebSocket: for every new socket). The token
//! is a secret: it goes into the `Authorization` header or the socket's subprotocol only, and
//! never into a URL, an error message or a log.

use js_sys::{Function, Promise};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::Failure;
use crate::error::{Error, Result};

/// Where tokens come from.
pub enum TokenSource {
    Fixed(String),
    Call(Function),
}

impl TokenSource {
    /// Reads the option.
    pub fn from_js(value: &JsValue) -> Result<TokenSource> {
        if let Some(text) = value.as_string() {
            check(&text)?;
            return Ok(TokenSource::Fixed(text));
        }
        value
            .dyn_ref::<Function>()
            .map(|f| TokenSource::Call(f.clone()))
            .ok_or_else(|| {
                Error::InvalidArgument(
                    "option token must be a string or a function returning one".into(),
                )
            })
    }

    /// A token for one connect: the string, or what the function gives this time. A function
    /// that throws or rejects fails the connect as a network failure (its backend is out of
    /// reach), retryable, with its error as the cause; one that gives no string is a caller bug.
    pub async fn get(&self) -> Result<String, Failure> {
        let function = match self {
            TokenSource::Fixed(text) => return Ok(text.clone()),
            TokenSource::Call(function) => function,
        };
        let given = function
            .call0(&JsValue::UNDEFINED)
            .map(|value| Promise::resolve(&value));
        let value = match given {
            Ok(promise) => JsFuture::from(promise).await,
            Err(thrown) => Err(thrown),
        }
        .map_err(|cause| {
            Failure::with_cause(Error::Network("the token function failed".into()), cause)
        })?;
        let text = value.as_string().ok_or_else(|| {
            Error::InvalidArgument("the token function must return a string".into())
        })?;
        check(&text)?;
        Ok(text)
    }
}

/// A token must be non-empty and fit a header and a subprotocol: visible ASCII only (a JWT is).
fn check(token: &str) -> Result<()> {
    let visible = token.bytes().all(|b| b.is_ascii_graphic());
    if token.is_empty() || !visible {
        return Err(Error::InvalidArgument(
            "the token must be a non-empty string of visible ASCII characters (a JWT)".into(),
        ));
    }
    Ok(())
}
