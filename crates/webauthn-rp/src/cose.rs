//! COSE keys and signature algorithms (RFC 9052/9053, RFC 8230 for RSA, WebAuthn L3 §5.8.5).
//!
//! Supported credential algorithms: ES256 (-7), ES384 (-35), EdDSA (-8) and Ed25519 (-19)
//! over Ed25519, RS256/384/512 (-257/-258/-259) and PS256/384/512 (-37/-38/-39).
//! RS1 (-65535, RSASSA-PKCS1-v1_5 with SHA-1) exists only for TPM attestation signatures
//! (every real Windows Hello TPM uses it); a credential key with alg RS1 is rejected.
//!
//! Keys are validated when parsed: EC points must be on the curve with coordinates of
//! the curve's exact length, Ed25519 keys must decompress and not be of small order,
//! RSA moduli must have at least 2048 bits and the exponent must be odd and ≥ 3.

use rsa::traits::PublicKeyParts;
use sha2::Digest;
use thiserror::Error;

use crate::cbor::{self, CborError, Value, map_get_int};

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = 8192;

/// A COSE signature algorithm this crate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoseAlgorithm {
    /// ECDSA P-256 with SHA-256 (-7).
    Es256,
    /// ECDSA P-384 with SHA-384 (-35).
    Es384,
    /// EdDSA (-8); only Ed25519 keys.
    EdDsa,
    /// Ed25519 (-19), the fully specified identifier.
    Ed25519,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (-257).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (-258).
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (-259).
    Rs512,
    /// RSASSA-PSS with SHA-256, salt length 32 (-37).
    Ps256,
    /// RSASSA-PSS with SHA-384 (-38).
    Ps384,
    /// RSASSA-PSS with SHA-512 (-39).
    Ps512,
    /// RSASSA-PKCS1-v1_5 with SHA-1 (-65535): TPM attestation signatures only.
    Rs1,
}

impl CoseAlgorithm {
    /// Maps a COSE algorithm identifier.
    pub fn from_id(id: i64) -> Option<Self> {
        Some(match id {
            -7 => Self::Es256,
            -35 => Self::Es384,
            -8 => Self::EdDsa,
            -19 => Self::Ed25519,
            -257 => Self::Rs256,
            -258 => Self::Rs384,
            -259 => Self::Rs512,
            -37 => Self::Ps256,
            -38 => Self::Ps384,
            -39 => Self::Ps512,
            -65535 => Self::Rs1,
            _ => return None,
        })
    }

    /// The COSE algorithm identifier.
    pub fn id(self) -> i64 {
        match self {
            Self::Es256 => -7,
            Self::Es384 => -35,
            Self::EdDsa => -8,
            Self::Ed25519 => -19,
            Self::Rs256 => -257,
            Self::Rs384 => -258,
            Self::Rs512 => -259,
            Self::Ps256 => -37,
            Self::Ps384 => -38,
            Self::Ps512 => -39,
            Self::Rs1 => -65535,
        }
    }

    /// The hash the algorithm signs with (Ed25519 hashes internally with SHA-512).
    pub fn hash(self) -> HashAlg {
        match self {
            Self::Es256 | Self::Rs256 | Self::Ps256 => HashAlg::Sha256,
            Self::Es384 | Self::Rs384 | Self::Ps384 => HashAlg::Sha384,
            Self::EdDsa | Self::Ed25519 | Self::Rs512 | Self::Ps512 => HashAlg::Sha512,
            Self::Rs1 => HashAlg::Sha1,
        }
    }
}

/// A hash function used by signatures and TPM structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-1 (legacy TPM and certificate signatures only).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// Hashes the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            HashAlg::Sha1 => run::<sha1::Sha1>(parts),
            HashAlg::Sha256 => run::<sha2::Sha256>(parts),
            HashAlg::Sha384 => run::<sha2::Sha384>(parts),
            HashAlg::Sha512 => run::<sha2::Sha512>(parts),
        }
    }
}

/// A validated public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// NIST P-256.
    P256(p256::ecdsa::VerifyingKey),
    /// NIST P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RSA, 2048..=8192 bits, odd exponent ≥ 3.
    Rsa(rsa::RsaPublicKey),
}

