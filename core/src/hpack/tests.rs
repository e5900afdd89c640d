//! Decoder and encoder tests with published vectors: RFC 7541 Appendix C and the header
//! blocks grpc-go sends (docs: workload-api-wire.md §2.3, §2.12).

use alloc::string::String;
use alloc::vec::Vec;

use super::table::STATIC_TABLE;
use super::{Decoder, Field, HpackError, encode_field};

/// Bytes from hex text; whitespace is ignored.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let pair = core::str::from_utf8(pair).unwrap();
            u8::from_str_radix(pair, 16).unwrap()
        })
        .collect()
}

fn fields(pairs: &[(&str, &str)]) -> Vec<Field> {
    pairs
        .iter()
        .map(|(name, value)| Field {
            name: name.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        })
        .collect()
}

/// Asserts the dynamic table holds `entries` (newest first) and has the given size.
fn assert_table(decoder: &Decoder, entries: &[(&str, &str)], size: usize) {
    let actual: Vec<Field> = (0..decoder.table.len())
        .filter_map(|i| decoder.table.get(i).cloned())
        .collect();
    assert_eq!(actual, fields(entries));
    assert_eq!(decoder.table.size(), size);
}

/// One block of a sequence: its bytes, the fields it decodes to, the table after it.
struct Step<'a> {
    block: &'a str,
    fields: &'a [(&'a str, &'a str)],
    table: &'a [(&'a str, &'a str)],
    table_size: usize,
}

fn run(decoder: &mut Decoder, steps: &[Step<'_>]) {
    for (i, step) in steps.iter().enumerate() {
        let decoded = decoder.decode(&hex(step.block));
        assert_eq!(decoded, Ok(fields(step.fields)), "block {i}");
        assert_table(decoder, step.table, step.table_size);
    }
}

fn decoder() -> Decoder {
    Decoder::new(4096, 16 * 1024)
}

#[test]
fn c_2_1_literal_with_indexing() {
    let mut d = decoder();
    let block = "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572";
    run(
        &mut d,
        &[Step {
            block,
            fields: &[("custom-key", "custom-header")],
            table: &[("custom-key", "custom-header")],
            table_size: 55,
        }],
    );
}

#[test]
fn c_2_2_literal_without_indexing() {
    let mut d = decoder();
    run(
        &mut d,
        &[Step {
            block: "040c 2f73 616d 706c 652f 7061 7468",
            fields: &[(":path", "/sample/path")],
            table: &[],
            table_size: 0,
        }],
    );
}

#[test]
fn c_2_3_literal_never_indexed() {
    let mut d = decoder();
    run(
        &mut d,
        &[Step {
            block: "1008 7061 7373 776f 7264 0673 6563 7265 74",
            fields: &[("password", "secret")],
            table: &[],
            table_size: 0,
        }],
    );
}

#[test]
fn c_2_4_indexed_field() {
    let mut d = decoder();
    run(
        &mut d,
        &[Step {
            block: "82",
            fields: &[(":method", "GET")],
            table: &[],
            table_size: 0,
        }],
    );
}

const C3_C4_FIELDS_1: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
];
const C3_C4_FIELDS_2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const C3_C4_FIELDS_3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const C3_C4_TABLE_1: &[(&str, &str)] = &[(":authority", "www.example.com")];
const C3_C4_TABLE_2: &[(&str, &str)] = &[
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];
const C3_C4_TABLE_3: &[(&str, &str)] = &[
    ("custom-key", "custom-value"),
    ("cache-control", "no-cache"),
    (":authority", "www.example.com"),
];

fn c3_c4_steps<'a>(blocks: [&'a str; 3]) -> [Step<'a>; 3] {
    [
        Step {
            block: blocks[0],
            fields: C3_C4_FIELDS_1,
            table: C3_C4_TABLE_1,
            table_size: 57,
        },
        Step {
            block: blocks[1],
            fields: C3_C4_FIELDS_2,
            table: C3_C4_TABLE_2,
            table_size: 110,
        },
        Step {
            block: blocks[2],
            fields: C3_C4_FIELDS_3,
            table: C3_C4_TABLE_3,
            table_size: 164,
        },
    ]
}

