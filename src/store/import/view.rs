//! How the merge sees a record's row changes: the record's context (its dot, effective stamp and
//! causal context) and each row change of its change set as a merge [`Change`], names and values
//! borrowed from the change set. Shared by imports and by local changes entering the row state.

use crate::clock::VectorClock;
use crate::codec::changes::{RowRef, TableHeader};
use crate::ids::Dot;
use crate::merge::{Change, Event};

/// A record as the merge applies it: its dot, effective stamp and causal context.
pub struct RecordContext<'a> {
    pub dot: Dot,
    pub stamp: u64,
    pub clock: &'a VectorClock,
}

/// How the merge sees one row change of a record.
pub fn change_of<'a>(
    record: &RecordContext<'a>,
    header: &TableHeader<'a>,
    row: &RowRef<'a>,
) -> Change<'a> {
    Change {
        dot: record.dot,
        hlc: record.stamp,
        context: record.clock,
        event: event_of(header, row),
    }
}

/// What a row change does; names and values are borrowed from the change set.
pub fn event_of<'a>(header: &TableHeader<'a>, row: &RowRef<'a>) -> Event<'a> {
    match row {
        RowRef::Insert { values } => Event::Insert(
            header
                .columns
                .iter()
                .copied()
                .zip(values.iter().copied())
                .collect(),
        ),
        RowRef::Update { columns, new, .. } => Event::Update(
            columns
                .iter()
                .zip(new)
                .filter_map(|(&i, v)| header.columns.get(i as usize).map(|c| (*c, *v)))
                .collect(),
        ),
        RowRef::Delete { .. } => Event::Delete,
    }
}
