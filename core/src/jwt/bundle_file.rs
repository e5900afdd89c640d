//! The JWT bundle file (`jwt_bundle_file_name`), byte for byte as upstream writes it
//! (`WriteJWTBundleSet`, `pkg/disk/json.go@v0.11.0`).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::Jwks;
use crate::json::write_go_string;
use crate::spiffe_id::TrustDomain;

/// The contents of the JWT bundle file: a JSON object mapping each trust-domain name (no
/// `spiffe://`) to the standard, padded base64 of that domain's [`Jwks::to_json`].
///
/// Upstream marshals a Go map, so the names are sorted (the `BTreeMap` order); there is no
/// whitespace and no trailing newline. Every bundle given is written, federated ones
/// included. Within one JWKS upstream's key order is random (a Go map); this keeps the
/// order of the document received. Every key [`Jwks::parse`] accepts is written: it keeps
/// every key type go-jose keeps and refuses the rest, so none is dropped silently.
pub fn render_bundle_file(bundles: &BTreeMap<TrustDomain, Jwks>) -> Vec<u8> {
    let mut out = Vec::from(&b"{"[..]);
    for (i, (trust_domain, jwks)) in bundles.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_go_string(trust_domain.as_str(), &mut out);
        out.extend_from_slice(b":\"");
        crate::pem::base64(&jwks.to_json(), &mut out);
        out.push(b'"');
    }
    out.push(b'}');
    out
}
