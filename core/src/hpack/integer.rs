//! HPACK integer representation (RFC 7541 §5.1): an N-bit prefix plus continuation bytes.

use alloc::vec::Vec;

use super::HpackError;

/// Largest integer accepted by the decoder. Everything HPACK counts (indexes, string lengths,
/// table sizes) is far below this; larger values are rejected as overflow.
const MAX_VALUE: u64 = u32::MAX as u64;

/// Most continuation bytes accepted after the prefix: 5 carry 35 bits, more than `MAX_VALUE`.
const MAX_CONTINUATION: usize = 5;

/// Decodes an integer whose prefix is the low `prefix_bits` (1..=8) bits of the first byte of
/// `input`, and advances `input` past it (RFC 7541 §5.1).
///
/// The bits above the prefix are ignored (the caller has read them as the representation's
/// type). Fails with [`HpackError::Truncated`] if `input` ends inside the integer and with
/// [`HpackError::IntegerOverflow`] if the value exceeds `u32::MAX` or uses more than five
/// continuation bytes.
pub(crate) fn decode(input: &mut &[u8], prefix_bits: u8) -> Result<usize, HpackError> {
    let max_prefix: u8 = u8::MAX >> (8 - prefix_bits.clamp(1, 8));
    let (&first, rest) = input.split_first().ok_or(HpackError::Truncated)?;
    *input = rest;
    let prefix = first & max_prefix;
    if prefix < max_prefix {
        return Ok(usize::from(prefix));
    }
    let mut value = u64::from(max_prefix);
    for shift in (0..MAX_CONTINUATION).map(|i| 7 * i) {
        let (&byte, rest) = input.split_first().ok_or(HpackError::Truncated)?;
        *input = rest;
        value += u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            if value > MAX_VALUE {
                return Err(HpackError::IntegerOverflow);
            }
            return usize::try_from(value).map_err(|_| HpackError::IntegerOverflow);
        }
    }
    Err(HpackError::IntegerOverflow)
}

/// Appends `value` with an N-bit prefix (`prefix_bits`, 1..=8); `flags` are the bits above
/// the prefix in the first byte (the representation's type), RFC 7541 §5.1.
pub(crate) fn encode(out: &mut Vec<u8>, flags: u8, prefix_bits: u8, value: usize) {
    let max_prefix: u8 = u8::MAX >> (8 - prefix_bits.clamp(1, 8));
    if value < usize::from(max_prefix) {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max_prefix);
    let mut rest = value - usize::from(max_prefix);
    while rest >= 0x80 {
        out.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn encoded(flags: u8, prefix_bits: u8, value: usize) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, flags, prefix_bits, value);
        out
    }

    fn decoded(bytes: &[u8], prefix_bits: u8) -> Result<(usize, usize), HpackError> {
        let mut input = bytes;
        let value = decode(&mut input, prefix_bits)?;
        Ok((value, input.len()))
    }

    /// RFC 7541 C.1.1: 10 with a 5-bit prefix.
    #[test]
    fn c_1_1_ten_with_5_bit_prefix() {
        assert_eq!(encoded(0, 5, 10), vec![0x0a]);
        assert_eq!(decoded(&[0xea], 5), Ok((10, 0)));
    }

    /// RFC 7541 C.1.2: 1337 with a 5-bit prefix.
    #[test]
    fn c_1_2_1337_with_5_bit_prefix() {
        assert_eq!(encoded(0, 5, 1337), vec![0x1f, 0x9a, 0x0a]);
        assert_eq!(decoded(&[0x1f, 0x9a, 0x0a, 0xff], 5), Ok((1337, 1)));
    }

    /// RFC 7541 C.1.3: 42 starting at an octet boundary (8-bit prefix).
    #[test]
    fn c_1_3_42_at_octet_boundary() {
        assert_eq!(encoded(0, 8, 42), vec![0x2a]);
        assert_eq!(decoded(&[0x2a], 8), Ok((42, 0)));
    }

    /// A value equal to 2^N-1 needs a `00` continuation byte (grpc-go's `7f 00` = 63).
    #[test]
    fn prefix_max_needs_continuation_byte() {
        assert_eq!(encoded(0x40, 6, 63), vec![0x7f, 0x00]);
        assert_eq!(decoded(&[0x7f, 0x00], 6), Ok((63, 0)));
        assert_eq!(decoded(&[0x0f, 0x00], 4), Ok((15, 0)));
        assert_eq!(decoded(&[0xff, 0x00], 7), Ok((127, 0)));
        assert_eq!(decoded(&[0x3f], 6), Err(HpackError::Truncated));
    }

    #[test]
    fn every_prefix_round_trips() {
        for prefix_bits in 1..=8 {
            for value in [
                0, 1, 14, 15, 16, 30, 31, 62, 63, 64, 126, 127, 128, 255, 256, 16383,
            ]
            .into_iter()
            .chain([16384, 1 << 21, u32::MAX as usize])
            {
                let bytes = encoded(0, prefix_bits, value);
                assert_eq!(
                    decoded(&bytes, prefix_bits),
                    Ok((value, 0)),
                    "{value}/{prefix_bits}"
                );
            }
        }
    }

    #[test]
    fn overflow_is_rejected() {
        // u32::MAX + 1 with a 5-bit prefix.
        let bytes = encoded(0, 5, u32::MAX as usize + 1);
        assert_eq!(decoded(&bytes, 5), Err(HpackError::IntegerOverflow));
        // Six continuation bytes, even if they only add zeros.
        let padded = [0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(decoded(&padded, 5), Err(HpackError::IntegerOverflow));
        // Five continuation bytes of zeros are still a valid encoding of 31.
        assert_eq!(
            decoded(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x00], 5),
            Ok((31, 0))
        );
        // Found by the hpack_diff fuzz target: fluke-hpack refuses five continuation bytes
        // (its limit is four, RFC 7541 §5.1 leaves it to the implementation); ours takes
        // them, as a literal's name index 15 + 12 = 27 here. u32::MAX needs all five.
        assert_eq!(
            decoded(&[0x1f, 0x8c, 0x80, 0x80, 0x80, 0x00], 4),
            Ok((27, 0))
        );
        assert_eq!(encoded(0, 5, u32::MAX as usize).len(), 6);
    }

    #[test]
    fn truncated_continuation_is_rejected() {
        assert_eq!(decoded(&[], 7), Err(HpackError::Truncated));
        assert_eq!(decoded(&[0x1f, 0x9a], 5), Err(HpackError::Truncated));
    }
}
