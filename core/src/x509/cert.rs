//! The X509-SVID certificate rules (SPIFFE X509-SVID §4 and §5, as go-spiffe applies them)
//! on certificates decoded by `x509-cert`, and a light walk of a certificate's structure for
//! the bundle certificates, of which only NotAfter is needed.

use alloc::string::String;

use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, SubjectAltName};
use x509_cert::time::Time;

use super::SvidError;
use crate::der::{DerError, Elements};

/// The single URI SAN of `cert` (RFC 5280 §4.2.1.6), as go-spiffe's `x509svid.IDFromCert`.
pub(crate) fn uri_san(cert: &Certificate, index: usize) -> Result<String, SvidError> {
    let san = cert
        .tbs_certificate()
        .get_extension::<SubjectAltName>()
        .map_err(|error| SvidError::Extension { index, error })?;
    let mut uris = san
        .iter()
        .flat_map(|(_, names)| names.0.iter())
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.as_str()),
            _ => None,
        });
    match (uris.next(), uris.next()) {
        (None, _) => Err(SvidError::NoUriSan),
        (Some(uri), None) => Ok(uri.into()),
        (Some(_), Some(_)) => Err(SvidError::MultipleUriSans),
    }
}

/// Leaf rules: not a CA (an absent basicConstraints counts as not a CA, like go-spiffe);
/// keyUsage has digitalSignature and neither keyCertSign nor cRLSign (an absent keyUsage has
/// no bits, so it fails the first test).
pub(crate) fn check_leaf(cert: &Certificate) -> Result<(), SvidError> {
    if is_ca(cert, 0)? {
        return Err(SvidError::LeafIsCa);
    }
    let usage = key_usage(cert, 0)?;
    if !usage.is_some_and(|u| u.digital_signature()) {
        return Err(SvidError::LeafWithoutDigitalSignature);
    }
    if usage.is_some_and(|u| u.key_cert_sign()) {
        return Err(SvidError::LeafWithKeyCertSign);
    }
    if usage.is_some_and(|u| u.crl_sign()) {
        return Err(SvidError::LeafWithCrlSign);
    }
    Ok(())
}

/// Signing-certificate rules for chain element `index` (>= 1): CA flag and keyCertSign.
pub(crate) fn check_signing(cert: &Certificate, index: usize) -> Result<(), SvidError> {
    if !is_ca(cert, index)? {
        return Err(SvidError::SigningCertNotCa { index });
    }
    if !key_usage(cert, index)?.is_some_and(|u| u.key_cert_sign()) {
        return Err(SvidError::SigningCertWithoutKeyCertSign { index });
    }
    Ok(())
}

/// `cA` of basicConstraints (RFC 5280 §4.2.1.9); absent means false.
fn is_ca(cert: &Certificate, index: usize) -> Result<bool, SvidError> {
    let bc = cert
        .tbs_certificate()
        .get_extension::<BasicConstraints>()
        .map_err(|error| SvidError::Extension { index, error })?;
    Ok(bc.is_some_and(|(_, bc)| bc.ca))
}

/// keyUsage (RFC 5280 §4.2.1.3), if present.
fn key_usage(cert: &Certificate, index: usize) -> Result<Option<KeyUsage>, SvidError> {
    let ku = cert
        .tbs_certificate()
        .get_extension::<KeyUsage>()
        .map_err(|error| SvidError::Extension { index, error })?;
    Ok(ku.map(|(_, ku)| ku))
}

/// NotAfter of a DER certificate in Unix seconds, read by walking its structure (RFC 5280
/// §4.1) without decoding it: every element of `Certificate` and `TBSCertificate` must be
/// there with its tag, in order, with exact DER lengths and nothing after the last; both
/// validity times must be RFC 5280 times of real dates. Names, keys, algorithms and extensions
/// are only framed. No allocation. A certificate `x509-cert` decodes always walks to the same
/// NotAfter (the `x509_svid` fuzz target checks it).
pub(crate) fn walk_not_after(cert: &[u8]) -> Result<i64, DerError> {
    walk(cert).map(|walked| walked.not_after)
}

