//! Authenticator metadata: the last good BLOB, its entries, the anti-rollback rule.

use keyfleet_domain::StoreError;
use keyfleet_domain::audit::Action;
use keyfleet_domain::metadata::{EntrySource, MetadataBlob, MetadataEntry};
use keyfleet_domain::store::Stores;

use super::assert_conflict;
use crate::fixtures::{T0, at, audit_actions, event};

fn blob(no: i64) -> MetadataBlob {
    MetadataBlob {
        no,
        next_update: "2027-02-01".into(),
        entry_count: 3,
        imported_at: at(no),
        verified_at: T0,
        revocation: "crl".into(),
    }
}

fn entry(first: u8, status: Option<&str>, compromised: bool) -> MetadataEntry {
    MetadataEntry {
        aaguid: [first; 16],
        description: format!("model {first}"),
        status: status.map(str::to_owned),
        status_date: status.map(|_| "2026-06-01".to_owned()),
        certification_level: status.map(|_| "FIDO_CERTIFIED_L1".to_owned()),
        compromised,
        attestation_roots: vec![vec![0x30, 0x03, first], vec![0x30, 0x00]],
        icon: Some("data:image/png;base64,AA==".into()),
        source: EntrySource::Mds,
    }
}

fn local(first: u8) -> MetadataEntry {
    MetadataEntry {
        aaguid: [first; 16],
        description: "keyfleet NFC security key".into(),
        status: None,
        status_date: None,
        certification_level: None,
        compromised: false,
        attestation_roots: Vec::new(),
        icon: None,
        source: EntrySource::Local,
    }
}

/// Stores a BLOB with its entries and reads them back.
pub async fn metadata_import_and_lookup(s: &Stores) {
    assert_eq!(s.metadata.metadata_blob().await.unwrap(), None);
    assert_eq!(s.metadata.metadata_blob_raw().await.unwrap(), None);
    assert_eq!(s.metadata.metadata_entry(&[1; 16]).await.unwrap(), None);
    let entries = [
        entry(2, Some("REVOKED"), true),
        entry(1, Some("FIDO_CERTIFIED_L1"), false),
        local(3),
    ];
    let raw = b"header.payload.signature\0\xff".to_vec();
    s.metadata
        .import_metadata(&blob(5), &raw, &entries, &event(Action::MetadataImport, None))
        .await
        .unwrap();
    assert_eq!(s.metadata.metadata_blob().await.unwrap(), Some(blob(5)));
    assert_eq!(s.metadata.metadata_blob_raw().await.unwrap(), Some(raw));
    for e in &entries {
        assert_eq!(s.metadata.metadata_entry(&e.aaguid).await.unwrap().as_ref(), Some(e));
    }
    assert_eq!(s.metadata.metadata_entry(&[9; 16]).await.unwrap(), None);
    let mut batch = s.metadata.metadata_entries(&[[3; 16], [9; 16], [2; 16]]).await.unwrap();
    batch.sort_by_key(|e| e.aaguid);
    assert_eq!(
        batch,
        [entries[0].clone(), entries[2].clone()],
        "those that have an entry, whole"
    );
    assert!(s.metadata.metadata_entries(&[]).await.unwrap().is_empty());
    let listed = s.metadata.list_metadata_entries().await.unwrap();
    let order: Vec<u8> = listed.iter().map(|e| e.aaguid[0]).collect();
    assert_eq!(order, [1, 2, 3], "by AAGUID");
    assert_eq!(audit_actions(s).await, ["metadata.import"]);
}

