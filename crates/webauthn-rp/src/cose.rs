//! COSE keys and signature algorithms (RFC 9052/9053, RFC 8230 for RSA, WebAuthn L3 §5.8.5).
//!
//! Supported credential algorithms: ES256 (-7), ES384 (-35), ES512 (-36, on P-521), EdDSA (-8)
//! and Ed25519 (-19) over Ed25519, RS256/384/512 (-257/-258/-259) and PS256/384/512
//! (-37/-38/-39). RS1 (-65535, RSASSA-PKCS1-v1_5 with SHA-1) exists only for TPM attestation
//! signatures (every real Windows Hello TPM uses it); a credential key with alg RS1 is rejected.
//!
//! Keys are validated when parsed: EC points must be on the curve with coordinates of
//! the curve's exact length, Ed25519 keys must decompress and not be of small order,
//! RSA moduli must have at least 2048 bits and the exponent must be odd and ≥ 3.
//!
//! Every signature is verified by aws-lc-rs. A [`CredentialPublicKey`] parses its key into
//! aws-lc once, when it is built, for its own algorithm; an assertion then costs one
//! verification. Before a signature reaches aws-lc its encoding is checked (`checks`):
//! ECDSA signatures must be strict DER with 1 ≤ r, s < n, Ed25519 signatures 64 bytes with
//! an R that is not of small order, so that [`SignatureError::Malformed`] and the strict
//! Ed25519 rule mean what they always meant.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as lc, ParsedPublicKey, RsaPublicKeyComponents, UnparsedPublicKey};
use sha2::Digest;
use thiserror::Error;

use crate::cbor::{self, CborError, Value, map_get_int};

mod checks;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = 8192;
/// Largest RSA public exponent accepted, in bits (as aws-lc and the `rsa` crate before it).
const MAX_RSA_EXPONENT_BITS: usize = 33;

/// A COSE signature algorithm this crate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoseAlgorithm {
    /// ECDSA P-256 with SHA-256 (-7).
    Es256,
    /// ECDSA P-384 with SHA-384 (-35).
    Es384,
    /// ECDSA P-521 with SHA-512 (-36).
    Es512,
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
            -36 => Self::Es512,
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
            Self::Es512 => -36,
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
            Self::Es512 | Self::EdDsa | Self::Ed25519 | Self::Rs512 | Self::Ps512 => HashAlg::Sha512,
            Self::Rs1 => HashAlg::Sha1,
        }
    }

    /// The aws-lc-rs RSA parameters of an RSA algorithm (key sizes 2048..=8192 bits).
    fn rsa_parameters(self) -> Option<&'static lc::RsaParameters> {
        Some(match self {
            Self::Rs256 => &lc::RSA_PKCS1_2048_8192_SHA256,
            Self::Rs384 => &lc::RSA_PKCS1_2048_8192_SHA384,
            Self::Rs512 => &lc::RSA_PKCS1_2048_8192_SHA512,
            Self::Rs1 => &lc::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            // RFC 8230 §2: the PSS salt is as long as the hash output (aws-lc's default).
            Self::Ps256 => &lc::RSA_PSS_2048_8192_SHA256,
            Self::Ps384 => &lc::RSA_PSS_2048_8192_SHA384,
            Self::Ps512 => &lc::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
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

    /// The same hash in aws-lc-rs.
    fn aws_lc(self) -> &'static digest::Algorithm {
        match self {
            HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
        }
    }

    /// The hash whose digests are `len` bytes long.
    fn from_len(len: usize) -> Option<Self> {
        Some(match len {
            20 => HashAlg::Sha1,
            32 => HashAlg::Sha256,
            48 => HashAlg::Sha384,
            64 => HashAlg::Sha512,
            _ => return None,
        })
    }
}

/// A validated EC public key: the uncompressed SEC1 point `0x04 ‖ x ‖ y`, on its curve.
///
/// It keeps the point as aws-lc parsed it when validating it, for ECDSA with the curve's own
/// hash (ES256, ES384, ES512), so that a credential key is decoded once.
#[derive(Clone)]
pub struct EcPublicKey {
    point: Box<[u8]>,
    parsed: ParsedPublicKey,
}

impl PartialEq for EcPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.point == other.point
    }
}

impl Eq for EcPublicKey {}