/// Why a COSE key or a signature could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoseError {
    /// The key is not a CBOR map.
    #[error("COSE key CBOR: {0}")]
    Cbor(CborError),
    /// A required parameter is missing or has the wrong type.
    #[error("COSE key: {0}")]
    Malformed(&'static str),
    /// The key's algorithm is unknown, or does not fit its key type or curve.
    #[error("unsupported COSE algorithm or key type: {0}")]
    UnsupportedAlgorithm(String),
    /// The key material is invalid or too weak.
    #[error("invalid public key: {0}")]
    InvalidKey(&'static str),
}

impl CoseError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            CoseError::Cbor(_) | CoseError::Malformed(_) => "invalid_cose_key",
            CoseError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            CoseError::InvalidKey(_) => "invalid_public_key",
        }
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// The algorithm cannot be used with this key type.
    #[error("algorithm does not match the key type")]
    AlgorithmKeyMismatch,
    /// The signature is not well-formed (for ECDSA: not ASN.1 DER).
    #[error("malformed signature")]
    Malformed,
    /// The signature does not verify.
    #[error("signature does not verify")]
    Invalid,
}

/// A credential public key: its algorithm, the validated key and the exact COSE bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialPublicKey {
    alg: CoseAlgorithm,
    key: PublicKey,
    cose: Vec<u8>,
}

impl CredentialPublicKey {
    /// Parses and validates a COSE_Key whose CBOR spans all of `cose`.
    ///
    /// RS1 keys are rejected: SHA-1 is only tolerated for TPM attestation signatures.
    pub fn from_cose(cose: &[u8]) -> Result<Self, CoseError> {
        let value = cbor::decode(cose).map_err(CoseError::Cbor)?;
        let (alg, key) = parse_cose_key(&value)?;
        if alg == CoseAlgorithm::Rs1 {
            return Err(CoseError::UnsupportedAlgorithm("RS1 (-65535) credential keys".into()));
        }
        Ok(Self {
            alg,
            key,
            cose: cose.to_vec(),
        })
    }

    /// The key's COSE algorithm.
    pub fn alg(&self) -> CoseAlgorithm {
        self.alg
    }

    /// The validated key.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The exact COSE_Key bytes (store these).
    pub fn cose_bytes(&self) -> &[u8] {
        &self.cose
    }

    /// Verifies `signature` over `message` with the key's own algorithm.
    pub fn verify(&self, message: &[&[u8]], signature: &[u8]) -> Result<(), SignatureError> {
        self.key.verify(self.alg, message, signature)
    }
}

/// Parses a decoded COSE_Key map into its algorithm and validated key.
pub fn parse_cose_key(value: &Value<'_>) -> Result<(CoseAlgorithm, PublicKey), CoseError> {
    let map = value.as_map().ok_or(CoseError::Malformed("not a map"))?;
    let kty = map_get_int(map, 1)
        .and_then(Value::as_integer)
        .ok_or(CoseError::Malformed("kty (1) missing"))?;
    let alg_id = map_get_int(map, 3)
        .and_then(Value::as_integer)
        .ok_or(CoseError::Malformed("alg (3) missing"))?;
    let alg = i64::try_from(alg_id)
        .ok()
        .and_then(CoseAlgorithm::from_id)
        .ok_or_else(|| CoseError::UnsupportedAlgorithm(format!("alg {alg_id}")))?;
    if map_get_int(map, -4).is_some() && kty != 3 {
        return Err(CoseError::Malformed("private key parameter d (-4) present"));
    }
    let bytes = |label: i128, what: &'static str| -> Result<&[u8], CoseError> {
        map_get_int(map, label)
            .and_then(Value::as_bytes)
            .ok_or(CoseError::Malformed(what))
    };
    let crv = || {
        map_get_int(map, -1)
            .and_then(Value::as_integer)
            .ok_or(CoseError::Malformed("crv (-1) missing"))
    };
    let key = match (kty, alg) {
        // kty EC2 (RFC 9053 §7.1.1).
        (2, CoseAlgorithm::Es256 | CoseAlgorithm::Es384) => {
            let x = bytes(-2, "x (-2) missing or not bytes")?;
            let y = bytes(-3, "y (-3) missing or not bytes (compressed points are not allowed)")?;
            ec_key(crv()?, alg, x, y)?
        }
        // kty OKP (RFC 9053 §7.2).
        (1, CoseAlgorithm::EdDsa | CoseAlgorithm::Ed25519) => {
            if crv()? != 6 {
                return Err(CoseError::UnsupportedAlgorithm(
                    "OKP curve other than Ed25519 (6)".into(),
                ));
            }
            ed25519_key(bytes(-2, "x (-2) missing or not bytes")?)?
        }
        // kty RSA (RFC 8230 §4).
        (
            3,
            CoseAlgorithm::Rs256
            | CoseAlgorithm::Rs384
            | CoseAlgorithm::Rs512
            | CoseAlgorithm::Ps256
            | CoseAlgorithm::Ps384
            | CoseAlgorithm::Ps512
            | CoseAlgorithm::Rs1,
        ) => {
            if map_get_int(map, -4).is_some() {
                return Err(CoseError::Malformed("RSA private exponent d (-4) present"));
            }
            rsa_key(
                bytes(-1, "n (-1) missing or not bytes")?,
                bytes(-2, "e (-2) missing or not bytes")?,
            )?
        }
        _ => return Err(CoseError::UnsupportedAlgorithm(format!("kty {kty} with alg {alg_id}"))),
    };
    Ok((alg, key))
}

