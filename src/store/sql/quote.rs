//! The only place identifiers are quoted for generated SQL.
//!
//! Every table or column name that reaches generated SQL, whether it came from the user, from
//! `PRAGMA table_info` or from a remote change, goes through [`ident`]. SQLite identifiers are quoted
//! with double quotes, and a double quote inside the name is doubled, which makes any string (spaces,
//! keywords, quotes, semicolons) a single identifier token. A user table is always named with its
//! schema ([`main_table`]): SQLite resolves an unqualified name to a TEMP table of that name first.

/// `name` as a quoted SQLite identifier.
pub fn ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for ch in name.chars() {
        if ch == '"' {
            quoted.push('"');
        }
        quoted.push(ch);
    }
    quoted.push('"');
    quoted
}

/// `table` as a table of the main database: `"main"."table"`.
pub fn main_table(table: &str) -> String {
    format!("\"main\".{}", ident(table))
}

/// `names` quoted and joined with `", "`.
pub fn ident_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().map(ident).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn quotes_plain_keyword_and_hostile_names() {
        assert_eq!(ident("todos"), r#""todos""#);
        assert_eq!(ident("order"), r#""order""#);
        assert_eq!(ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(
            ident(r#"x"; DROP TABLE t; --"#),
            r#""x""; DROP TABLE t; --""#
        );
        assert_eq!(ident_list(["a b", "c"]), r#""a b", "c""#);
        assert_eq!(main_table(r#"my "t""#), r#""main"."my ""t""""#);
    }
}
