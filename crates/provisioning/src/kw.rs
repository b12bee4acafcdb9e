//! AES Key Wrap with a 256-bit key encryption key (RFC 3394 §2.2; `A256KW`, RFC 7518 §4.4).

use aes::Aes256;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The default initial value (RFC 3394 §2.2.3.1).
const IV: [u8; 8] = [0xA6; 8];

/// Wraps `key` (a multiple of 8 bytes, at least 16) under `kek` (RFC 3394 §2.2.1, index-based).
pub fn wrap(kek: &[u8; 32], key: &[u8]) -> Option<Vec<u8>> {
    if key.len() < 16 || !key.len().is_multiple_of(8) {
        return None;
    }
    let cipher = Aes256::new(GenericArray::from_slice(kek));
    let n = key.len() / 8;
    // 1. Initialize variables: A = IV, R[i] = P[i].
    let mut a = IV;
    let mut r: Zeroizing<Vec<u8>> = Zeroizing::new(key.to_vec());
    // 2. Calculate intermediate values: for j = 0 to 5, for i = 1 to n:
    //    B = AES(K, A | R[i]); A = MSB(64, B) ^ t where t = (n*j)+i; R[i] = LSB(64, B).
    for j in 0..6u64 {
        for i in 0..n {
            let mut block = GenericArray::clone_from_slice(&[&a[..], &r[i * 8..i * 8 + 8]].concat());
            cipher.encrypt_block(&mut block);
            let t = (n as u64) * j + (i as u64) + 1;
            a.copy_from_slice(&block[..8]);
            for (byte, t_byte) in a.iter_mut().zip(t.to_be_bytes()) {
                *byte ^= t_byte;
            }
            r[i * 8..i * 8 + 8].copy_from_slice(&block[8..]);
        }
    }
    // 3. Output the results: C[0] = A, C[i] = R[i].
    Some([&a[..], &r[..]].concat())
}

/// Unwraps `wrapped` under `kek` (RFC 3394 §2.2.2), checking the integrity value (§2.2.3).
/// `None` when it does not unwrap: the wrong key, or altered bytes.
pub fn unwrap(kek: &[u8; 32], wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if wrapped.len() < 24 || !wrapped.len().is_multiple_of(8) {
        return None;
    }
    let cipher = Aes256::new(GenericArray::from_slice(kek));
    let n = wrapped.len() / 8 - 1;
    // 1. Initialize variables: A = C[0], R[i] = C[i].
    let mut a = [0u8; 8];
    a.copy_from_slice(&wrapped[..8]);
    let mut r = Zeroizing::new(wrapped[8..].to_vec());
    // 2. Compute intermediate values: for j = 5 to 0, for i = n to 1:
    //    B = AES-1(K, (A ^ t) | R[i]) where t = n*j+i; A = MSB(64, B); R[i] = LSB(64, B).
    for j in (0..6u64).rev() {
        for i in (0..n).rev() {
            let t = (n as u64) * j + (i as u64) + 1;
            let mut a_t = a;
            for (byte, t_byte) in a_t.iter_mut().zip(t.to_be_bytes()) {
                *byte ^= t_byte;
            }
            let mut block = GenericArray::clone_from_slice(&[&a_t[..], &r[i * 8..i * 8 + 8]].concat());
            cipher.decrypt_block(&mut block);
            a.copy_from_slice(&block[..8]);
            r[i * 8..i * 8 + 8].copy_from_slice(&block[8..]);
        }
    }
    // 3. Output results: if A is the initial value, P[i] = R[i]; else an error.
    if bool::from(a.ct_eq(&IV)) { Some(r) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3394 §4.6: wrap 256 bits of key data with a 256-bit KEK.
    #[test]
    fn rfc3394_section_4_6() {
        let kek: [u8; 32] = hex::decode("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
            .unwrap()
            .try_into()
            .unwrap();
        let key = hex::decode("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F").unwrap();
        let expected =
            hex::decode("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21").unwrap();
        let wrapped = wrap(&kek, &key).unwrap();
        assert_eq!(wrapped, expected);
        assert_eq!(unwrap(&kek, &wrapped).unwrap().as_slice(), key.as_slice());
        let mut altered = wrapped.clone();
        altered[10] ^= 1;
        assert!(unwrap(&kek, &altered).is_none());
        let mut other = kek;
        other[0] ^= 1;
        assert!(unwrap(&other, &wrapped).is_none());
    }
}