fn ec_key(crv: i128, alg: CoseAlgorithm, x: &[u8], y: &[u8]) -> Result<PublicKey, CoseError> {
    match (crv, alg) {
        (1, CoseAlgorithm::Es256) => {
            if x.len() != 32 || y.len() != 32 {
                return Err(CoseError::InvalidKey("P-256 coordinates must be 32 bytes"));
            }
            PublicKey::p256_from_xy(x, y)
        }
        (2, CoseAlgorithm::Es384) => {
            if x.len() != 48 || y.len() != 48 {
                return Err(CoseError::InvalidKey("P-384 coordinates must be 48 bytes"));
            }
            PublicKey::p384_from_xy(x, y)
        }
        _ => Err(CoseError::UnsupportedAlgorithm(format!("EC2 curve {crv} with {alg:?}"))),
    }
}

/// Validates an Ed25519 public key.
pub fn ed25519_key(x: &[u8]) -> Result<PublicKey, CoseError> {
    let bytes: &[u8; 32] = x
        .try_into()
        .map_err(|_| CoseError::InvalidKey("Ed25519 key must be 32 bytes"))?;
    let key =
        ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| CoseError::InvalidKey("not an Ed25519 point"))?;
    if key.is_weak() {
        return Err(CoseError::InvalidKey("Ed25519 key of small order"));
    }
    Ok(PublicKey::Ed25519(key))
}

/// Validates an RSA public key from big-endian modulus and exponent.
pub fn rsa_key(n_bytes: &[u8], e: &[u8]) -> Result<PublicKey, CoseError> {
    let n = rsa::BigUint::from_bytes_be(n_bytes);
    let e_big = rsa::BigUint::from_bytes_be(e);
    let bits = n.bits();
    if bits < MIN_RSA_BITS {
        return Err(CoseError::InvalidKey("RSA modulus shorter than 2048 bits"));
    }
    if bits > MAX_RSA_BITS {
        return Err(CoseError::InvalidKey("RSA modulus longer than 8192 bits"));
    }
    if e_big < rsa::BigUint::from(3u8) || e.last().is_none_or(|b| b & 1 == 0) {
        return Err(CoseError::InvalidKey("RSA exponent must be odd and at least 3"));
    }
    if n_bytes.last().is_none_or(|b| b & 1 == 0) {
        return Err(CoseError::InvalidKey("RSA modulus is even"));
    }
    rsa::RsaPublicKey::new_with_max_size(n, e_big, MAX_RSA_BITS)
        .map(PublicKey::Rsa)
        .map_err(|_| CoseError::InvalidKey("RSA key rejected"))
}

impl PublicKey {
    /// A P-256 key from affine coordinates; the point must be on the curve.
    pub fn p256_from_xy(x: &[u8], y: &[u8]) -> Result<Self, CoseError> {
        let point = p256::EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
        p256::ecdsa::VerifyingKey::from_encoded_point(&point)
            .map(PublicKey::P256)
            .map_err(|_| CoseError::InvalidKey("point is not on P-256"))
    }

    /// A P-384 key from affine coordinates; the point must be on the curve.
    pub fn p384_from_xy(x: &[u8], y: &[u8]) -> Result<Self, CoseError> {
        let point = p384::EncodedPoint::from_affine_coordinates(x.into(), y.into(), false);
        p384::ecdsa::VerifyingKey::from_encoded_point(&point)
            .map(PublicKey::P384)
            .map_err(|_| CoseError::InvalidKey("point is not on P-384"))
    }

