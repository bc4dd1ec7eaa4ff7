//! Running one prepared statement for the caller: binding parameters, stepping it, and collecting
//! the rows and counts it produces.
//!
//! Parameters follow one rule for a whole `exec` call: positional values are consumed statement by
//! statement in order, named values are looked up by name (without the `:`, `@` or `$` prefix). A
//! statement that needs a parameter the call did not supply is an error, as is a positional value
//! no statement used: silently binding NULL would hide bugs.

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, Statement};

use crate::error::{Error, Result};
use crate::model::{ExecOutcome, Params, Rows, Value};
use crate::store::capture::owned;

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

/// Hands out a call's parameters to its statements.
pub struct Binder<'p> {
    params: &'p Params,
    next: usize,
}

impl<'p> Binder<'p> {
    pub fn new(params: &'p Params) -> Self {
        Binder { params, next: 0 }
    }

    /// Binds every parameter `stmt` declares.
    pub fn bind(&mut self, stmt: &mut Statement<'_>) -> Result<()> {
        let count = stmt.parameter_count();
        for index in 1..=count {
            let value = match self.params {
                Params::None => {
                    return Err(Error::InvalidArgument(format!(
                        "the statement has {count} parameter(s) but none were given"
                    )))
                }
                Params::Positional(values) => {
                    let value = values.get(self.next).ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "too few parameters: {} given, more are needed",
                            values.len()
                        ))
                    })?;
                    self.next += 1;
                    value
                }
                Params::Named(pairs) => {
                    let name = stmt.parameter_name(index).ok_or_else(|| {
                        Error::InvalidArgument(
                            "a positional parameter (?) cannot be bound from an object".into(),
                        )
                    })?;
                    let bare = name.get(1..).unwrap_or_default();
                    &pairs
                        .iter()
                        .find(|(key, _)| key == bare)
                        .ok_or_else(|| {
                            Error::InvalidArgument(format!("missing named parameter {name}"))
                        })?
                        .1
                }
            };
            stmt.raw_bind_parameter(index, value)?;
        }
        Ok(())
    }

    /// Checks that every positional value was used.
    pub fn finish(&self) -> Result<()> {
        match self.params {
            Params::Positional(values) if self.next < values.len() => {
                Err(Error::InvalidArgument(format!(
                    "too many parameters: {} given, {} used",
                    values.len(),
                    self.next
                )))
            }
            _ => Ok(()),
        }
    }
}

/// What a call has produced so far.
#[derive(Debug, Default)]
pub struct Output {
    pub outcome: ExecOutcome,
    pub rows: Rows,
}

/// Steps a bound statement to completion. `counts` says whether its row changes count towards
/// `changes` (true for INSERT, UPDATE and DELETE); rows are kept when `collect` is set.
pub fn run_to_end(
    conn: &Connection,
    stmt: &mut Statement<'_>,
    counts: bool,
    collect: bool,
    out: &mut Output,
) -> Result<()> {
    let width = stmt.column_count();
    if collect && width > 0 {
        out.rows.columns = stmt.column_names().map(str::to_owned).collect();
        out.rows.rows.clear();
    }
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        if collect {
            let values = (0..width)
                .map(|i| row.get_ref(i).map(owned))
                .collect::<rusqlite::Result<_>>()?;
            out.rows.rows.push(values);
        }
    }
    if counts {
        out.outcome.changes += conn.changes();
    }
    out.outcome.last_insert_rowid = conn.last_insert_rowid();
    Ok(())
}
