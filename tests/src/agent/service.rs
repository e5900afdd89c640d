//! The `SpiffeWorkloadAPI` gRPC service of the development agent (tonic), with the status codes
//! and messages the SPIRE agent answers with and the fault knobs used by the tests.

use super::jwt::{self, JwtAuthority};
use super::options::Options;
use super::stall::StallSwitch;
use crate::pb::spiffe_workload_api_server::SpiffeWorkloadApi;
use crate::pb::{
    JwtBundlesRequest, JwtBundlesResponse, Jwtsvid, JwtsvidRequest, JwtsvidResponse,
    ValidateJwtsvidRequest, ValidateJwtsvidResponse, WitBundlesRequest, WitBundlesResponse,
    WitsvidRequest, WitsvidResponse, X509BundlesRequest, X509BundlesResponse, X509svidRequest,
    X509svidResponse,
};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

/// How long the agent lingers after its last allowed X.509 update before exiting, so that the
/// update leaves the socket first.
pub const EXIT_GRACE: Duration = Duration::from_millis(500);

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Rejects every call that does not carry exactly one `workload.spiffe.io: true` header,
/// with SPIRE's status and message.
pub fn check_security_header(request: Request<()>) -> Result<Request<()>, Status> {
    let mut values = request.metadata().get_all("workload.spiffe.io").iter();
    match (values.next(), values.next()) {
        (Some(value), None) if value.as_bytes() == b"true" => Ok(request),
        _ => Err(Status::invalid_argument(
            "security header missing from request",
        )),
    }
}

/// A trust domain's JWT signing key, keyed by its SPIFFE ID (`spiffe://td`).
pub struct JwtDomain {
    /// `spiffe://<td>`.
    pub id: String,
    /// The domain's signing key.
    pub authority: JwtAuthority,
}

/// State shared by every call.
pub struct WorkloadApi {
    spiffe_id: String,
    svids: watch::Receiver<Arc<X509svidResponse>>,
    x509_bundles: X509BundlesResponse,
    jwt_domains: Arc<Vec<JwtDomain>>,
    jwt_ttl: Duration,
    /// `--hinted`: the decoy's SPIFFE ID.
    decoy_id: Option<String>,
    /// `--jwt-subject`: the `sub` of every JWT-SVID instead of its SPIFFE ID.
    jwt_subject: Option<String>,
    /// `--jwt-padding`: bytes of the `pad` claim.
    jwt_padding: usize,
    deny_first: u64,
    x509_calls: AtomicU64,
    updates: Arc<UpdateBudget>,
}

/// Counts X.509 updates sent on all streams and ends the process after the last allowed one.
struct UpdateBudget {
    sent: AtomicU64,
    limit: Option<u64>,
}

impl UpdateBudget {
    fn record_one(&self) {
        let sent = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        if self.limit == Some(sent) {
            eprintln!("svid-dev-agent: sent {sent} X.509 updates, exiting");
            tokio::spawn(async {
                tokio::time::sleep(EXIT_GRACE).await;
                std::process::exit(0);
            });
        }
    }
}

impl WorkloadApi {
    /// Builds the service of one socket, serving `spiffe_id`, from the options. `bundles` maps
    /// `spiffe://td` to the root DER of the agent's own and every federated trust domain;
    /// `jwt_domains[0]` is the agent's own trust domain. `--deny-first` and
    /// `--exit-after-updates` count the calls and updates of this socket.
    pub fn new(
        options: &Options,
        spiffe_id: String,
        svids: watch::Receiver<Arc<X509svidResponse>>,
        bundles: HashMap<String, Vec<u8>>,
        jwt_domains: Arc<Vec<JwtDomain>>,
    ) -> Self {
        Self {
            spiffe_id,
            svids,
            x509_bundles: X509BundlesResponse {
                crl: Vec::new(),
                bundles,
            },
            jwt_domains,
            jwt_ttl: options.jwt_ttl,
            decoy_id: options
                .hinted
                .then(|| super::decoy_id(&options.trust_domain)),
            jwt_subject: options.jwt_subject.clone(),
            jwt_padding: usize::try_from(options.jwt_padding).unwrap_or(usize::MAX),
            deny_first: u64::from(options.deny_first),
            x509_calls: AtomicU64::new(0),
            updates: Arc::new(UpdateBudget {
                sent: AtomicU64::new(0),
                limit: options.exit_after_updates,
            }),
        }
    }

    fn jwt_bundles(&self) -> JwtBundlesResponse {
        let bundles = self
            .jwt_domains
            .iter()
            .map(|d| (d.id.clone(), jwt::jwks([&d.authority])))
            .collect();
        JwtBundlesResponse { bundles }
    }
}