impl std::fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcPublicKey").field("point", &self.point).finish()
    }
}

impl EcPublicKey {
    /// The uncompressed point `0x04 ‖ x ‖ y` (the U2F "raw ANSI X9.62" form).
    pub fn uncompressed(&self) -> &[u8] {
        &self.point
    }

    /// The affine x coordinate, big-endian, of the curve's exact length.
    pub fn x(&self) -> &[u8] {
        let n = (self.point.len() - 1) / 2;
        &self.point[1..1 + n]
    }

    /// The affine y coordinate, big-endian, of the curve's exact length.
    pub fn y(&self) -> &[u8] {
        let n = (self.point.len() - 1) / 2;
        &self.point[1 + n..]
    }
}

/// A validated Ed25519 public key (a point of large order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ed25519PublicKey([u8; 32]);

impl Ed25519PublicKey {
    /// The 32-byte encoding (RFC 8032 §5.1.2).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// A validated RSA public key: big-endian modulus and exponent without leading zero bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    n: Box<[u8]>,
    e: Box<[u8]>,
}

impl RsaPublicKey {
    /// The modulus, big-endian, without leading zeros.
    pub fn n(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent, big-endian, without leading zeros.
    pub fn e(&self) -> &[u8] {
        &self.e
    }

    /// The modulus length in bits.
    pub fn bits(&self) -> usize {
        bit_length(&self.n)
    }

    fn components(&self) -> RsaPublicKeyComponents<&[u8]> {
        RsaPublicKeyComponents { n: &self.n, e: &self.e }
    }
}

/// A validated public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// NIST P-256.
    P256(EcPublicKey),
    /// NIST P-384.
    P384(EcPublicKey),
    /// NIST P-521.
    P521(EcPublicKey),
    /// Ed25519.
    Ed25519(Ed25519PublicKey),
    /// RSA, 2048..=8192 bits, odd exponent ≥ 3.
    Rsa(RsaPublicKey),
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
///
/// It also holds the key parsed into aws-lc for its algorithm (derived from the COSE bytes,
/// so equality compares algorithm, key and bytes only).
#[derive(Debug, Clone)]
pub struct CredentialPublicKey {
    alg: CoseAlgorithm,
    key: PublicKey,
    cose: Vec<u8>,
    verifier: ParsedPublicKey,
}

impl PartialEq for CredentialPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.alg == other.alg && self.key == other.key && self.cose == other.cose
    }
}

