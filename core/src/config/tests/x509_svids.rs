//! `x509_svids` (ours): several identities, each picked by its hint, in list or block form,
//! HCL and JSON; validation of entries, hints and file names.

use alloc::format;
use alloc::vec;

use super::*;

const TRIO: &str = "svid_file_name = \"svid.pem\"\nsvid_key_file_name = \"svid_key.pem\"\n\
                    svid_bundle_file_name = \"svid_bundle.pem\"\n";

fn entry(hint: &str, credential: &str) -> X509SvidConfig {
    X509SvidConfig {
        hint: hint.into(),
        svid_file_name: format!("{hint}.pem"),
        svid_key_file_name: format!("{hint}_key.pem"),
        svid_bundle_file_name: format!("{hint}_bundle.pem"),
        svid_credential_bundle_file_name: credential.into(),
        pkcs12_keystore_file_name: String::new(),
        pkcs12_truststore_file_name: String::new(),
        unknown_keys: vec![],
    }
}

#[test]
fn entries_are_read_in_list_and_block_form_in_hcl_and_json() {
    let list = format!(
        "{TRIO}x509_svids = [\n  {{ hint = \"db\", svid_file_name = \"db.pem\", \
         svid_key_file_name = \"db_key.pem\", svid_bundle_file_name = \"db_bundle.pem\" }},\n  \
         {{ hint = \"web\", svid_file_name = \"web.pem\", svid_key_file_name = \"web_key.pem\",\n    \
         svid_bundle_file_name = \"web_bundle.pem\", \
         svid_credential_bundle_file_name = \"web.cred\" }}\n]\n"
    );
    let blocks = format!(
        "{TRIO}x509_svids {{\n  hint = \"db\"\n  svid_file_name = \"db.pem\"\n  \
         svid_key_file_name = \"db_key.pem\"\n  svid_bundle_file_name = \"db_bundle.pem\"\n}}\n\
         X509_SVIDS {{\n  Hint = \"web\"\n  svid_file_name = \"web.pem\"\n  \
         svid_key_file_name = \"web_key.pem\"\n  svid_bundle_file_name = \"web_bundle.pem\"\n  \
         svid_credential_bundle_file_name = \"web.cred\"\n}}\n"
    );
    let json = r#"{"svid_file_name": "svid.pem", "svid_key_file_name": "svid_key.pem",
        "svid_bundle_file_name": "svid_bundle.pem",
        "x509_svids": [{"hint": "db", "svid_file_name": "db.pem",
                        "svid_key_file_name": "db_key.pem", "svid_bundle_file_name": "db_bundle.pem"}],
        "x509_svids": {"hint": "web", "svid_file_name": "web.pem", "svid_key_file_name": "web_key.pem",
                       "svid_bundle_file_name": "web_bundle.pem",
                       "svid_credential_bundle_file_name": "web.cred"}}"#;
    for text in [list.as_str(), blocks.as_str(), json] {
        let (v, _) = validated(text);
        assert_eq!(
            v.config().x509_svids,
            [entry("db", ""), entry("web", "web.cred")],
            "{text}"
        );
        assert_eq!(v.config().svid_file_name, "svid.pem");
    }
}

#[test]
fn an_upstream_config_has_no_entries() {
    assert!(ok(UPSTREAM_HELPER).x509_svids.is_empty());
}