#[test]
fn c_3_requests_without_huffman() {
    let mut d = decoder();
    let steps = c3_c4_steps([
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ]);
    run(&mut d, &steps);
}

#[test]
fn c_4_requests_with_huffman() {
    let mut d = decoder();
    let steps = c3_c4_steps([
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ]);
    run(&mut d, &steps);
}

const DATE_21: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE_22: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOCATION: &str = "https://www.example.com";
const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

fn c5_c6_steps<'a>(blocks: [&'a str; 3]) -> [Step<'a>; 3] {
    [
        Step {
            block: blocks[0],
            fields: &[
                (":status", "302"),
                ("cache-control", "private"),
                ("date", DATE_21),
                ("location", LOCATION),
            ],
            table: &[
                ("location", LOCATION),
                ("date", DATE_21),
                ("cache-control", "private"),
                (":status", "302"),
            ],
            table_size: 222,
        },
        // `:status: 302` is evicted to make room for `:status: 307`.
        Step {
            block: blocks[1],
            fields: &[
                (":status", "307"),
                ("cache-control", "private"),
                ("date", DATE_21),
                ("location", LOCATION),
            ],
            table: &[
                (":status", "307"),
                ("location", LOCATION),
                ("date", DATE_21),
                ("cache-control", "private"),
            ],
            table_size: 222,
        },
        // Several entries are evicted while this block is decoded.
        Step {
            block: blocks[2],
            fields: &[
                (":status", "200"),
                ("cache-control", "private"),
                ("date", DATE_22),
                ("location", LOCATION),
                ("content-encoding", "gzip"),
                ("set-cookie", COOKIE),
            ],
            table: &[
                ("set-cookie", COOKIE),
                ("content-encoding", "gzip"),
                ("date", DATE_22),
            ],
            table_size: 215,
        },
    ]
}

#[test]
fn c_5_responses_without_huffman_and_eviction() {
    let mut d = Decoder::new(256, 16 * 1024);
    let steps = c5_c6_steps([
        "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31",
    ]);
    run(&mut d, &steps);
    assert_eq!(d.table.capacity(), 256);
}

#[test]
fn c_6_responses_with_huffman_and_eviction() {
    let mut d = Decoder::new(256, 16 * 1024);
    let steps = c5_c6_steps([
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ]);
    run(&mut d, &steps);
}

const GRPC_RESPONSE_HEADERS: &str = "88 5f 8b 1d 75 d0 62 0d 26 3d 4c 4d 65 64";
const GRPC_OK_TRAILERS: &str =
    "40 88 9a ca c8 b2 12 34 da 8f 01 30 40 89 9a ca c8 b5 25 42 07 31 7f 00";
const CONTENT_TYPE: (&str, &str) = ("content-type", "application/grpc");

/// Two RPCs on one grpc-go connection: the second response's `c0` is dynamic index 64,
/// then a trailers-only PERMISSION_DENIED whose `7f 00` literals (with incremental
/// indexing) name index 63: `grpc-status`, then, after that insertion, `grpc-message`.
#[test]
fn grpc_go_connection_sequence() {
    let mut d = decoder();
    run(
        &mut d,
        &[
            Step {
                block: GRPC_RESPONSE_HEADERS,
                fields: &[(":status", "200"), CONTENT_TYPE],
                table: &[CONTENT_TYPE],
                table_size: 60,
            },
            Step {
                block: GRPC_OK_TRAILERS,
                fields: &[("grpc-status", "0"), ("grpc-message", "")],
                table: &[("grpc-message", ""), ("grpc-status", "0"), CONTENT_TYPE],
                table_size: 60 + 44 + 44,
            },
            Step {
                block: "88 c0",
                fields: &[(":status", "200"), CONTENT_TYPE],
                table: &[("grpc-message", ""), ("grpc-status", "0"), CONTENT_TYPE],
                table_size: 148,
            },
            Step {
                block: "88 c0 7f 00 01 37 7f 00 8d a8 ea 1a 42 d4 93 27 d2 86 42 2d 2c 9f",
                fields: &[
                    (":status", "200"),
                    CONTENT_TYPE,
                    ("grpc-status", "7"),
                    ("grpc-message", "no identity issued"),
                ],
                table: &[
                    ("grpc-message", "no identity issued"),
                    ("grpc-status", "7"),
                    ("grpc-message", ""),
                    ("grpc-status", "0"),
                    CONTENT_TYPE,
                ],
                table_size: 148 + 62 + 44,
            },
        ],
    );
}

