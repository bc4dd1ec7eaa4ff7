//! Received values checked against the receiving table's column types, before anything is written.
//!
//! SQLite converts a value to suit its column ([`affinity`](crate::store::schema::affinity)), so a value
//! the receiving column would not keep exactly would make this replica hold something else than
//! the sender: `'007'` becomes 7 in an INTEGER column, 7 becomes `'7'` in a TEXT one. In a key it
//! is worse: `'1'` or `1.0` for row 1 of an INTEGER PRIMARY KEY would get a merge state of its own
//! for the same row, and the outcome would depend on the order of delivery. Every value of a
//! received row change is therefore checked, key or not, old or new: one that the column would
//! store differently means the two replicas declare the column differently
//! (`ERR_SCHEMA_MISMATCH`). Values no capture can produce are malformed (`ERR_BUNDLE_MALFORMED`):
//! NaN (SQLite stores it as NULL, so the key would name no row, or another one on each replica),
//! a real key with an integral value in a column that keeps reals (SQLite finds the integer's row
//! by it), and an update that lists a key column (capture records a key change as a delete and an insert,
//! so such an update would clone the row under a second key). The column types of a table entry
//! are looked up once, then each value costs one comparison in the common case.

use crate::codec::changes::{RowRef, TableHeader};
use crate::error::{Error, Result};
use crate::model::ValueRef;
use crate::store::schema::affinity::ColumnType;
use crate::store::schema::tables::TableShape;

/// Checks the values of the row changes of one received table entry: made once per entry (its
/// column types resolved), then [`row`](RowCheck::row) for each row change, in the same pass as the
/// other checks of the row (a second pass over 100,000 rows costs as much as the first, in memory
/// traffic). The entry must already be known to name only the table's columns and its key.
pub struct RowCheck<'a> {
    shape: &'a TableShape,
    table: &'a TableHeader<'a>,
    /// The receiving column's type for each column the entry names, in the entry's order.
    types: Vec<ColumnType>,
    /// Whether each column the entry names is a primary key column.
    keyed: Vec<bool>,
}

