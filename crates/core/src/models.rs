//! Authenticator model names by AAGUID, for every way a key is shown (pages, the JSON API's
//! `model` fields): the FIDO Metadata Service entry's description when there is one (see
//! [`crate::metadata::models`]), else `data/aaguids.tsv` (the community list, provenance in
//! the file's header). Unknown AAGUIDs, and the all-zero AAGUID that authenticators send when
//! they do not attest their model, have no name. Also: keyfleet's own models by their short
//! name (`nfc-key`, `band`), from the shipped metadata statements.

use std::collections::HashMap;
use std::sync::LazyLock;

use keyfleet_domain::report::Aaguid;

use crate::metadata::ModelFacts;

static TABLE: &str = include_str!("../data/aaguids.tsv");

static NAMES: LazyLock<HashMap<[u8; 16], &'static str>> = LazyLock::new(|| {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (id, name) = l.split_once('\t')?;
            Some((parse_aaguid(id)?, name.trim()))
        })
        .collect()
});

/// An AAGUID written as a UUID (`xxxxxxxx-xxxx-…`, hyphens optional).
pub fn parse_aaguid(text: &str) -> Option<Aaguid> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let bytes = hex::decode(hex).ok()?;
    bytes.try_into().ok()
}

/// The AAGUID as text (`xxxxxxxx-xxxx-…`).
pub fn aaguid_text(aaguid: &Aaguid) -> String {
    uuid::Uuid::from_bytes(*aaguid).hyphenated().to_string()
}

/// The model's name from the community list, when the AAGUID is known.
pub fn model_name(aaguid: &Aaguid) -> Option<&'static str> {
    NAMES.get(aaguid).copied()
}

/// The model's name from the community list, or a phrase saying it is not known.
pub fn model_label(aaguid: &Aaguid) -> String {
    match model_name(aaguid) {
        Some(name) => name.to_owned(),
        None if *aaguid == [0; 16] => "Security key (model not disclosed)".to_owned(),
        None => "Unknown model".to_owned(),
    }
}

/// The model's name: the metadata entry's description (`facts`), else the community list's,
/// else a phrase.
pub fn label(facts: Option<&ModelFacts>, aaguid: &Aaguid) -> String {
    match facts {
        Some(f) if !f.description.trim().is_empty() => f.description.clone(),
        _ => model_label(aaguid),
    }
}

/// The AAGUID of one of keyfleet's own models by its short name (`nfc-key`, `band`: the
/// names `keyfleet key models` lists and shipments order), from the shipped metadata
/// statements.
pub fn own_model_aaguid(name: &str) -> Option<Aaguid> {
    keyfleet_mds::local::local_entries(&[])
        .ok()?
        .into_iter()
        .find(|e| e.model == name)
        .and_then(|e| e.entry.aaguid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_parses() {
        for line in TABLE.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (id, name) = line.split_once('\t').unwrap_or_else(|| panic!("no tab: {line}"));
            assert!(parse_aaguid(id).is_some(), "bad AAGUID: {line}");
            assert!(!name.trim().is_empty() && !name.contains('\t'), "bad name: {line}");
        }
    }

    #[test]
    fn names_keyfleets_own_models() {
        let nfc = parse_aaguid("3559c435-ff17-4bc9-b942-325c1f348b94").unwrap();
        assert!(model_name(&nfc).unwrap().contains("NFC"));
        assert_eq!(model_label(&[0; 16]), "Security key (model not disclosed)");
        assert_eq!(model_label(&[0xAB; 16]), "Unknown model");
        assert_eq!(aaguid_text(&nfc), "3559c435-ff17-4bc9-b942-325c1f348b94");
        assert_eq!(own_model_aaguid("nfc-key"), Some(nfc));
        assert_eq!(own_model_aaguid("band"), Some(crate::credentials::keys::BAND_AAGUID));
        assert_eq!(own_model_aaguid("nfc"), None);
    }
}
