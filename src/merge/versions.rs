//! A conflict: its id, each concurrent version of the row, and whether the app is asked to choose.
//!
//! A row whose merge state has two or more heads (not all deletes) holds concurrent versions; they
//! form one conflict. Its id is a digest (BLAKE3) of the table, the encoded key and the heads' dots
//! (in order), so every replica that holds the same changes derives the same id, and a new concurrent
//! version makes a new conflict (the old one closes): every version is visible before a choice is
//! made. A version is the row as one head left it: the merged row with the columns that only other
//! heads updated set back to what they were before, and the head's own writes on top. Whether the
//! conflict is listed depends on the table's strategy: never for `lww` (resolved automatically),
//! for `manual` when the versions are not all the same row, and for `field-merge` when two heads
//! wrote a common column with different values or one deleted the row and another did not.

use super::row::RowValues;
use crate::ids::{ConflictId, DeviceId, Dot};
use crate::model::{ConflictStrategy, Value};

/// What one head did to the row, as its record says.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit<'a> {
    pub origin: DeviceId,
    pub delete: bool,
    /// Columns written and their new values (for an insert, every column of its record).
    pub writes: Vec<(&'a str, &'a Value)>,
    /// For an update, the values its columns had before it.
    pub before: Vec<(&'a str, &'a Value)>,
}

/// The id of the conflict between the heads `dots` (in head order) of one row.
pub fn conflict_id(table: &str, pk: &[u8], dots: &[Dot]) -> ConflictId {
    let mut hasher = blake3::Hasher::new();
    hasher.update(table.as_bytes());
    hasher.update(&[0]);
    hasher.update(pk);
    for dot in dots {
        hasher.update(&dot.to_bytes());
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    ConflictId(id)
}

/// Each head's version of the row (`None` where the head deleted it), in head order; `base` is the
/// merged row.
pub fn versions(base: &RowValues, edits: &[Edit<'_>]) -> Vec<Option<RowValues>> {
    edits
        .iter()
        .enumerate()
        .map(|(i, mine)| {
            if mine.delete {
                return None;
            }
            let mut row = base.clone();
            let writes = |column: &str| mine.writes.iter().any(|(c, _)| *c == column);
            // Later heads (smaller stamps) are reverted last, so the oldest prior value stands.
            for theirs in edits
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, e)| e)
            {
                for &(column, before) in &theirs.before {
                    if !writes(column) {
                        set(&mut row, column, before);
                    }
                }
            }
            for &(column, value) in &mine.writes {
                set(&mut row, column, value);
            }
            Some(row)
        })
        .collect()
}

fn set(row: &mut RowValues, column: &str, value: &Value) {
    match row.iter_mut().find(|(c, _)| c == column) {
        Some(slot) => slot.1 = value.clone(),
        None => row.push((column.to_owned(), value.clone())),
    }
}

/// Whether a conflict with these edits and versions is listed for the app to resolve.
pub fn listed(
    strategy: ConflictStrategy,
    edits: &[Edit<'_>],
    versions: &[Option<RowValues>],
) -> bool {
    match strategy {
        ConflictStrategy::LastWriterWins => false,
        ConflictStrategy::Manual => {
            let sorted = |v: &Option<RowValues>| {
                v.as_ref().map(|row| {
                    let mut row = row.clone();
                    row.sort_by(|a, b| a.0.cmp(&b.0));
                    row
                })
            };
            let first = versions.first().map(sorted);
            versions.iter().skip(1).any(|v| Some(sorted(v)) != first)
        }
        ConflictStrategy::FieldMerge => edits.iter().enumerate().any(|(i, a)| {
            edits.iter().skip(i + 1).any(|b| {
                a.delete != b.delete
                    || a.writes.iter().any(|(column, value)| {
                        b.writes
                            .iter()
                            .any(|(other, theirs)| other == column && theirs != value)
                    })
            })
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn int(v: i64) -> Value {
        Value::Integer(v)
    }

    fn row(cells: &[(&str, i64)]) -> RowValues {
        cells
            .iter()
            .map(|(c, v)| ((*c).to_owned(), int(*v)))
            .collect()
    }

    fn update<'a>(
        origin: u8,
        writes: &[(&'a str, &'a Value)],
        before: &[(&'a str, &'a Value)],
    ) -> Edit<'a> {
        Edit {
            origin: DeviceId([origin; 16]),
            delete: false,
            writes: writes.to_vec(),
            before: before.to_vec(),
        }
    }

    #[test]
    fn each_version_keeps_only_its_own_edits() {
        let base = row(&[("id", 1), ("a", 5), ("b", 7)]);
        let (zero, five, seven) = (int(0), int(5), int(7));
        let edits = [
            update(1, &[("a", &five)], &[("a", &zero)]),
            update(2, &[("b", &seven)], &[("b", &zero)]),
        ];
        let versions = versions(&base, &edits);
        assert_eq!(versions[0], Some(row(&[("id", 1), ("a", 5), ("b", 0)])));
        assert_eq!(versions[1], Some(row(&[("id", 1), ("a", 0), ("b", 7)])));
        assert!(listed(ConflictStrategy::Manual, &edits, &versions));
        assert!(!listed(ConflictStrategy::FieldMerge, &edits, &versions));
        assert!(!listed(ConflictStrategy::LastWriterWins, &edits, &versions));
    }

    #[test]
    fn identical_versions_are_not_a_conflict_to_resolve() {
        let base = row(&[("id", 1), ("a", 5)]);
        let (one, five) = (int(1), int(5));
        let edits = [
            update(1, &[("id", &one), ("a", &five)], &[]),
            update(2, &[("id", &one), ("a", &five)], &[]),
        ];
        let versions = versions(&base, &edits);
        assert!(!listed(ConflictStrategy::Manual, &edits, &versions));
        assert!(!listed(ConflictStrategy::FieldMerge, &edits, &versions));
    }

    #[test]
    fn a_delete_against_an_edit_is_listed_by_field_merge() {
        let base = row(&[("id", 1), ("a", 5)]);
        let five = int(5);
        let mut deleted = update(2, &[], &[]);
        deleted.delete = true;
        let edits = [update(1, &[("a", &five)], &[]), deleted];
        let versions = versions(&base, &edits);
        assert_eq!(versions[1], None);
        assert!(listed(ConflictStrategy::FieldMerge, &edits, &versions));
        assert!(listed(ConflictStrategy::Manual, &edits, &versions));
    }

    #[test]
    fn ids_depend_on_table_key_and_every_head() {
        let a = Dot::new(DeviceId([1; 16]), 1);
        let b = Dot::new(DeviceId([2; 16]), 1);
        let c = Dot::new(DeviceId([3; 16]), 4);
        let ids = [
            conflict_id("t", b"k", &[a, b]),
            conflict_id("t", b"k", &[a, b, c]),
            conflict_id("u", b"k", &[a, b]),
            conflict_id("t", b"j", &[a, b]),
        ];
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        assert_eq!(conflict_id("t", b"k", &[a, b]), ids[0]);
    }
}
