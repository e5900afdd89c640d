//! Minimal fetch-and-write peer on rust-spiffe: `peer-rust-spiffe <unix:socket> <dir>`.
//! Fetches the X.509 context once and writes svid.pem (chain), svid_key.pem (PKCS#8) and
//! svid_bundle.pem (own trust domain's roots first, then every federated one by name),
//! each via a temporary file and a rename, as spiffe-helper does.
use base64::Engine;
use std::io::Write;

fn pem(out: &mut Vec<u8>, label: &str, der: &[u8]) {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    writeln!(out, "-----BEGIN {label}-----").unwrap();
    for line in b64.as_bytes().chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    writeln!(out, "-----END {label}-----").unwrap();
}

fn write(dir: &str, name: &str, data: &[u8], mode: u32) {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = format!("{dir}/.{name}.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .unwrap();
    f.write_all(data).unwrap();
    f.sync_all().unwrap();
    std::fs::rename(&tmp, format!("{dir}/{name}")).unwrap();
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (endpoint, dir) = (&args[1], &args[2]);
    let client = match spiffe::WorkloadApiClient::connect_to(endpoint).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("connect: {e}");
            std::process::exit(2)
        }
    };
    let ctx = match client.fetch_x509_context().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fetch_x509_context: {e}");
            std::process::exit(3)
        }
    };
    let svid = ctx.default_svid().expect("no SVID");
    let mut chain = Vec::new();
    for c in svid.cert_chain() {
        pem(&mut chain, "CERTIFICATE", c.as_bytes());
    }
    let mut key = Vec::new();
    pem(&mut key, "PRIVATE KEY", svid.private_key().as_bytes());
    let own = svid.spiffe_id().trust_domain();
    let mut bundles: Vec<_> = ctx.bundle_set().iter().collect();
    bundles.sort_by_key(|(td, _)| (*td != own, td.to_string()));
    let mut bundle = Vec::new();
    for (_, b) in bundles {
        for c in b.authorities() {
            pem(&mut bundle, "CERTIFICATE", c.as_bytes());
        }
    }
    write(dir, "svid.pem", &chain, 0o644);
    write(dir, "svid_key.pem", &key, 0o600);
    write(dir, "svid_bundle.pem", &bundle, 0o644);
}
