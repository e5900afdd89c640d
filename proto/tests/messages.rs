//! Wire-format checks of the generated types against bytes from the Workload API spec
//! (`proto/workload.proto`): JWT-SVID requests, empty requests, the bundles maps.

use prost::Message;
use prost_types::{Struct, Value, value::Kind};
use svid_proto::{
    JwtBundlesResponse, JwtsvidRequest, ValidateJwtsvidResponse, X509BundlesResponse,
    X509svidRequest, X509svidResponse, path,
};

/// FetchJWTSVID with `audience=["reports"]`: the gRPC payload after the 5-byte prefix (§2.3).
const JWT_REQUEST_REPORTS: [u8; 9] = [0x0a, 0x07, b'r', b'e', b'p', b'o', b'r', b't', b's'];

#[test]
fn jwt_svid_request_matches_spec_bytes() {
    let request = JwtsvidRequest {
        audience: vec!["reports".into()],
        spiffe_id: String::new(),
    };
    assert_eq!(request.encode_to_vec(), JWT_REQUEST_REPORTS);
    assert_eq!(
        JwtsvidRequest::decode(&JWT_REQUEST_REPORTS[..]).unwrap(),
        request
    );
}

#[test]
fn jwt_svid_request_with_spiffe_id_uses_field_2() {
    let request = JwtsvidRequest {
        audience: vec!["reports".into()],
        spiffe_id: "spiffe://ex.org/a".into(),
    };
    let mut expected = JWT_REQUEST_REPORTS.to_vec();
    expected.extend_from_slice(&[0x12, 17]);
    expected.extend_from_slice(b"spiffe://ex.org/a");
    assert_eq!(request.encode_to_vec(), expected);
}

#[test]
fn empty_requests_encode_to_nothing() {
    assert!(X509svidRequest {}.encode_to_vec().is_empty());
    assert_eq!(
        X509svidRequest::decode(&[][..]).unwrap(),
        X509svidRequest {}
    );
}

/// Map entry as a LEN sub-message: key is field 1, value field 2 (§1.4).
fn map_entry(field_tag: u8, key: &[u8], value: Option<&[u8]>) -> Vec<u8> {
    let mut entry = vec![0x0a, key.len() as u8];
    entry.extend_from_slice(key);
    if let Some(value) = value {
        entry.extend_from_slice(&[0x12, value.len() as u8]);
        entry.extend_from_slice(value);
    }
    let mut out = vec![field_tag, entry.len() as u8];
    out.extend(entry);
    out
}

#[test]
fn bundles_map_decodes_and_tolerates_missing_value_and_unknown_fields() {
    let mut wire = map_entry(0x12, b"spiffe://example.org", Some(&[0x30, 0x00]));
    wire.extend(map_entry(0x12, b"other.org", None));
    // Unknown fields of every wire type a newer agent might add: varint, i64, LEN, i32.
    wire.extend_from_slice(&[0x98, 0x06, 0x01]); // field 99, varint 1
    wire.extend_from_slice(&[0x99, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]); // field 99, i64
    wire.extend_from_slice(&[0x9a, 0x06, 0x02, 0xde, 0xad]); // field 99, LEN 2
    wire.extend_from_slice(&[0x9d, 0x06, 1, 2, 3, 4]); // field 99, i32
    let response = X509BundlesResponse::decode(&wire[..]).unwrap();
    assert!(response.crl.is_empty());
    let keys: Vec<&str> = response.bundles.keys().map(String::as_str).collect();
    assert_eq!(keys, ["other.org", "spiffe://example.org"]);
    assert_eq!(response.bundles["spiffe://example.org"], [0x30, 0x00]);
    assert!(response.bundles["other.org"].is_empty());
}

#[test]
fn repeated_map_key_last_entry_wins() {
    let mut wire = map_entry(0x0a, b"spiffe://td", Some(b"{}"));
    wire.extend(map_entry(0x0a, b"spiffe://td", Some(b"{\"keys\":[]}")));
    let response = JwtBundlesResponse::decode(&wire[..]).unwrap();
    assert_eq!(response.bundles.len(), 1);
    assert_eq!(response.bundles["spiffe://td"], b"{\"keys\":[]}");
}

