//! Which tables are synced, and what the engine knows about each one's columns.
//!
//! A table can be synced when it is an ordinary table (not a view, not virtual), is not internal,
//! and declares a primary key. Its shape is read from `PRAGMA table_xinfo`, so it follows
//! `ALTER TABLE` (the store re-reads it after every schema statement). Generated columns are left
//! out: they are computed from the others on every replica. The shape also says what each column
//! does with the values written to it ([`ColumnType`], from the declared type, STRICT-aware, and
//! whether the key is the rowid), and which collation the key is compared with (from the primary
//! key's index). The set of synced tables and each one's conflict strategy persist in
//! `_sync_tables`, with the table's column *generations*: every list of columns the table has had
//! since it was first synced, oldest first. A row state stored in its short form (one insert,
//! untouched since) names the generation whose columns that insert wrote, so a column added later
//! is never mistaken for one the insert wrote.

use rusqlite::{params, Connection, OptionalExtension};

use crate::codec::{write, Reader};
use crate::error::{Error, Result};
use crate::model::ConflictStrategy;
use crate::store::schema::affinity::ColumnType;
use crate::store::schema::is_reserved;
use crate::store::sql::{bulk, quote};

/// The shape of a synced table as capture and apply need it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableShape {
    /// The table's name as declared.
    pub name: String,
    /// Stored (non-generated) column names, in declaration order.
    pub columns: Vec<String>,
    /// For each entry of `columns`, its index among all of the table's columns (the index the
    /// pre-update hook uses).
    pub hook_index: Vec<i32>,
    /// Positions into `columns` of the primary key columns, in key order.
    pub primary_key: Vec<u32>,
    /// For each entry of `columns`, what the column does with the values written to it.
    pub types: Vec<ColumnType>,
    /// A primary key column compared with a collation other than BINARY, with that collation.
    pub key_collation: Option<(String, String)>,
    /// Writes a whole row (every column, in `columns` order) whether or not its key exists.
    pub upsert_sql: String,
    /// Deletes the row with a key (key values in key order).
    pub delete_sql: String,
    /// Reads every column of the row with a key.
    pub select_sql: String,
    /// Every column list the table has had while synced, oldest first (see the module doc).
    pub generations: Vec<Vec<String>>,
    /// The index in `generations` of `columns`.
    pub generation: u32,
}

impl TableShape {
    /// A shape from its parts (a key compared by bytes), with its statements prepared as text.
    pub fn new(
        name: String,
        columns: Vec<String>,
        hook_index: Vec<i32>,
        primary_key: Vec<u32>,
        types: Vec<ColumnType>,
    ) -> Self {
        let all: Vec<&str> = columns.iter().map(String::as_str).collect();
        let key: Vec<&str> = primary_key.iter().map(|&i| all[i as usize]).collect();
        TableShape {
            upsert_sql: bulk::upsert_sql(&name, &all, &key),
            delete_sql: bulk::delete_sql(&name, &key),
            select_sql: bulk::select_sql(&name, &all, &key),
            generations: vec![columns.clone()],
            generation: 0,
            name,
            columns,
            hook_index,
            primary_key,
            types,
            key_collation: None,
        }
    }

    /// The shape with its stored column generations, the current columns added as a new
    /// generation when they are not the latest one; returns whether one was added.
    pub fn with_generations(mut self, mut generations: Vec<Vec<String>>) -> (TableShape, bool) {
        let added = generations.last() != Some(&self.columns);
        if added {
            generations.push(self.columns.clone());
        }
        self.generation = (generations.len() - 1) as u32;
        self.generations = generations;
        (self, added)
    }

