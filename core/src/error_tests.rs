//! Every public error type of the crate is a `core::error::Error` (with `source()` where it
//! wraps another) that can cross threads, as rustls's and h2's errors can.

use crate::{config, der, grpc, h2, health, hpack, jwt, spiffe_id, workload, x509};

/// Compiles only for an error type that is `Send + Sync + 'static`.
fn is_error<E: core::error::Error + Send + Sync + 'static>() {}

#[test]
fn every_public_error_type_is_an_error() {
    is_error::<config::AddressError>();
    is_error::<config::CmdArgsError>();
    is_error::<config::EnvError>();
    is_error::<config::ExecError>();
    is_error::<config::IntError>();
    is_error::<config::LogSettingError>();
    is_error::<config::SyntaxError>();
    is_error::<config::ValidationError>();
    is_error::<der::DerError>();
    is_error::<grpc::InflateError>();
    is_error::<h2::Error>();
    is_error::<h2::LocalError>();
    is_error::<h2::PeerError>();
    is_error::<health::RequestError>();
    is_error::<hpack::HpackError>();
    is_error::<jwt::BundlesError>();
    is_error::<jwt::JsonError>();
    is_error::<jwt::JwksError>();
    is_error::<jwt::JwtError>();
    is_error::<jwt::VerifyError>();
    is_error::<spiffe_id::IdError>();
    is_error::<workload::DecodeError>();
    is_error::<workload::JwtRejection>();
    is_error::<x509::CertError>();
    is_error::<x509::KeyError>();
    is_error::<x509::RenderError>();
    is_error::<x509::SvidError>();
    is_error::<x509::VerifyError>();
    is_error::<x509::pkcs12::EncodeError>();
}

/// `e` and its sources, outermost first.
fn chain<'a>(
    e: &'a (dyn core::error::Error + 'static),
) -> std::vec::Vec<&'a (dyn core::error::Error + 'static)> {
    let mut all = std::vec![e];
    while let Some(next) = all[all.len() - 1].source() {
        all.push(next);
    }
    all
}

/// A caller walks the `source()` chain down to the error at the bottom.
#[test]
fn the_source_chain_leads_to_the_wrapped_errors() {
    let bad_der = x509::parse_svid(b"\x30\x05", b"").unwrap_err();
    assert!(matches!(bad_der, x509::SvidError::Chain(_)));
    let outer = x509::VerifyError::Render(x509::RenderError::Svid {
        index: 1,
        error: bad_der,
    });
    let all = chain(&outer);
    assert_eq!(all.len(), 4);
    assert!(all[3].is::<der::DerError>());
    let jwt = jwt::VerifyError::InvalidSubject(spiffe_id::IdError::WrongScheme);
    assert!(chain(&jwt)[1].is::<spiffe_id::IdError>());
    let mut parsed = config::Config::default();
    let env =
        config::apply_env(&mut parsed, [(&b"SPIFFE_HLP_JWT_SVIDS"[..], &b"[{"[..])]).unwrap_err();
    assert!(chain(&env)[1].is::<config::SyntaxError>());
}
