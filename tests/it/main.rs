//! Integration tests of the public Rust API against real SQLite. They run natively (`cargo test`)
//! and on wasm32 in Node (`cargo test --target wasm32-unknown-unknown`), where `#[test]` is
//! wasm-bindgen-test's.

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod affinity;
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod alloc;
mod bad_bundles;
mod capture;
mod claims;
mod common;
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod convergence;
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod damage;
mod db_fixtures;
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod decode_fuzz;
mod errors;
mod fixtures;
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod fuzz;
mod invalid_text;
mod key_collations;
mod ordinary_use;
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
mod properties;
mod snapshot;
mod sync;
mod sync_conflicts;
mod sync_constraints;
mod temp_tables;
mod transactions;
mod typed_bundles;