impl Eq for CredentialPublicKey {}

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
        let verifier = key
            .parsed_for(alg)
            .ok_or(CoseError::InvalidKey("key rejected by the signature library"))?;
        Ok(Self {
            alg,
            key,
            cose: cose.to_vec(),
            verifier,
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
        check_signature_encoding(&self.key, signature)?;
        with_message(message, |message| {
            self.verifier
                .verify_sig(message, signature)
                .map_err(|_| SignatureError::Invalid)
        })
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
        (2, CoseAlgorithm::Es256 | CoseAlgorithm::Es384 | CoseAlgorithm::Es512) => {
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
        (3, CoseAlgorithm::Es512) => {
            if x.len() != 66 || y.len() != 66 {
                return Err(CoseError::InvalidKey("P-521 coordinates must be 66 bytes"));
            }
            PublicKey::p521_from_xy(x, y)
        }
        _ => Err(CoseError::UnsupportedAlgorithm(format!("EC2 curve {crv} with {alg:?}"))),
    }
}

/// Validates an Ed25519 public key: it must decode to a point (RFC 8032 §5.1.3) that is not
/// of small order.
pub fn ed25519_key(x: &[u8]) -> Result<PublicKey, CoseError> {
    let bytes: [u8; 32] = x
        .try_into()
        .map_err(|_| CoseError::InvalidKey("Ed25519 key must be 32 bytes"))?;
    let point = curve25519_dalek::edwards::CompressedEdwardsY(bytes)
        .decompress()
        .ok_or(CoseError::InvalidKey("not an Ed25519 point"))?;
    if point.is_small_order() {
        return Err(CoseError::InvalidKey("Ed25519 key of small order"));
    }
    Ok(PublicKey::Ed25519(Ed25519PublicKey(bytes)))
}

/// Validates an RSA public key from big-endian modulus and exponent.
pub fn rsa_key(n_bytes: &[u8], e: &[u8]) -> Result<PublicKey, CoseError> {
    let n = strip_leading_zeros(n_bytes);
    let e = strip_leading_zeros(e);
    let bits = bit_length(n);
    if bits < MIN_RSA_BITS {
        return Err(CoseError::InvalidKey("RSA modulus shorter than 2048 bits"));
    }
    if bits > MAX_RSA_BITS {
        return Err(CoseError::InvalidKey("RSA modulus longer than 8192 bits"));
    }
    let e_below_3 = match e {
        [] => true,
        [v] => *v < 3,
        _ => false,
    };
    if e_below_3 || e.last().is_none_or(|b| b & 1 == 0) {
        return Err(CoseError::InvalidKey("RSA exponent must be odd and at least 3"));
    }
    if n.last().is_none_or(|b| b & 1 == 0) {
        return Err(CoseError::InvalidKey("RSA modulus is even"));
    }
    if bit_length(e) > MAX_RSA_EXPONENT_BITS {
        return Err(CoseError::InvalidKey("RSA key rejected"));
    }
    Ok(PublicKey::Rsa(RsaPublicKey {
        n: n.into(),
        e: e.into(),
    }))
}

impl PublicKey {
    /// A P-256 key from affine coordinates; the point must be on the curve.
    pub fn p256_from_xy(x: &[u8], y: &[u8]) -> Result<Self, CoseError> {
        ec_point(&lc::ECDSA_P256_SHA256_ASN1, x, y)
            .map(PublicKey::P256)
            .ok_or(CoseError::InvalidKey("point is not on P-256"))
    }

    /// A P-384 key from affine coordinates; the point must be on the curve.
    pub fn p384_from_xy(x: &[u8], y: &[u8]) -> Result<Self, CoseError> {
        ec_point(&lc::ECDSA_P384_SHA384_ASN1, x, y)
            .map(PublicKey::P384)
            .ok_or(CoseError::InvalidKey("point is not on P-384"))
    }

    /// A P-521 key from affine coordinates; the point must be on the curve.
    pub fn p521_from_xy(x: &[u8], y: &[u8]) -> Result<Self, CoseError> {
        ec_point(&lc::ECDSA_P521_SHA512_ASN1, x, y)
            .map(PublicKey::P521)
            .ok_or(CoseError::InvalidKey("point is not on P-521"))
    }

    /// A key from a SEC1 point (uncompressed or compressed) on the curve of `algorithm`.
    pub(crate) fn ec_from_sec1(curve: EcCurve, sec1: &[u8]) -> Option<Self> {
        // aws-lc decodes the point (decompressing a compressed one) and checks it is on the curve.
        let parsed = ParsedPublicKey::new(curve.natural_algorithm(), sec1).ok()?;
        let point = match sec1.first() {
            Some(0x04) => sec1.to_vec(),
            // A compressed point: keep the uncompressed form (the last 1 + 2·len bytes of the
            // SubjectPublicKeyInfo aws-lc marshals back).
            Some(0x02 | 0x03) => {
                use aws_lc_rs::encoding::AsDer;
                let spki = parsed.as_der().ok()?;
                let spki = spki.as_ref();
                let len = 1 + 2 * curve.field_len();
                spki.get(spki.len().checked_sub(len)?..)?.to_vec()
            }
            _ => return None,
        };
        if point.len() != 1 + 2 * curve.field_len() || point[0] != 0x04 {
            return None;
        }
        let key = EcPublicKey {
            point: point.into(),
            parsed,
        };
        Some(match curve {
            EcCurve::P256 => PublicKey::P256(key),
            EcCurve::P384 => PublicKey::P384(key),
            EcCurve::P521 => PublicKey::P521(key),
        })
    }

    /// Parses the key into aws-lc for `alg`; `None` if they do not fit together.
    fn parsed_for(&self, alg: CoseAlgorithm) -> Option<ParsedPublicKey> {
        match (self, alg) {
            (PublicKey::P256(k), CoseAlgorithm::Es256)
            | (PublicKey::P384(k), CoseAlgorithm::Es384)
            | (PublicKey::P521(k), CoseAlgorithm::Es512) => Some(k.parsed.clone()),
            (PublicKey::Ed25519(k), CoseAlgorithm::EdDsa | CoseAlgorithm::Ed25519) => {
                ParsedPublicKey::new(&lc::ED25519, k.0).ok()
            }
            (PublicKey::Rsa(k), alg) => k.components().to_parsed_public_key(alg.rsa_parameters()?).ok(),
            _ => None,
        }
    }

    /// Verifies `signature` over the concatenation of `message` parts with `alg`.
    pub fn verify(&self, alg: CoseAlgorithm, message: &[&[u8]], signature: &[u8]) -> Result<(), SignatureError> {
        let invalid = |_| SignatureError::Invalid;
        match (self, alg) {
            (PublicKey::P256(k), CoseAlgorithm::Es256)
            | (PublicKey::P384(k), CoseAlgorithm::Es384)
            | (PublicKey::P521(k), CoseAlgorithm::Es512) => {
                check_signature_encoding(self, signature)?;
                with_message(message, |message| {
                    k.parsed.verify_sig(message, signature).map_err(invalid)
                })
            }
            (PublicKey::Ed25519(k), CoseAlgorithm::EdDsa | CoseAlgorithm::Ed25519) => {
                check_signature_encoding(self, signature)?;
                with_message(message, |message| {
                    UnparsedPublicKey::new(&lc::ED25519, &k.0)
                        .verify(message, signature)
                        .map_err(invalid)
                })
            }
            (PublicKey::Rsa(key), alg) => {
                let params = alg.rsa_parameters().ok_or(SignatureError::AlgorithmKeyMismatch)?;
                with_message(message, |message| {
                    key.components().verify(params, message, signature).map_err(invalid)
                })
            }
            _ => Err(SignatureError::AlgorithmKeyMismatch),
        }
    }

    /// Verifies an ECDSA signature over a precomputed SHA-1/256/384/512 digest (certificate
    /// signatures, where the hash may differ from the curve's natural one).
    pub fn verify_ecdsa_prehash(&self, digest: &[u8], der_signature: &[u8]) -> Result<(), SignatureError> {
        let (key, curve) = match self {
            PublicKey::P256(k) => (k, EcCurve::P256),
            PublicKey::P384(k) => (k, EcCurve::P384),
            PublicKey::P521(k) => (k, EcCurve::P521),
            _ => return Err(SignatureError::AlgorithmKeyMismatch),
        };
        if !checks::ecdsa_der_ok(der_signature, curve) {
            return Err(SignatureError::Malformed);
        }
        let hash = HashAlg::from_len(digest.len()).ok_or(SignatureError::Invalid)?;
        let algorithm = curve.algorithm_with(hash).ok_or(SignatureError::Invalid)?;
        let digest = digest::Digest::import_less_safe(digest, hash.aws_lc()).map_err(|_| SignatureError::Invalid)?;
        UnparsedPublicKey::new(algorithm, &key.point)
            .verify_digest(&digest, der_signature)
            .map_err(|_| SignatureError::Invalid)
    }

    /// True if both are the same key (used to compare certificate keys with credential keys).
    pub fn same_key(&self, other: &PublicKey) -> bool {
        self == other
    }
}

/// The NIST curves ECDSA keys are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcCurve {
    P256,
    P384,
    P521,
}