    /// Reads a table's shape, rejecting what cannot be synced with a coded error.
    pub fn describe(conn: &Connection, requested: &str) -> Result<TableShape> {
        if is_reserved(requested) {
            return Err(Error::ReservedTable(requested.to_owned()));
        }
        let found: Option<(String, String, Option<String>)> = conn
            .query_row(
                "SELECT type, name, sql FROM main.sqlite_schema
                 WHERE name = ?1 COLLATE NOCASE AND type IN ('table', 'view')",
                params![requested],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((kind, name, sql)) = found else {
            return Err(Error::TableNotFound(requested.to_owned()));
        };
        let is_virtual = sql.as_deref().is_some_and(|s| {
            s.trim_start()
                .to_ascii_uppercase()
                .starts_with("CREATE VIRTUAL")
        });
        if kind != "table" || is_virtual {
            return Err(Error::NotATable(name));
        }
        let (without_rowid, strict) = table_kind(conn, &name)?;
        let mut stmt =
            conn.prepare(&format!("PRAGMA main.table_xinfo({})", quote::ident(&name)))?;
        let mut columns = Vec::new();
        let mut hook_index = Vec::new();
        let mut types = Vec::new();
        let mut keyed = Vec::new();
        let mut rows = stmt.query([])?;
        let mut index = 0i32;
        while let Some(row) = rows.next()? {
            let column: String = row.get("name")?;
            let declared: String = row.get("type")?;
            let pk: i64 = row.get("pk")?;
            let hidden: i64 = row.get("hidden")?;
            if hidden == 0 {
                if pk > 0 {
                    keyed.push((pk, columns.len() as u32));
                }
                columns.push(column);
                hook_index.push(index);
                types.push(ColumnType::of_declared(&declared, strict));
            }
            index += 1;
        }
        if keyed.is_empty() {
            return Err(Error::NoPrimaryKey(name));
        }
        keyed.sort_unstable();
        let primary_key: Vec<u32> = keyed.into_iter().map(|(_, position)| position).collect();
        let key_index = primary_key_index(conn, &name)?;
        let key_collation = match &key_index {
            Some(index) => odd_collation(conn, index)?,
            None => None,
        };
        // Every primary key has an index except the rowid alias (INTEGER PRIMARY KEY) of a rowid
        // table, which is the table's own key.
        if let ([position], None, false) = (primary_key.as_slice(), &key_index, without_rowid) {
            if let Some(key_type) = types.get_mut(*position as usize) {
                *key_type = ColumnType::RowidAlias;
            }
        }
        Ok(TableShape {
            key_collation,
            ..TableShape::new(name, columns, hook_index, primary_key, types)
        })
    }

    /// Refuses a key whose values could compare equal while their bytes differ ('Abc' and 'abc'
    /// under NOCASE): replicas would then write one row for two keys and never converge.
    pub fn check_key(&self) -> Result<()> {
        match &self.key_collation {
            Some((column, collation)) => Err(Error::UnsupportedKey(format!(
                "column {column:?} of table {} is compared with collation {collation}; a synced \
                 primary key must use BINARY (the default)",
                self.name
            ))),
            None => Ok(()),
        }
    }

    /// Names of the primary key columns, in key order.
    pub fn key_columns(&self) -> impl Iterator<Item = &str> {
        self.primary_key
            .iter()
            .map(|&i| self.columns[i as usize].as_str())
    }
}

/// Whether a table is `WITHOUT ROWID`, and whether it is `STRICT`.
fn table_kind(conn: &Connection, name: &str) -> Result<(bool, bool)> {
    let sql = format!("PRAGMA main.table_list({})", quote::ident(name));
    let kind = conn
        .query_row(&sql, [], |r| {
            Ok((r.get::<_, bool>("wr")?, r.get::<_, bool>("strict")?))
        })
        .optional()?;
    kind.ok_or_else(|| Error::TableNotFound(name.to_owned()))
}

/// The name of the index that holds a table's primary key (none for the rowid alias).
fn primary_key_index(conn: &Connection, name: &str) -> Result<Option<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA main.index_list({})", quote::ident(name)))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        if row.get::<_, String>("origin")? == "pk" {
            return Ok(Some(row.get("name")?));
        }
    }
    Ok(None)
}

/// The first key column of an index compared with a collation other than BINARY, with it.
fn odd_collation(conn: &Connection, index: &str) -> Result<Option<(String, String)>> {
    let mut stmt = conn.prepare(&format!("PRAGMA main.index_xinfo({})", quote::ident(index)))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let key: bool = row.get("key")?;
        let collation: String = row.get("coll")?;
        if key && !collation.eq_ignore_ascii_case("BINARY") {
            return Ok(Some((row.get("name")?, collation)));
        }
    }
    Ok(None)
}

/// The synced tables recorded in `_sync_tables`, with their strategies.
pub fn load(conn: &Connection) -> Result<Vec<(String, ConflictStrategy)>> {
    let mut stmt = conn.prepare("SELECT name, strategy FROM main._sync_tables ORDER BY name")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut tables = Vec::new();
    for row in rows {
        let (name, strategy) = row?;
        let strategy = ConflictStrategy::parse(&strategy)
            .map_err(|_| Error::Corrupt(format!("unknown strategy {strategy:?} for {name}")))?;
        tables.push((name, strategy));
    }
    Ok(tables)
}