#[test]
fn entries_are_validated_with_messages_naming_the_entry() {
    let db = "{ hint = \"db\", svid_file_name = \"db.pem\", svid_key_file_name = \"db_key.pem\", \
              svid_bundle_file_name = \"db_bundle.pem\" }";
    let cases = [
        (
            format!("x509_svids = [{db}]\njwt_bundle_file_name = \"b.json\""),
            "x509_svids needs the X.509 files: set 'svid_file_name', 'svid_key_file_name' and \
             'svid_bundle_file_name' too"
                .to_string(),
        ),
        (
            format!("{TRIO}x509_svids = [{db}, {{ hint = \"x\", foo = 1, Bar = 2 }}]"),
            "unknown key(s) in x509_svids[1]: Bar,foo".into(),
        ),
        (
            format!("{TRIO}x509_svids = [{db}, {{ svid_file_name = \"x.pem\" }}]"),
            "'hint' is required in 'x509_svids[1]'".into(),
        ),
        (
            format!(
                "{TRIO}x509_svids = [{{ hint = \"x\", svid_file_name = \"x.pem\", svid_key_file_name = \"k\" }}]"
            ),
            "all of 'svid_file_name', 'svid_key_file_name', 'svid_bundle_file_name' must be \
             specified in 'x509_svids[0]'"
                .into(),
        ),
        (
            format!("{TRIO}x509_svids = [{db}, {db}]"),
            "x509_svids[1]: hint \"db\" is already used by another entry; each entry needs its \
             own hint"
                .into(),
        ),
        (
            format!(
                "{TRIO}x509_svids = [{{ hint = \"x\", svid_file_name = \"./svid.pem\", \
                 svid_key_file_name = \"k\", svid_bundle_file_name = \"b\" }}]"
            ),
            "x509_svids[0].svid_file_name \"./svid.pem\" is also the file of another output: \
             each file name must be unique"
                .into(),
        ),
        (
            format!(
                "{TRIO}x509_svids = [{{ hint = \"x\", svid_file_name = \"x.pem\", \
                 svid_key_file_name = \"k\", svid_bundle_file_name = \"b\", \
                 svid_credential_bundle_file_name = \"x.pem\" }}]"
            ),
            "x509_svids[0].svid_credential_bundle_file_name \"x.pem\" is also the file of \
             another output: each file name must be unique"
                .into(),
        ),
        (
            format!(
                "{TRIO}jwt_svids = [{{ jwt_audience = \"a\", jwt_svid_file_name = \"t.jwt\" }}]\n\
                 x509_svids = [{db}, {{ hint = \"x\", svid_file_name = \"x.pem\", \
                 svid_key_file_name = \"t.jwt\", svid_bundle_file_name = \"b\" }}]"
            ),
            "x509_svids[1].svid_key_file_name \"t.jwt\" is also the file of another output: \
             each file name must be unique"
                .into(),
        ),
        (
            format!(
                "{TRIO}x509_svids = [{db}, {{ hint = \"x\", svid_file_name = \"x.pem\", \
                 svid_key_file_name = \"k\", svid_bundle_file_name = \"db_bundle.pem\" }}]"
            ),
            "x509_svids[1].svid_bundle_file_name \"db_bundle.pem\" is also the file of another \
             output: each file name must be unique"
                .into(),
        ),
        (
            format!(
                "{TRIO}trust_bundle_dir = \"b\"\nx509_svids = [{{ hint = \"x\", svid_file_name = \"b/x.pem\", svid_key_file_name = \"k\", svid_bundle_file_name = \"c\" }}]"
            ),
            "trust_bundle_dir \"b\" must be a directory below cert_dir that holds no other \
             output file (the helper removes the files of trust domains that are gone)"
                .into(),
        ),
        (
            format!(
                "{TRIO}symlinked_layout = true\nx509_svids = [{{ hint = \"x\", svid_file_name = \"d/x.pem\", svid_key_file_name = \"k\", svid_bundle_file_name = \"c\" }}]"
            ),
            "symlinked_layout needs plain file names in cert_dir (no '/', not starting with \
             '..'): \"d/x.pem\""
                .into(),
        ),
    ];
    for (text, message) in cases {
        assert_eq!(invalid(&text), message, "{text}");
    }
}

#[test]
fn a_block_entry_with_a_list_value_is_a_type_error() {
    let e = err("x509_svids { hint = [\"a\"] }\n");
    assert_eq!(
        e.to_string(),
        "At 1:21: x509_svids[0].hint: expected string, found list"
    );
}