/// The contents of the serial number INTEGER of a DER certificate (RFC 5280 §4.1.2.2), by
/// the walk of [`walk_not_after`].
pub(crate) fn walk_serial(cert: &[u8]) -> Result<&[u8], DerError> {
    walk(cert).map(|walked| walked.serial)
}

/// What the walk reads of a certificate.
struct Walked<'a> {
    serial: &'a [u8],
    not_after: i64,
}

fn walk(cert: &[u8]) -> Result<Walked<'_>, DerError> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;
    /// `[0] EXPLICIT Version`.
    const VERSION: u8 = 0xa0;
    let mut top = Elements::new(cert, 0);
    let mut certificate = top.expect(SEQUENCE)?;
    top.finish()?;
    let mut tbs = certificate.expect(SEQUENCE)?;
    if tbs.peek_tag() == Some(VERSION) {
        tbs.next_element()?;
    }
    let serial = tbs.expect(INTEGER)?.bytes();
    tbs.expect(SEQUENCE)?; // signature
    tbs.expect(SEQUENCE)?; // issuer
    let mut validity = tbs.expect(SEQUENCE)?;
    time(&mut validity)?; // notBefore
    let not_after = time(&mut validity)?;
    validity.finish()?;
    tbs.expect(SEQUENCE)?; // subject
    tbs.expect(SEQUENCE)?; // subjectPublicKeyInfo
    // issuerUniqueID [1], subjectUniqueID [2], extensions [3]: each optional, in that order.
    let mut next = 1;
    while let Some(tag) = tbs.peek_tag() {
        let number = tag & 0x1f;
        if tag & 0xc0 != 0x80 || !(next..=3).contains(&number) {
            return Err(DerError::TrailingData {
                offset: tbs.offset(),
            });
        }
        tbs.next_element()?;
        next = number + 1;
    }
    certificate.expect(SEQUENCE)?; // signatureAlgorithm
    certificate.expect(BIT_STRING)?; // signatureValue
    certificate.finish()?;
    Ok(Walked { serial, not_after })
}

/// Reads a `Time` (RFC 5280 §4.1.2.5): UTCTime `YYMMDDHHMMSSZ` (years 1950–2049) or
/// GeneralizedTime `YYYYMMDDHHMMSSZ`, as Unix seconds; dates before 1970 are refused, as
/// `x509-cert` refuses them.
fn time(elements: &mut Elements<'_>) -> Result<i64, DerError> {
    const UTC_TIME: u8 = 0x17;
    const GENERALIZED_TIME: u8 = 0x18;
    let offset = elements.offset();
    let bad = DerError::BadTime { offset };
    let (tag, contents) = elements.next_element()?;
    let digits = match (tag, contents.bytes()) {
        (UTC_TIME, [digits @ .., b'Z']) if digits.len() == 12 => digits,
        (GENERALIZED_TIME, [digits @ .., b'Z']) if digits.len() == 14 => digits,
        (UTC_TIME | GENERALIZED_TIME, _) => return Err(bad),
        (found, _) => {
            return Err(DerError::UnexpectedTag {
                offset,
                expected: UTC_TIME,
                found: Some(found),
            });
        }
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad);
    }
    let mut pairs = digits
        .as_chunks::<2>()
        .0
        .iter()
        .map(|&[tens, ones]| i64::from(tens - b'0') * 10 + i64::from(ones - b'0'));
    let mut pair = || pairs.next().unwrap_or_default();
    let year = if tag == UTC_TIME {
        let yy = pair();
        if yy < 50 { 2000 + yy } else { 1900 + yy }
    } else {
        pair() * 100 + pair()
    };
    let (month, day, hour, minute, second) = (pair(), pair(), pair(), pair(), pair());
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if year < 1970
        || !(1..=12).contains(&month)
        || !(1..=month_days).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(bad);
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A certificate time as Unix seconds (times past `i64` saturate).
pub(crate) fn unix_seconds(time: &Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}