/// The conflict strategy of a synced table.
pub fn strategy(conn: &Connection, name: &str) -> Result<Option<ConflictStrategy>> {
    let text: Option<String> = conn
        .prepare_cached("SELECT strategy FROM main._sync_tables WHERE name = ?1")?
        .query_row(params![name], |r| r.get(0))
        .optional()?;
    text.map(|t| {
        ConflictStrategy::parse(&t).map_err(|_| Error::Corrupt(format!("unknown strategy {t:?}")))
    })
    .transpose()
}

/// Records `name` as synced with `strategy` (replacing an earlier strategy).
pub fn save(conn: &Connection, name: &str, strategy: ConflictStrategy) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO main._sync_tables (name, strategy) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET strategy = excluded.strategy",
    )?
    .execute(params![name, strategy.as_str()])?;
    Ok(())
}

/// Forgets `name`; returns whether it was synced.
pub fn remove(conn: &Connection, name: &str) -> Result<bool> {
    let removed = conn
        .prepare_cached("DELETE FROM main._sync_tables WHERE name = ?1")?
        .execute(params![name])?;
    Ok(removed > 0)
}

/// The column generations stored for a synced table (none for an unknown one).
pub fn generations(conn: &Connection, name: &str) -> Result<Vec<Vec<String>>> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT generations FROM main._sync_tables WHERE name = ?1")?
        .query_row(params![name], |r| r.get(0))
        .optional()?;
    let Some(bytes) = bytes else {
        return Ok(Vec::new());
    };
    let broken = |e: String| Error::Corrupt(format!("column generations of {name}: {e}"));
    let mut reader = Reader::new(&bytes);
    let count = reader.array_len(1).map_err(broken)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let width = reader.array_len(1).map_err(broken)?;
        let columns = (0..width)
            .map(|_| reader.str().map(str::to_owned))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(broken)?;
        out.push(columns);
    }
    reader.finish("column generations").map_err(broken)?;
    Ok(out)
}

