//! Inflating compressed gRPC response messages (grpc/doc/compression.md): `gzip` (RFC 1952
//! member around raw DEFLATE, CRC-32 and ISIZE checked) and `deflate` (zlib, RFC 1950), with
//! miniz_oxide and an output size limit.

use alloc::vec::Vec;
use core::fmt;

use miniz_oxide::inflate::{self, TINFLStatus};

/// A message encoding named by `grpc-encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// `identity`: messages are not compressed.
    Identity,
    /// `gzip` (RFC 1952).
    Gzip,
    /// `deflate`: zlib format (RFC 1950).
    Deflate,
}

impl Encoding {
    /// The encoding for a `grpc-encoding` value; `None` for one we do not implement.
    pub fn from_name(name: &[u8]) -> Option<Encoding> {
        match name {
            b"identity" => Some(Encoding::Identity),
            b"gzip" => Some(Encoding::Gzip),
            b"deflate" => Some(Encoding::Deflate),
            _ => None,
        }
    }
}

/// Why a compressed message could not be inflated.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InflateError {
    /// The inflated message would exceed the limit.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The gzip header is malformed or uses reserved flags (RFC 1952 §2.3).
    BadGzipHeader,
    /// The gzip member is shorter than its header and 8-byte trailer.
    Truncated,
    /// The gzip CRC-32 does not match the inflated data.
    CrcMismatch {
        /// The value in the gzip trailer.
        expected: u32,
        /// The value computed from the data.
        actual: u32,
    },
    /// The gzip ISIZE does not match the inflated length modulo 2^32.
    SizeMismatch {
        /// The value in the gzip trailer.
        expected: u32,
        /// The value computed from the data.
        actual: u32,
    },
    /// The DEFLATE or zlib stream is corrupt (RFC 1950, RFC 1951).
    Corrupt {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InflateError::TooLarge { limit } => {
                write!(f, "inflated message exceeds {limit} bytes")
            }
            InflateError::BadGzipHeader => f.write_str("malformed gzip header"),
            InflateError::Truncated => f.write_str("truncated gzip member"),
            InflateError::CrcMismatch { expected, actual } => write!(
                f,
                "gzip CRC-32 mismatch: trailer {expected:#010x}, data {actual:#010x}"
            ),
            InflateError::SizeMismatch { expected, actual } => {
                write!(f, "gzip ISIZE mismatch: trailer {expected}, data {actual}")
            }
            InflateError::Corrupt { reason } => write!(f, "corrupt compressed data: {reason}"),
        }
    }
}

impl core::error::Error for InflateError {}

/// Inflates `data` compressed with `encoding` into at most `limit` bytes.
pub(super) fn inflate(
    encoding: Encoding,
    data: &[u8],
    limit: usize,
) -> Result<Vec<u8>, InflateError> {
    match encoding {
        Encoding::Identity => Ok(data.to_vec()),
        Encoding::Deflate => map(
            inflate::decompress_to_vec_zlib_with_limit(data, limit),
            limit,
        ),
        Encoding::Gzip => gunzip(data, limit),
    }
}

fn map(
    result: Result<Vec<u8>, inflate::DecompressError>,
    limit: usize,
) -> Result<Vec<u8>, InflateError> {
    result.map_err(|e| match e.status {
        TINFLStatus::HasMoreOutput => InflateError::TooLarge { limit },
        status => InflateError::Corrupt {
            reason: match status {
                TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                    "the stream ends early"
                }
                TINFLStatus::Adler32Mismatch => "Adler-32 checksum mismatch",
                _ => "invalid DEFLATE data",
            },
        },
    })
}

/// One gzip member (RFC 1952 §2.3): header, raw DEFLATE data, CRC-32 and ISIZE.
fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    const RESERVED: u8 = 0xe0;
    let header = data.get(..10).ok_or(InflateError::Truncated)?;
    let flags = header[3];
    if header[..3] != [0x1f, 0x8b, 8] || flags & RESERVED != 0 {
        return Err(InflateError::BadGzipHeader);
    }
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let xlen = data.get(pos..pos + 2).ok_or(InflateError::Truncated)?;
        pos += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
    }
    for field in [FNAME, FCOMMENT] {
        if flags & field != 0 {
            let rest = data.get(pos..).ok_or(InflateError::Truncated)?;
            let nul = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or(InflateError::Truncated)?;
            pos += nul + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    let trailer_at = data.len().checked_sub(8).ok_or(InflateError::Truncated)?;
    let body = data.get(pos..trailer_at).ok_or(InflateError::Truncated)?;
    let trailer = &data[trailer_at..];
    let expected_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let expected_size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    let out = map(inflate::decompress_to_vec_with_limit(body, limit), limit)?;
    let actual = crc32(&out);
    if actual != expected_crc {
        return Err(InflateError::CrcMismatch {
            expected: expected_crc,
            actual,
        });
    }
    let actual = out.len() as u32;
    if actual != expected_size {
        return Err(InflateError::SizeMismatch {
            expected: expected_size,
            actual,
        });
    }
    Ok(out)
}

/// CRC-32 (ISO 3309, as used by gzip: reflected polynomial 0xEDB88320).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    !data.iter().fold(!0u32, |crc, &b| {
        TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8)
    })
}
