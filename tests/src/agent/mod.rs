//! `svid-dev-agent`: a development SPIFFE Workload API server built on tonic/h2/tokio and
//! rcgen, a peer independent of our own client code. It serves on a Unix socket, rotates
//! SVIDs on a timer and reports what it issues on stdout (`listening <socket>` per socket,
//! then `x509 <serial-hex> <spiffe-id> notafter=<unix>` per SVID, `sent <serial-hex>
//! <unix-ns>` once a rotated SVID is handed to the streams, and `jwt <token>` per JWT-SVID
//! signed). `--workload PATH=ID` adds sockets serving other identities from the same CA;
//! `--tcp IP:PORT` serves the main identity on TCP too (`listening tcp://IP:PORT`).

pub mod ca;
pub mod jwt;
pub mod options;
pub mod service;
pub mod stall;

use crate::pb::spiffe_workload_api_server::SpiffeWorkloadApiServer;
use crate::pb::{X509svid, X509svidResponse};
use ca::{Authority, IssuedSvid};
use options::Options;
use service::{JwtDomain, WorkloadApi};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};

/// Why the agent stopped with an error.
#[derive(Debug)]
pub enum AgentError {
    /// rcgen failed to make a key or certificate.
    Certificate(rcgen::Error),
    /// A JWT signing key could not be made.
    JwtKey(jwt::JwtKeyError),
    /// Something other than a socket is in the way of `--socket`.
    NotASocket(PathBuf),
    /// A file-system or socket operation failed.
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The gRPC server failed.
    Serve(tonic::transport::Error),
    /// A server task panicked or was cancelled.
    ServerTask(tokio::task::JoinError),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Certificate(e) => write!(f, "issuing a certificate: {e}"),
            Self::JwtKey(e) => write!(f, "{e}"),
            Self::NotASocket(p) => {
                write!(
                    f,
                    "{} exists and is not a socket; not removing it",
                    p.display()
                )
            }
            Self::Io {
                action,
                path,
                source,
            } => write!(f, "{action} {}: {source}", path.display()),
            Self::Serve(e) => write!(f, "serving the Workload API: {e}"),
            Self::ServerTask(e) => write!(f, "serving the Workload API: {e}"),
        }
    }
}

impl std::error::Error for AgentError {}

impl From<rcgen::Error> for AgentError {
    fn from(e: rcgen::Error) -> Self {
        Self::Certificate(e)
    }
}