/// Stores a synced table's column generations.
pub fn save_generations(conn: &Connection, name: &str, generations: &[Vec<String>]) -> Result<()> {
    let mut bytes = Vec::new();
    write::array_len(&mut bytes, generations.len());
    for columns in generations {
        write::array_len(&mut bytes, columns.len());
        for column in columns {
            write::str(&mut bytes, column);
        }
    }
    conn.prepare_cached("UPDATE main._sync_tables SET generations = ?2 WHERE name = ?1")?
        .execute(params![name, bytes])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;
    use crate::ErrorCode;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn db() -> Result<Connection> {
        let conn = Connection::open_in_memory()?;
        schema::initialise(&conn, None, 0, || Ok(crate::ids::DeviceId([1; 16])))?;
        Ok(conn)
    }

    #[test]
    fn composite_keys_follow_key_order_not_column_order() -> Result<()> {
        let conn = db()?;
        conn.execute_batch("CREATE TABLE t (a, \"my col\" TEXT, b INT, PRIMARY KEY (b, a))")?;
        let shape = TableShape::describe(&conn, "T")?;
        assert_eq!(shape.name, "t");
        assert_eq!(shape.columns, ["a", "my col", "b"]);
        assert_eq!(shape.primary_key, [2, 0]);
        assert_eq!(shape.key_columns().collect::<Vec<_>>(), ["b", "a"]);
        Ok(())
    }

    #[test]
    fn generated_columns_are_left_out() -> Result<()> {
        let conn = db()?;
        conn.execute_batch(
            "CREATE TABLE g (id INTEGER PRIMARY KEY, x INT, twice INT AS (x * 2), y INT)",
        )?;
        let shape = TableShape::describe(&conn, "g")?;
        assert_eq!(shape.columns, ["id", "x", "y"]);
        assert_eq!(shape.hook_index, [0, 1, 3]);
        Ok(())
    }

    #[test]
    fn columns_have_the_type_sqlite_gives_them_and_the_rowid_alias_is_recognised() -> Result<()> {
        use crate::store::schema::affinity::Affinity::{Blob, Integer, Numeric, Real, Text};
        use ColumnType::{Loose, RowidAlias, Strict, StrictAny};
        let conn = db()?;
        conn.execute_batch(
            "CREATE TABLE plain (id INTEGER PRIMARY KEY, a VARCHAR(9), b, c DECIMAL, d DOUBLE);
             CREATE TABLE strict (id INTEGER PRIMARY KEY, a INT, b ANY, c BLOB, d REAL) STRICT;
             CREATE TABLE descending (id INTEGER PRIMARY KEY DESC, v TEXT);
             CREATE TABLE no_rowid (id INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;
             CREATE TABLE clause (id INTEGER, v TEXT, PRIMARY KEY (id));
             CREATE TABLE int_key (id INT PRIMARY KEY, v TEXT);",
        )?;
        let types = |name: &str| TableShape::describe(&conn, name).map(|s| s.types);
        assert_eq!(
            types("plain")?,
            [
                RowidAlias,
                Loose(Text),
                Loose(Blob),
                Loose(Numeric),
                Loose(Real)
            ]
        );
        assert_eq!(
            types("strict")?,
            [
                RowidAlias,
                Strict(Integer),
                StrictAny,
                Strict(Blob),
                Strict(Real)
            ]
        );
        assert_eq!(types("clause")?, [RowidAlias, Loose(Text)]);
        for name in ["descending", "no_rowid", "int_key"] {
            assert_eq!(types(name)?, [Loose(Integer), Loose(Text)], "{name}");
        }
        Ok(())
    }

    #[test]
    fn keys_compared_with_another_collation_than_binary_are_found() -> Result<()> {
        let conn = db()?;
        conn.execute_batch(
            "CREATE TABLE on_column (id TEXT COLLATE NOCASE PRIMARY KEY, v);
             CREATE TABLE in_clause (a, b, PRIMARY KEY (a, b COLLATE RTRIM)) WITHOUT ROWID;
             CREATE TABLE overridden (id TEXT COLLATE NOCASE, PRIMARY KEY (id COLLATE BINARY));
             CREATE TABLE rowid_alias (id INTEGER PRIMARY KEY COLLATE NOCASE, v);
             CREATE TABLE other_column (id TEXT PRIMARY KEY, v TEXT COLLATE NOCASE UNIQUE);
             CREATE TABLE explicit (id TEXT COLLATE BINARY PRIMARY KEY) WITHOUT ROWID;",
        )?;
        let collation = |name: &str| TableShape::describe(&conn, name).map(|s| s.key_collation);
        let odd = |column: &str, collation: &str| Some((column.to_owned(), collation.to_owned()));
        assert_eq!(collation("on_column")?, odd("id", "NOCASE"));
        assert_eq!(collation("in_clause")?, odd("b", "RTRIM"));
        for name in ["overridden", "rowid_alias", "other_column", "explicit"] {
            assert_eq!(collation(name)?, None, "{name}");
        }
        let refused = TableShape::describe(&conn, "on_column")?.check_key();
        assert_eq!(
            refused.map_err(|e| e.code()),
            Err(ErrorCode::UnsupportedKey)
        );
        Ok(())
    }

    #[test]
    fn key_lookups_search_the_key_instead_of_scanning() -> Result<()> {
        let conn = db()?;
        conn.execute_batch(
            "CREATE TABLE alias (id INTEGER PRIMARY KEY, v);
             CREATE TABLE text_key (id TEXT PRIMARY KEY, v);
             CREATE TABLE pairs (a, b, v, PRIMARY KEY (b, a)) WITHOUT ROWID;
             CREATE TABLE overridden (id TEXT COLLATE NOCASE, v, PRIMARY KEY (id COLLATE BINARY));",
        )?;
        for name in ["alias", "text_key", "pairs", "overridden"] {
            let shape = TableShape::describe(&conn, name)?;
            for sql in [&shape.select_sql, &shape.delete_sql] {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
                let plan: String =
                    stmt.query_row(rusqlite::params_from_iter(nulls), |r| r.get("detail"))?;
                assert!(plan.starts_with("SEARCH"), "{sql}: {plan}");
            }
        }
        Ok(())
    }

    #[test]
    fn unsyncable_objects_get_coded_errors() -> Result<()> {
        let conn = db()?;
        conn.execute_batch(
            "CREATE TABLE nokey (a, b); CREATE VIEW v AS SELECT 1 AS x;
             CREATE VIRTUAL TABLE f USING fts5(body);",
        )?;
        let code = |name: &str| {
            TableShape::describe(&conn, name)
                .map(|_| ())
                .map_err(|e| e.code())
        };
        assert_eq!(code("missing"), Err(ErrorCode::TableNotFound));
        assert_eq!(code("nokey"), Err(ErrorCode::NoPrimaryKey));
        assert_eq!(code("v"), Err(ErrorCode::NotATable));
        assert_eq!(code("f"), Err(ErrorCode::NotATable));
        assert_eq!(code("_sync_log"), Err(ErrorCode::ReservedTable));
        assert_eq!(code("sqlite_schema"), Err(ErrorCode::ReservedTable));
        Ok(())
    }
}
