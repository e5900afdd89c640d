//! Rendering one `FetchX509SVID` message into upstream `spiffe-helper`'s three files: the
//! SVID chain, its key and the trust bundle, byte for byte (`WriteX509Context`,
//! `pkg/disk/x509.go@v0.11.0`).

use alloc::collections::btree_map::Entry;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::bundle_map::X509Keys;
#[cfg(feature = "verify")]
use super::pkcs12::{EncodeError, Random};
use super::{SvidError, X509Svid, cert, parse_with_expiry};
use crate::Bytes;
use crate::der::split_concatenated;
use crate::jwt::Jwks;
use crate::pem;
use crate::proto::X509svidResponse;
use crate::spiffe_id::{IdError, TrustDomain};

/// The `helper.conf` settings that shape the X.509 files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RenderOptions<'a> {
    /// `hint`: pick the first SVID with exactly this hint; empty picks the first SVID.
    pub hint: &'a str,
    /// `add_intermediates_to_bundle`: move the intermediates from the SVID file to the
    /// bundle file, after the roots.
    pub add_intermediates_to_bundle: bool,
    /// `include_federated_domains`: append every other trust domain's roots to the bundle,
    /// in trust-domain name order.
    pub include_federated_domains: bool,
    /// `omit_expired`: leave out of both files every certificate with `now > NotAfter`.
    pub omit_expired: bool,
    /// `svid_credential_bundle_file_name` is set: fill [`Rendered::credential_pem`].
    pub credential_bundle: bool,
    /// `trust_bundle_dir` is set: fill [`Rendered::trust_domain_bundles`].
    pub trust_domain_bundles: bool,
    /// `spiffe_bundle_map_file_name` is set: fill [`Rendered::bundle_map`].
    pub bundle_map: bool,
    /// What the bundle map carries besides the X.509 roots.
    pub bundle_map_jwt: MapJwt<'a>,
    /// `x509_svids`: more SVIDs to render, each by its hint ([`Rendered::entries`]).
    pub entries: &'a [EntryOptions],
    /// `pkcs12_keystore_file_name` or `pkcs12_truststore_file_name` is set: fill
    /// [`Rendered::pkcs12`].
    pub pkcs12: bool,
}

/// The JWT half of the SPIFFE bundle map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MapJwt<'a> {
    /// The JWT bundles are not written (`jwt_bundle_file_name` unset): X.509 roots only.
    #[default]
    Off,
    /// They are, but none has arrived yet: the map is not rendered, so that an X.509-only
    /// map never precedes the full one.
    Waiting,
    /// The JWT bundles last received.
    Keys(&'a BTreeMap<TrustDomain, Jwks>),
}

/// One `x509_svids` entry: the SVID its hint picks and which of its files to render.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntryOptions {
    /// The Workload API hint of the SVID (not empty).
    pub hint: String,
    /// Its `svid_credential_bundle_file_name` is set: fill [`SvidFiles::credential_pem`].
    pub credential_bundle: bool,
    /// One of its PKCS#12 store names is set: fill [`SvidFiles::pkcs12`].
    pub pkcs12: bool,
}

/// The files of one `x509_svids` entry's SVID, rendered as the default SVID's (the same
/// `add_intermediates_to_bundle`, `include_federated_domains` and `omit_expired`).
#[derive(Clone, PartialEq, Eq)]
pub struct SvidFiles {
    /// The SVID's SPIFFE ID.
    pub spiffe_id: String,
    /// SVID file: leaf, then intermediates, PEM.
    pub svid_pem: Vec<u8>,
    /// Key file: PEM `PRIVATE KEY`.
    pub key_pem: Vec<u8>,
    /// Bundle file's DER certificates (slices of the message), written as PEM.
    pub bundle_certs: Vec<Bytes>,
    /// Credential bundle (when asked for, else empty): key, leaf, intermediates.
    pub credential_pem: Vec<u8>,
    /// NotAfter of the leaf, Unix seconds.
    pub not_after: i64,
    /// Serial number of the leaf, upper-case hex.
    pub serial: String,
    /// What its PKCS#12 stores hold (when asked for, else empty).
    pub pkcs12: Pkcs12Contents,
}

