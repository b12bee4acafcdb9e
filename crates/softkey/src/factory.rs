//! The key factory's certificate authorities: one self-signed factory CA per model, one batch
//! attestation certificate per model signed by that model's CA, and a serial number per key.
//!
//! Each model has its own CA, so a relying party that trusts one model's CA does not accept
//! attestations from the other models.
//!
//! Batch certificates follow the FIDO packed attestation statement's certificate requirements
//! (WebAuthn Level 3 §8.2.1): X.509 v3; subject C, O, OU = "Authenticator Attestation" and CN;
//! basicConstraints CA = false; and the non-critical extension id-fido-gen-ce-aaguid
//! (1.3.6.1.4.1.45724.1.1.4) holding the model's AAGUID as an OCTET STRING.
//!
//! Files in the factory directory (`--factory-dir` / `KEYFLEET_FACTORY_DIR`, default
//! `$XDG_DATA_HOME/keyfleet/factory`: see [`crate::dirs`]), created on first use (the directory
//! with mode 0700) and reused afterwards; private keys are PKCS#8 DER with mode 0600:
//!
//! ```text
//! factory-ca-MODEL.der factory-ca-MODEL.key
//! batch-MODEL.der      batch-MODEL.key
//! ```

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use der::{Decode, Encode};
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand_core::CryptoRngCore;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;
use zeroize::Zeroizing;

use crate::keyfile::{StdFs, create_private_dir, write_atomically};
pub use keyfleet_authenticator::enterprise::AAGUID_OID;
use keyfleet_authenticator::enterprise::AaguidExtension;
/// How long factory certificates are valid.
const VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);

/// Why the factory could not issue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FactoryError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A stored key or certificate does not parse.
    #[error("{0}: damaged factory file")]
    Damaged(PathBuf),
    /// Building a certificate failed.
    #[error("certificate: {0}")]
    Certificate(String),
}

/// A signing key with its certificate.
pub struct Issued {
    /// The private key.
    pub key: SigningKey,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
}

impl Issued {
    /// The private key as PKCS#8 DER.
    pub fn key_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, FactoryError> {
        let doc = self
            .key
            .to_pkcs8_der()
            .map_err(|e| FactoryError::Certificate(e.to_string()))?;
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }
}

/// The factory: a directory of CA material.
pub struct Factory {
    dir: PathBuf,
}

impl Factory {
    /// The factory in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Factory { dir: dir.into() }
    }

    /// The factory directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The self-signed factory CA of `model`, created on first use.
    pub fn root(&self, model: &str, rng: &mut dyn CryptoRngCore) -> Result<Issued, FactoryError> {
        check_model(model)?;
        self.load_or_create(&format!("factory-ca-{model}"), rng, |key, rng| {
            let name = name(&format!(
                "CN=keyfleet {model} Factory CA,OU=Key Factory,O=keyfleet,C=DE"
            ))?;
            build(Profile::Root, name, key, key, rng, None)
        })
    }

    /// The batch attestation certificate and key for a model, signed by the model's factory CA;
    /// created on first use.
    pub fn batch(&self, model: &str, aaguid: [u8; 16], rng: &mut dyn CryptoRngCore) -> Result<Issued, FactoryError> {
        let root = self.root(model, rng)?;
        let issuer = Certificate::from_der(&root.cert_der)
            .map_err(|_| FactoryError::Damaged(self.dir.join(format!("factory-ca-{model}.der"))))?
            .tbs_certificate
            .subject;
        self.load_or_create(&format!("batch-{model}"), rng, |key, rng| {
            let subject = name(&format!(
                "CN=keyfleet {model} Batch 1,OU=Authenticator Attestation,O=keyfleet,C=DE"
            ))?;
            let profile = Profile::Leaf {
                issuer,
                enable_key_agreement: false,
                enable_key_encipherment: false,
            };
            build(profile, subject, key, &root.key, rng, Some(aaguid))
        })
    }

    /// A key's own enterprise-attestation certificate (CTAP 2.1 §7.1): the batch attestation key of
    /// `batch`, named for the key's serial number (`CN=keyfleet MODEL SERIAL, serialNumber=SERIAL,
    /// OU=Authenticator Attestation, O=keyfleet, C=DE`), with the AAGUID extension, issued by the
    /// model's factory CA. Given to the engine (`State::set_enterprise_certificate`), it is the
    /// whole `x5c` of an enterprise attestation, which then chains to the factory CA like any
    /// attestation and tells the relying party which key (by serial) registered.
    pub fn device_certificate(
        &self,
        model: &str,
        aaguid: [u8; 16],
        batch: &Issued,
        serial: &str,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, FactoryError> {
        if serial.is_empty() || !serial.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(FactoryError::Certificate(format!("bad serial number {serial:?}")));
        }
        let root = self.root(model, rng)?;
        let issuer = Certificate::from_der(&root.cert_der)
            .map_err(|_| FactoryError::Damaged(self.dir.join(format!("factory-ca-{model}.der"))))?
            .tbs_certificate
            .subject;
        let subject = name(&format!(
            "CN=keyfleet {model} {serial},serialNumber={serial},OU=Authenticator Attestation,O=keyfleet,C=DE"
        ))?;
        let profile = Profile::Leaf {
            issuer,
            enable_key_agreement: false,
            enable_key_encipherment: false,
        };
        build(profile, subject, &batch.key, &root.key, rng, Some(aaguid))
    }

    fn load_or_create(
        &self,
        stem: &str,
        rng: &mut dyn CryptoRngCore,
        make: impl FnOnce(&SigningKey, &mut dyn CryptoRngCore) -> Result<Vec<u8>, FactoryError>,
    ) -> Result<Issued, FactoryError> {
        let key_path = self.dir.join(format!("{stem}.key"));
        let cert_path = self.dir.join(format!("{stem}.der"));
        if key_path.exists() && cert_path.exists() {
            let key_der = Zeroizing::new(read(&key_path)?);
            let key = SigningKey::from_pkcs8_der(&key_der).map_err(|_| FactoryError::Damaged(key_path.clone()))?;
            let cert_der = read(&cert_path)?;
            Certificate::from_der(&cert_der).map_err(|_| FactoryError::Damaged(cert_path))?;
            return Ok(Issued { key, cert_der });
        }
        create_private_dir(&self.dir).map_err(|source| FactoryError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let key = SigningKey::random(&mut RngAdapter(rng));
        let cert_der = make(&key, rng)?;
        let issued = Issued { key, cert_der };
        // The key first: a certificate without its key would be useless, a key without a
        // certificate is simply replaced next time.
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |e: crate::keyfile::KeyFileError| FactoryError::Io {
                path,
                source: std::io::Error::other(e.to_string()),
            }
        };
        write_atomically(&mut StdFs, &key_path, &issued.key_pkcs8()?).map_err(io(&key_path))?;
        write_atomically(&mut StdFs, &cert_path, &issued.cert_der).map_err(io(&cert_path))?;
        Ok(issued)
    }
}

