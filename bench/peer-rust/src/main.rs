//! Minimal fetch-and-write peer on rust-spiffe:
//! `peer-rust-spiffe [--watch N | --jwt N] <unix:socket> <dir>`.
//! Default: fetches the X.509 context once and writes svid.pem (chain), svid_key.pem (PKCS#8)
//! and svid_bundle.pem (own trust domain's roots first, then every federated one by name),
//! each via a temporary file, an fsync and a rename, as spiffe-helper does.
//! `--watch N`: the same for each of the first N contexts of the X.509 context stream,
//! printing `written <serial-hex> <unix-ns>` once the third file is renamed; then it idles
//! until killed, so that its CPU time and peak RSS can be read.
//! `--jwt N`: fetches one JWT-SVID per audience `aud-<i>` in turn and writes each token to
//! `jwt-<i>` the same way.
use base64::Engine;
use futures::StreamExt;
use spiffe::{WorkloadApiClient, X509Context};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

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

/// Writes the three files of one context; returns the leaf's DER.
fn write_x509(dir: &str, ctx: &X509Context) -> Vec<u8> {
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
    svid.leaf().as_bytes().to_vec()
}

/// The serial as the agent prints it: upper-case hex of its bytes, no leading zero byte.
fn serial_hex(leaf_der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(leaf_der).expect("leaf parses");
    let raw = cert.raw_serial();
    let start = raw.iter().position(|&b| b != 0).unwrap_or(raw.len() - 1);
    raw[start..].iter().map(|b| format!("{b:02X}")).collect()
}

fn fail(what: &str, e: impl std::fmt::Display, code: i32) -> ! {
    eprintln!("{what}: {e}");
    std::process::exit(code)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, count, rest) = match args.first().map(String::as_str) {
        Some(flag @ ("--watch" | "--jwt")) => {
            let n: usize = args[1].parse().expect("a count");
            (flag, n, &args[2..])
        }
        _ => ("", 0, &args[..]),
    };
    let (endpoint, dir) = (&rest[0], &rest[1]);
    let client = WorkloadApiClient::connect_to(endpoint)
        .await
        .unwrap_or_else(|e| fail("connect", e, 2));
    match mode {
        "--watch" => {
            let mut stream = client
                .stream_x509_contexts()
                .await
                .unwrap_or_else(|e| fail("stream_x509_contexts", e, 3));
            for _ in 0..count {
                let ctx = match stream.next().await {
                    Some(Ok(ctx)) => ctx,
                    Some(Err(e)) => fail("stream_x509_contexts", e, 3),
                    None => fail("stream_x509_contexts", "stream ended", 3),
                };
                let leaf = write_x509(dir, &ctx);
                let ns = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
                println!("written {} {}", serial_hex(&leaf), ns.as_nanos());
            }
            drop(stream);
            std::future::pending::<()>().await;
        }
        "--jwt" => {
            for i in 0..count {
                let svid = client
                    .fetch_jwt_svid([format!("aud-{i}")], None)
                    .await
                    .unwrap_or_else(|e| fail("fetch_jwt_svid", e, 3));
                write(dir, &format!("jwt-{i}"), svid.token().as_bytes(), 0o600);
            }
        }
        _ => {
            let ctx = client
                .fetch_x509_context()
                .await
                .unwrap_or_else(|e| fail("fetch_x509_context", e, 3));
            write_x509(dir, &ctx);
        }
    }
}
