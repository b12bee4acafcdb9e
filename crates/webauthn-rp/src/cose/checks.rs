//! Checks on a signature's encoding, done before the signature reaches aws-lc-rs.
//!
//! aws-lc answers only "verifies" or "does not"; these checks keep the distinctions and
//! rules this crate has always made: a malformed ECDSA signature is
//! [`SignatureError::Malformed`](super::SignatureError::Malformed), and Ed25519 signatures
//! whose R is a point of small order are refused (the "strict" verification of
//! ed25519-dalek's `verify_strict`, which this crate used before).

use super::EcCurve;

/// Order n of the P-256 group (SEC 2 v2 §2.4.2), big-endian.
const P256_ORDER: [u8; 32] = hex32(*b"ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
/// Order n of the P-384 group (SEC 2 v2 §2.5.1), big-endian.
const P384_ORDER: [u8; 48] =
    hex48(*b"ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973");
/// Order n of the P-521 group (SEC 2 v2 §2.6.1), big-endian, 66 bytes.
const P521_ORDER: [u8; 66] = hex66(
    *b"01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
);

impl EcCurve {
    /// The group order n, big-endian, `field_len` bytes.
    pub(super) fn order(self) -> &'static [u8] {
        match self {
            EcCurve::P256 => &P256_ORDER,
            EcCurve::P384 => &P384_ORDER,
            EcCurve::P521 => &P521_ORDER,
        }
    }
}

/// True if `sig` is `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279
/// §2.2.3) in strict DER — definite minimal lengths, minimal non-negative integers, nothing
/// after the sequence — with 1 ≤ r, s ≤ n − 1 (SEC 1 v2 §4.1.4 step 1).
pub(super) fn ecdsa_der_ok(sig: &[u8], curve: EcCurve) -> bool {
    let Some((content, [])) = tlv(sig, 0x30) else {
        return false;
    };
    let Some((r, rest)) = tlv(content, 0x02) else {
        return false;
    };
    let Some((s, [])) = tlv(rest, 0x02) else {
        return false;
    };
    scalar_in_range(r, curve.order()) && scalar_in_range(s, curve.order())
}

/// One DER TLV with tag `tag`: its contents and the bytes after it. Lengths above 255 are
/// refused (no ECDSA signature on these curves is that long).
fn tlv(data: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = data.split_first()?;
    if first != tag {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let (len, rest) = match len {
        0..=0x7f => (usize::from(len), rest),
        0x81 => {
            let (&len, rest) = rest.split_first()?;
            // DER: the long form only for lengths the short form cannot express.
            if len < 0x80 {
                return None;
            }
            (usize::from(len), rest)
        }
        _ => return None,
    };
    rest.split_at_checked(len)
}

/// True if the DER INTEGER contents `int` are minimal, and the value is in 1..n.
fn scalar_in_range(int: &[u8], order: &[u8]) -> bool {
    let value = match int {
        [] => return false,
        // Negative.
        [first, ..] if first & 0x80 != 0 => return false,
        // Zero.
        [0] => return false,
        // A leading zero byte that is not needed for the sign.
        [0, second, ..] if second & 0x80 == 0 => return false,
        [0, rest @ ..] => rest,
        value => value,
    };
    // `value` has no leading zero byte and is not zero; `order` has the field's length.
    value.len() < order.len() || (value.len() == order.len() && value < order)
}

/// The encodings of the eight points of small order on edwards25519 (the torsion subgroup):
/// the identity, the point of order 2, two of order 4 and four of order 8. Only these
/// canonical encodings need refusing: aws-lc compares R byte for byte with a canonical
/// encoding it computes, so a non-canonical R never verifies. Test `small_order_table`
/// recomputes the table with curve25519-dalek.
pub(super) const ED25519_SMALL_ORDER: [[u8; 32]; 8] = [
    // (0, 1): the identity.
    hex32(*b"0100000000000000000000000000000000000000000000000000000000000000"),
    // (0, -1): order 2.
    hex32(*b"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    // (±sqrt(-1), 0): order 4.
    hex32(*b"0000000000000000000000000000000000000000000000000000000000000000"),
    hex32(*b"0000000000000000000000000000000000000000000000000000000000000080"),
    // Order 8.
    hex32(*b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
    hex32(*b"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"),
    hex32(*b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
    hex32(*b"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),
];

/// True if the R half of an Ed25519 signature is a point of small order.
pub(super) fn ed25519_r_is_small_order(signature: &[u8; 64]) -> bool {
    ED25519_SMALL_ORDER.iter().any(|p| signature[..32] == p[..])
}

const fn hex_digit(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lower-case hex digit"),
    }
}

const fn hex<const N: usize, const H: usize>(text: [u8; H]) -> [u8; N] {
    assert!(H == 2 * N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = hex_digit(text[2 * i]) << 4 | hex_digit(text[2 * i + 1]);
        i += 1;
    }
    out
}

const fn hex32(text: [u8; 64]) -> [u8; 32] {
    hex(text)
}

const fn hex48(text: [u8; 96]) -> [u8; 48] {
    hex(text)
}

const fn hex66(text: [u8; 132]) -> [u8; 66] {
    hex(text)
}