impl EcCurve {
    /// Length of a field element (and of the group order), in bytes.
    fn field_len(self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
            EcCurve::P521 => 66,
        }
    }

    /// ECDSA with the curve's own hash (ES256, ES384, ES512).
    fn natural_algorithm(self) -> &'static lc::EcdsaVerificationAlgorithm {
        match self {
            EcCurve::P256 => &lc::ECDSA_P256_SHA256_ASN1,
            EcCurve::P384 => &lc::ECDSA_P384_SHA384_ASN1,
            EcCurve::P521 => &lc::ECDSA_P521_SHA512_ASN1,
        }
    }

    /// ECDSA (DER signatures) on this curve with `hash`, if aws-lc-rs offers the pair.
    fn algorithm_with(self, hash: HashAlg) -> Option<&'static lc::EcdsaVerificationAlgorithm> {
        Some(match (self, hash) {
            (EcCurve::P256, HashAlg::Sha1) => &lc::ECDSA_P256_SHA1_ASN1,
            (EcCurve::P256, HashAlg::Sha256) => &lc::ECDSA_P256_SHA256_ASN1,
            (EcCurve::P256, HashAlg::Sha384) => &lc::ECDSA_P256_SHA384_ASN1,
            (EcCurve::P256, HashAlg::Sha512) => &lc::ECDSA_P256_SHA512_ASN1,
            (EcCurve::P384, HashAlg::Sha256) => &lc::ECDSA_P384_SHA256_ASN1,
            (EcCurve::P384, HashAlg::Sha384) => &lc::ECDSA_P384_SHA384_ASN1,
            (EcCurve::P384, HashAlg::Sha512) => &lc::ECDSA_P384_SHA512_ASN1,
            (EcCurve::P521, HashAlg::Sha1) => &lc::ECDSA_P521_SHA1_ASN1,
            (EcCurve::P521, HashAlg::Sha256) => &lc::ECDSA_P521_SHA256_ASN1,
            (EcCurve::P521, HashAlg::Sha384) => &lc::ECDSA_P521_SHA384_ASN1,
            (EcCurve::P521, HashAlg::Sha512) => &lc::ECDSA_P521_SHA512_ASN1,
            (EcCurve::P384, HashAlg::Sha1) => return None,
        })
    }
}

