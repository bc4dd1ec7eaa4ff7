//! Running the caller's statements: binding parameters, stepping statements, collecting the rows
//! and counts they produce, and the capture bookkeeping each kind of statement needs (flushing
//! before commits, savepoints and schema changes, wrapping autocommit writes in a transaction,
//! discarding on rollback).
//!
//! Parameters follow one rule for a whole `exec` call: positional values are consumed statement by
//! statement in order, named values are looked up by name (without the `:`, `@` or `$` prefix). A
//! statement that needs a parameter the call did not supply is an error, as is a positional value
//! no statement used: silently binding NULL would hide bugs.

use rusqlite::{Batch, Connection, Statement};

use fallible_iterator::FallibleIterator;
use rusqlite::fallible_iterator;

use crate::error::{Error, Result};
use crate::model::{ExecOutcome, Params, Rows};
use crate::store::capture::{self, lock, Mode};
use crate::store::sql::statement::{classify, StatementKind};
use crate::store::sql::values::owned;
use crate::store::{log, Journal};

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

impl Journal {
    /// Runs one statement with the capture bookkeeping its kind needs.
    pub(in crate::store) fn step(
        &mut self,
        conn: &Connection,
        stmt: &mut Statement<'_>,
        kind: StatementKind,
        binder: &mut Binder<'_>,
        collect: bool,
        out: &mut Output,
    ) -> Result<()> {
        binder.bind(stmt)?;
        let counts = kind == StatementKind::Write;
        let user_sql = self.user_sql.clone();
        let mut run = |stmt: &mut Statement<'_>| {
            let _user = user_sql.raise();
            run_to_end(conn, stmt, counts, collect, out)
        };
        match kind {
            StatementKind::Begin => run(stmt),
            StatementKind::Commit | StatementKind::Savepoint | StatementKind::Release => {
                self.flush(conn)?;
                run(stmt)
            }
            StatementKind::Rollback | StatementKind::RollbackTo => {
                run(stmt)?;
                self.rolled_back(conn)
            }
            StatementKind::Schema => {
                // A schema statement's own row changes (the implicit delete of a dropped table)
                // are not recorded, but foreign-key actions it sets off in synced tables are, in
                // the same transaction.
                let wrap = self.capturing && conn.is_autocommit();
                if wrap {
                    conn.prepare_cached("BEGIN")?.raw_execute()?;
                } else {
                    self.flush(conn)?;
                }
                let result = {
                    let _mode = capture::enter(&self.capture, Mode::ReactionsOnly);
                    run(stmt)
                };
                let result = result.and_then(|()| self.refresh(conn)).and_then(|()| {
                    if wrap {
                        self.commit(conn)
                    } else {
                        Ok(())
                    }
                });
                if result.is_err() {
                    self.failed(conn, wrap)?;
                }
                result
            }
            StatementKind::Write | StatementKind::Other | StatementKind::Unwrappable => {
                let wrap = self.capturing
                    && kind != StatementKind::Unwrappable
                    && conn.is_autocommit()
                    && !stmt.readonly();
                if wrap {
                    conn.prepare_cached("BEGIN")?.raw_execute()?;
                }
                let result = run(stmt)
                    .and_then(|()| lock(&self.capture).check())
                    .and_then(|()| if wrap { self.commit(conn) } else { Ok(()) });
                if result.is_err() {
                    self.failed(conn, wrap)?;
                }
                result
            }
        }
    }

    /// Runs several statements. Started outside a transaction, the batch runs inside one of the
    /// store's own, so it applies whole or not at all; the wrapping transaction ends (committing
    /// what ran so far) just before a statement that controls transactions itself or cannot run
    /// inside one.
    pub(in crate::store) fn run_batch(
        &mut self,
        conn: &Connection,
        sql: &str,
        binder: &mut Binder<'_>,
        collect: bool,
        out: &mut Output,
    ) -> Result<()> {
        let mut wrapped = conn.is_autocommit();
        if wrapped {
            conn.prepare_cached("BEGIN")?.raw_execute()?;
        }
        let mut batch = Batch::new(conn, sql);
        let outcome = (|| {
            while let Some(mut stmt) = {
                let _user = self.user_sql.raise();
                batch.next()?
            } {
                let kind = classify(&stmt.expanded_sql().unwrap_or_default());
                if wrapped && kind.controls_transactions() {
                    wrapped = false;
                    self.commit(conn)?;
                }
                self.step(conn, &mut stmt, kind, binder, collect, out)?;
            }
            Ok(())
        })();
        match outcome {
            Ok(()) if wrapped => self.commit(conn).or_else(|error| {
                self.failed(conn, true)?;
                Err(error)
            }),
            Ok(()) => Ok(()),
            Err(error) => {
                if wrapped {
                    self.failed(conn, true)?;
                }
                Err(error)
            }
        }
    }

    /// Commits the store's own wrapping transaction, flushing capture first.
    pub(in crate::store) fn commit(&mut self, conn: &Connection) -> Result<()> {
        self.flush(conn)?;
        conn.prepare_cached("COMMIT")?.raw_execute()?;
        Ok(())
    }

    /// Restores a consistent state after a statement failed.
    pub(in crate::store) fn failed(&mut self, conn: &Connection, wrapped: bool) -> Result<()> {
        if wrapped && !conn.is_autocommit() {
            conn.prepare_cached("ROLLBACK")?.raw_execute()?;
        }
        if conn.is_autocommit() {
            self.rolled_back(conn)
        } else {
            lock(&self.capture).needs_verify = true;
            Ok(())
        }
    }

    /// Forgets buffered changes and re-reads what a rollback may have undone: the local counter,
    /// and which tables are synced.
    pub(in crate::store) fn rolled_back(&mut self, conn: &Connection) -> Result<()> {
        lock(&self.capture).discard();
        self.local_seq = log::latest_seq(conn, &self.device)?;
        self.resync_tables(conn)
    }
}
