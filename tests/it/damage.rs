//! Damage to an encoding, for the fuzz tests of every decoder (bundles, change sets, protocol
//! messages, the last included from `src/protocol/tests/`): a byte changed, the tail cut, bytes inserted or removed, at positions proptest picks
//! and that always fall inside the input.

use proptest::prelude::*;

/// One change to a byte string.
#[derive(Debug, Clone)]
pub enum Damage {
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

pub fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Damage::Set(at, b)),
        1 => any::<usize>().prop_map(Damage::Truncate),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, b)| Damage::Insert(at, b)),
        1 => (any::<usize>(), 1..8usize).prop_map(|(at, n)| Damage::Remove(at, n)),
    ]
}

pub fn apply_damage(bytes: &mut Vec<u8>, damage: &Damage) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match damage {
        Damage::Set(i, b) => {
            let i = at(*i, bytes.len());
            if let Some(byte) = bytes.get_mut(i) {
                *byte = *b;
            }
        }
        Damage::Truncate(n) => bytes.truncate(at(*n, bytes.len())),
        Damage::Insert(i, new) => {
            let i = at(*i, bytes.len() + 1);
            bytes.splice(i..i, new.iter().copied());
        }
        Damage::Remove(i, n) => {
            let i = at(*i, bytes.len());
            let end = (i + n).min(bytes.len());
            bytes.drain(i..end);
        }
    }
}
