//! Differential test against Python's `hpack` package, driven by `scripts/hpack_oracle.py`:
//! the script writes blocks encoded by Python with the fields they carry, this test decodes
//! them and writes our own encoding of the same fields for the script to decode.

use std::string::String;
use std::vec::Vec;
use std::{env, fs};

use super::{Decoder, Field, encode_field};

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| std::format!("{b:02x}")).collect()
}

/// Checks one block and appends our encoding of its fields to `encoded`.
fn check(decoder: &mut Decoder, block: &[u8], fields: &[Field], encoded: &mut String) {
    assert_eq!(
        decoder.decode(block).as_deref(),
        Ok(fields),
        "block {}",
        hex(block)
    );
    let mut ours = Vec::new();
    for field in fields {
        encode_field(&mut ours, &field.name, &field.value);
    }
    encoded.push_str(&hex(&ours));
    encoded.push('\n');
}

#[test]
#[ignore = "needs vectors from scripts/hpack_oracle.py"]
fn python_oracle() {
    let vectors = env::var("HPACK_ORACLE_VECTORS").expect("HPACK_ORACLE_VECTORS");
    let out = env::var("HPACK_ORACLE_ENCODED").expect("HPACK_ORACLE_ENCODED");
    let text = fs::read_to_string(vectors).unwrap();
    let mut encoded = String::new();
    let mut decoder = Decoder::new(4096, 1 << 20);
    let mut block: Option<Vec<u8>> = None;
    let mut fields = Vec::new();
    let mut blocks = 0;
    for line in text.lines() {
        let mut words = line.split(' ');
        let kind = words.next().unwrap();
        let first = words.next().unwrap_or("");
        let second = words.next().unwrap_or("");
        if kind == "field" {
            fields.push(Field {
                name: unhex(first),
                value: unhex(second),
            });
            continue;
        }
        if let Some(previous) = block.take() {
            check(&mut decoder, &previous, &fields, &mut encoded);
            blocks += 1;
        }
        fields.clear();
        match kind {
            "connection" => decoder = Decoder::new(first.parse().unwrap(), 1 << 20),
            "block" => block = Some(unhex(first)),
            other => panic!("unknown line kind {other}"),
        }
    }
    if let Some(previous) = block.take() {
        check(&mut decoder, &previous, &fields, &mut encoded);
        blocks += 1;
    }
    fs::write(out, encoded).unwrap();
    std::println!("{blocks} blocks from Python's hpack decoded");
}