impl SvidFiles {
    /// The bundle file's bytes, encoded whole.
    pub fn bundle_pem(&self) -> Vec<u8> {
        encode_certs(self.bundle_certs.iter().map(|der| &der[..]))
    }
}

impl fmt::Debug for SvidFiles {
    /// Leaves the key out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SvidFiles")
            .field("spiffe_id", &self.spiffe_id)
            .field("not_after", &self.not_after)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// One trust domain's X.509 roots, for its own file `<trust-domain>.pem`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustDomainBundle {
    /// The trust-domain name; checked by [`render`] to be a safe file name stem.
    pub trust_domain: String,
    /// Its DER root certificates, in the order received (`omit_expired` applied): slices
    /// of the received message.
    pub certs: Vec<Bytes>,
}

/// The three files, ready to write.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    /// SPIFFE IDs of every SVID kept from the message (later duplicate hints dropped), in order.
    pub spiffe_ids: Vec<String>,
    /// The chosen SVID's SPIFFE ID.
    pub spiffe_id: String,
    /// SVID file: one PEM `CERTIFICATE` block per certificate (empty if none is left).
    pub svid_pem: Vec<u8>,
    /// Key file: one PEM `PRIVATE KEY` block of the PKCS#8 bytes as received.
    pub key_pem: Vec<u8>,
    /// Bundle file: its DER certificates, in order, each written as one PEM `CERTIFICATE`
    /// block ([`Rendered::bundle_pem`]; empty if none is left). They are slices of the
    /// received message, not copies: a writer encodes them a piece at a time.
    pub bundle_certs: Vec<Bytes>,
    /// NotAfter of the chosen leaf, Unix seconds.
    pub not_after: i64,
    /// Serial number of the chosen leaf, upper-case hex.
    pub serial: String,
    /// Credential bundle (with [`RenderOptions::credential_bundle`], else empty): the key's
    /// PEM `PRIVATE KEY` block, then the leaf and every intermediate as `CERTIFICATE`
    /// blocks, whatever `add_intermediates_to_bundle` and `omit_expired` say: a TLS server
    /// or client sends the whole chain.
    pub credential_pem: Vec<u8>,
    /// Every trust domain of the message (own and federated), in name order (with
    /// [`RenderOptions::trust_domain_bundles`], else empty).
    pub trust_domain_bundles: Vec<TrustDomainBundle>,
    /// The SPIFFE bundle map of every trust domain's roots (with
    /// [`RenderOptions::bundle_map`], else empty), and JWT keys per
    /// [`RenderOptions::bundle_map_jwt`] (empty while [`MapJwt::Waiting`]), in the SPIFFE
    /// bundle format (gRFC A87).
    pub bundle_map: Vec<u8>,
    /// The X.509 half of the bundle map (with [`RenderOptions::bundle_map`]), to join
    /// with the JWT bundles that come later ([`super::bundle_map::encode`]).
    pub bundle_map_x509: X509Keys,
    /// One per [`RenderOptions::entries`], in order: the entry's files, or `None` when no
    /// SVID of the message carries its hint (its files are then left as they are).
    pub entries: Vec<Option<SvidFiles>>,
    /// Every trust domain of the message (own and federated) with at least one root, in
    /// name order, with its roots' earliest NotAfter (Unix seconds), for the metrics.
    pub bundle_expiries: Vec<(String, i64)>,
    /// What the PKCS#12 stores hold (with [`RenderOptions::pkcs12`], else empty).
    pub pkcs12: Pkcs12Contents,
}

