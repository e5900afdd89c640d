//! The PKCS#12 stores round-trip through an independent decoder: on an arbitrary
//! FetchX509SVID message (as `x509_formats` feeds it) with an arbitrary password and
//! arbitrary salts and IVs, the keystore and the truststore read back with the `p12-keystore`
//! crate (its own PKCS#12 KDF, PBES2 and MAC over RustCrypto's 0.11 crates, not ours):
//! the MAC verifies, the key bag is the SVID's PKCS#8 key, the certificate bags are its
//! chain, the key and the leaf share the SPIFFE ID as friendly name and one local key id,
//! and every truststore bag is one of the bundle file's certificates, in order, trusted,
//! with its alias. A wrong password is refused. A store holding a certificate or key that
//! the decoder's own parsers (`x509-parser` and `pkcs8` 0.11, through `p12_keystore`'s
//! `Certificate` and `PrivateKey`) refuse is not compared: the helper only walks bundle
//! certificates for their NotAfter and accepts every PKCS#8 v1/v2 form go-spiffe does, and
//! the fuzzer makes ones those stricter parsers do not read.
//!
//! Input: one options byte (bits 0-2 as `x509_formats`, bits 3-7 the password length), the
//! password (UTF-8, else the input is skipped), 56 random bytes, eight bytes of clock (Unix
//! seconds), then the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use p12_keystore::{Certificate, Pkcs12Archive, PrivateKey};
use prost::Message;
use svid_core::proto::X509svidResponse;
use svid_core::x509::pkcs12::{RANDOM_LEN, Random};
use svid_core::x509::{RenderOptions, Rendered, render};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let password_len = usize::from(flags >> 3);
    if rest.len() < password_len {
        return;
    }
    let (password, rest) = rest.split_at(password_len);
    let Ok(password) = std::str::from_utf8(password) else {
        return;
    };
    let Some((random, rest)) = rest.split_first_chunk::<RANDOM_LEN>() else {
        return;
    };
    let Some((now, message)) = rest.split_first_chunk::<8>() else {
        return;
    };
    let Ok(response) = X509svidResponse::decode(message) else {
        return;
    };
    let opts = RenderOptions {
        add_intermediates_to_bundle: flags & 1 != 0,
        include_federated_domains: flags & 2 != 0,
        omit_expired: flags & 4 != 0,
        pkcs12: true,
        ..RenderOptions::default()
    };
    let Ok(rendered) = render(&response, &opts, i64::from_be_bytes(*now)) else {
        return;
    };
    let contents = &rendered.pkcs12;
    let readable = |der: &[u8]| Certificate::from_der(der).is_ok();

    if contents.chain.iter().all(|der| readable(der))
        && PrivateKey::from_der(&contents.key_pkcs8).is_ok()
    {
        check_keystore(&rendered, password, random);
    }
    if contents.trusted.iter().all(|(_, der)| readable(der)) {
        check_truststore(&rendered, password, random);
    }
});

fn check_keystore(rendered: &Rendered, password: &str, random: &Random) {
    let contents = &rendered.pkcs12;
    let keystore = contents
        .keystore(password, random)
        .expect("SPIFFE IDs are ASCII");
    let archive = Pkcs12Archive::from_pkcs12(&keystore, password).expect("keystore decodes");
    let [key] = &archive.keys[..] else {
        panic!("one key bag, not {}", archive.keys.len());
    };
    assert_eq!(key.key.as_der(), contents.key_pkcs8.as_slice());
    assert_eq!(
        key.friendly_name.as_deref(),
        Some(rendered.spiffe_id.as_str())
    );
    let certs: Vec<&[u8]> = archive.certs.iter().map(|c| c.cert.as_der()).collect();
    let chain: Vec<&[u8]> = contents.chain.iter().map(Vec::as_slice).collect();
    assert_eq!(certs, chain);
    let (leaf, intermediates) = archive.certs.split_first().expect("a leaf");
    assert_eq!(leaf.friendly_name, key.friendly_name);
    assert_eq!(
        leaf.local_key_id.as_deref(),
        key.local_key_id.as_ref().map(|id| id.0.as_slice())
    );
    assert!(leaf.local_key_id.is_some() && !leaf.trusted);
    assert!(
        intermediates
            .iter()
            .all(|c| c.friendly_name.is_none() && !c.trusted)
    );
    let wrong = format!("{password}!");
    assert!(Pkcs12Archive::from_pkcs12(&keystore, &wrong).is_err());
}

fn check_truststore(rendered: &Rendered, password: &str, random: &Random) {
    let contents = &rendered.pkcs12;
    let truststore = contents
        .truststore(password, random)
        .expect("aliases are ASCII");
    let archive = Pkcs12Archive::from_pkcs12(&truststore, password).expect("truststore decodes");
    assert!(archive.keys.is_empty());
    assert_eq!(archive.certs.len(), rendered.bundle_certs.len());
    for ((bag, (alias, der)), bundle_der) in archive
        .certs
        .iter()
        .zip(&contents.trusted)
        .zip(&rendered.bundle_certs)
    {
        assert!(bag.trusted && bag.local_key_id.is_none());
        assert_eq!(bag.friendly_name.as_deref(), Some(alias.as_str()));
        assert_eq!(bag.cert.as_der(), &der[..]);
        assert_eq!(&der[..], &bundle_der[..]);
    }
}
