//! What the engine's operations report: the plain data types of its public API beyond rows and
//! values (an import's counts, a conflict and its versions, a record waiting for its predecessors,
//! a resolution choice). Shared by every layer; the JS boundary converts them one to one.

use crate::ids::{BundleId, ConflictId, DeviceId, Dot};
use crate::model::Value;

/// A row's values by column name.
pub type NamedValues = Vec<(String, Value)>;

/// What an import did, counted in row changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub bundle_id: BundleId,
    pub source: DeviceId,
    /// Row changes in the bundle.
    pub total: u64,
    /// Row changes of this bundle applied now.
    pub applied: u64,
    /// New conflict records.
    pub conflicts: u64,
    /// Row changes this replica already had.
    pub duplicates: u64,
    /// Row changes of this bundle stored to wait for an earlier change that has not arrived.
    pub pending: u64,
    /// Row changes of this bundle that wait for an earlier change but were not stored, because
    /// the records already waiting reached their limit (a peer sends them again later).
    pub deferred: u64,
    /// Row changes received earlier that could be applied now because this bundle completed them.
    pub released: u64,
    /// True when this exact bundle was imported before (nothing was done).
    pub skipped: bool,
    /// Ids of the new conflicts that `conflicts()` lists.
    pub new_conflicts: Vec<ConflictId>,
}

impl ImportOutcome {
    /// Nothing done yet, for the bundle `bundle_id` from `source`.
    pub fn for_bundle(bundle_id: BundleId, source: DeviceId) -> Self {
        ImportOutcome::counted(bundle_id, source, Tally::default())
    }

    /// The outcome of importing the bundle `bundle_id` from `source`, with its records' counts.
    pub fn counted(bundle_id: BundleId, source: DeviceId, tally: Tally) -> Self {
        let Tally {
            fresh_records: _,
            total,
            applied,
            conflicts,
            duplicates,
            pending,
            deferred,
            released,
            new_conflicts,
        } = tally;
        ImportOutcome {
            bundle_id,
            source,
            total,
            applied,
            conflicts,
            duplicates,
            pending,
            deferred,
            released,
            skipped: false,
            new_conflicts,
        }
    }
}

/// What importing a set of records did, counted in row changes, wherever the records came from
/// (a bundle, or a page from a relay); the fields mean what [`ImportOutcome`]'s do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records (not row changes) this replica did not hold.
    pub fresh_records: u64,
    pub total: u64,
    pub applied: u64,
    pub conflicts: u64,
    pub duplicates: u64,
    pub pending: u64,
    pub deferred: u64,
    pub released: u64,
    pub new_conflicts: Vec<ConflictId>,
}

/// One concurrent version of a conflicting row.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictVersion {
    /// The device whose change left the row this way.
    pub device: DeviceId,
    /// The row as that change left it (`None` = deleted).
    pub values: Option<NamedValues>,
}

/// A conflict as the API reports it: concurrent versions of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// Equal on every replica for the same concurrent changes.
    pub id: ConflictId,
    pub table: String,
    /// Key column names and values.
    pub primary_key: NamedValues,
    /// The row as this replica wrote it, or as the provisional winner has it (`None` = deleted).
    pub local: Option<NamedValues>,
    /// The newest concurrent version other than `local` (`None` = deleted).
    pub remote: Option<NamedValues>,
    /// Every concurrent version, the provisional winner first.
    pub versions: Vec<ConflictVersion>,
    /// When this replica detected it, in Unix milliseconds.
    pub detected_at: u64,
}

/// The version `resolveConflict` keeps.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    Local,
    Remote,
    Values(NamedValues),
}

/// A received record that waits for a change it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecord {
    pub dot: Dot,
    /// Row changes it carries.
    pub rows: u64,
    /// Its encoded size in bytes.
    pub bytes: u64,
    /// The first change it depends on that this replica lacks.
    pub waits_for: Dot,
    /// When it arrived, in Unix milliseconds.
    pub received_at: u64,
}