/// What the PKCS#12 key and trust stores of one update hold; [`Pkcs12Contents::keystore`]
/// and [`Pkcs12Contents::truststore`] encode them (see [`super::pkcs12`]).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pkcs12Contents {
    /// The chosen SVID's SPIFFE ID: the key entry's alias.
    pub alias: String,
    /// The PKCS#8 key, as received.
    pub key_pkcs8: Vec<u8>,
    /// The leaf and every intermediate, whatever `add_intermediates_to_bundle` and
    /// `omit_expired` say (as the credential bundle).
    pub chain: Vec<Vec<u8>>,
    /// The certificates of the bundle file, in its order, each with the alias
    /// `<trust-domain>-<n>` (`n` counting from 0 within the trust domain).
    pub trusted: Vec<(String, Bytes)>,
}

#[cfg(feature = "verify")]
impl Pkcs12Contents {
    /// The keystore: the key and the chain, alias the SPIFFE ID ([`super::pkcs12::keystore`]).
    pub fn keystore(&self, password: &str, random: &Random) -> Result<Vec<u8>, EncodeError> {
        let chain: Vec<&[u8]> = self.chain.iter().map(Vec::as_slice).collect();
        super::pkcs12::keystore(&self.alias, &self.key_pkcs8, &chain, password, random)
    }

    /// The truststore of the bundle's certificates ([`super::pkcs12::truststore`]).
    pub fn truststore(&self, password: &str, random: &Random) -> Result<Vec<u8>, EncodeError> {
        let trusted: Vec<(&str, &[u8])> = self
            .trusted
            .iter()
            .map(|(alias, der)| (alias.as_str(), &der[..]))
            .collect();
        super::pkcs12::truststore(&trusted, password, random)
    }
}

impl Rendered {
    /// The bundle file's bytes, encoded whole.
    pub fn bundle_pem(&self) -> Vec<u8> {
        encode_certs(self.bundle_certs.iter().map(|der| &der[..]))
    }
}

impl fmt::Debug for Rendered {
    /// Leaves the key out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("spiffe_ids", &self.spiffe_ids)
            .field("spiffe_id", &self.spiffe_id)
            .field("svid_pem", &self.svid_pem.len())
            .field("bundle_certs", &self.bundle_certs.len())
            .field("not_after", &self.not_after)
            .field("serial", &self.serial)
            .field("trust_domain_bundles", &self.trust_domain_bundles.len())
            .field("bundle_map", &self.bundle_map.len())
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

/// Why a message cannot be rendered. The messages follow go-spiffe's and upstream's
/// (`pkg/disk/x509.go@v0.11.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenderError {
    /// The message has no SVID.
    NoSvids,
    /// SVID `index` of the message is not a valid X.509-SVID (the whole message is dropped,
    /// as go-spiffe does).
    Svid {
        /// Position in `svids`.
        index: usize,
        /// What is wrong with it.
        error: SvidError,
    },
    /// The `spiffe_id` of SVID `index` does not name a trust domain.
    SvidTrustDomain {
        /// Position in `svids`.
        index: usize,
        /// The parse error.
        error: IdError,
    },
    /// A `federated_bundles` key does not name a trust domain.
    FederatedTrustDomain {
        /// The map key.
        key: String,
        /// The parse error.
        error: IdError,
    },
    /// A bundle's certificates do not decode.
    Bundle {
        /// The bundle's trust domain.
        trust_domain: String,
        /// The decoding error.
        error: SvidError,
    },
    /// No SVID carries the configured hint.
    HintNotFound,
    /// No SVID carries the hint of `x509_svids[index]` (refuses the message only in
    /// one-shot mode, which cannot finish without it; see [`Rendered::entries`]).
    EntryHintNotFound {
        /// Which entry.
        index: usize,
        /// Its hint.
        hint: String,
    },
    /// The set has no bundle for the chosen SVID's trust domain.
    NoBundle {
        /// The chosen SVID's trust domain.
        trust_domain: String,
    },
    /// A trust-domain name cannot be a file name in `trust_bundle_dir`: it starts with `.`
    /// (`.`, `..`, hidden names) or is longer than [`MAX_TRUST_DOMAIN_FILE_STEM`] bytes.
    TrustDomainFileName {
        /// The trust-domain name.
        trust_domain: String,
    },
    /// A root cannot be written as a JWK of the SPIFFE bundle map.
    BundleMapKey {
        /// Its trust domain.
        trust_domain: String,
        /// Its position in the bundle.
        index: usize,
        /// Why.
        error: super::bundle_map::KeyError,
    },
}

