//! `tpm` attestation (WebAuthn L3 §8.3), with the TPM 2.0 structures it needs
//! (TPM 2.0 Library Part 2: TPMT_PUBLIC §12.2.4, TPMS_ATTEST §10.12.12).
//!
//! ```text
//! attStmt = { ver: "2.0", alg: COSEAlgorithmIdentifier, x5c: [ aikCert, * caCert ],
//!             sig: bytes, certInfo: bytes (TPMS_ATTEST), pubArea: bytes (TPMT_PUBLIC) }
//! ```
//! Real Windows Hello TPMs sign with RS1 (RSASSA-PKCS1-v1_5 with SHA-1); it is accepted
//! here and nowhere else.

use super::{
    AttestationError, AttestationType, StatementInput, StatementOutcome, check_aaguid_extension, check_not_ca,
    only_members, stmt_alg, stmt_bytes, stmt_x5c,
};
use crate::cbor::{Value, map_get_text};
use crate::cose::{HashAlg, PublicKey};
use crate::x509::{Cert, oid};

/// TPM_GENERATED_VALUE.
const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// TPM_ST_ATTEST_CERTIFY.
const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;
const TPM_ALG_RSA: u16 = 0x0001;
const TPM_ALG_SHA1: u16 = 0x0004;
const TPM_ALG_SHA256: u16 = 0x000b;
const TPM_ALG_SHA384: u16 = 0x000c;
const TPM_ALG_SHA512: u16 = 0x000d;
const TPM_ALG_NULL: u16 = 0x0010;
const TPM_ALG_ECC: u16 = 0x0023;
const TPM_ECC_NIST_P256: u16 = 0x0003;
const TPM_ECC_NIST_P384: u16 = 0x0004;

/// Verification procedure (§8.3).
pub fn verify(input: &StatementInput<'_>) -> Result<StatementOutcome, AttestationError> {
    // 1. Verify that attStmt is valid CBOR conforming to the syntax defined above.
    only_members(input.att_stmt, &["ver", "alg", "x5c", "sig", "certInfo", "pubArea"])?;
    if map_get_text(input.att_stmt, "ver").and_then(Value::as_text) != Some("2.0") {
        return Err(AttestationError::Tpm("ver must be \"2.0\""));
    }
    let alg = stmt_alg(input.att_stmt)?;
    let sig = stmt_bytes(input.att_stmt, "sig", "sig missing or not a byte string")?;
    let cert_info_raw = stmt_bytes(input.att_stmt, "certInfo", "certInfo missing or not a byte string")?;
    let pub_area_raw = stmt_bytes(input.att_stmt, "pubArea", "pubArea missing or not a byte string")?;
    let x5c = stmt_x5c(input.att_stmt)?.ok_or(AttestationError::InvalidStatement(
        "x5c missing (ECDAA is not supported)",
    ))?;

    // 2. Verify that the public key specified by the parameters and unique fields of pubArea
    //    is identical to the credentialPublicKey in the attestedCredentialData in authenticatorData.
    let pub_area = PubArea::parse(pub_area_raw).ok_or(AttestationError::Tpm("malformed pubArea"))?;
    if !pub_area.matches(input.credential_key.key()) {
        return Err(AttestationError::PublicKeyMismatch);
    }

    // 3. Concatenate authenticatorData and clientDataHash to form attToBeSigned.
    // 4. Validate that certInfo is valid:
    let cert_info = CertInfo::parse(cert_info_raw).ok_or(AttestationError::Tpm("malformed certInfo"))?;
    //    - Verify that magic is set to TPM_GENERATED_VALUE.
    if cert_info.magic != TPM_GENERATED_VALUE {
        return Err(AttestationError::Tpm("certInfo magic is not TPM_GENERATED_VALUE"));
    }
    //    - Verify that type is set to TPM_ST_ATTEST_CERTIFY.
    if cert_info.type_ != TPM_ST_ATTEST_CERTIFY {
        return Err(AttestationError::Tpm("certInfo type is not TPM_ST_ATTEST_CERTIFY"));
    }
    //    - Verify that extraData is set to the hash of attToBeSigned using the hash algorithm employed in "alg".
    if cert_info.extra_data != alg.hash().digest(&input.signed_data()).as_slice() {
        return Err(AttestationError::Tpm(
            "certInfo extraData is not the hash of attToBeSigned",
        ));
    }
    //    - Verify that attested contains a TPMS_CERTIFY_INFO structure whose name field contains
    //      a valid Name for pubArea, as computed using the algorithm in the nameAlg field of
    //      pubArea (TPM Part 1 §16: Name = nameAlg ‖ H_nameAlg(pubArea)).
    if !name_matches(cert_info.attested_name, pub_area.name_alg, pub_area_raw) {
        return Err(AttestationError::Tpm(
            "certInfo attested name is not the Name of pubArea",
        ));
    }
    //    - Note that the remaining fields (clockInfo, firmwareVersion, qualifiedSigner) are not checked.

    // 5. If x5c is present: verify the sig is a valid signature over certInfo using the
    //    attestation public key in aikCert with the algorithm specified in alg.
    let aik = &x5c[0];
    let aik_key = aik.public_key().map_err(AttestationError::Certificate)?;
    aik_key
        .verify(alg, &[cert_info_raw], sig)
        .map_err(|_| AttestationError::SignatureInvalid)?;
    //    Verify that aikCert meets the requirements in §8.3.1.
    check_aik_certificate(aik)?;
    //    If aikCert contains an extension with OID 1.3.6.1.4.1.45724.1.1.4 (id-fido-gen-ce-aaguid)
    //    verify that the value of this extension matches the aaguid in authenticatorData.
    check_aaguid_extension(aik, input.aaguid)?;
    //    If successful, return attestation type AttCA and attestation trust path x5c.
    Ok(StatementOutcome {
        attestation_type: AttestationType::AttCa,
        trust_path: x5c,
    })
}

