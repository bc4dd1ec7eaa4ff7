//! Keeping the caller's SQL out of the engine's own tables.
//!
//! SQLite asks an authorizer about every table a statement touches while it compiles the statement
//! (the user's triggers included). While the caller's statements are compiled or run (the only
//! time [`UserSql`] is raised), writes to any table with the reserved prefix, and creating,
//! altering or dropping objects with that prefix (TEMP ones included, which could shadow the
//! engine's tables), are denied: the statement fails with SQLite's "not authorized" error and
//! changes nothing. Reading the engine's tables stays allowed, for inspection.
//!
//! The authorizer runs when a statement is compiled, and a connection caches compiled statements
//! by their text. So the caller's statements are cached under a key of their own
//! ([`cache_key`]): a caller who sends the exact text of one of the engine's statements gets a
//! statement compiled (and checked) for them, never the engine's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::Connection;

use crate::error::Result;
use crate::store::schema::RESERVED_PREFIX;

/// Raised while the caller's SQL is compiled or run.
#[derive(Debug, Clone, Default)]
pub struct UserSql(Arc<AtomicBool>);

/// Lowers the flag again when dropped.
pub struct Raised<'a>(&'a UserSql);

impl Drop for Raised<'_> {
    fn drop(&mut self) {
        (self.0).0.store(false, Ordering::Relaxed);
    }
}

impl UserSql {
    /// Marks the caller's SQL as running until the guard is dropped.
    pub fn raise(&self) -> Raised<'_> {
        self.0.store(true, Ordering::Relaxed);
        Raised(self)
    }
}

/// The text under which a caller's single statement is prepared and cached: the statement after a
/// comment that no statement of the engine starts with. (A comment before the statement is no part
/// of it: SQLite keeps a `CREATE` statement's text from its first keyword, and an added column's
/// definition without it.)
pub fn cache_key(sql: &str) -> String {
    format!("/*caller*/{sql}")
}

/// Installs the authorizer on `conn`; it acts while `flag` is raised.
pub fn install(conn: &mut Connection, flag: &UserSql) -> Result<()> {
    let raised = flag.0.clone();
    conn.authorizer(Some(move |context: AuthContext<'_>| {
        if raised.load(Ordering::Relaxed) && touches_reserved(&context.action) {
            Authorization::Deny
        } else {
            Authorization::Allow
        }
    }))?;
    Ok(())
}

/// Whether an action writes, or changes the schema of, an engine table.
fn touches_reserved(action: &AuthAction<'_>) -> bool {
    let name = match *action {
        AuthAction::Insert { table_name }
        | AuthAction::Delete { table_name }
        | AuthAction::Update { table_name, .. }
        | AuthAction::CreateTable { table_name }
        | AuthAction::CreateTempTable { table_name }
        | AuthAction::DropTable { table_name }
        | AuthAction::DropTempTable { table_name }
        | AuthAction::AlterTable { table_name, .. }
        | AuthAction::CreateVtable { table_name, .. }
        | AuthAction::DropVtable { table_name, .. } => table_name,
        AuthAction::CreateIndex {
            index_name,
            table_name,
        }
        | AuthAction::CreateTempIndex {
            index_name,
            table_name,
        }
        | AuthAction::DropIndex {
            index_name,
            table_name,
        }
        | AuthAction::DropTempIndex {
            index_name,
            table_name,
        } => return reserved(index_name) || reserved(table_name),
        AuthAction::CreateTrigger {
            trigger_name,
            table_name,
        }
        | AuthAction::CreateTempTrigger {
            trigger_name,
            table_name,
        }
        | AuthAction::DropTrigger {
            trigger_name,
            table_name,
        }
        | AuthAction::DropTempTrigger {
            trigger_name,
            table_name,
        } => return reserved(trigger_name) || reserved(table_name),
        AuthAction::CreateView { view_name }
        | AuthAction::CreateTempView { view_name }
        | AuthAction::DropView { view_name }
        | AuthAction::DropTempView { view_name } => view_name,
        _ => return false,
    };
    reserved(name)
}

fn reserved(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with(RESERVED_PREFIX)
}
