//! The mail outbox as the mail job uses it (claims under a lease, outcomes recorded by the
//! lease holder only, the shipment moved to `pinSent` with its PIN mail), and the master-key
//! ring with the encrypted columns' rewriting and secret settings.

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::keyring::{EncryptedColumn, MAIL_BODIES, MasterKeyState, SECRET_SETTINGS};
use keyfleet_domain::mail::{MailKind, NewMail};
use keyfleet_domain::outbox::{MailOutcome, MailState};
use keyfleet_domain::shipment::{Shipment, ShipmentId, ShipmentState};
use keyfleet_domain::store::Stores;
use rand_core::OsRng;

use super::{assert_conflict, assert_not_found};
use crate::fixtures::{MINUTE, T0, at, audit_actions, event, user};

fn mail(id: &str, shipment: Option<ShipmentId>, created: i64) -> NewMail {
    NewMail {
        id: id.into(),
        shipment_id: shipment,
        kind: MailKind::ShipmentPin,
        recipients: vec!["a@example.com".into(), "b@example.com".into()],
        subject: "Your key's PIN".into(),
        body_sealed: vec![1, 2, 3],
        created_at: at(created),
    }
}

/// Claims take due pending messages one at a time, soonest first; only the lease holder
/// records the outcome; sent empties the body and moves a registered shipment to pinSent;
/// refused goes back to pending later; stale sending rows become uncertain once; an
/// uncertain one can be queued again; counts per state.
pub async fn mail_outbox_lifecycle(s: &Stores) {
    let alice = user("alice");
    s.users
        .create_user(&alice, &event(Action::UserCreate, None))
        .await
        .unwrap();
    let shipment = Shipment::placed(
        ShipmentId::new_random(&mut OsRng),
        alice.id,
        "nfc-key".into(),
        ShipmentState::Registered,
        None,
        T0,
    );
    s.shipments
        .create_shipment(&shipment, &event(Action::ShipmentOrder, None))
        .await
        .unwrap();
    s.mail
        .enqueue_mail(&mail("m1", Some(shipment.id), 0), None)
        .await
        .unwrap();
    s.mail.enqueue_mail(&mail("m2", None, MINUTE), None).await.unwrap();
    assert_conflict(s.mail.enqueue_mail(&mail("m1", None, 0), None).await, "unique");

    // Not due yet: nothing to claim.
    assert!(
        s.mail
            .claim_mail("p1", at(-1), at(10 * MINUTE))
            .await
            .unwrap()
            .is_none()
    );
    let m1 = s.mail.claim_mail("p1", at(0), at(10 * MINUTE)).await.unwrap().unwrap();
    assert_eq!((m1.id.as_str(), m1.state, m1.attempts), ("m1", MailState::Sending, 0));
    assert_eq!(m1.recipients, vec!["a@example.com", "b@example.com"]);
    assert_eq!(m1.body_sealed, vec![1, 2, 3]);
    assert_eq!(m1.shipment_id, Some(shipment.id));
    // m2 is not due at 0; at 2 minutes it is, and m1 is no longer pending.
    assert!(s.mail.claim_mail("p2", at(0), at(10 * MINUTE)).await.unwrap().is_none());
    let m2 = s
        .mail
        .claim_mail("p2", at(2 * MINUTE), at(12 * MINUTE))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m2.id, "m2");

    // Only the lease holder records.
    let sent = MailOutcome::Sent {
        shipment_to_pin_sent: Some(shipment.id),
    };
    assert_not_found(s.mail.finish_mail("m1", "p2", at(MINUTE), &sent, None).await);
    let ev = event(Action::MailSent, Some(Target::Mail("m1".into())));
    s.mail
        .finish_mail("m1", "p1", at(MINUTE), &sent, Some(&ev))
        .await
        .unwrap();
    let m1 = s.mail.get_mail("m1").await.unwrap().unwrap();
    assert_eq!(
        (m1.state, m1.attempts, m1.sent_at),
        (MailState::Sent, 1, Some(at(MINUTE)))
    );
    assert!(m1.body_sealed.is_empty(), "the body is emptied once sent");
    let sh = s.shipments.get_shipment(shipment.id).await.unwrap().unwrap();
    assert_eq!(sh.state, ShipmentState::PinSent);
    assert!(audit_actions(s).await.contains(&"mail.sent".to_owned()));
    // Recorded once: a second outcome finds no sending row.
    assert_not_found(s.mail.finish_mail("m1", "p1", at(MINUTE), &sent, None).await);

    // Refused: pending again, later, with the error; claimed again once due.
    let refused = MailOutcome::Refused {
        next_attempt_at: at(20 * MINUTE),
        error: "421 try later".into(),
    };
    s.mail
        .finish_mail("m2", "p2", at(3 * MINUTE), &refused, None)
        .await
        .unwrap();
    let m2 = s.mail.get_mail("m2").await.unwrap().unwrap();
    assert_eq!((m2.state, m2.attempts), (MailState::Pending, 1));
    assert_eq!(m2.last_error.as_deref(), Some("421 try later"));
    let counts = s.mail.mail_counts(1).await.unwrap();
    assert_eq!((counts.pending, counts.sent, counts.failing), (1, 1, 1));
    assert_eq!(s.mail.mail_counts(2).await.unwrap().failing, 0);
    assert!(
        s.mail
            .claim_mail("p1", at(19 * MINUTE), at(29 * MINUTE))
            .await
            .unwrap()
            .is_none()
    );
    s.mail
        .claim_mail("p1", at(20 * MINUTE), at(30 * MINUTE))
        .await
        .unwrap()
        .unwrap();

    // Its process dies: stale after the lease, made uncertain once, then queued again.
    assert!(s.mail.stale_mail(at(30 * MINUTE), 10).await.unwrap().is_empty());
    let stale = s.mail.stale_mail(at(31 * MINUTE), 10).await.unwrap();
    assert_eq!(stale.len(), 1);
    let ev = event(Action::MailUncertain, Some(Target::Mail("m2".into())));
    assert!(
        s.mail
            .mark_mail_uncertain("m2", at(31 * MINUTE), "stopped", &ev)
            .await
            .unwrap()
    );
    assert!(
        !s.mail
            .mark_mail_uncertain("m2", at(31 * MINUTE), "stopped", &ev)
            .await
            .unwrap()
    );
    assert_not_found(s.mail.finish_mail("m2", "p1", at(31 * MINUTE), &sent, None).await);
    assert_eq!(s.mail.mail_counts(5).await.unwrap().uncertain, 1);
    assert!(
        s.mail
            .claim_mail("p1", at(HOUR_MS), at(HOUR_MS))
            .await
            .unwrap()
            .is_none(),
        "uncertain is never claimed"
    );
    let listed = s.mail.list_mail(Some(MailState::Uncertain), 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    let ev = event(Action::MailRequeue, Some(Target::Mail("m2".into())));
    s.mail.requeue_mail("m2", at(32 * MINUTE), &ev).await.unwrap();
    assert_not_found(s.mail.requeue_mail("m2", at(32 * MINUTE), &ev).await);
    assert_not_found(s.mail.requeue_mail("m1", at(32 * MINUTE), &ev).await);
    let again = s
        .mail
        .claim_mail("p3", at(32 * MINUTE), at(42 * MINUTE))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, "m2");
    s.mail
        .finish_mail(
            "m2",
            "p3",
            at(33 * MINUTE),
            &MailOutcome::Uncertain { error: "lost".into() },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        s.mail.get_mail("m2").await.unwrap().unwrap().state,
        MailState::Uncertain
    );
    assert_eq!(s.mail.list_mail(None, 10).await.unwrap().len(), 2);
}