/// Longest trust-domain name written as `<trust-domain>.pem`: the temporary file's name
/// (`.<trust-domain>.pem.<pid>.<n>.tmp`) must fit Linux's NAME_MAX of 255 bytes.
pub const MAX_TRUST_DOMAIN_FILE_STEM: usize = 200;

/// Whether `name` is a trust-domain name the helper writes as `<name>.pem` in
/// `trust_bundle_dir`: a valid trust domain (SPIFFE ID standard §2.1) that does not start
/// with `.` and is at most [`MAX_TRUST_DOMAIN_FILE_STEM`] bytes. The daemon uses the same
/// rule to know which files of that directory are its own.
pub fn is_trust_domain_file_stem(name: &str) -> bool {
    !name.starts_with('.')
        && name.len() <= MAX_TRUST_DOMAIN_FILE_STEM
        && crate::spiffe_id::TrustDomain::parse(name).is_ok()
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSvids => f.write_str("no SVIDs in response"),
            Self::Svid { index, error } => write!(f, "x509svid {index}: {error}"),
            Self::SvidTrustDomain { index, error } => {
                write!(f, "x509svid {index}: invalid spiffe_id: {error}")
            }
            Self::FederatedTrustDomain { key, error } => {
                write!(f, "invalid federated bundle trust domain {key:?}: {error}")
            }
            Self::Bundle {
                trust_domain,
                error,
            } => write!(
                f,
                "invalid bundle for {trust_domain:?} trust domain: {error}"
            ),
            Self::HintNotFound => f.write_str("failed to find the hinted x509 SVID"),
            Self::EntryHintNotFound { index, hint } => write!(
                f,
                "x509_svids[{index}] (hint {hint:?}): failed to find the hinted x509 SVID"
            ),
            Self::NoBundle { trust_domain } => {
                write!(f, "no bundles found for {trust_domain:?} trust domain")
            }
            Self::TrustDomainFileName { trust_domain } => write!(
                f,
                "trust domain {trust_domain:?} cannot be a file name in trust_bundle_dir \
                 (it starts with '.' or is longer than {MAX_TRUST_DOMAIN_FILE_STEM} bytes)"
            ),
            Self::BundleMapKey {
                trust_domain,
                index,
                error,
            } => write!(
                f,
                "spiffe bundle map: root {index} of {trust_domain:?} trust domain: {error}"
            ),
        }
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for RenderError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Svid { error: e, .. } | Self::Bundle { error: e, .. } => Some(e),
            Self::SvidTrustDomain { error: e, .. }
            | Self::FederatedTrustDomain { error: e, .. } => Some(e),
            Self::BundleMapKey { error: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// One certificate of a bundle or chain: its DER, the message buffer it is a slice of (none
/// for a chain certificate), and its NotAfter.
pub(super) struct BundleCert<'a> {
    pub(super) der: &'a [u8],
    within: Option<&'a Bytes>,
    not_after: i64,
}

impl BundleCert<'_> {
    /// The DER as `Bytes`: a slice of the message buffer, or a copy of a chain certificate.
    fn to_bytes(&self) -> Bytes {
        self.within.map_or_else(
            || Bytes::copy_from_slice(self.der),
            |buffer| buffer.slice_ref(self.der),
        )
    }
}

