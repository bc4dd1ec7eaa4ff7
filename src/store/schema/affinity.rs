//! SQLite's column type affinity, and whether a column keeps a value exactly as it is given.
//!
//! SQLite converts a value to suit the column it is written to: `'007'` written to an INTEGER
//! column is stored as the integer 7, the integer 7 written to a TEXT column as the text `'7'`. A
//! replica whose column is declared differently from the sender's would therefore hold another
//! value for the same change, and a key converted this way names another row than its merge state.
//! So an import refuses every value the receiving column would not keep exactly; this module
//! predicts that, purely, from the column's declared type. The rules are SQLite's
//! (<https://www.sqlite.org/datatype3.html>, and SQLite's own code where the page is silent):
//!
//! - The affinity of a declared type (§3.1), by the first rule that matches its text, ignoring
//!   case: it contains `INT`: INTEGER; `CHAR`, `CLOB` or `TEXT`: TEXT; `BLOB`, or no type at all:
//!   BLOB; `REAL`, `FLOA` or `DOUB`: REAL; anything else (`NUMERIC`, `DECIMAL(10,2)`, `DATE`,
//!   `ANY`): NUMERIC.
//! - TEXT affinity stores integers and reals as text. BLOB affinity keeps every value.
//! - NUMERIC and INTEGER affinity store a text that is a decimal number as a number, and a real
//!   with an integral value strictly between -2^63 and 2^63 (-0.0 included) as an integer. A
//!   number is what SQLite's text-to-number conversion accepts whole: surrounding whitespace
//!   (space, tab, LF, VT, FF, CR), a sign, digits with at most one decimal point, at least one
//!   digit, an exponent with at least one digit; the text counts up to its first NUL character.
//!   Hexadecimal, `inf`, `NaN` and digit separators are not numbers.
//! - REAL affinity stores integers and numbers in text as reals, and -0.0 as 0.0.
//! - A STRICT table's INT, INTEGER, REAL, TEXT and BLOB columns convert as their affinity does and
//!   refuse whatever does not then have the column's type; its ANY columns keep every value.
//! - The rowid alias (the INTEGER PRIMARY KEY of a rowid table) holds integers only: it converts
//!   the rest or refuses them, and a NULL there becomes a new rowid.
//! - NaN is stored as NULL, whatever the column.
//!
//! Keys need one more rule ([`ColumnType::tells_apart`]): a column that keeps reals as they are
//! (BLOB affinity, STRICT ANY) keeps both the integer 1 and the real 1.0, which SQLite compares as
//! equal, so they would be one row to SQLite but two keys to sync.
//!
//! The prediction is exact, not merely safe. An error on the permissive side would let a changed
//! value through (the defect this guards against); an error on the strict side would refuse values
//! that a replica with the same schema captured: what capture records is what SQLite stored, which
//! every column of the same declared type keeps, and refusing it would stop that replica's changes
//! from ever being imported. A property test (`tests/it/affinity.rs`) checks the prediction
//! against SQLite for random values of every kind in columns of every kind.

use std::fmt;

use crate::model::ValueRef;

/// A column's type affinity: the storage class SQLite prefers for its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affinity {
    Text,
    Numeric,
    Integer,
    Real,
    Blob,
}

impl Affinity {
    /// The affinity SQLite gives a column declared with the type `declared` (empty: no type).
    pub fn of_declared(declared: &str) -> Affinity {
        let upper = declared.to_ascii_uppercase();
        let has = |word: &str| upper.contains(word);
        if has("INT") {
            Affinity::Integer
        } else if has("CHAR") || has("CLOB") || has("TEXT") {
            Affinity::Text
        } else if has("BLOB") || upper.is_empty() {
            Affinity::Blob
        } else if has("REAL") || has("FLOA") || has("DOUB") {
            Affinity::Real
        } else {
            Affinity::Numeric
        }
    }

    fn name(self) -> &'static str {
        match self {
            Affinity::Text => "TEXT",
            Affinity::Numeric => "NUMERIC",
            Affinity::Integer => "INTEGER",
            Affinity::Real => "REAL",
            Affinity::Blob => "BLOB",
        }
    }
}

/// What a column does with the values written to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// A column of an ordinary table: values are converted by its affinity.
    Loose(Affinity),
    /// A STRICT table's INT or INTEGER (`Integer`), REAL, TEXT or BLOB column: values are
    /// converted by that affinity, and refused unless they then have the column's type.
    Strict(Affinity),
    /// A STRICT table's ANY column: every value is kept as it is.
    StrictAny,
    /// The rowid alias, the INTEGER PRIMARY KEY of a rowid table: integers only.
    RowidAlias,
}

