//! keyfleet's own metadata statements, one per model of its software authenticator
//! (`nfc-key`, `band`: `keyfleet-authenticator`'s `models()`), shipped as JSON files in
//! `statements/` in the metadata statement format (FIDO Metadata Statement v3.0 §4), so that
//! keyfleet's keys are looked up and trusted by AAGUID like certified ones.
//!
//! The attestation root cannot be shipped: each installation's key factory makes its own CA
//! per model on first use (`keyfleet-softkey`'s `factory-ca-MODEL.der`). The statements
//! therefore carry no `attestationRootCertificates`; [`local_entries`] takes the factory's
//! roots from the caller and puts each on its model's entry. The entries are merged with a
//! BLOB's as local entries: an AAGUID the BLOB lists keeps the BLOB's entry.

use crate::payload::{Entry, RawStatement, apply_statement, parse_aaguid};

/// One shipped statement: the model's name and the statement's JSON text.
pub const STATEMENTS: &[(&str, &str)] = &[
    ("nfc-key", include_str!("../statements/nfc-key.json")),
    ("band", include_str!("../statements/band.json")),
];

/// Why a local statement could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalError {
    /// A shipped statement does not decode (a build defect; a test reads them all).
    #[error("local metadata statement {0}: {1}")]
    Statement(&'static str, String),
    /// A factory root given for a model does not parse as a certificate.
    #[error("factory root of {0}: {1}")]
    Root(String, String),
}

/// A local entry: the model's name and its entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEntry {
    /// The model (`nfc-key`, `band`).
    pub model: &'static str,
    /// The entry: AAGUID, description, the factory root given for the model; no status
    /// reports (a local statement is not certified, nor ever reported compromised by MDS).
    pub entry: Entry,
}

/// The shipped statements as entries, each with the factory roots (DER) that `roots` gives
/// for its model (`(model, der)` pairs; a model without one gets none).
pub fn local_entries(roots: &[(String, Vec<u8>)]) -> Result<Vec<LocalEntry>, LocalError> {
    STATEMENTS
        .iter()
        .map(|(model, json)| {
            let mut statement: RawStatement =
                serde_json::from_str(json).map_err(|e| LocalError::Statement(model, e.to_string()))?;
            let aaguid = statement
                .aaguid
                .as_deref()
                .and_then(parse_aaguid)
                .ok_or_else(|| LocalError::Statement(model, "no AAGUID".into()))?;
            statement.attestation_root_certificates = roots
                .iter()
                .filter(|(m, _)| m == model)
                .map(|(_, der)| {
                    use base64::Engine as _;
                    keyfleet_webauthn_rp::x509::Cert::from_der(der)
                        .map_err(|e| LocalError::Root((*model).to_owned(), e.to_string()))?;
                    Ok(base64::engine::general_purpose::STANDARD.encode(der))
                })
                .collect::<Result<_, LocalError>>()?;
            let mut entry = Entry {
                aaguid: Some(aaguid),
                aaid: None,
                key_identifiers: Vec::new(),
                description: None,
                attestation_roots: Vec::new(),
                icon: None,
                authenticator_version: None,
                status_reports: Vec::new(),
                time_of_last_status_change: None,
            };
            apply_statement(&mut entry, statement).map_err(|e| LocalError::Root((*model).to_owned(), e))?;
            Ok(LocalEntry { model, entry })
        })
        .collect()
}