/// Turns one FetchX509SVID message into the three upstream files (`pkg/disk/x509.go@v0.11.0`) and
/// the formats of `opts`:
/// - pick the SVID (`opts.hint`, else the first one) and its trust domain's bundle;
/// - `certs` = chain, `bundle` = own roots; with `add_intermediates_to_bundle` the
///   intermediates move after the roots; with `include_federated_domains` every other trust
///   domain's roots follow, in name order;
/// - with `omit_expired`, certificates with `now_unix > NotAfter` are left out;
/// - each of `opts.entries` gets the same files of the SVID its hint picks, or `None` in
///   [`Rendered::entries`] when no SVID carries that hint.
///
/// The bundle set is built like go-spiffe's: each SVID's `bundle` under the trust domain of
/// its `spiffe_id` (a later one overwrites), then `federated_bundles` in key order (a key
/// naming a trust domain already present overwrites it).
pub fn render(
    resp: &X509svidResponse,
    opts: &RenderOptions<'_>,
    now_unix: i64,
) -> Result<Rendered, RenderError> {
    render_checked(resp, opts, now_unix, |_| Ok(()))
}

/// What [`render`] picked from a message, for a check before the files are encoded.
/// Only the verifier reads it (`verify` feature).
#[cfg_attr(not(feature = "verify"), allow(dead_code))]
pub(super) struct Picked<'a> {
    /// The chosen SVID, parsed.
    pub(super) svid: &'a X509Svid,
    /// The DER roots of its trust domain in the message's bundle set.
    pub(super) roots: Vec<&'a [u8]>,
    /// The `spiffe_id` the message gives the chosen SVID.
    pub(super) message_id: &'a str,
}

/// [`render`], with `check` run on each SVID it picked (the default one, then each
/// `x509_svids` entry found) once everything is parsed and before any file is encoded, so
/// that a verification decodes nothing a second time.
pub(super) fn render_checked<E: From<RenderError>>(
    resp: &X509svidResponse,
    opts: &RenderOptions<'_>,
    now_unix: i64,
    mut check: impl FnMut(Picked<'_>) -> Result<(), E>,
) -> Result<Rendered, E> {
    if resp.svids.is_empty() {
        return Err(RenderError::NoSvids.into());
    }
    let svids = parse_svids(resp)?;
    let bundles = bundle_set(resp)?;

    let default = choose(&svids, &bundles, opts.hint).ok_or(RenderError::HintNotFound)??;
    let entries = opts
        .entries
        .iter()
        .map(|entry| choose(&svids, &bundles, &entry.hint).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    for choice in core::iter::once(&default).chain(entries.iter().flatten()) {
        check(Picked {
            svid: choice.svid,
            roots: choice.roots.iter().map(|cert| cert.der).collect(),
            message_id: &resp.svids[choice.index].spiffe_id,
        })?;
    }

    let keep = |cert: &&BundleCert<'_>| !(opts.omit_expired && now_unix > cert.not_after);
    let kept_roots = |certs: &'_ [BundleCert<'_>]| -> Vec<Bytes> {
        certs
            .iter()
            .filter(keep)
            .map(BundleCert::to_bytes)
            .collect()
    };
    let trust_domain_bundles = if opts.trust_domain_bundles {
        bundles
            .iter()
            .map(|(td, certs)| {
                if !is_trust_domain_file_stem(td) {
                    return Err(RenderError::TrustDomainFileName {
                        trust_domain: td.clone(),
                    });
                }
                Ok(TrustDomainBundle {
                    trust_domain: td.clone(),
                    certs: kept_roots(certs),
                })
            })
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let (bundle_map, bundle_map_x509) = if opts.bundle_map {
        let roots = bundles
            .iter()
            .map(|(td, certs)| (td.as_str(), certs.iter().filter(keep).map(|c| c.der)));
        let keys = super::bundle_map::x509_keys(roots)?;
        let map = match opts.bundle_map_jwt {
            MapJwt::Off => super::bundle_map::encode(&keys, None),
            MapJwt::Waiting => Vec::new(),
            MapJwt::Keys(jwt) => super::bundle_map::encode(&keys, Some(jwt)),
        };
        (map, keys)
    } else {
        Default::default()
    };
    let pkcs12 = if opts.pkcs12 {
        pkcs12_contents(&default, &bundles, opts, now_unix)
    } else {
        Pkcs12Contents::default()
    };
    let SvidFiles {
        spiffe_id,
        svid_pem,
        key_pem,
        bundle_certs,
        credential_pem,
        not_after,
        serial,
        pkcs12: _,
    } = svid_files(&default, &bundles, opts, opts.credential_bundle, now_unix);
    let entries = entries
        .iter()
        .zip(opts.entries)
        .map(|(choice, entry)| {
            let files = |c| {
                let mut files = svid_files(c, &bundles, opts, entry.credential_bundle, now_unix);
                if entry.pkcs12 {
                    files.pkcs12 = pkcs12_contents(c, &bundles, opts, now_unix);
                }
                files
            };
            choice.as_ref().map(files)
        })
        .collect();
    Ok(Rendered {
        spiffe_ids: svids
            .iter()
            .map(|(_, s, _)| s.spiffe_id.to_string())
            .collect(),
        spiffe_id,
        svid_pem,
        key_pem,
        bundle_certs,
        not_after,
        serial,
        credential_pem,
        trust_domain_bundles,
        bundle_map,
        bundle_map_x509,
        entries,
        bundle_expiries: bundles
            .iter()
            .filter_map(|(td, certs)| {
                let earliest = certs.iter().map(|c| c.not_after).min()?;
                Some((td.clone(), earliest))
            })
            .collect(),
        pkcs12,
    })
}

/// One SVID picked from a message, with the roots of its trust domain.
struct Choice<'a> {
    /// Its position in the message.
    index: usize,
    svid: &'a X509Svid,
    /// NotAfter of each certificate of its chain.
    expiries: &'a [i64],
    /// Its trust domain's name.
    own: String,
    /// The roots of its trust domain in the message's bundle set.
    roots: &'a [BundleCert<'a>],
}