impl ColumnType {
    /// The type of a column declared with `declared` in a STRICT or ordinary table (not the rowid
    /// alias, which only the table's structure reveals).
    pub fn of_declared(declared: &str, strict: bool) -> ColumnType {
        if !strict {
            return ColumnType::Loose(Affinity::of_declared(declared));
        }
        match declared.to_ascii_uppercase().as_str() {
            "INT" | "INTEGER" => ColumnType::Strict(Affinity::Integer),
            "REAL" => ColumnType::Strict(Affinity::Real),
            "TEXT" => ColumnType::Strict(Affinity::Text),
            "BLOB" => ColumnType::Strict(Affinity::Blob),
            "ANY" => ColumnType::StrictAny,
            // SQLite accepts no other type in a STRICT table; should it one day, it would give
            // the new type the affinity of its name, as in any other table.
            _ => ColumnType::Loose(Affinity::of_declared(declared)),
        }
    }

    /// Whether writing `value` to a column of this type stores exactly `value`: the same storage
    /// class and the same value (reals bit for bit).
    pub fn keeps<'v>(self, value: impl Into<ValueRef<'v>>) -> bool {
        let value = value.into();
        match (self, value) {
            (_, ValueRef::Real(r)) if r.is_nan() => false,
            (ColumnType::RowidAlias, value) => matches!(value, ValueRef::Integer(_)),
            (_, ValueRef::Null) | (ColumnType::StrictAny, _) => true,
            (ColumnType::Loose(affinity), value) => affinity_keeps(affinity, value),
            (ColumnType::Strict(affinity), value) => {
                affinity_keeps(affinity, value)
                    && matches!(
                        (affinity, value),
                        (Affinity::Integer, ValueRef::Integer(_))
                            | (Affinity::Real, ValueRef::Real(_))
                            | (Affinity::Text, ValueRef::Text(_))
                            | (Affinity::Blob, ValueRef::Blob(_))
                            | (Affinity::Numeric, ValueRef::Integer(_) | ValueRef::Real(_))
                    )
            }
        }
    }

    /// Whether SQLite tells a key value this column keeps apart from every value with other bytes.
    /// Only a column that keeps reals as they are (BLOB affinity, STRICT ANY) can hold two keys
    /// that differ in bytes yet are equal to SQLite: a real with an integral value equals the
    /// integer of that value (and -0.0 equals 0.0), so two replicas could write one row for two
    /// keys, each with its own merge state.
    pub fn tells_apart<'v>(self, value: impl Into<ValueRef<'v>>) -> bool {
        match (self, value.into()) {
            (ColumnType::Loose(Affinity::Blob) | ColumnType::StrictAny, ValueRef::Real(r)) => {
                !equals_an_integer(r)
            }
            _ => true,
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::Loose(affinity) => write!(f, "{} affinity", affinity.name()),
            ColumnType::Strict(affinity) => write!(f, "STRICT {}", affinity.name()),
            ColumnType::StrictAny => f.write_str("STRICT ANY"),
            ColumnType::RowidAlias => f.write_str("INTEGER PRIMARY KEY (the rowid)"),
        }
    }
}

/// Whether affinity alone leaves a value (not NULL, not NaN) as it is.
fn affinity_keeps(affinity: Affinity, value: ValueRef<'_>) -> bool {
    match (affinity, value) {
        (Affinity::Blob, _) | (_, ValueRef::Null | ValueRef::Blob(_)) => true,
        (Affinity::Text, value) => matches!(value, ValueRef::Text(_)),
        (Affinity::Numeric | Affinity::Integer, ValueRef::Real(r)) => !is_integral_in_range(r),
        (Affinity::Real, ValueRef::Real(r)) => !(r == 0.0 && r.is_sign_negative()),
        (Affinity::Real, ValueRef::Integer(_)) => false,
        (Affinity::Numeric | Affinity::Integer | Affinity::Real, ValueRef::Text(text)) => {
            !is_number(text)
        }
        (Affinity::Numeric | Affinity::Integer, ValueRef::Integer(_)) => true,
    }
}

/// Whether a real has an integral value strictly between -2^63 and 2^63 (as SQLite turns such a
/// real into an integer).
fn is_integral_in_range(r: f64) -> bool {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    r.trunc() == r && r > -LIMIT && r < LIMIT
}

/// Whether a real compares equal to some 64-bit integer.
fn equals_an_integer(r: f64) -> bool {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    r.trunc() == r && (-LIMIT..LIMIT).contains(&r)
}

/// Whether SQLite's text-to-number conversion accepts the whole of `text` (up to its first NUL).
fn is_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let mut rest = trim_spaces(&bytes[..end]);
    if let [b'+' | b'-', unsigned @ ..] = rest {
        rest = unsigned;
    }
    let whole = leading_digits(rest);
    rest = &rest[whole..];
    let mut fraction = 0;
    if let [b'.', after @ ..] = rest {
        fraction = leading_digits(after);
        rest = &after[fraction..];
    }
    if whole + fraction == 0 {
        return false;
    }
    if let [b'e' | b'E', exponent @ ..] = rest {
        let unsigned = match exponent {
            [b'+' | b'-', digits @ ..] => digits,
            digits => digits,
        };
        let digits = leading_digits(unsigned);
        if digits == 0 {
            return false;
        }
        rest = &unsigned[digits..];
    }
    rest.is_empty()
}

