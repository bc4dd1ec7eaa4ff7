//! Reporting a panic to JavaScript before the instance stops.
//!
//! The module is built with `panic = "abort"`, and on wasm32-unknown-unknown an abort is a trap
//! (`RuntimeError: unreachable`): the call that panicked never returns, and the instance is left
//! mid-call (a database borrowed, a transaction open), so nothing may call into it again. The JS
//! wrapper (js/instance.ts) registers a listener with `reportPanicsTo` after loading the module;
//! the hook installed there hands it the panic's message and location while the instance still
//! runs, right before the trap, so the wrapper can report it without calling in afterwards.
//! `__panicForTest` is a real panic for the tests of that path; nothing else calls it.

use std::cell::RefCell;
use std::panic::PanicHookInfo;

use js_sys::Function;
use wasm_bindgen::prelude::*;

thread_local! {
    static LISTENER: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Installs the panic hook; `listener` receives each panic's message (with its location) just
/// before the instance traps. A later call replaces the listener.
#[wasm_bindgen(js_name = reportPanicsTo)]
pub fn report_panics_to(
    #[wasm_bindgen(unchecked_param_type = "(message: string) => void")] listener: Function,
) {
    LISTENER.with(|slot| *slot.borrow_mut() = Some(listener));
    std::panic::set_hook(Box::new(report));
}

/// The hook: tells the listener, if one is registered and reachable (a panic while the listener
/// slot is borrowed, or a listener that throws, is not reported; the trap still happens).
fn report(info: &PanicHookInfo<'_>) {
    let message = JsValue::from_str(&info.to_string());
    let _ = LISTENER.try_with(|slot| {
        if let Ok(slot) = slot.try_borrow() {
            if let Some(listener) = slot.as_ref() {
                let _ = listener.call1(&JsValue::NULL, &message);
            }
        }
    });
}

/// Panics with `message`: the one way to stop the instance on purpose, for the tests of what the
/// wrapper does after a trap. Not part of the API (the package does not export it).
#[doc(hidden)]
#[wasm_bindgen(js_name = __panicForTest)]
#[allow(clippy::panic)] // The point of this function; it is reachable only from the glue, by name.
pub fn panic_for_test(message: &str) {
    panic!("{message}");
}