/// The SVID `hint` picks (empty: the first), or `None` if no SVID carries it; an error if
/// the message has no bundle for its trust domain.
fn choose<'a>(
    svids: &'a [(usize, X509Svid, Vec<i64>)],
    bundles: &'a BTreeMap<String, Vec<BundleCert<'a>>>,
    hint: &str,
) -> Option<Result<Choice<'a>, RenderError>> {
    let (index, svid, expiries) = if hint.is_empty() {
        svids.first()
    } else {
        svids.iter().find(|(_, svid, _)| svid.hint == hint)
    }?;
    let own = svid.spiffe_id.trust_domain().to_string();
    Some(match bundles.get(&own) {
        Some(roots) => Ok(Choice {
            index: *index,
            svid,
            expiries,
            own,
            roots,
        }),
        None => Err(RenderError::NoBundle { trust_domain: own }),
    })
}

/// The SVID, key, bundle and (with `credential`) credential-bundle files of one chosen SVID
/// (`pkg/disk/x509.go@v0.11.0`):
/// - `certs` = chain, `bundle` = own roots; with `add_intermediates_to_bundle` the
///   intermediates move after the roots; with `include_federated_domains` every other trust
///   domain's roots follow, in name order;
/// - with `omit_expired`, certificates with `now_unix > NotAfter` are left out.
fn svid_files(
    choice: &Choice<'_>,
    bundles: &BTreeMap<String, Vec<BundleCert<'_>>>,
    opts: &RenderOptions<'_>,
    credential: bool,
    now_unix: i64,
) -> SvidFiles {
    let chain = chain_of(choice);
    let leaf_not_after = chain.first().map_or(i64::MIN, |c| c.not_after);

    let (svid_certs, intermediates) = split_chain(&chain, opts);
    let bundle_certs = bundle_file_certs(choice, intermediates, bundles, opts, now_unix);

    let keep = |cert: &&BundleCert<'_>| !(opts.omit_expired && now_unix > cert.not_after);
    let mut key_pem = Vec::new();
    pem::encode(pem::PRIVATE_KEY, &choice.svid.key_pkcs8, &mut key_pem);
    let credential_pem = if credential {
        let mut pem = key_pem.clone();
        pem.extend(encode_certs(chain.iter().map(|cert| cert.der)));
        pem
    } else {
        Vec::new()
    };
    SvidFiles {
        spiffe_id: choice.svid.spiffe_id.to_string(),
        svid_pem: encode_certs(svid_certs.iter().filter(keep).map(|cert| cert.der)),
        key_pem,
        bundle_certs: bundle_certs
            .into_iter()
            .map(|(_, cert)| cert.to_bytes())
            .collect(),
        not_after: leaf_not_after,
        serial: choice
            .svid
            .certs
            .first()
            .and_then(|leaf| super::serial_hex(leaf).ok())
            .unwrap_or_default(),
        credential_pem,
        pkcs12: Pkcs12Contents::default(),
    }
}

