//! Unit tests of the stored row-state forms.

use super::*;
use crate::codec::write;
use crate::ids::{DeviceId, Dot};
use crate::merge::{Head, Stamp};
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn names(columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| (*c).to_owned()).collect()
}

fn head(seq: u64, columns: Option<Vec<String>>) -> Head {
    Head {
        dot: Dot::new(DeviceId([7; 16]), seq),
        hlc: 1 << 40 | seq,
        delete: false,
        columns,
    }
}

#[test]
fn an_untouched_insert_is_stored_in_its_short_form_naming_its_generation() {
    let generations = vec![names(&["id", "v"]), names(&["id", "v", "z"])];
    let old = RowMeta::inserted(head(3, None), ["id", "v"]);
    let new = RowMeta::inserted(head(4, None), ["v", "id", "z"]);
    let (old_bytes, new_bytes) = (
        encode_meta(&old, &generations),
        encode_meta(&new, &generations),
    );
    assert!(
        old_bytes.len() <= 32 && old_bytes[0] == 0x93,
        "{old_bytes:?}"
    );
    assert_eq!(new_bytes[0], 0x94, "the short form with a generation");
    assert_eq!(decode_meta(&old_bytes, &generations), Ok(old));
    assert_eq!(decode_meta(&new_bytes, &generations), Ok(new));
    assert!(decode_meta(&new_bytes, &generations[..1]).is_err());
}

#[test]
fn every_other_state_keeps_its_full_form() {
    let generations = vec![names(&["id", "v"])];
    let base = || RowMeta::inserted(head(3, None), ["id", "v"]);
    let mut edited = base();
    edited.heads.push(head(4, Some(names(&["v"]))));
    let mut restamped = base();
    restamped.columns[1].1 = Stamp {
        hlc: 9,
        origin: DeviceId([1; 16]),
    };
    let mut deleted = base();
    deleted.deleted = true;
    deleted.heads[0].delete = true;
    deleted.tombstone = Some(vec![("v".into(), Value::Integer(1))]);
    let mut partial = base();
    partial.columns.pop();
    for meta in [edited, restamped, deleted, partial] {
        let bytes = encode_meta(&meta, &generations);
        assert_eq!(bytes[0], 0x97, "{meta:?}");
        assert_eq!(decode_meta(&bytes, &generations), Ok(meta));
    }
}

#[test]
fn a_format_1_state_reads_as_every_generation_0_column_carrying_live() {
    // [live, deleted, {"v": stamp}, [head], nil] as format 1 wrote it.
    let origin = DeviceId([2; 16]);
    let mut bytes = Vec::new();
    write::array_len(&mut bytes, 5);
    let stamp = |out: &mut Vec<u8>, hlc: u64| {
        write::array_len(out, 2);
        write::uint(out, hlc);
        write::device(out, &origin);
    };
    stamp(&mut bytes, 20);
    write::bool(&mut bytes, false);
    write::map_len(&mut bytes, 1);
    write::str(&mut bytes, "v");
    stamp(&mut bytes, 10);
    write::array_len(&mut bytes, 1);
    write::array_len(&mut bytes, 5);
    write::device(&mut bytes, &origin);
    write::uint(&mut bytes, 2);
    write::uint(&mut bytes, 20);
    write::bool(&mut bytes, false);
    write::array_len(&mut bytes, 1);
    write::str(&mut bytes, "w");
    write::nil(&mut bytes);
    let meta = decode_meta(&bytes, &[names(&["id", "v", "w"])]).expect("format 1");
    let live = Stamp { hlc: 20, origin };
    assert_eq!(meta.live, live);
    assert_eq!(
        meta.columns,
        vec![
            ("id".into(), live),
            ("v".into(), Stamp { hlc: 10, origin }),
            ("w".into(), live)
        ]
    );
    assert_eq!(meta.heads[0].dot, Dot::new(origin, 2));
    assert_eq!(meta.heads[0].columns, Some(names(&["w"])));
}

#[test]
fn keys_round_trip() {
    let key = vec![
        Value::Integer(-4),
        Value::Text("a b".into()),
        Value::Blob(vec![0]),
    ];
    let bytes = encode_key(key.iter().map(Value::as_ref));
    assert_eq!(decode_key(&bytes), Ok(key));
    assert!(decode_key(&bytes[..bytes.len() - 1]).is_err());
}