/// The Workload API service behind the security-header check, ready to serve.
fn router(service: WorkloadApi) -> tonic::transport::server::Router {
    tonic::transport::Server::builder().add_service(SpiffeWorkloadApiServer::with_interceptor(
        service,
        service::check_security_header,
    ))
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> AgentError {
    let path = path.to_owned();
    move |source| AgentError::Io {
        action,
        path,
        source,
    }
}

/// Runs the agent until SIGINT/SIGTERM (then removes the socket and returns `Ok`) or until
/// `--exit-after-updates` ends the process.
pub async fn run(options: Options) -> Result<(), AgentError> {
    let now = OffsetDateTime::now_utc();
    let mut authority = Authority::new(
        &options.trust_domain,
        options.intermediate,
        options.ttl,
        now,
    )?;
    let own_id = format!("spiffe://{}", options.trust_domain);
    let mut federated = HashMap::new();
    let own_key = match options.jwt_ed25519 {
        true => jwt::JwtAuthority::generate_ed25519(),
        false => jwt::JwtAuthority::generate(),
    };
    let mut jwt_domains = vec![JwtDomain {
        id: own_id.clone(),
        authority: own_key.map_err(AgentError::JwtKey)?,
    }];
    for td in &options.federate {
        let root = Authority::new(td, false, options.ttl, now)?;
        federated.insert(format!("spiffe://{td}"), root.root_der().to_vec());
        jwt_domains.push(JwtDomain {
            id: format!("spiffe://{td}"),
            authority: jwt::JwtAuthority::generate().map_err(AgentError::JwtKey)?,
        });
    }
    let ca_ttl = ca::CA_TTL.max(options.ttl.saturating_mul(2));
    federated.extend(ca::federated_roots(options.federate_count, ca_ttl, now)?);
    if let Some(dir) = &options.out_dir {
        let path = dir.join("ca.pem");
        std::fs::write(&path, pem_certificate(authority.root_der()))
            .map_err(io_error("writing", &path))?;
    }

    // With --hinted, each response starts with a decoy (hint `first`) and the SVID has the
    // hint `other`, as in upstream's hint tests.
    let decoy_id = options.hinted.then(|| decoy_id(&options.trust_domain));
    let make_response = {
        // --foreign-bundle: the bundle is another CA's, so no SVID verifies against it.
        let bundle = if options.foreign_bundle {
            Authority::new(&options.trust_domain, false, options.ttl, now)?
                .root_der()
                .to_vec()
        } else {
            authority.root_der().to_vec()
        };
        let federated = federated.clone();
        move |svid: IssuedSvid, decoy: Option<IssuedSvid>, extras: Vec<(String, IssuedSvid)>| {
            let entry = |svid: IssuedSvid, hint: &str| X509svid {
                spiffe_id: svid.spiffe_id,
                x509_svid: svid.chain_der,
                x509_svid_key: svid.key_pkcs8,
                bundle: bundle.clone(),
                hint: hint.to_owned(),
            };
            let hint = if decoy.is_some() { "other" } else { "" };
            let svids = decoy
                .map(|d| entry(d, "first"))
                .into_iter()
                .chain([entry(svid, hint)])
                .chain(extras.into_iter().map(|(hint, svid)| entry(svid, &hint)))
                .collect();
            X509svidResponse {
                svids,
                crl: Vec::new(),
                federated_bundles: federated.clone(),
            }
        }
    };
    let issue_decoy = |authority: &mut Authority| {
        decoy_id
            .as_ref()
            .map(|id| authority.issue(id, options.ttl, OffsetDateTime::now_utc()))
            .transpose()
    };
    // --extra-svid: one more SVID per hint in every response, issued with the main one.
    let issue_extras = |authority: &mut Authority| {
        options
            .extra_svids
            .iter()
            .map(|(hint, id)| {
                let svid = authority.issue(id, options.ttl, OffsetDateTime::now_utc())?;
                Ok((hint.clone(), svid))
            })
            .collect::<Result<Vec<_>, AgentError>>()
    };
    let mut bundles = federated.clone();
    bundles.insert(own_id, authority.root_der().to_vec());
    let jwt_domains = Arc::new(jwt_domains);
    let stall_after = options.stall_after;
    let trickle = options.trickle;

    // The main socket, then one per --workload; each serves its own identity from one CA.
    let identities = std::iter::once((options.socket.clone(), options.spiffe_id.clone()))
        .chain(options.workloads.iter().cloned());
    let mut servers = JoinSet::new();
    let mut served = Vec::new();
    let mut first_issued = Vec::new();
    for (socket, spiffe_id) in identities {
        remove_stale_socket(&socket)?;
        let listener = UnixListener::bind(&socket).map_err(io_error("binding", &socket))?;
        let first = authority.issue(&spiffe_id, options.ttl, OffsetDateTime::now_utc())?;
        let decoy = issue_decoy(&mut authority)?;
        let extras = issue_extras(&mut authority)?;
        let response = make_response(first.clone(), decoy, extras);
        let (svid_tx, svid_rx) = watch::channel(Arc::new(response));
        let service = WorkloadApi::new(
            &options,
            spiffe_id.clone(),
            svid_rx,
            bundles.clone(),
            Arc::clone(&jwt_domains),
        );
        servers.spawn(
            router(service).serve_with_incoming(UnixListenerStream::new(listener).map(
                move |conn| {
                    conn.map(|stream| stall::StallableStream::new(stream, stall_after, trickle))
                },
            )),
        );
        first_issued.push(first);
        served.push((socket, spiffe_id, svid_tx));
    }
    let tcp = match options.tcp {
        Some(addr) => {
            let tcp_path = PathBuf::from(addr.to_string());
            let listener = TcpListener::bind(addr)
                .await
                .map_err(io_error("binding", &tcp_path))?;
            let bound = listener
                .local_addr()
                .map_err(io_error("binding", &tcp_path))?;
            // The main identity, from the main socket's stream of SVIDs.
            let service = WorkloadApi::new(
                &options,
                options.spiffe_id.clone(),
                served[0].2.subscribe(),
                bundles.clone(),
                Arc::clone(&jwt_domains),
            );
            servers.spawn(router(service).serve_with_incoming(TcpListenerStream::new(listener)));
            Some(bound)
        }
        None => None,
    };

    let mut sigterm = signal(SignalKind::terminate())
        .map_err(io_error("handling SIGTERM for", &options.socket))?;
    let mut sigint = signal(SignalKind::interrupt())
        .map_err(io_error("handling SIGINT for", &options.socket))?;
    for (socket, _, _) in &served {
        println!("listening {}", socket.display());
    }
    if let Some(bound) = tcp {
        println!("listening tcp://{bound}");
    }
    first_issued.iter().for_each(report_issued);

    let rotation = async {
        let Some(period) = options.rotate_every else {
            return std::future::pending::<Result<(), AgentError>>().await;
        };
        let mut ticker = tokio::time::interval(period);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            for (_, spiffe_id, svid_tx) in &served {
                let svid = authority.issue(spiffe_id, options.ttl, OffsetDateTime::now_utc())?;
                report_issued(&svid);
                let decoy = issue_decoy(&mut authority)?;
                let extras = issue_extras(&mut authority)?;
                let serial_hex = svid.serial_hex.clone();
                svid_tx.send_replace(Arc::new(make_response(svid, decoy, extras)));
                println!("{}", sent_line(&serial_hex, SystemTime::now()));
            }
        }
    };
    let server = async {
        match servers.join_next().await {
            Some(Ok(result)) => result.map_err(AgentError::Serve),
            Some(Err(e)) => Err(AgentError::ServerTask(e)),
            None => std::future::pending().await,
        }
    };

    let result = tokio::select! {
        r = server => r,
        r = rotation => r,
        _ = sigterm.recv() => Ok(()),
        _ = sigint.recv() => Ok(()),
    };
    // Best effort: a socket left behind is removed by the next agent anyway.
    for (socket, _, _) in &served {
        let _ = std::fs::remove_file(socket);
    }
    result
}