impl<'a> RowCheck<'a> {
    /// The check of `table`, an entry received for the synced table `shape`.
    pub fn new(shape: &'a TableShape, table: &'a TableHeader<'a>) -> Result<Self> {
        let types = table
            .columns
            .iter()
            .map(|column| {
                shape
                    .columns
                    .iter()
                    .position(|c| c == *column)
                    .and_then(|i| shape.types.get(i).copied())
                    .ok_or_else(|| {
                        Error::SchemaMismatch(format!(
                            "table {} has no column {column:?}",
                            shape.name
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        let mut keyed = vec![false; table.columns.len()];
        for &position in &table.primary_key {
            if let Some(slot) = keyed.get_mut(position as usize) {
                *slot = true;
            }
        }
        Ok(RowCheck {
            shape,
            table,
            types,
            keyed,
        })
    }

    /// Checks every value of a row change of the entry (of the right width).
    #[inline(never)]
    pub fn row(&self, row: &RowRef<'_>) -> Result<()> {
        match row {
            RowRef::Insert { values } | RowRef::Delete { old: values } => values
                .iter()
                .enumerate()
                .try_for_each(|(position, value)| self.value(position, *value)),
            RowRef::Update {
                key,
                columns,
                old,
                new,
            } => {
                if let Some(&listed) = columns.iter().find(|&&c| self.is_key(c as usize)) {
                    return Err(Error::BundleMalformed(format!(
                        "an update of a row of {} lists the primary key column {:?}; a key \
                         change travels as a delete and an insert",
                        self.shape.name,
                        self.column(listed as usize)
                    )));
                }
                for (&position, value) in self.table.primary_key.iter().zip(key) {
                    self.value(position as usize, *value)?;
                }
                for ((&position, old), new) in columns.iter().zip(old).zip(new) {
                    self.value(position as usize, *old)?;
                    self.value(position as usize, *new)?;
                }
                Ok(())
            }
        }
    }

    /// Checks one value of the column at `position` among the entry's columns.
    fn value(&self, position: usize, value: ValueRef<'_>) -> Result<()> {
        let column_type = self.types.get(position).copied().ok_or_else(|| {
            Error::BundleMalformed(format!(
                "column {position} out of range in {}",
                self.shape.name
            ))
        })?;
        if column_type.keeps(value) {
            if !column_type.tells_apart(value) && self.is_key(position) {
                return Err(Error::BundleMalformed(format!(
                    "the key column {:?} of {} holds {}, which SQLite does not tell apart from \
                     an integer; capture records such keys as integers",
                    self.column(position),
                    self.shape.name,
                    describe(value)
                )));
            }
            return Ok(());
        }
        if let ValueRef::Real(r) = value {
            if r.is_nan() {
                return Err(Error::BundleMalformed(format!(
                    "column {:?} of {} holds NaN, which SQLite never stores",
                    self.column(position),
                    self.shape.name
                )));
            }
        }
        Err(Error::SchemaMismatch(format!(
            "column {:?} of table {} ({column_type}) would not store {} as it is: column \
             types differ between replicas",
            self.column(position),
            self.shape.name,
            describe(value)
        )))
    }

    fn is_key(&self, position: usize) -> bool {
        self.keyed.get(position).copied().unwrap_or(false)
    }

    fn column(&self, position: usize) -> &str {
        self.table.columns.get(position).copied().unwrap_or("?")
    }
}

/// A value with its type, for messages: `text '007'`, `real 1.0`, `blob of 3 bytes`.
fn describe(value: ValueRef<'_>) -> String {
    const SHOWN: usize = 40;
    match value {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(v) => format!("integer {v}"),
        ValueRef::Real(v) => format!("real {v:?}"),
        ValueRef::Text(v) if v.chars().count() > SHOWN => {
            let start: String = v.chars().take(SHOWN).collect();
            format!("text {start:?}…")
        }
        ValueRef::Text(v) => format!("text {v:?}"),
        ValueRef::Blob(v) => format!("blob of {} bytes", v.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RowChange, TableChanges, Value};
    use crate::store::schema::affinity::Affinity;
    use crate::ErrorCode;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn shape() -> TableShape {
        TableShape::new(
            "todos".into(),
            vec!["id".into(), "title".into(), "done".into()],
            vec![0, 1, 2],
            vec![0],
            vec![
                ColumnType::RowidAlias,
                ColumnType::Loose(Affinity::Text),
                ColumnType::Loose(Affinity::Integer),
            ],
        )
    }

    /// The code `row` is refused with (in an entry naming the columns in another order).
    fn code(row: RowChange) -> Result<(), ErrorCode> {
        let table = TableChanges {
            table: "todos".into(),
            columns: vec!["done".into(), "id".into(), "title".into()],
            primary_key: vec![1],
            rows: vec![row],
        };
        check(&table)
    }

    fn check(table: &TableChanges) -> Result<(), ErrorCode> {
        let shape = shape();
        let header = header(table);
        let check = RowCheck::new(&shape, &header).map_err(|e| e.code())?;
        table
            .rows
            .iter()
            .try_for_each(|row| check.row(&borrowed(row)).map_err(|e| e.code()))
    }

    fn header(table: &TableChanges) -> TableHeader<'_> {
        TableHeader {
            name: &table.table,
            columns: table.columns.iter().map(String::as_str).collect(),
            primary_key: table.primary_key.clone(),
            rows: table.rows.len(),
        }
    }

    /// A row change as the change-set cursor hands it out.
    fn borrowed(row: &RowChange) -> RowRef<'_> {
        fn refs(values: &[Value]) -> Vec<ValueRef<'_>> {
            values.iter().map(Value::as_ref).collect()
        }
        match row {
            RowChange::Insert { values } => RowRef::Insert {
                values: refs(values),
            },
            RowChange::Update {
                key,
                columns,
                old,
                new,
            } => RowRef::Update {
                key: refs(key),
                columns: columns.clone(),
                old: refs(old),
                new: refs(new),
            },
            RowChange::Delete { old } => RowRef::Delete { old: refs(old) },
        }
    }

    fn insert(done: Value, id: Value, title: Value) -> RowChange {
        RowChange::Insert {
            values: vec![done, id, title],
        }
    }

    fn text(v: &str) -> Value {
        Value::Text(v.into())
    }

    #[test]
    fn values_each_column_keeps_pass() {
        let int = Value::Integer;
        assert_eq!(code(insert(int(0), int(1), text("milk"))), Ok(()));
        assert_eq!(code(insert(text("n/a"), int(1), Value::Null)), Ok(()));
        let update = RowChange::Update {
            key: vec![int(1)],
            columns: vec![0, 2],
            old: vec![int(0), text("a")],
            new: vec![Value::Real(0.5), text("b")],
        };
        assert_eq!(code(update), Ok(()));
    }

    #[test]
    fn values_a_column_would_convert_are_schema_mismatches() {
        let int = Value::Integer;
        let cases = [
            insert(int(0), text("1"), text("t")),
            insert(int(0), Value::Real(1.0), text("t")),
            insert(text("007"), int(1), text("t")),
            insert(int(0), int(1), int(7)),
            RowChange::Delete {
                old: vec![Value::Real(1.0), int(1), text("t")],
            },
            RowChange::Update {
                key: vec![text("1")],
                columns: vec![2],
                old: vec![text("a")],
                new: vec![text("b")],
            },
            RowChange::Update {
                key: vec![int(1)],
                columns: vec![2],
                old: vec![int(7)],
                new: vec![text("b")],
            },
        ];
        for row in cases {
            assert_eq!(code(row.clone()), Err(ErrorCode::SchemaMismatch), "{row:?}");
        }
        let table = TableChanges {
            table: "todos".into(),
            columns: vec!["done".into(), "id".into(), "title".into()],
            primary_key: vec![1],
            rows: vec![insert(text("007"), int(1), text("t"))],
        };
        let shape = shape();
        let header = header(&table);
        let check = RowCheck::new(&shape, &header).unwrap();
        let message = check
            .row(&borrowed(&table.rows[0]))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(
                r#"column "done" of table todos (INTEGER affinity) would not store text "007""#
            ),
            "{message}"
        );
    }

    #[test]
    fn nan_and_updates_that_list_a_key_column_are_malformed() {
        let int = Value::Integer;
        let nan = || Value::Real(f64::NAN);
        let cases = [
            insert(int(0), nan(), text("t")),
            insert(nan(), int(1), text("t")),
            RowChange::Update {
                key: vec![int(1)],
                columns: vec![1, 2],
                old: vec![int(1), text("a")],
                new: vec![int(2), text("a")],
            },
        ];
        for row in cases {
            assert_eq!(
                code(row.clone()),
                Err(ErrorCode::BundleMalformed),
                "{row:?}"
            );
        }
    }
}
