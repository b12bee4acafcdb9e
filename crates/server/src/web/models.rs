//! Authenticator model names by AAGUID, from `crates/server/data/aaguids.tsv` (provenance in
//! the file's header). Unknown AAGUIDs, and the all-zero AAGUID that authenticators send when
//! they do not attest their model, have no name.

use std::collections::HashMap;
use std::sync::LazyLock;

static TABLE: &str = include_str!("../../data/aaguids.tsv");

static NAMES: LazyLock<HashMap<[u8; 16], &'static str>> = LazyLock::new(|| {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (id, name) = l.split_once('\t')?;
            Some((parse(id)?, name.trim()))
        })
        .collect()
});

fn parse(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    let bytes = hex::decode(hex).ok()?;
    bytes.try_into().ok()
}

/// The AAGUID as text (`xxxxxxxx-xxxx-…`).
pub fn aaguid_text(aaguid: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*aaguid).hyphenated().to_string()
}

/// The model's name, when the AAGUID is known.
pub fn model_name(aaguid: &[u8; 16]) -> Option<&'static str> {
    NAMES.get(aaguid).copied()
}

/// The model's name, or a phrase saying it is not known.
pub fn model_label(aaguid: &[u8; 16]) -> String {
    match model_name(aaguid) {
        Some(name) => name.to_owned(),
        None if *aaguid == [0; 16] => "Security key (model not disclosed)".to_owned(),
        None => "Unknown model".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_parses() {
        for line in TABLE.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (id, name) = line.split_once('\t').unwrap_or_else(|| panic!("no tab: {line}"));
            assert!(parse(id).is_some(), "bad AAGUID: {line}");
            assert!(!name.trim().is_empty() && !name.contains('\t'), "bad name: {line}");
        }
    }

    #[test]
    fn names_keyfleets_own_models() {
        let nfc = parse("3559c435-ff17-4bc9-b942-325c1f348b94").unwrap();
        assert!(model_name(&nfc).unwrap().contains("NFC"));
        assert_eq!(model_label(&[0; 16]), "Security key (model not disclosed)");
        assert_eq!(model_label(&[0xAB; 16]), "Unknown model");
        assert_eq!(aaguid_text(&nfc), "3559c435-ff17-4bc9-b942-325c1f348b94");
    }
}