    /// Verifies `signature` over the concatenation of `message` parts with `alg`.
    pub fn verify(&self, alg: CoseAlgorithm, message: &[&[u8]], signature: &[u8]) -> Result<(), SignatureError> {
        use ecdsa::signature::hazmat::PrehashVerifier;
        match (self, alg) {
            (PublicKey::P256(key), CoseAlgorithm::Es256) => {
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| SignatureError::Malformed)?;
                let digest = HashAlg::Sha256.digest(message);
                key.verify_prehash(&digest, &sig).map_err(|_| SignatureError::Invalid)
            }
            (PublicKey::P384(key), CoseAlgorithm::Es384) => {
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| SignatureError::Malformed)?;
                let digest = HashAlg::Sha384.digest(message);
                key.verify_prehash(&digest, &sig).map_err(|_| SignatureError::Invalid)
            }
            (PublicKey::Ed25519(key), CoseAlgorithm::EdDsa | CoseAlgorithm::Ed25519) => {
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(|_| SignatureError::Malformed)?;
                let msg = message.concat();
                key.verify_strict(&msg, &sig).map_err(|_| SignatureError::Invalid)
            }
            (
                PublicKey::Rsa(key),
                CoseAlgorithm::Rs256
                | CoseAlgorithm::Rs384
                | CoseAlgorithm::Rs512
                | CoseAlgorithm::Rs1
                | CoseAlgorithm::Ps256
                | CoseAlgorithm::Ps384
                | CoseAlgorithm::Ps512,
            ) => rsa_verify(key, alg, &alg.hash().digest(message), signature),
            _ => Err(SignatureError::AlgorithmKeyMismatch),
        }
    }

    /// Verifies an ECDSA signature over a precomputed digest (certificate signatures,
    /// where the hash may differ from the curve's natural one).
    pub fn verify_ecdsa_prehash(&self, digest: &[u8], der_signature: &[u8]) -> Result<(), SignatureError> {
        use ecdsa::signature::hazmat::PrehashVerifier;
        match self {
            PublicKey::P256(key) => {
                let sig = p256::ecdsa::Signature::from_der(der_signature).map_err(|_| SignatureError::Malformed)?;
                key.verify_prehash(digest, &sig).map_err(|_| SignatureError::Invalid)
            }
            PublicKey::P384(key) => {
                let sig = p384::ecdsa::Signature::from_der(der_signature).map_err(|_| SignatureError::Malformed)?;
                key.verify_prehash(digest, &sig).map_err(|_| SignatureError::Invalid)
            }
            _ => Err(SignatureError::AlgorithmKeyMismatch),
        }
    }

    /// True if both are the same key (used to compare certificate keys with credential keys).
    pub fn same_key(&self, other: &PublicKey) -> bool {
        match (self, other) {
            (PublicKey::P256(a), PublicKey::P256(b)) => a.to_encoded_point(false) == b.to_encoded_point(false),
            (PublicKey::P384(a), PublicKey::P384(b)) => a.to_encoded_point(false) == b.to_encoded_point(false),
            (PublicKey::Ed25519(a), PublicKey::Ed25519(b)) => a.as_bytes() == b.as_bytes(),
            (PublicKey::Rsa(a), PublicKey::Rsa(b)) => a.n() == b.n() && a.e() == b.e(),
            _ => false,
        }
    }
}

/// RSASSA verification over a digest computed with `alg`'s hash.
pub fn rsa_verify(
    key: &rsa::RsaPublicKey,
    alg: CoseAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    use rsa::{Pkcs1v15Sign, Pss};
    let result = match alg {
        CoseAlgorithm::Rs256 => key.verify(Pkcs1v15Sign::new::<sha2::Sha256>(), digest, signature),
        CoseAlgorithm::Rs384 => key.verify(Pkcs1v15Sign::new::<sha2::Sha384>(), digest, signature),
        CoseAlgorithm::Rs512 => key.verify(Pkcs1v15Sign::new::<sha2::Sha512>(), digest, signature),
        CoseAlgorithm::Rs1 => key.verify(Pkcs1v15Sign::new::<sha1::Sha1>(), digest, signature),
        CoseAlgorithm::Ps256 => key.verify(Pss::new::<sha2::Sha256>(), digest, signature),
        CoseAlgorithm::Ps384 => key.verify(Pss::new::<sha2::Sha384>(), digest, signature),
        CoseAlgorithm::Ps512 => key.verify(Pss::new::<sha2::Sha512>(), digest, signature),
        _ => return Err(SignatureError::AlgorithmKeyMismatch),
    };
    result.map_err(|_| SignatureError::Invalid)
}

#[cfg(test)]
mod tests;
