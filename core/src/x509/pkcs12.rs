//! PKCS#12 key and trust stores (RFC 7292), the files Java, .NET and many appliances load:
//! [`keystore`] (the key and its chain) and [`truststore`] (trusted CA certificates).
//!
//! The layout and algorithms are those `openssl pkcs12 -export` writes by default in
//! OpenSSL 3 (`apps/pkcs12.c`, `crypto/pkcs12/p12_crt.c`), and what Java 17's
//! `PKCS12KeyStore` reads:
//! - `PFX` v3 whose `authSafe` is `id-data` (RFC 7292 §4), holding an `AuthenticatedSafe` of
//!   one `EncryptedData` with the certificate bags and, for a keystore, one `Data` with the
//!   `pkcs8ShroudedKeyBag` (§4.2.2, §4.2.3);
//! - both encryptions are PBES2 (RFC 8018 §6.2) with PBKDF2-HMAC-SHA256 (§5.2, A.2) and
//!   AES-256-CBC (RFC 3565 §4.1), [`ITERATIONS`] iterations and an 8-byte salt;
//! - the MAC is HMAC-SHA256 over the `AuthenticatedSafe` with its key from the PKCS#12 KDF
//!   (RFC 7292 appendix B.2, ID 3) over SHA-256, not PBMAC1 (RFC 9579): that is what OpenSSL
//!   3.0 and Java 17 write and read.
//!
//! The primitives are `ring`'s (PBKDF2, HMAC, SHA-256: the crypto provider the verifier
//! links) and RustCrypto's `aes` and `cbc` (AES-256-CBC, which `ring` has no API for). The
//! appendix-B KDF has no implementation in either (the `pkcs12` crate's `kdf` is a
//! pre-release on `digest` 0.11), so `pkcs12_kdf` builds it here on `ring::digest`: a key
//! derivation construction, no primitive; the OpenSSL tests prove it by verifying the MAC.
//! Behind svid-core's `verify` feature, with `ring`: the daemon writes these files, the
//! embedded build (`--no-default-features`) has no PKCS#12.
//!
//! No randomness and no clock: the salts and IVs come in as [`Random`] bytes from the caller
//! (the daemon reads them from `getrandom(2)`).

use alloc::vec::Vec;
use core::fmt;

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockEncryptMut, KeyIvInit};
use der::asn1::ObjectIdentifier;
use der::{Encode, Header, Length, Tag, TagNumber};
use ring::{digest, hmac, pbkdf2};

/// PBKDF2 and MAC iteration count: OpenSSL 3's `PKCS12_DEFAULT_ITER`
/// (`include/openssl/pkcs12.h.in`), what `openssl pkcs12 -export` writes.
pub const ITERATIONS: u32 = 2048;
/// [`ITERATIONS`] as `ring::pbkdf2` takes it.
const ITERATIONS_NONZERO: core::num::NonZeroU32 = core::num::NonZeroU32::new(ITERATIONS).unwrap();

/// Salt length of the MAC and of each PBKDF2, as OpenSSL 3 writes them (`PKCS5_SALT_LEN`).
const SALT_LEN: usize = 8;
/// AES block and CBC IV length.
const IV_LEN: usize = 16;

/// Fresh random bytes for one file, from the caller: `[0..8]` the MAC salt, `[8..16]` and
/// `[16..32]` the PBKDF2 salt and AES IV of the certificate bags, `[32..40]` and `[40..56]`
/// those of the key bag (unused by [`truststore`]).
pub type Random = [u8; RANDOM_LEN];
/// Length of [`Random`].
pub const RANDOM_LEN: usize = SALT_LEN + 2 * (SALT_LEN + IV_LEN);