/// A stream that sends one message and then stays open, as SPIRE's bundle watches do when
/// nothing changes.
fn once_then_idle<T: Send + 'static>(message: T) -> BoxStream<T> {
    Box::pin(tokio_stream::once(Ok(message)).chain(tokio_stream::pending()))
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tonic::async_trait]
impl SpiffeWorkloadApi for WorkloadApi {
    type FetchX509SVIDStream = BoxStream<X509svidResponse>;
    type FetchX509BundlesStream = BoxStream<X509BundlesResponse>;
    type FetchJWTBundlesStream = BoxStream<JwtBundlesResponse>;
    type FetchWITSVIDStream = BoxStream<WitsvidResponse>;
    type FetchWITBundlesStream = BoxStream<WitBundlesResponse>;

    /// Sends the current SVID at once, then every newly issued one.
    async fn fetch_x509svid(
        &self,
        request: Request<X509svidRequest>,
    ) -> Result<Response<Self::FetchX509SVIDStream>, Status> {
        let call = self.x509_calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call <= self.deny_first {
            eprintln!("svid-dev-agent: FetchX509SVID call {call} denied");
            return Err(Status::permission_denied("no identity issued"));
        }
        eprintln!("svid-dev-agent: FetchX509SVID call {call} streaming");
        let updates = Arc::clone(&self.updates);
        let switch = request.extensions().get::<StallSwitch>().cloned();
        let stream = WatchStream::new(self.svids.clone()).map(move |response| {
            if let Some(switch) = &switch {
                switch.record_update();
            }
            updates.record_one();
            Ok(X509svidResponse::clone(&response))
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn fetch_x509_bundles(
        &self,
        _request: Request<X509BundlesRequest>,
    ) -> Result<Response<Self::FetchX509BundlesStream>, Status> {
        Ok(Response::new(once_then_idle(self.x509_bundles.clone())))
    }

    /// Signs a JWT-SVID for the agent's identity and the requested audiences.
    async fn fetch_jwtsvid(
        &self,
        request: Request<JwtsvidRequest>,
    ) -> Result<Response<JwtsvidResponse>, Status> {
        let request = request.into_inner();
        if request.audience.is_empty() {
            return Err(Status::invalid_argument("audience must be specified"));
        }
        if !request.spiffe_id.is_empty() && request.spiffe_id != self.spiffe_id {
            if !request.spiffe_id.starts_with("spiffe://") {
                return Err(Status::invalid_argument(format!(
                    "invalid requested SPIFFE ID: {:?} does not start with spiffe://",
                    request.spiffe_id
                )));
            }
            return Err(Status::permission_denied("no identity issued"));
        }
        let own = self
            .jwt_domains
            .first()
            .ok_or_else(|| Status::internal("no JWT signing key"))?;
        let iat = unix_now();
        let ttl = i64::try_from(self.jwt_ttl.as_secs()).unwrap_or(i64::MAX);
        let sign = |id: &str| {
            let sub = self.jwt_subject.as_deref().unwrap_or(id);
            let exp = iat.saturating_add(ttl);
            own.authority
                .sign(sub, &request.audience, iat, exp, self.jwt_padding)
        };
        let token = sign(&self.spiffe_id);
        println!("jwt {token}");
        let mut svids = Vec::new();
        let mut hint = String::new();
        if let Some(decoy) = &self.decoy_id {
            svids.push(Jwtsvid {
                spiffe_id: decoy.clone(),
                svid: sign(decoy),
                hint: "first".into(),
            });
            hint = "other".into();
        }
        svids.push(Jwtsvid {
            spiffe_id: self.spiffe_id.clone(),
            svid: token,
            hint,
        });
        Ok(Response::new(JwtsvidResponse { svids }))
    }

    async fn fetch_jwt_bundles(
        &self,
        _request: Request<JwtBundlesRequest>,
    ) -> Result<Response<Self::FetchJWTBundlesStream>, Status> {
        Ok(Response::new(once_then_idle(self.jwt_bundles())))
    }

    async fn validate_jwtsvid(
        &self,
        _request: Request<ValidateJwtsvidRequest>,
    ) -> Result<Response<ValidateJwtsvidResponse>, Status> {
        Err(Status::unimplemented(
            "validating JWT-SVIDs is not implemented by svid-dev-agent",
        ))
    }

    async fn fetch_witsvid(
        &self,
        _request: Request<WitsvidRequest>,
    ) -> Result<Response<Self::FetchWITSVIDStream>, Status> {
        Err(Status::unimplemented(
            "fetching WIT-SVIDs is not implemented",
        ))
    }

    async fn fetch_wit_bundles(
        &self,
        _request: Request<WitBundlesRequest>,
    ) -> Result<Response<Self::FetchWITBundlesStream>, Status> {
        Err(Status::unimplemented(
            "fetching WIT bundles is not implemented",
        ))
    }
}