/// §8.3.1 TPM Attestation Statement Certificate Requirements.
fn check_aik_certificate(cert: &Cert) -> Result<(), AttestationError> {
    // Version MUST be set to 3.
    if !cert.is_v3() {
        return Err(AttestationError::CertificateRequirement(
            "AIK certificate must be X.509 v3",
        ));
    }
    // Subject field MUST be set to empty.
    if !cert.subject_is_empty() {
        return Err(AttestationError::CertificateRequirement(
            "AIK certificate subject must be empty",
        ));
    }
    // The Subject Alternative Name extension MUST be set as defined in [TPMv2-EK-Profile]
    // section 3.2.9: a directoryName with tpmManufacturer, tpmModel and tpmVersion.
    let attrs = cert
        .san_directory_attrs()
        .ok_or(AttestationError::CertificateRequirement(
            "AIK certificate subjectAltName missing or malformed",
        ))?;
    for required in [
        oid::TCG_AT_TPM_MANUFACTURER,
        oid::TCG_AT_TPM_MODEL,
        oid::TCG_AT_TPM_VERSION,
    ] {
        if !attrs.iter().any(|(o, _)| o == required) {
            return Err(AttestationError::CertificateRequirement(
                "AIK subjectAltName lacks tpmManufacturer/tpmModel/tpmVersion",
            ));
        }
    }
    // The Extended Key Usage extension MUST contain the OID 2.23.133.8.3.
    if !cert.has_eku(oid::TCG_KP_AIK_CERTIFICATE) {
        return Err(AttestationError::CertificateRequirement(
            "AIK certificate EKU lacks tcg-kp-AIKCertificate",
        ));
    }
    // The Basic Constraints extension MUST have the CA component set to false.
    check_not_ca(cert)
}

fn name_matches(name: &[u8], name_alg: u16, pub_area_raw: &[u8]) -> bool {
    let Some((alg_bytes, digest)) = name.split_at_checked(2) else {
        return false;
    };
    if u16::from_be_bytes([alg_bytes[0], alg_bytes[1]]) != name_alg {
        return false;
    }
    let hash = match name_alg {
        TPM_ALG_SHA1 => HashAlg::Sha1,
        TPM_ALG_SHA256 => HashAlg::Sha256,
        TPM_ALG_SHA384 => HashAlg::Sha384,
        TPM_ALG_SHA512 => HashAlg::Sha512,
        _ => return false,
    };
    hash.digest(&[pub_area_raw]) == digest
}

/// A big-endian reader over TPM structures.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A TPM2B: a u16 size followed by that many bytes.
    fn tpm2b(&mut self) -> Option<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

/// TPMT_PUBLIC, reduced to what the key comparison needs.
struct PubArea<'a> {
    name_alg: u16,
    key: TpmKey<'a>,
}