/// `id-data` (PKCS#7, RFC 2315 §14).
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// `id-encryptedData` (RFC 2315 §13).
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
/// `id-PBES2` (RFC 8018 A.4).
const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
/// `id-PBKDF2` (RFC 8018 A.2).
const PBKDF2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.12");
/// `id-hmacWithSHA256` (RFC 8018 B.1.2).
const HMAC_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.9");
/// `id-aes256-CBC` (RFC 3565 §4.1).
const AES_256_CBC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.1.42");
/// `id-sha256` (RFC 5754 §2.2).
const SHA_256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// `pkcs8ShroudedKeyBag` (RFC 7292 §4.2).
const SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
/// `certBag` (RFC 7292 §4.2).
const CERT_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
/// `x509Certificate` cert type (RFC 7292 §4.2.3).
const X509_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
/// `friendlyName` attribute (PKCS#9, RFC 2985 §5.5.1): Java's alias.
const FRIENDLY_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.20");
/// `localKeyId` attribute (RFC 2985 §5.5.2): links the key bag to its certificate.
const LOCAL_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.21");
/// Oracle's trusted-key-usage bag attribute: Java's `PKCS12KeyStore` loads a certificate bag
/// carrying it as a trusted certificate entry (`TrustedKeyUsage` in
/// `sun/security/pkcs12/PKCS12KeyStore.java`; OpenSSL 3.2's `-jdktrust`).
const ORACLE_TRUSTED_KEY_USAGE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.16.840.1.113894.746875.1.1");
/// `anyExtendedKeyUsage` (RFC 5280 §4.2.1.12): trusted for every purpose.
const ANY_EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// A store cannot be encoded: an alias outside Unicode's Basic Multilingual Plane (a
/// BMPString, RFC 7292 §4.2 via PKCS#9, holds only those), or a length beyond DER's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeError(der::Error);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PKCS#12 encoding: {}", self.0)
    }
}

/// The source is the wrapped error, so that a caller can walk down to it.
impl core::error::Error for EncodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<der::Error> for EncodeError {
    fn from(e: der::Error) -> Self {
        EncodeError(e)
    }
}

/// A PKCS#12 keystore: the PKCS#8 key `key_pkcs8` in a shrouded key bag and `chain` (leaf
/// first, then intermediates) in certificate bags; the key and the leaf carry `alias` as
/// `friendlyName` and the SHA-256 of the leaf as `localKeyId`.
pub fn keystore(
    alias: &str,
    key_pkcs8: &[u8],
    chain: &[&[u8]],
    password: &str,
    random: &Random,
) -> Result<Vec<u8>, EncodeError> {
    let (mac_salt, rest) = random.split_at(SALT_LEN);
    let (certs_random, key_random) = rest.split_at(SALT_LEN + IV_LEN);
    let local_key_id = chain
        .first()
        .map(|leaf| digest::digest(&digest::SHA256, leaf));
    let leaf_attributes = |index: usize| match &local_key_id {
        Some(id) if index == 0 => bag_attributes(alias, id.as_ref()),
        _ => Ok(Vec::new()),
    };
    let cert_bags = chain
        .iter()
        .enumerate()
        .map(|(index, der)| cert_bag(der, &leaf_attributes(index)?))
        .collect::<der::Result<Vec<_>>>()?;
    let (salt, iv) = key_random.split_at(SALT_LEN);
    let key_attributes = match &local_key_id {
        Some(id) => bag_attributes(alias, id.as_ref())?,
        None => Vec::new(),
    };
    let shrouded = encrypted_private_key_info(key_pkcs8, password, salt, iv)?;
    let key_bag = safe_bag(SHROUDED_KEY_BAG, &shrouded, &key_attributes)?;
    let authenticated_safe = seq(&[
        &encrypted_data(&cert_bags, password, certs_random)?,
        &data_content_info(&seq(&[&key_bag])?)?,
    ])?;
    Ok(pfx(&authenticated_safe, password, mac_salt)?)
}

/// A PKCS#12 truststore: each `(alias, DER certificate)` of `trusted` in a certificate bag
/// with `alias` as `friendlyName` and Oracle's trusted-key-usage attribute set to
/// `anyExtendedKeyUsage`, which Java loads as a trusted certificate entry.
pub fn truststore(
    trusted: &[(&str, &[u8])],
    password: &str,
    random: &Random,
) -> Result<Vec<u8>, EncodeError> {
    let (mac_salt, rest) = random.split_at(SALT_LEN);
    let bags = trusted
        .iter()
        .map(|(alias, der)| {
            let usage = attribute(ORACLE_TRUSTED_KEY_USAGE, &oid(ANY_EXTENDED_KEY_USAGE)?)?;
            let name = attribute(FRIENDLY_NAME, &bmp_string(alias)?)?;
            cert_bag(der, &set_of(alloc::vec![name, usage])?)
        })
        .collect::<der::Result<Vec<_>>>()?;
    let authenticated_safe = seq(&[&encrypted_data(
        &bags,
        password,
        &rest[..SALT_LEN + IV_LEN],
    )?])?;
    Ok(pfx(&authenticated_safe, password, mac_salt)?)
}