/// RSASSA verification over a digest computed with `alg`'s hash.
pub fn rsa_verify(
    key: &RsaPublicKey,
    alg: CoseAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let params = alg.rsa_parameters().ok_or(SignatureError::AlgorithmKeyMismatch)?;
    let digest = digest::Digest::import_less_safe(digest, alg.hash().aws_lc()).map_err(|_| SignatureError::Invalid)?;
    key.components()
        .to_parsed_public_key(params)
        .map_err(|_| SignatureError::Invalid)?
        .verify_digest_sig(&digest, signature)
        .map_err(|_| SignatureError::Invalid)
}

/// The checks on a signature's encoding that come before the cryptography: ECDSA signatures
/// must be strict DER with 1 ≤ r, s < n (as RFC 3279 §2.2.3 and SEC 1 §4.1.4 step 1 say);
/// Ed25519 signatures must be 64 bytes (RFC 8032 §5.1.7 step 1) with an R that is not of
/// small order (the "strict" verification keyfleet has always done).
fn check_signature_encoding(key: &PublicKey, signature: &[u8]) -> Result<(), SignatureError> {
    let curve = match key {
        PublicKey::P256(_) => EcCurve::P256,
        PublicKey::P384(_) => EcCurve::P384,
        PublicKey::P521(_) => EcCurve::P521,
        PublicKey::Ed25519(_) => {
            let signature: &[u8; 64] = signature.try_into().map_err(|_| SignatureError::Malformed)?;
            return if checks::ed25519_r_is_small_order(signature) {
                Err(SignatureError::Invalid)
            } else {
                Ok(())
            };
        }
        PublicKey::Rsa(_) => return Ok(()),
    };
    if checks::ecdsa_der_ok(signature, curve) {
        Ok(())
    } else {
        Err(SignatureError::Malformed)
    }
}

/// Validates an EC point given by its coordinates; returns it in uncompressed form.
fn ec_point(algorithm: &'static lc::EcdsaVerificationAlgorithm, x: &[u8], y: &[u8]) -> Option<EcPublicKey> {
    let mut point = Vec::with_capacity(1 + x.len() + y.len());
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    // aws-lc decodes the point and checks that it is on the curve (coordinates below p).
    let parsed = ParsedPublicKey::new(algorithm, &point).ok()?;
    Some(EcPublicKey {
        point: point.into(),
        parsed,
    })
}

/// Calls `f` with the concatenation of `parts`, on the stack when it is small (an assertion's
/// authenticatorData ‖ clientDataHash is usually 69 bytes).
fn with_message<R>(parts: &[&[u8]], f: impl FnOnce(&[u8]) -> R) -> R {
    const STACK: usize = 256;
    if let [only] = parts {
        return f(only);
    }
    let total: usize = parts.iter().map(|p| p.len()).sum();
    if total > STACK {
        return f(&parts.concat());
    }
    let mut buf = [0u8; STACK];
    let mut at = 0;
    for part in parts {
        buf[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    f(&buf[..total])
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Bits in a big-endian integer without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(first) => (bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests;