/// The chain of `choice` with each certificate's NotAfter.
fn chain_of<'a>(choice: &Choice<'a>) -> Vec<BundleCert<'a>> {
    choice
        .svid
        .certs
        .iter()
        .zip(choice.expiries)
        .map(|(der, &not_after)| BundleCert {
            der,
            within: None,
            not_after,
        })
        .collect()
}

/// The SVID file's certificates and the intermediates that move to the bundle file: with
/// `add_intermediates_to_bundle` the leaf alone, then the rest; else the whole chain.
fn split_chain<'c, 'a>(
    chain: &'c [BundleCert<'a>],
    opts: &RenderOptions<'_>,
) -> (&'c [BundleCert<'a>], &'c [BundleCert<'a>]) {
    if opts.add_intermediates_to_bundle {
        chain.split_at(chain.len().min(1))
    } else {
        (chain, &[])
    }
}

/// The bundle file's certificates, each with its trust domain, in file order: the own
/// roots, the `intermediates`, then (`include_federated_domains`) every other trust
/// domain's roots in name order; with `omit_expired`, the expired ones left out.
fn bundle_file_certs<'c>(
    choice: &'c Choice<'_>,
    intermediates: &'c [BundleCert<'c>],
    bundles: &'c BTreeMap<String, Vec<BundleCert<'_>>>,
    opts: &RenderOptions<'_>,
    now_unix: i64,
) -> Vec<(&'c str, &'c BundleCert<'c>)> {
    let own = choice
        .roots
        .iter()
        .chain(intermediates)
        .map(|cert| (choice.own.as_str(), cert));
    let federated = bundles
        .iter()
        .filter(|(td, _)| opts.include_federated_domains && **td != choice.own)
        .flat_map(|(td, certs)| certs.iter().map(|cert| (td.as_str(), cert)));
    own.chain(federated)
        .filter(|(_, cert)| !(opts.omit_expired && now_unix > cert.not_after))
        .collect()
}

/// What the PKCS#12 stores of `choice` hold: its key and whole chain, and the bundle
/// file's certificates, each aliased `<trust-domain>-<n>`.
fn pkcs12_contents(
    choice: &Choice<'_>,
    bundles: &BTreeMap<String, Vec<BundleCert<'_>>>,
    opts: &RenderOptions<'_>,
    now_unix: i64,
) -> Pkcs12Contents {
    let chain = chain_of(choice);
    let (_, intermediates) = split_chain(&chain, opts);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let trusted = bundle_file_certs(choice, intermediates, bundles, opts, now_unix)
        .into_iter()
        .map(|(td, cert)| {
            let n = counts.entry(td).or_default();
            let alias = alloc::format!("{td}-{n}");
            *n += 1;
            (alias, cert.to_bytes())
        })
        .collect();
    Pkcs12Contents {
        alias: choice.svid.spiffe_id.to_string(),
        key_pkcs8: choice.svid.key_pkcs8.clone(),
        chain: choice.svid.certs.clone(),
        trusted,
    }
}