/// `PFX` (RFC 7292 §4) around the DER `AuthenticatedSafe`, with its `MacData`.
fn pfx(authenticated_safe: &[u8], password: &str, mac_salt: &[u8]) -> der::Result<Vec<u8>> {
    let key = pkcs12_kdf(&bmp_password(password), mac_salt, 3, ITERATIONS);
    let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), authenticated_safe);
    let digest_info = seq(&[&seq(&[&oid(SHA_256)?, &null()?])?, &octets(mac.as_ref())?])?;
    let mac_data = seq(&[&digest_info, &octets(mac_salt)?, &ITERATIONS.to_der()?])?;
    seq(&[
        &3u8.to_der()?,
        &data_content_info(authenticated_safe)?,
        &mac_data,
    ])
}

/// The PKCS#12 key derivation of RFC 7292 appendix B.2 over SHA-256 (u = 32, v = 64 bytes)
/// for a 32-byte key: one block, so steps 6B and 6C (which feed later blocks) are not run.
/// `password` is the BMPString with its two-byte terminator (B.1), `id` the purpose (3: MAC).
fn pkcs12_kdf(password: &[u8], salt: &[u8], id: u8, iterations: u32) -> [u8; 32] {
    const V: usize = 64;
    // Steps 2-4: S and P are the salt and the password repeated to a multiple of v bytes.
    let repeat = |src: &[u8]| -> Vec<u8> {
        let len = src.len().div_ceil(V) * V;
        src.iter().copied().cycle().take(len).collect()
    };
    let mut hash = digest::Context::new(&digest::SHA256);
    hash.update(&[id; V]);
    hash.update(&repeat(salt));
    hash.update(&repeat(password));
    let mut a = hash.finish();
    for _ in 1..iterations {
        a = digest::digest(&digest::SHA256, a.as_ref());
    }
    let mut key = [0; 32];
    key.copy_from_slice(a.as_ref());
    key
}

/// A password as the MAC's KDF takes it (RFC 7292 B.1): UTF-16 big-endian with a two-byte
/// zero terminator, the empty password included (`00 00`), as `openssl pkcs12 -export
/// -passout pass:` writes it; Java 17 loads it with `new char[0]`.
fn bmp_password(password: &str) -> Vec<u8> {
    let mut out: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
    out.extend_from_slice(&[0, 0]);
    out
}

/// `EncryptedPrivateKeyInfo` (RFC 5958 §3) of `key_pkcs8` under PBES2.
fn encrypted_private_key_info(
    key_pkcs8: &[u8],
    password: &str,
    salt: &[u8],
    iv: &[u8],
) -> der::Result<Vec<u8>> {
    seq(&[
        &pbes2_algorithm(salt, iv)?,
        &octets(&pbes2_encrypt(key_pkcs8, password, salt, iv)?)?,
    ])
}