#[test]
fn x509_svid_response_keeps_svid_order() {
    // Two X509SVID sub-messages (field 1) with only spiffe_id set, then a CRL (field 2).
    let mut wire = Vec::new();
    for id in [&b"spiffe://td/b"[..], b"spiffe://td/a"] {
        wire.extend_from_slice(&[0x0a, id.len() as u8 + 2, 0x0a, id.len() as u8]);
        wire.extend_from_slice(id);
    }
    wire.extend_from_slice(&[0x12, 0x01, 0x30]);
    let response = X509svidResponse::decode(&wire[..]).unwrap();
    let ids: Vec<&str> = response
        .svids
        .iter()
        .map(|s| s.spiffe_id.as_str())
        .collect();
    assert_eq!(ids, ["spiffe://td/b", "spiffe://td/a"]);
    assert_eq!(response.crl, [vec![0x30]]);
    assert_eq!(response.encode_to_vec(), wire);
}

#[test]
fn federated_bundles_read_the_map_encoding_as_slices_of_the_buffer() {
    // `map<string, bytes> federated_bundles = 3` as an agent encodes it: entries in field 3,
    // key 1, value 2 (one without a value), and a repeated key.
    let mut wire = map_entry(0x1a, b"spiffe://b.test", Some(&[0x30, 0x01, 0xbb]));
    wire.extend(map_entry(0x1a, b"spiffe://a.test", None));
    wire.extend(map_entry(
        0x1a,
        b"spiffe://b.test",
        Some(&[0x30, 0x01, 0xcc]),
    ));
    let buffer = prost::bytes::Bytes::from(wire.clone());
    let response = X509svidResponse::decode(buffer.clone()).unwrap();
    let entries: Vec<(&str, &[u8])> = response
        .federated_bundles
        .iter()
        .map(|e| (e.key.as_str(), &e.value[..]))
        .collect();
    assert_eq!(
        entries,
        [
            ("spiffe://b.test", &[0x30, 0x01, 0xbb][..]),
            ("spiffe://a.test", &[][..]),
            ("spiffe://b.test", &[0x30, 0x01, 0xcc][..]),
        ]
    );
    // Zero copy: each value points into the buffer it was decoded from.
    let range = buffer.as_ptr_range();
    for entry in response
        .federated_bundles
        .iter()
        .filter(|e| !e.value.is_empty())
    {
        assert!(range.contains(&entry.value.as_ptr()));
    }
    assert_eq!(response.encode_to_vec(), wire);
}

#[test]
fn known_field_with_wrong_wire_type_is_rejected() {
    // Field 1 (`crl`, bytes) sent as a varint.
    assert!(X509BundlesResponse::decode(&[0x08, 0x01][..]).is_err());
}

#[test]
fn validate_response_claims_struct_round_trips() {
    // claims = {"sub": "spiffe://td/w"} with Value.string_value (tag 0x1a), §1.3.
    let value = [&[0x1a, 13][..], b"spiffe://td/w"].concat();
    let entry = [&[0x0a, 3][..], b"sub", &[0x12, value.len() as u8], &value].concat();
    let claims = [&[0x0a, entry.len() as u8][..], &entry].concat();
    let wire = [
        &[0x0a, 13][..],
        b"spiffe://td/w",
        &[0x12, claims.len() as u8],
        &claims,
    ]
    .concat();

    let response = ValidateJwtsvidResponse::decode(&wire[..]).unwrap();
    assert_eq!(response.spiffe_id, "spiffe://td/w");
    let expected = Struct {
        fields: [(
            "sub".into(),
            Value {
                kind: Some(Kind::StringValue("spiffe://td/w".into())),
            },
        )]
        .into(),
    };
    assert_eq!(response.claims, Some(expected));
    assert_eq!(response.encode_to_vec(), wire);
}

#[test]
fn claims_number_value_is_a_double() {
    // Value.number_value: tag 0x11 (field 2, i64), little-endian IEEE 754; 1.0 = 3ff0...
    let wire = [0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f];
    let value = Value::decode(&wire[..]).unwrap();
    assert_eq!(value.kind, Some(Kind::NumberValue(1.0)));
}

#[test]
fn method_paths_name_every_rpc_of_the_service() {
    let proto = include_str!("../workload.proto");
    let paths = [
        path::FETCH_X509_SVID,
        path::FETCH_X509_BUNDLES,
        path::FETCH_JWT_SVID,
        path::FETCH_JWT_BUNDLES,
        path::VALIDATE_JWT_SVID,
        path::FETCH_WIT_SVID,
        path::FETCH_WIT_BUNDLES,
    ];
    let rpcs: Vec<&str> = proto
        .lines()
        .filter_map(|line| line.trim().strip_prefix("rpc "))
        .filter_map(|rest| rest.split('(').next())
        .collect();
    assert_eq!(rpcs.len(), paths.len());
    for (rpc, path) in rpcs.iter().zip(paths) {
        assert_eq!(path, format!("/SpiffeWorkloadAPI/{rpc}"));
    }
}