enum TpmKey<'a> {
    Rsa { exponent: u32, modulus: &'a [u8] },
    Ecc { curve: u16, x: &'a [u8], y: &'a [u8] },
}

impl<'a> PubArea<'a> {
    fn parse(raw: &'a [u8]) -> Option<Self> {
        let mut r = Reader(raw);
        let type_ = r.u16()?;
        let name_alg = r.u16()?;
        let _object_attributes = r.u32()?;
        let _auth_policy = r.tpm2b()?;
        let key = match type_ {
            TPM_ALG_RSA => {
                // TPMS_RSA_PARMS: symmetric (TPMT_SYM_DEF_OBJECT), scheme (TPMT_RSA_SCHEME), keyBits, exponent.
                skip_sym_def(&mut r)?;
                skip_scheme(&mut r)?;
                let _key_bits = r.u16()?;
                let exponent = r.u32()?;
                // unique: TPM2B_PUBLIC_KEY_RSA.
                let modulus = r.tpm2b()?;
                TpmKey::Rsa { exponent, modulus }
            }
            TPM_ALG_ECC => {
                // TPMS_ECC_PARMS: symmetric, scheme (TPMT_ECC_SCHEME), curveID, kdf (TPMT_KDF_SCHEME).
                skip_sym_def(&mut r)?;
                skip_scheme(&mut r)?;
                let curve = r.u16()?;
                skip_scheme(&mut r)?;
                // unique: TPMS_ECC_POINT { x: TPM2B, y: TPM2B }.
                let x = r.tpm2b()?;
                let y = r.tpm2b()?;
                TpmKey::Ecc { curve, x, y }
            }
            _ => return None,
        };
        r.done().then_some(Self { name_alg, key })
    }

    /// True if `parameters` and `unique` describe `key`.
    fn matches(&self, key: &PublicKey) -> bool {
        match (&self.key, key) {
            (TpmKey::Rsa { exponent, modulus }, PublicKey::Rsa(k)) => {
                // An exponent of zero means the default, 2^16 + 1.
                let e = if *exponent == 0 { 65537 } else { *exponent };
                let e = e.to_be_bytes();
                strip_zeros(modulus) == k.n() && strip_zeros(&e) == k.e()
            }
            (
                TpmKey::Ecc {
                    curve: TPM_ECC_NIST_P256,
                    x,
                    y,
                },
                PublicKey::P256(k),
            )
            | (
                TpmKey::Ecc {
                    curve: TPM_ECC_NIST_P384,
                    x,
                    y,
                },
                PublicKey::P384(k),
            ) => k.x() == *x && k.y() == *y,
            _ => false,
        }
    }
}

/// A big-endian integer without its leading zero bytes.
fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// TPMT_SYM_DEF_OBJECT: an algorithm, then keyBits and mode unless it is TPM_ALG_NULL.
fn skip_sym_def(r: &mut Reader<'_>) -> Option<()> {
    if r.u16()? != TPM_ALG_NULL {
        r.u16()?;
        r.u16()?;
    }
    Some(())
}

/// TPMT_*_SCHEME: a scheme, then its hash algorithm unless it is TPM_ALG_NULL.
fn skip_scheme(r: &mut Reader<'_>) -> Option<()> {
    if r.u16()? != TPM_ALG_NULL {
        r.u16()?;
    }
    Some(())
}

/// TPMS_ATTEST for TPM_ST_ATTEST_CERTIFY.
struct CertInfo<'a> {
    magic: u32,
    type_: u16,
    extra_data: &'a [u8],
    attested_name: &'a [u8],
}

impl<'a> CertInfo<'a> {
    fn parse(raw: &'a [u8]) -> Option<Self> {
        let mut r = Reader(raw);
        let magic = r.u32()?;
        let type_ = r.u16()?;
        let _qualified_signer = r.tpm2b()?;
        let extra_data = r.tpm2b()?;
        // TPMS_CLOCK_INFO: clock (u64), resetCount (u32), restartCount (u32), safe (u8).
        r.take(17)?;
        let _firmware_version = r.take(8)?;
        // TPMS_CERTIFY_INFO: name, qualifiedName.
        let attested_name = r.tpm2b()?;
        let _qualified_name = r.tpm2b()?;
        r.done().then_some(Self {
            magic,
            type_,
            extra_data,
            attested_name,
        })
    }
}