/// A random device serial number: `KF-` and 12 hexadecimal digits.
pub fn serial_number(rng: &mut dyn CryptoRngCore) -> String {
    let mut bytes = [0u8; 6];
    rng.fill_bytes(&mut bytes);
    format!("KF-{}", hex::encode_upper(bytes))
}

/// Model names become file names and certificate subjects: ASCII letters, digits and `-` only.
fn check_model(model: &str) -> Result<(), FactoryError> {
    if model.is_empty() || !model.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(FactoryError::Certificate(format!("bad model name {model:?}")));
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, FactoryError> {
    std::fs::read(path).map_err(|source| FactoryError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn name(rfc4514: &str) -> Result<Name, FactoryError> {
    Name::from_str(rfc4514).map_err(|e| FactoryError::Certificate(e.to_string()))
}

fn build(
    profile: Profile,
    subject: Name,
    subject_key: &SigningKey,
    signer: &SigningKey,
    rng: &mut dyn CryptoRngCore,
    aaguid: Option<[u8; 16]>,
) -> Result<Vec<u8>, FactoryError> {
    let err = |e: &dyn std::fmt::Display| FactoryError::Certificate(e.to_string());
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    serial[0] &= 0x7F; // positive
    serial[0] |= 0x01; // and without a leading zero byte
    let serial = SerialNumber::new(&serial).map_err(|e| err(&e))?;
    let validity = Validity::from_now(VALIDITY).map_err(|e| err(&e))?;
    let spki = SubjectPublicKeyInfoOwned::from_key(*subject_key.verifying_key()).map_err(|e| err(&e))?;
    let mut builder = CertificateBuilder::new(profile, serial, validity, subject, spki, signer).map_err(|e| err(&e))?;
    if let Some(aaguid) = aaguid {
        builder.add_extension(&AaguidExtension(aaguid)).map_err(|e| err(&e))?;
    }
    let cert = builder.build::<DerSignature>().map_err(|e| err(&e))?;
    cert.to_der().map_err(|e| err(&e))
}

/// Lets a `&mut dyn CryptoRngCore` be passed where a sized `CryptoRng + RngCore` is needed.
struct RngAdapter<'a>(&'a mut dyn CryptoRngCore);

impl rand_core::RngCore for RngAdapter<'_> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.try_fill_bytes(dest)
    }
}

impl rand_core::CryptoRng for RngAdapter<'_> {}

#[cfg(test)]
mod tests;