/// Parses every SVID (with its index in the message and its chain's NotAfter values),
/// skipping later ones whose non-empty hint was already seen.
fn parse_svids(resp: &X509svidResponse) -> Result<Vec<(usize, X509Svid, Vec<i64>)>, RenderError> {
    let mut hints = BTreeSet::new();
    let mut svids = Vec::with_capacity(resp.svids.len());
    for (index, svid) in resp.svids.iter().enumerate() {
        if !svid.hint.is_empty() && !hints.insert(svid.hint.as_str()) {
            continue;
        }
        let (mut parsed, expiries) = parse_with_expiry(&svid.x509_svid, &svid.x509_svid_key)
            .map_err(|error| RenderError::Svid { index, error })?;
        parsed.hint.clone_from(&svid.hint);
        svids.push((index, parsed, expiries));
    }
    Ok(svids)
}

/// The X.509 bundle set of the message, keyed by trust-domain name (sorted), built as
/// go-spiffe builds it: each SVID's `bundle` under the trust domain of its `spiffe_id` (a later
/// one overwrites), then `federated_bundles` (overwriting). The federated field is a map on the
/// wire, taken in key order: of two entries naming one trust domain the one with the greater
/// key wins, of two with the same key the later, and an entry that loses is never parsed.
pub(super) fn bundle_set(
    resp: &X509svidResponse,
) -> Result<BTreeMap<String, Vec<BundleCert<'_>>>, RenderError> {
    /// Where a trust domain's bundle comes from: the federated key, if any, and the bytes.
    type Source<'a> = (Option<&'a str>, &'a Bytes);
    let mut sources: BTreeMap<String, Source<'_>> = BTreeMap::new();
    for (index, svid) in resp.svids.iter().enumerate() {
        let td = TrustDomain::from_id_or_name(&svid.spiffe_id)
            .map_err(|error| RenderError::SvidTrustDomain { index, error })?;
        sources.insert(td.to_string(), (None, &svid.bundle));
    }
    for entry in &resp.federated_bundles {
        let td = TrustDomain::from_id_or_name(&entry.key).map_err(|error| {
            RenderError::FederatedTrustDomain {
                key: entry.key.clone(),
                error,
            }
        })?;
        let new = (Some(entry.key.as_str()), &entry.value);
        match sources.entry(td.to_string()) {
            Entry::Vacant(slot) => {
                slot.insert(new);
            }
            Entry::Occupied(mut slot) => {
                if slot.get().0.is_none_or(|key| key <= entry.key.as_str()) {
                    slot.insert(new);
                }
            }
        }
    }
    sources
        .into_iter()
        .map(|(td, (_, bytes))| {
            let certs = parse_bundle(bytes, &td)?;
            Ok((td, certs))
        })
        .collect()
}

/// Splits one concatenated-DER bundle (empty bytes: empty bundle) and reads each
/// certificate's NotAfter with a structural walk: with thousands of federated CAs a full
/// decode of each was a third of the CPU. The bundle of the SVID's own trust domain is
/// decoded in full by the verification (`render_verified`) unless it is turned off.
fn parse_bundle<'a>(bytes: &'a Bytes, td: &str) -> Result<Vec<BundleCert<'a>>, RenderError> {
    let bundle_error = |error| RenderError::Bundle {
        trust_domain: td.to_string(),
        error,
    };
    let ders = split_concatenated(bytes).map_err(|e| bundle_error(SvidError::Chain(e)))?;
    ders.into_iter()
        .enumerate()
        .map(|(index, der)| {
            let not_after = cert::walk_not_after(der)
                .map_err(|error| bundle_error(SvidError::CertificateStructure { index, error }))?;
            Ok(BundleCert {
                der,
                within: Some(bytes),
                not_after,
            })
        })
        .collect()
}

/// Concatenated PEM `CERTIFICATE` blocks (RFC 7468 §5.1), in a buffer sized once: grown
/// block by block, a 10,000-CA bundle file mapped 12.6 MB for 7.3 MB of text.
fn encode_certs<'a>(ders: impl Iterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let len = ders
        .clone()
        .map(|der| pem::encoded_len(pem::CERTIFICATE, der.len()))
        .sum();
    let mut out = Vec::with_capacity(len);
    for der in ders {
        pem::encode(pem::CERTIFICATE, der, &mut out);
    }
    out
}