/// A `ContentInfo` of type `id-encryptedData` (RFC 2315 §13) holding `SafeContents` of `bags`
/// encrypted under PBES2 with `random` = salt then IV.
fn encrypted_data(bags: &[Vec<u8>], password: &str, random: &[u8]) -> der::Result<Vec<u8>> {
    let (salt, iv) = random.split_at(SALT_LEN);
    let contents = seq(&bags.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
    let ciphertext = pbes2_encrypt(&contents, password, salt, iv)?;
    let encrypted_content_info = seq(&[
        &oid(ID_DATA)?,
        &pbes2_algorithm(salt, iv)?,
        &tlv(context(0, false), &[&ciphertext])?,
    ])?;
    let encrypted_data = seq(&[&0u8.to_der()?, &encrypted_content_info])?;
    seq(&[
        &oid(ID_ENCRYPTED_DATA)?,
        &tlv(context(0, true), &[&encrypted_data])?,
    ])
}

/// A `ContentInfo` of type `id-data` holding `content` in an OCTET STRING.
fn data_content_info(content: &[u8]) -> der::Result<Vec<u8>> {
    seq(&[
        &oid(ID_DATA)?,
        &tlv(context(0, true), &[&octets(content)?])?,
    ])
}

/// The PBES2 `AlgorithmIdentifier` (RFC 8018 A.4): PBKDF2 with `salt`, [`ITERATIONS`] and
/// HMAC-SHA256, then AES-256-CBC with `iv`.
fn pbes2_algorithm(salt: &[u8], iv: &[u8]) -> der::Result<Vec<u8>> {
    let prf = seq(&[&oid(HMAC_WITH_SHA256)?, &null()?])?;
    let kdf_params = seq(&[&octets(salt)?, &ITERATIONS.to_der()?, &prf])?;
    let kdf = seq(&[&oid(PBKDF2)?, &kdf_params])?;
    let cipher = seq(&[&oid(AES_256_CBC)?, &octets(iv)?])?;
    seq(&[&oid(PBES2)?, &seq(&[&kdf, &cipher])?])
}

/// PBES2 encryption (RFC 8018 §6.2.1): key = PBKDF2-HMAC-SHA256(password, salt), then
/// AES-256-CBC with PKCS#7 padding.
fn pbes2_encrypt(plain: &[u8], password: &str, salt: &[u8], iv: &[u8]) -> der::Result<Vec<u8>> {
    let mut key = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        ITERATIONS_NONZERO,
        salt,
        password.as_bytes(),
        &mut key,
    );
    let mut iv_block = [0u8; IV_LEN];
    iv_block.copy_from_slice(iv);
    let mut buf = Vec::from(plain);
    buf.resize((plain.len() / IV_LEN + 1) * IV_LEN, 0);
    let len = cbc::Encryptor::<Aes256>::new(&key.into(), &iv_block.into())
        .encrypt_padded_mut::<Pkcs7>(&mut buf, plain.len())
        .map_err(|_| der::Error::from(der::ErrorKind::Failed))?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// A `CertBag` (RFC 7292 §4.2.3) of one DER certificate in a `SafeBag`.
fn cert_bag(der: &[u8], attributes: &[u8]) -> der::Result<Vec<u8>> {
    let value = seq(&[
        &oid(X509_CERTIFICATE)?,
        &tlv(context(0, true), &[&octets(der)?])?,
    ])?;
    safe_bag(CERT_BAG, &value, attributes)
}

/// A `SafeBag` (RFC 7292 §4.2): `bagId`, `[0] EXPLICIT` value, and `attributes` (an encoded
/// SET, or empty for none).
fn safe_bag(id: ObjectIdentifier, value: &[u8], attributes: &[u8]) -> der::Result<Vec<u8>> {
    seq(&[&oid(id)?, &tlv(context(0, true), &[value])?, attributes])
}

/// The SET of `friendlyName` and `localKeyId` of a key and its leaf.
fn bag_attributes(alias: &str, local_key_id: &[u8]) -> der::Result<Vec<u8>> {
    set_of(alloc::vec![
        attribute(FRIENDLY_NAME, &bmp_string(alias)?)?,
        attribute(LOCAL_KEY_ID, &octets(local_key_id)?)?,
    ])
}

/// A `PKCS12Attribute` with one value (RFC 7292 §4.2).
fn attribute(id: ObjectIdentifier, value: &[u8]) -> der::Result<Vec<u8>> {
    seq(&[&oid(id)?, &set_of(alloc::vec![value.to_vec()])?])
}

/// A BMPString (X.680 §41) of `text`: UCS-2, which names outside the BMP cannot be.
fn bmp_string(text: &str) -> der::Result<Vec<u8>> {
    der::asn1::BmpString::from_utf8(text)?.to_der()
}

/// A DER SET OF: the elements sorted by their encodings (X.690 §11.6).
fn set_of(mut elements: Vec<Vec<u8>>) -> der::Result<Vec<u8>> {
    elements.sort();
    tlv(
        Tag::Set,
        &elements.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    )
}

fn seq(parts: &[&[u8]]) -> der::Result<Vec<u8>> {
    tlv(Tag::Sequence, parts)
}

fn octets(bytes: &[u8]) -> der::Result<Vec<u8>> {
    tlv(Tag::OctetString, &[bytes])
}

fn oid(oid: ObjectIdentifier) -> der::Result<Vec<u8>> {
    oid.to_der()
}

fn null() -> der::Result<Vec<u8>> {
    der::asn1::Null.to_der()
}

/// The tag `[number]` of a context-specific field.
fn context(number: u32, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: TagNumber(number),
    }
}

/// One DER TLV: `tag`, the definite length of the concatenated `parts`, then the parts.
fn tlv(tag: Tag, parts: &[&[u8]]) -> der::Result<Vec<u8>> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 6);
    Header::new(tag, Length::try_from(len)?).encode_to_vec(&mut out)?;
    for part in parts {
        out.extend_from_slice(part);
    }
    Ok(out)
}