#[test]
fn grpc_go_trailers_only_as_first_block() {
    let mut d = decoder();
    let block = "88 5f 8b 1d 75 d0 62 0d 26 3d 4c 4d 65 64 40 88 9a ca c8 b2 12 34 da 8f 01 37
                 40 89 9a ca c8 b5 25 42 07 31 7f 8d a8 ea 1a 42 d4 93 27 d2 86 42 2d 2c 9f";
    assert_eq!(hex(block).len(), 51);
    run(
        &mut d,
        &[Step {
            block,
            fields: &[
                (":status", "200"),
                CONTENT_TYPE,
                ("grpc-status", "7"),
                ("grpc-message", "no identity issued"),
            ],
            table: &[
                ("grpc-message", "no identity issued"),
                ("grpc-status", "7"),
                CONTENT_TYPE,
            ],
            table_size: 62 + 44 + 60,
        }],
    );
}

/// A client that advertised HEADER_TABLE_SIZE=0: grpc-go opens with a size update to 0 and
/// then only sends literals without indexing.
#[test]
fn grpc_go_with_table_size_zero() {
    let mut d = Decoder::new(0, 16 * 1024);
    run(
        &mut d,
        &[
            Step {
                block: "20 88 0f 10 8b 1d 75 d0 62 0d 26 3d 4c 4d 65 64",
                fields: &[(":status", "200"), CONTENT_TYPE],
                table: &[],
                table_size: 0,
            },
            Step {
                block: "00 88 9a ca c8 b2 12 34 da 8f 01 30 00 89 9a ca c8 b5 25 42 07 31 7f 00",
                fields: &[("grpc-status", "0"), ("grpc-message", "")],
                table: &[],
                table_size: 0,
            },
        ],
    );
}

