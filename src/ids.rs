//! Identities: of replicas ([`DeviceId`]), of the changes they make ([`Dot`]), of bundles
//! ([`BundleId`]) and of conflicts ([`ConflictId`]). A leaf module: every other layer names these
//! types, and they name nothing else.
//!
//! Every id is 16 bytes and is shown as 32 lowercase hex characters. Device and bundle ids are
//! UUIDv7s (time-ordered, with random bits); a conflict id is a digest of what the conflict is
//! about, so it is equal on every replica that holds the same changes.

use std::fmt;

use crate::error::{Error, Result};

/// A replica's identity: 16 bytes (a UUIDv7), shown as 32 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(pub [u8; 16]);

/// A bundle's identity (a UUIDv7 made by the device that wrote it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BundleId(pub [u8; 16]);

/// A conflict's identity: a digest of its table, row and concurrent changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConflictId(pub [u8; 16]);

/// One change record's identity: the device that made it and that device's counter for it
/// (1 for its first record, then one more per record). Dots are never reused: two records with
/// the same dot must be the same record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dot {
    pub origin: DeviceId,
    pub seq: u64,
}

impl Dot {
    /// The dot of `origin`'s record number `seq`.
    pub fn new(origin: DeviceId, seq: u64) -> Dot {
        Dot { origin, seq }
    }

    /// 24 bytes: the origin, then the counter big-endian (how dots are stored).
    pub fn to_bytes(self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..16].copy_from_slice(&self.origin.0);
        out[16..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// Reads the stored form written by [`Dot::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Dot> {
        let broken = || Error::Corrupt(format!("a stored change id of {} bytes", bytes.len()));
        let (origin, seq) = bytes.split_at_checked(16).ok_or_else(broken)?;
        let seq: [u8; 8] = seq.try_into().map_err(|_| broken())?;
        Ok(Dot::new(
            DeviceId::from_slice(origin)?,
            u64::from_be_bytes(seq),
        ))
    }
}

impl DeviceId {
    /// Builds a UUIDv7 from a Unix time in milliseconds and 10 random bytes.
    pub fn new_v7(unix_ms: u64, random: [u8; 10]) -> Self {
        DeviceId(uuid_v7(unix_ms, random))
    }

    /// Parses the 32-character lowercase hex form.
    pub fn from_hex(text: &str) -> Result<Self> {
        from_hex(text)
            .map(DeviceId)
            .ok_or_else(|| Error::InvalidArgument(format!("not a device id: {text:?}")))
    }

    /// Builds an id from a byte slice read back from storage.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        bytes
            .try_into()
            .map(DeviceId)
            .map_err(|_| Error::Corrupt(format!("device id of {} bytes", bytes.len())))
    }
}

impl BundleId {
    /// Builds a UUIDv7 from a Unix time in milliseconds and 10 random bytes.
    pub fn new_v7(unix_ms: u64, random: [u8; 10]) -> Self {
        BundleId(uuid_v7(unix_ms, random))
    }
}

impl ConflictId {
    /// Parses the 32-character lowercase hex form; `None` when `text` is not one.
    pub fn from_hex(text: &str) -> Option<Self> {
        from_hex(text).map(ConflictId)
    }

    /// Builds an id from a byte slice read back from storage.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        bytes
            .try_into()
            .map(ConflictId)
            .map_err(|_| Error::Corrupt(format!("conflict id of {} bytes", bytes.len())))
    }
}

fn uuid_v7(unix_ms: u64, random: [u8; 10]) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&unix_ms.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random);
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Display for BundleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Display for ConflictId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.origin, self.seq)
    }
}

/// 16 bytes as 32 lowercase hex characters.
fn to_hex(bytes: &[u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 32 lowercase hex characters into 16 bytes.
fn from_hex(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32
        || text
            .bytes()
            .any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn device_id_is_uuid_v7_and_round_trips_as_hex() {
        let id = DeviceId::new_v7(0x0123_4567_89ab, [0xff; 10]);
        let hex = id.to_string();
        assert_eq!(hex.len(), 32);
        assert_eq!(&hex[..12], "0123456789ab");
        assert_eq!(&hex[12..13], "7");
        assert_eq!(DeviceId::from_hex(&hex), Ok(id));
        assert!(DeviceId::from_hex("0123").is_err());
        assert!(DeviceId::from_hex(&hex.to_uppercase()).is_err());
    }

    #[test]
    fn dots_round_trip_through_their_stored_form() {
        let dot = Dot::new(DeviceId([9; 16]), 1 << 40);
        assert_eq!(Dot::from_bytes(&dot.to_bytes()), Ok(dot));
        assert!(Dot::from_bytes(&dot.to_bytes()[..23]).is_err());
        assert!(Dot::new(DeviceId([1; 16]), 9) < Dot::new(DeviceId([1; 16]), 10));
    }
}