/// A BLOB whose `no` is not greater than the stored one's is refused with
/// `Conflict("metadata_no")`, and the last good BLOB, its entries and the log are unchanged;
/// a newer one replaces every entry.
pub async fn metadata_rollback_keeps_last_good(s: &Stores) {
    let first = [entry(1, Some("FIDO_CERTIFIED"), false), entry(2, None, false)];
    s.metadata
        .import_metadata(&blob(6), b"six", &first, &event(Action::MetadataImport, None))
        .await
        .unwrap();
    for older in [6, 5, 0] {
        let r = s
            .metadata
            .import_metadata(
                &blob(older),
                b"older",
                &[entry(7, None, false)],
                &event(Action::MetadataImport, None),
            )
            .await;
        assert_conflict(r, "metadata_no");
    }
    assert_eq!(s.metadata.metadata_blob().await.unwrap(), Some(blob(6)));
    assert_eq!(
        s.metadata.metadata_blob_raw().await.unwrap().as_deref(),
        Some(&b"six"[..])
    );
    assert_eq!(s.metadata.list_metadata_entries().await.unwrap(), first);
    assert_eq!(
        audit_actions(s).await,
        ["metadata.import"],
        "a refused import writes nothing"
    );

    // Text the database cannot hold refuses the whole import: nothing of it is kept.
    let mut bad = entry(8, None, false);
    bad.description = "a\0b".into();
    let r = s
        .metadata
        .import_metadata(
            &blob(9),
            b"nine",
            &[entry(7, None, false), bad],
            &event(Action::MetadataImport, None),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert_eq!(s.metadata.metadata_blob().await.unwrap(), Some(blob(6)));
    assert_eq!(s.metadata.list_metadata_entries().await.unwrap(), first);

    let newer = [entry(2, Some("REVOKED"), true), entry(4, None, false)];
    s.metadata
        .import_metadata(&blob(7), b"seven", &newer, &event(Action::MetadataImport, None))
        .await
        .unwrap();
    assert_eq!(s.metadata.metadata_blob().await.unwrap(), Some(blob(7)));
    assert_eq!(s.metadata.list_metadata_entries().await.unwrap(), newer);
    assert_eq!(
        s.metadata.metadata_entry(&[1; 16]).await.unwrap(),
        None,
        "entries are replaced"
    );
    assert_eq!(audit_actions(s).await, ["metadata.import", "metadata.import"]);
}

/// Two imports of one `no` racing: exactly one stores it.
pub async fn metadata_import_race(s: &Stores) {
    let (a, b) = (entry(1, None, false), entry(2, None, false));
    let (three, audit) = (blob(3), event(Action::MetadataImport, None));
    let (ra, rb) = tokio::join!(
        s.metadata
            .import_metadata(&three, b"a", std::slice::from_ref(&a), &audit),
        s.metadata
            .import_metadata(&three, b"b", std::slice::from_ref(&b), &audit),
    );
    let won = match (ra, rb) {
        (Ok(()), Err(StoreError::Conflict("metadata_no"))) => a,
        (Err(StoreError::Conflict("metadata_no")), Ok(())) => b,
        other => panic!("exactly one import must win: {other:?}"),
    };
    assert_eq!(s.metadata.list_metadata_entries().await.unwrap(), [won]);
    assert_eq!(audit_actions(s).await, ["metadata.import"]);
}

/// The download validators: empty before any, stored, replaced (a value may go away), and
/// kept apart from the BLOB (an import does not touch them).
pub async fn metadata_validators_round_trip(s: &Stores) {
    use keyfleet_domain::metadata::FetchValidators;
    assert_eq!(
        s.metadata.metadata_validators().await.unwrap(),
        FetchValidators::default()
    );
    let first = FetchValidators {
        etag: Some("\"abc\"".into()),
        last_modified: Some("Sat, 22 Oct 2022 00:00:00 GMT".into()),
    };
    s.metadata.set_metadata_validators(&first).await.unwrap();
    assert_eq!(s.metadata.metadata_validators().await.unwrap(), first);
    s.metadata
        .import_metadata(&blob(1), b"b", &[], &event(Action::MetadataImport, None))
        .await
        .unwrap();
    assert_eq!(s.metadata.metadata_validators().await.unwrap(), first);
    let second = FetchValidators {
        etag: Some("W/\"def\"".into()),
        last_modified: None,
    };
    s.metadata.set_metadata_validators(&second).await.unwrap();
    assert_eq!(s.metadata.metadata_validators().await.unwrap(), second);
}
