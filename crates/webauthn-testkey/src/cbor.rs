//! A tiny CBOR encoder (RFC 8949): definite lengths, shortest heads, items written in the
//! order given. Enough for COSE keys, attestation statements and attestation objects, and
//! for tests that need hand-made broken CBOR (wrong types, deep nesting, trailing bytes).

/// The head of a data item: major type `major` (0–7) with argument `n`, shortest form.
pub fn head(major: u8, n: u64) -> Vec<u8> {
    let m = major << 5;
    if n < 24 {
        // n < 24 fits in the low five bits.
        vec![m | n as u8]
    } else if let Ok(b) = u8::try_from(n) {
        vec![m | 24, b]
    } else if let Ok(s) = u16::try_from(n) {
        [vec![m | 25], s.to_be_bytes().to_vec()].concat()
    } else if let Ok(w) = u32::try_from(n) {
        [vec![m | 26], w.to_be_bytes().to_vec()].concat()
    } else {
        [vec![m | 27], n.to_be_bytes().to_vec()].concat()
    }
}

/// An integer (major type 0 or 1).
pub fn int(i: i64) -> Vec<u8> {
    if i >= 0 {
        head(0, i.unsigned_abs())
    } else {
        // -1 - i is non-negative for every negative i.
        head(1, (-1 - i).unsigned_abs())
    }
}

/// A byte string.
pub fn bytes(b: &[u8]) -> Vec<u8> {
    [head(2, b.len() as u64), b.to_vec()].concat()
}

/// A text string.
pub fn text(s: &str) -> Vec<u8> {
    [head(3, s.len() as u64), s.as_bytes().to_vec()].concat()
}

/// An array of already-encoded items.
pub fn array(items: &[Vec<u8>]) -> Vec<u8> {
    [head(4, items.len() as u64), items.concat()].concat()
}

/// A map of already-encoded keys and values, in the order given.
pub fn map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = head(5, entries.len() as u64);
    for (k, v) in entries {
        out.extend_from_slice(k);
        out.extend_from_slice(v);
    }
    out
}

/// `depth` nested one-element arrays around an integer: a decoder without a depth bound
/// overflows its stack on it (bad-input row 2).
pub fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut out = vec![0x81; depth];
    out.push(0x00);
    out
}

/// `depth` nested tags (tag 0) around an integer (RUSTSEC-2019-0025's shape).
pub fn nested_tags(depth: usize) -> Vec<u8> {
    let mut out = vec![0xc0; depth];
    out.push(0x00);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_heads() {
        assert_eq!(int(0), [0x00]);
        assert_eq!(int(23), [0x17]);
        assert_eq!(int(24), [0x18, 24]);
        assert_eq!(int(-1), [0x20]);
        assert_eq!(int(-7), [0x26]);
        assert_eq!(int(-257), [0x39, 0x01, 0x00]);
        assert_eq!(int(65_536), [0x1a, 0, 1, 0, 0]);
        assert_eq!(text("fmt"), [0x63, b'f', b'm', b't']);
        assert_eq!(bytes(&[1, 2]), [0x42, 1, 2]);
        assert_eq!(map(&[(int(1), int(2))]), [0xa1, 0x01, 0x02]);
        assert_eq!(array(&[int(1)]), [0x81, 0x01]);
    }
}