fn leading_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// `bytes` without the whitespace SQLite ignores around a number.
fn trim_spaces(bytes: &[u8]) -> &[u8] {
    let space = |b: &u8| matches!(b, b' ' | b'\t'..=b'\r');
    let start = bytes.iter().position(|b| !space(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn declared_types_get_the_affinity_of_the_first_matching_rule() {
        let cases = [
            ("INTEGER", Affinity::Integer),
            ("bigint", Affinity::Integer),
            ("FLOATING POINT", Affinity::Integer),
            ("CHARINT", Affinity::Integer),
            ("VARCHAR(10)", Affinity::Text),
            ("clob", Affinity::Text),
            ("TEXTBLOB", Affinity::Text),
            ("", Affinity::Blob),
            ("BLOB", Affinity::Blob),
            ("REALBLOB", Affinity::Blob),
            ("DOUBLE PRECISION", Affinity::Real),
            ("float", Affinity::Real),
            ("NUMERIC", Affinity::Numeric),
            ("DECIMAL(10,2)", Affinity::Numeric),
            ("ANY", Affinity::Numeric),
            ("STRING", Affinity::Numeric),
        ];
        for (declared, affinity) in cases {
            assert_eq!(Affinity::of_declared(declared), affinity, "{declared:?}");
        }
        assert_eq!(ColumnType::of_declared("any", true), ColumnType::StrictAny);
        assert_eq!(
            ColumnType::of_declared("INT", true),
            ColumnType::Strict(Affinity::Integer)
        );
    }

    #[test]
    fn numbers_in_text_are_what_sqlite_converts() {
        let numbers = [
            "0",
            "007",
            "-5",
            "+5",
            " 5 ",
            "\t5\n",
            "\x0b5\x0c",
            "5.",
            ".5",
            "-.5",
            "1e5",
            "1E+5",
            "1e-5",
            "1.5e3",
            "12\0abc",
            "99999999999999999999999",
        ];
        for text in numbers {
            assert!(is_number(text), "{text:?} is a number");
        }
        let texts = [
            "", " ", ".", "-", "+", "- 5", "5 e3", "1e", "1e+", "e5", "0x1A", "inf", "NaN",
            "1_000", "5x", "\u{a0}5", "\u{0}5",
        ];
        for text in texts {
            assert!(!is_number(text), "{text:?} is not a number");
        }
    }

    #[test]
    fn columns_keep_only_what_they_would_not_convert() {
        let integer = ColumnType::Loose(Affinity::Integer);
        assert!(integer.keeps(&Value::Integer(7)));
        assert!(integer.keeps(&Value::Text("7a".into())));
        assert!(integer.keeps(&Value::Real(1.5)));
        assert!(!integer.keeps(&Value::Text("007".into())));
        assert!(!integer.keeps(&Value::Real(1.0)));
        assert!(!integer.keeps(&Value::Real(-0.0)));
        assert!(integer.keeps(&Value::Real(9_223_372_036_854_775_808.0)));
        let text = ColumnType::Loose(Affinity::Text);
        assert!(!text.keeps(&Value::Integer(7)));
        assert!(text.keeps(&Value::Blob(vec![1])));
        let real = ColumnType::Loose(Affinity::Real);
        assert!(real.keeps(&Value::Real(1.0)));
        assert!(!real.keeps(&Value::Real(-0.0)));
        assert!(!real.keeps(&Value::Integer(1)));
        assert!(ColumnType::Loose(Affinity::Blob).keeps(&Value::Real(-0.0)));
        assert!(!ColumnType::Loose(Affinity::Blob).keeps(&Value::Real(f64::NAN)));
        assert!(!ColumnType::RowidAlias.keeps(&Value::Null));
        assert!(!ColumnType::RowidAlias.keeps(&Value::Text("1".into())));
        assert!(ColumnType::StrictAny.keeps(&Value::Text("1".into())));
        assert!(!ColumnType::Strict(Affinity::Blob).keeps(&Value::Text("x".into())));
        assert!(ColumnType::Strict(Affinity::Text).keeps(&Value::Null));
    }

    #[test]
    fn only_columns_that_keep_reals_hold_keys_sqlite_confuses() {
        let blob = ColumnType::Loose(Affinity::Blob);
        for r in [1.0, -0.0, 0.0, -9_223_372_036_854_775_808.0] {
            assert!(!blob.tells_apart(&Value::Real(r)), "{r}");
            assert!(!ColumnType::StrictAny.tells_apart(&Value::Real(r)), "{r}");
        }
        for r in [1.5, 9_223_372_036_854_775_808.0, f64::INFINITY] {
            assert!(blob.tells_apart(&Value::Real(r)), "{r}");
        }
        assert!(blob.tells_apart(&Value::Integer(1)));
        assert!(ColumnType::Loose(Affinity::Real).tells_apart(&Value::Real(1.0)));
    }
}
