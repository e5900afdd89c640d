//! Differential: the JOSE JSON builder (`jwt::json`, over the shared tokenizer `json::lexer`)
//! against `serde_json`. A document serde_json reads as an object, we read to the same members
//! (the last of duplicates wins, `null` counts as absent), unless it nests deeper than
//! `MAX_JSON_DEPTH`, which we refuse as too deep. A document we accept, serde_json accepts too,
//! but for numbers beyond `f64`'s range: serde_json refuses them, we read them as infinities.
//! Numbers compare exactly: serde_json's `float_roundtrip` feature makes its parser correctly
//! rounded, as ours (Rust's `f64::from_str`) and Go's `strconv.ParseFloat` are.
//!
//! Input: the document.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use serde_json::Value as Theirs;
use svid_core::jwt::json::{Value, member, parse_object};
use svid_core::jwt::{JsonErrorKind, MAX_JSON_DEPTH};

fuzz_target!(|data: &[u8]| {
    let ours = parse_object(data);
    match serde_json::from_slice::<Theirs>(data) {
        Ok(theirs) if depth(&theirs) > MAX_JSON_DEPTH => {
            assert_eq!(ours.expect_err("too deep").kind, JsonErrorKind::TooDeep);
        }
        Ok(theirs @ Theirs::Object(_)) => {
            let members = ours.expect("serde_json reads this object");
            let Theirs::Object(map) = &theirs else {
                unreachable!()
            };
            for (name, value) in map {
                match member(&members, name) {
                    None => assert!(value.is_null(), "{name:?} missing"),
                    Some(ours) => assert!(same(ours, value), "{name:?}: {ours:?} != {value:?}"),
                }
            }
            assert!(same(&Value::Object(members), &theirs));
        }
        Ok(_) => assert_eq!(
            ours.expect_err("not an object").kind,
            JsonErrorKind::NotAnObject
        ),
        Err(e) => {
            if let Ok(members) = ours {
                assert!(
                    !members.iter().all(|(_, v)| finite(v)),
                    "serde_json refuses what we accept: {e}"
                );
            }
        }
    }
});

/// Nesting of arrays and objects, counted as our builder counts it (a top-level object is 1).
fn depth(v: &Theirs) -> usize {
    match v {
        Theirs::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Theirs::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn finite(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_finite(),
        Value::Array(items) => items.iter().all(finite),
        Value::Object(members) => members.iter().all(|(_, v)| finite(v)),
        _ => true,
    }
}

/// The same JSON value; objects have the same names, each with the last of its values.
fn same(ours: &Value, theirs: &Theirs) -> bool {
    match (ours, theirs) {
        (Value::Null, Theirs::Null) => true,
        (Value::Bool(a), Theirs::Bool(b)) => a == b,
        (Value::Number(a), Theirs::Number(b)) => b.as_f64() == Some(*a),
        (Value::String(a), Theirs::String(b)) => a == b,
        (Value::Array(a), Theirs::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Object(a), Theirs::Object(b)) => {
            let names: BTreeSet<&str> = a.iter().map(|(k, _)| k.as_str()).collect();
            names.len() == b.len()
                && b.iter().all(|(k, v)| {
                    a.iter()
                        .rev()
                        .find(|(name, _)| name == k)
                        .is_some_and(|(_, ours)| same(ours, v))
                })
        }
        _ => false,
    }
}
