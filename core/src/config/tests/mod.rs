//! Tests of `helper.conf` as a whole: real files from upstream and the seed lab, upstream's
//! test expectations, every validation message, both syntaxes, malformed input, repeated
//! keys and the `jwt_svids` block form.

mod effective;
mod env;
mod files;
mod hcl_syntax;
mod json_and_malformed;
mod repeated_and_blocks;
mod validation;
mod x509_svids;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

pub(super) use super::*;

pub(super) const UPSTREAM_HELPER: &str =
    include_str!("../../../testdata/config/upstream-helper.conf");
pub(super) const UPSTREAM_TESTDATA: &str =
    include_str!("../../../testdata/config/upstream-testdata-helper.conf");
pub(super) const UPSTREAM_MYSQL: &str =
    include_str!("../../../testdata/config/upstream-examples-mysql-helper.conf");
pub(super) const UPSTREAM_POSTGRES: &str =
    include_str!("../../../testdata/config/upstream-examples-postgresql-helper.conf");
pub(super) const UPSTREAM_MOSQUITTO: &str =
    include_str!("../../../testdata/config/upstream-examples-mosquitto-helper.conf");
pub(super) const UPSTREAM_IT_MYSQL: &str =
    include_str!("../../../testdata/config/upstream-integration-mysql-helper.conf");
pub(super) const UPSTREAM_GO_SERVER: &str =
    include_str!("../../../testdata/config/upstream-it-go-server-helper.conf");
pub(super) const LAB_SERVER: &str =
    include_str!("../../../testdata/config/lab-04-server-helper.conf");
pub(super) const LAB_CLIENT: &str =
    include_str!("../../../testdata/config/lab-04-client-helper.conf");

pub(super) fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("{e}\n--- input ---\n{text}"),
    }
}

pub(super) fn err(text: &str) -> SyntaxError {
    match parse(text) {
        Ok(c) => panic!("expected an error, got {c:?}\n--- input ---\n{text}"),
        Err(e) => e,
    }
}

pub(super) fn validated(text: &str) -> (Validated, Vec<Warning>) {
    ok(text)
        .validate(None, None)
        .unwrap_or_else(|e| panic!("{e}"))
}

pub(super) fn invalid(text: &str) -> String {
    match ok(text).validate(None, None) {
        Ok(v) => panic!("expected a validation error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

pub(super) const TRIO: &str = "svid_file_name = \"s.pem\"\nsvid_key_file_name = \"k.pem\"\n\
                    svid_bundle_file_name = \"b.pem\"\n";