/// The SPIFFE ID of the decoy SVID `--hinted` puts first, as in upstream's hint tests.
pub fn decoy_id(trust_domain: &str) -> String {
    format!("spiffe://{trust_domain}/shouldnt/ever/get")
}

/// Prints the machine-readable line for one issued SVID.
fn report_issued(svid: &IssuedSvid) {
    println!(
        "x509 {} {} notafter={}",
        svid.serial_hex, svid.spiffe_id, svid.not_after
    );
}

/// The line printed right after a rotated SVID is handed to the streams: its serial and the
/// time (CLOCK_REALTIME, ns since the epoch), from which the benchmark measures how long a
/// client takes to have it on disk.
fn sent_line(serial_hex: &str, at: SystemTime) -> String {
    let ns = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("sent {serial_hex} {ns}")
}

/// Removes a socket file left by an earlier agent, as SPIRE does; refuses to remove anything
/// that is not a socket.
fn remove_stale_socket(path: &Path) -> Result<(), AgentError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(io_error("removing stale socket", path))
        }
        Ok(_) => Err(AgentError::NotASocket(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("inspecting", path)(e)),
    }
}

/// One PEM `CERTIFICATE` block (RFC 7468 §5.1), base64 in 64-character lines.
pub fn pem_certificate(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sent_line_is_serial_then_unix_nanoseconds() {
        let at = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(
            sent_line("06A1B2C3D4E5F6", at),
            "sent 06A1B2C3D4E5F6 1700000000123456789"
        );
    }
}