const REQUEST_FIELDS: &[(&str, &str)] = &[
    (":method", "POST"),
    (":scheme", "http"),
    (":path", "/SpiffeWorkloadAPI/FetchX509SVID"),
    (":authority", "localhost"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
    ("user-agent", "spiffe-rs/0.1"),
    ("workload.spiffe.io", "true"),
];

/// The FetchX509SVID request block of workload-api-wire.md §2.3, checked there with the Go
/// decoder.
const REQUEST_BLOCK: &str = "
    83 86 04 20 2f 53 70 69 66 66 65 57 6f 72 6b 6c 6f 61 64 41 50 49 2f 46 65 74 63 68 58 35 30 39
    53 56 49 44 01 09 6c 6f 63 61 6c 68 6f 73 74 0f 10 10 61 70 70 6c 69 63 61 74 69 6f 6e 2f 67 72
    70 63 00 02 74 65 08 74 72 61 69 6c 65 72 73 0f 2b 0d 73 70 69 66 66 65 2d 72 73 2f 30 2e 31 00
    12 77 6f 72 6b 6c 6f 61 64 2e 73 70 69 66 66 65 2e 69 6f 04 74 72 75 65";

#[test]
fn encode_request_block_byte_exact() {
    let mut out = Vec::new();
    for (name, value) in REQUEST_FIELDS {
        encode_field(&mut out, name.as_bytes(), value.as_bytes());
    }
    assert_eq!(out.len(), 120);
    assert_eq!(out, hex(REQUEST_BLOCK));
    // Decoded back, and nothing entered the dynamic table.
    let mut d = decoder();
    assert_eq!(d.decode(&out), Ok(fields(REQUEST_FIELDS)));
    assert_table(&d, &[], 0);
}

#[test]
fn encode_uses_first_static_match() {
    let mut out = Vec::new();
    encode_field(&mut out, b":status", b"404");
    encode_field(&mut out, b":status", b"418");
    encode_field(&mut out, b"www-authenticate", b"");
    assert_eq!(out, hex("8d 08 03 34 31 38 bd"));
}

#[test]
fn encode_long_strings_round_trip() {
    let name = "x-long-name-".repeat(20);
    let value: String = (0..300u32)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let mut out = Vec::new();
    encode_field(&mut out, name.as_bytes(), value.as_bytes());
    // New name: 0x00, then length 240 as 7f 71, then length 300 as 7f ad 01.
    assert_eq!(out.get(..3), Some(&[0x00, 0x7f, 0x71][..]));
    assert_eq!(out.get(243..246), Some(&[0x7f, 0xad, 0x01][..]));
    let mut d = decoder();
    assert_eq!(d.decode(&out), Ok(fields(&[(&name, &value)])));
}

#[test]
fn every_static_entry_round_trips() {
    let mut out = Vec::new();
    for (name, value) in STATIC_TABLE {
        encode_field(&mut out, name, value);
    }
    // Every entry is indexed: one byte each, 0x81..=0xbd.
    assert_eq!(out, (0x81..=0xbd).collect::<Vec<u8>>());
    let decoded = decoder().decode(&out).unwrap();
    let expected: Vec<Field> = STATIC_TABLE
        .iter()
        .map(|(name, value)| Field {
            name: name.to_vec(),
            value: value.to_vec(),
        })
        .collect();
    assert_eq!(decoded, expected);
}

#[test]
fn entry_larger_than_table_empties_it() {
    let mut d = Decoder::new(100, 16 * 1024);
    d.decode(&hex("40 01 61 01 62")).unwrap();
    assert_table(&d, &[("a", "b")], 34);
    // 40 + 35 + 32 = 107 > 100: the table is emptied and the field is not added, but it
    // is still part of the header list.
    let mut block = hex("40 28");
    block.extend_from_slice(&[b'n'; 40]);
    block.push(35);
    block.extend_from_slice(&[b'v'; 35]);
    let decoded = d.decode(&block).unwrap();
    assert_eq!(decoded.len(), 1);
    assert_table(&d, &[], 0);
}

#[test]
fn size_updates_evict_and_may_repeat() {
    let mut d = decoder();
    run(
        &mut d,
        &[Step {
            block: GRPC_RESPONSE_HEADERS,
            fields: &[(":status", "200"), CONTENT_TYPE],
            table: &[CONTENT_TYPE],
            table_size: 60,
        }],
    );
    // Two updates at the start of one block (RFC 7541 §4.2): down to 0, then to 4096.
    assert_eq!(
        d.decode(&hex("20 3f e1 1f 88")),
        Ok(fields(&[(":status", "200")]))
    );
    assert_table(&d, &[], 0);
    assert_eq!(d.table.capacity(), 4096);
    // The dynamic entry is gone.
    assert_eq!(d.decode(&hex("be")), Err(HpackError::InvalidIndex(62)));
}

#[test]
fn header_list_limit_is_inclusive() {
    // `:method: GET` counts 7 + 3 + 32 = 42.
    assert_eq!(
        Decoder::new(4096, 42).decode(&hex("82")),
        Ok(fields(&[(":method", "GET")]))
    );
    assert_eq!(
        Decoder::new(4096, 41).decode(&hex("82")),
        Err(HpackError::HeaderListTooLarge)
    );
    assert_eq!(
        Decoder::new(4096, 83).decode(&hex("82 82")),
        Err(HpackError::HeaderListTooLarge)
    );
}

/// Repeated one-byte references to a large dynamic entry stop at the limit instead of
/// copying the entry again and again.
#[test]
fn repeated_references_hit_header_list_limit() {
    let mut d = Decoder::new(4096, 8192);
    let mut block = hex("40 01 61 7f 81 1e");
    block.extend_from_slice(&[b'v'; 4000]);
    block.extend_from_slice(&[0xbe; 10_000]);
    assert_eq!(d.decode(&block), Err(HpackError::HeaderListTooLarge));
}

#[test]
fn error_integer_overflow() {
    assert_eq!(
        decoder().decode(&hex("ff 80 80 80 80 80 01")),
        Err(HpackError::IntegerOverflow)
    );
    assert_eq!(
        decoder().decode(&hex("00 7f ff ff ff ff 7f")),
        Err(HpackError::IntegerOverflow)
    );
}

#[test]
fn error_truncated() {
    for block in [
        "ff",
        "7f 80",
        "40",
        "40 0a 63 75",
        "00 01 61",
        "00 01 61 82 ff",
        "3f",
    ] {
        assert_eq!(
            decoder().decode(&hex(block)),
            Err(HpackError::Truncated),
            "{block}"
        );
    }
}

#[test]
fn error_invalid_index() {
    assert_eq!(
        decoder().decode(&hex("80")),
        Err(HpackError::InvalidIndex(0))
    );
    assert_eq!(
        decoder().decode(&hex("be")),
        Err(HpackError::InvalidIndex(62))
    );
    // Literal with a dynamic name index past the end: 6-bit prefix, 63 + 7 = 70.
    assert_eq!(
        decoder().decode(&hex("7f 07 01 61")),
        Err(HpackError::InvalidIndex(70))
    );
    // 4-bit prefix (never indexed), index 62 on an empty table.
    assert_eq!(
        decoder().decode(&hex("1f 2f 01 61")),
        Err(HpackError::InvalidIndex(62))
    );
}

#[test]
fn error_huffman_eos() {
    // Value: 30 one bits (EOS) followed by 2 bits of padding.
    assert_eq!(
        decoder().decode(&hex("00 01 61 84 ff ff ff ff")),
        Err(HpackError::HuffmanEos)
    );
}

#[test]
fn error_huffman_padding() {
    // '0' is the 5-bit code 00000: three bits of padding must be ones.
    assert_eq!(
        decoder().decode(&hex("00 01 61 81 07")),
        Ok(fields(&[("a", "0")]))
    );
    assert_eq!(
        decoder().decode(&hex("00 01 61 81 06")),
        Err(HpackError::HuffmanPadding)
    );
    // A whole byte of padding (8 one bits) is too long.
    assert_eq!(
        decoder().decode(&hex("00 01 61 82 07 ff")),
        Err(HpackError::HuffmanPadding)
    );
}

#[test]
fn error_size_update_too_large() {
    // 4097 = 31 + 4066 with a 5-bit prefix.
    assert_eq!(
        decoder().decode(&hex("3f e2 1f")),
        Err(HpackError::SizeUpdateTooLarge)
    );
    assert_eq!(decoder().decode(&hex("3f e1 1f")), Ok(Vec::new()));
    assert_eq!(
        Decoder::new(0, 1024).decode(&hex("21")),
        Err(HpackError::SizeUpdateTooLarge)
    );
}

#[test]
fn error_size_update_not_first() {
    assert_eq!(
        decoder().decode(&hex("82 20")),
        Err(HpackError::SizeUpdateNotFirst)
    );
}

#[test]
fn error_string_too_long() {
    let mut d = Decoder::new(4096, 8);
    assert_eq!(
        d.decode(&hex("00 09 61 61 61 61 61 61 61 61 61")),
        Err(HpackError::StringTooLong)
    );
    // Huffman: 6 bytes that decode to 9 bytes ("www.examp" ...).
    assert_eq!(
        Decoder::new(4096, 8).decode(&hex("00 01 61 8c f1 e3 c2 e5 f2 3a 6b a0 ab 90 f4 ff")),
        Err(HpackError::StringTooLong)
    );
}

#[test]
fn errors_display_their_cause() {
    use alloc::string::ToString;
    assert_eq!(
        HpackError::InvalidIndex(70).to_string(),
        "HPACK index 70 is not in the table"
    );
    assert_eq!(
        HpackError::SizeUpdateNotFirst.to_string(),
        "dynamic table size update after a header field"
    );
}