const HOUR_MS: i64 = 60 * MINUTE;

/// Many claimers at once on many due messages: every message claimed exactly once.
pub async fn mail_claim_race(s: &Stores) {
    for i in 0..40 {
        s.mail
            .enqueue_mail(&mail(&format!("r{i:02}"), None, 0), None)
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for p in 0..8 {
        let mail = s.mail.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(m) = mail.claim_mail(&format!("p{p}"), at(0), at(MINUTE)).await.unwrap() {
                got.push(m.id);
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let expected: Vec<String> = (0..40).map(|i| format!("r{i:02}")).collect();
    assert_eq!(all, expected, "each message claimed once");
}

/// Data keys: one current, the previous demoted by a rotation, a duplicate id refused,
/// retirement erases the wrapped bytes; ciphertexts of registered columns paged by id and
/// replaced only when unchanged; an unregistered column refused; secret settings set,
/// replaced, removed.
pub async fn master_key_ring_and_columns(s: &Stores) {
    let k = &s.keyring;
    assert!(k.master_keys().await.unwrap().is_empty());
    let ev = event(Action::MasterKeyRotate, None);
    k.add_master_key(1, b"wrapped-1", at(0), &ev).await.unwrap();
    k.add_master_key(2, b"wrapped-2", at(MINUTE), &ev).await.unwrap();
    assert_conflict(k.add_master_key(2, b"again", at(MINUTE), &ev).await, "master_key_id");
    let keys = k.master_keys().await.unwrap();
    let states: Vec<(u32, MasterKeyState)> = keys.iter().map(|k| (k.id, k.state)).collect();
    assert_eq!(
        states,
        vec![(1, MasterKeyState::Previous), (2, MasterKeyState::Current)]
    );
    assert_eq!(keys[1].wrapped, b"wrapped-2");
    let retire = event(Action::MasterKeyRetire, None);
    assert_not_found(k.retire_master_key(2, at(2 * MINUTE), &retire).await);
    k.retire_master_key(1, at(2 * MINUTE), &retire).await.unwrap();
    let keys = k.master_keys().await.unwrap();
    assert_eq!((keys[0].state, keys[0].wrapped.len()), (MasterKeyState::Retired, 0));
    assert_eq!(keys[0].retired_at, Some(at(2 * MINUTE)));

    // Secret settings.
    let set = event(Action::SecretSettingSet, None);
    assert_eq!(k.secret_setting("smtp_password").await.unwrap(), None);
    k.set_secret_setting("smtp_password", Some(b"sealed-1"), at(0), &set)
        .await
        .unwrap();
    k.set_secret_setting("smtp_password", Some(b"sealed-2"), at(1), &set)
        .await
        .unwrap();
    k.set_secret_setting("factory_token", Some(b"sealed-3"), at(1), &set)
        .await
        .unwrap();
    assert_eq!(
        k.secret_setting("smtp_password").await.unwrap().as_deref(),
        Some(&b"sealed-2"[..])
    );

    // Columns: paged by id, empty values skipped (a sent message's body).
    for i in 0..5 {
        let mut m = mail(&format!("c{i}"), None, 0);
        m.body_sealed = vec![i; 4];
        s.mail.enqueue_mail(&m, None).await.unwrap();
    }
    let first = k.ciphertexts(&MAIL_BODIES, None, 3).await.unwrap();
    assert_eq!(
        first.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["c0", "c1", "c2"]
    );
    let rest = k.ciphertexts(&MAIL_BODIES, Some("c2"), 3).await.unwrap();
    assert_eq!(rest.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["c3", "c4"]);
    assert_eq!(rest[1].1, vec![4; 4]);
    assert!(k.replace_ciphertext(&MAIL_BODIES, "c4", &[4; 4], b"new").await.unwrap());
    assert!(
        !k.replace_ciphertext(&MAIL_BODIES, "c4", &[4; 4], b"newer")
            .await
            .unwrap(),
        "changed meanwhile"
    );
    assert_eq!(s.mail.get_mail("c4").await.unwrap().unwrap().body_sealed, b"new");
    let secrets = k.ciphertexts(&SECRET_SETTINGS, None, 10).await.unwrap();
    assert_eq!(secrets.len(), 2);
    let bogus = EncryptedColumn {
        table: "users",
        id_column: "id",
        column: "username",
        aad_prefix: "",
    };
    assert!(matches!(
        k.ciphertexts(&bogus, None, 1).await,
        Err(keyfleet_domain::StoreError::Invalid("column"))
    ));
    k.set_secret_setting("smtp_password", None, at(2), &set).await.unwrap();
    assert_eq!(k.secret_setting("smtp_password").await.unwrap(), None);
}
