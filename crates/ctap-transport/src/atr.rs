//! The answer-to-reset (ISO/IEC 7816-3 §8) a reader driver reports for this card.
//!
//! It follows the PC/SC part 3 shape of a contactless ISO 14443-4 card (`3B 8n 80 01` then the
//! historical bytes and TCK). The historical bytes (ISO 7816-4 §8.1.1) start with category
//! indicator 80 and carry, as COMPACT-TLV objects:
//!
//! - `73 C0 21 C0`: card capabilities. The third software function byte, C0, declares command
//!   chaining (bit 8) and extended Lc and Le fields (bit 7); clients such as kanidm's only use
//!   extended APDUs when the ATR says so.
//! - `58 "keyfleet"`: card issuer's data (tag 5, length 8).

/// The historical bytes.
pub const HISTORICAL_BYTES: [u8; 14] = [
    0x80, 0x73, 0xC0, 0x21, 0xC0, 0x58, b'k', b'e', b'y', b'f', b'l', b'e', b'e', b't',
];

/// The whole ATR: TS, T0, TD1, TD2, the historical bytes and the check byte TCK.
pub const ATR: [u8; 19] = build();

const fn build() -> [u8; 19] {
    // T0 = 8E: TD1 follows, 14 historical bytes. TD1 = 80: TD2 follows, T=0. TD2 = 01: T=1.
    let mut atr = [0u8; 19];
    atr[0] = 0x3B;
    atr[1] = 0x80 | HISTORICAL_BYTES.len() as u8;
    atr[2] = 0x80;
    atr[3] = 0x01;
    let mut i = 0;
    while i < HISTORICAL_BYTES.len() {
        atr[4 + i] = HISTORICAL_BYTES[i];
        i += 1;
    }
    // TCK makes the exclusive-or of T0 through TCK zero.
    let mut tck = 0;
    let mut j = 1;
    while j < atr.len() - 1 {
        tck ^= atr[j];
        j += 1;
    }
    atr[atr.len() - 1] = tck;
    atr
}

/// Whether historical bytes in the COMPACT-TLV format (category indicator 80) declare extended
/// Lc and Le fields in their card capabilities object (tag 7, third software function byte, bit 7).
pub fn declares_extended_length(historical: &[u8]) -> bool {
    let Some((&0x80, mut rest)) = historical.split_first() else {
        return false;
    };
    while let [tag_len, tail @ ..] = rest {
        let len = usize::from(tag_len & 0x0F);
        let Some(value) = tail.get(..len) else {
            return false;
        };
        if tag_len >> 4 == 0x7 {
            return value.get(2).is_some_and(|caps| caps & 0x40 != 0);
        }
        rest = &tail[len..];
    }
    false
}
