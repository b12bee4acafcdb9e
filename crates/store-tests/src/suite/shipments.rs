//! Group rules, key orders and collection flags: uniqueness, the one open order per user and
//! rule, compare-and-set state changes, flags that go with their key, and the batched group
//! lookups of directory lists.

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::shipment::{
    Approval, CollectionFlag, GroupRule, GroupRuleId, Shipment, ShipmentId, ShipmentQuery, ShipmentState,
};
use keyfleet_domain::store::Stores;
use keyfleet_domain::{GroupId, UserId};
use rand_core::OsRng;

use super::{assert_conflict, assert_not_found};
use crate::fixtures::{T0, at, audit_actions, credential, event, group, register, user};

fn rule(group: GroupId, model: &str) -> GroupRule {
    GroupRule {
        id: GroupRuleId::new_random(&mut OsRng),
        group_id: group,
        model: model.into(),
        approval: Approval::Required,
        enabled: true,
        created_at: T0,
        updated_at: T0,
    }
}

fn order(user: UserId, rule: Option<GroupRuleId>, state: ShipmentState) -> Shipment {
    Shipment::placed(
        ShipmentId::new_random(&mut OsRng),
        user,
        "nfc-key".into(),
        state,
        rule,
        T0,
    )
}

fn ev(action: Action) -> keyfleet_domain::audit::NewAuditEvent {
    event(action, None)
}

/// Rules: create, read, list, change, delete; one rule per group and model; a rule of a
/// group that does not exist is refused; a group's deletion takes its rules.
pub async fn group_rule_crud(s: &Stores) {
    let g = group("engineering");
    s.groups.create_group(&g, &ev(Action::GroupCreate)).await.unwrap();
    let nfc = rule(g.id, "nfc-key");
    s.shipments
        .create_rule(&nfc, &ev(Action::GroupRuleCreate))
        .await
        .unwrap();
    assert_eq!(s.shipments.get_rule(nfc.id).await.unwrap().as_ref(), Some(&nfc));
    assert_conflict(
        s.shipments
            .create_rule(&rule(g.id, "nfc-key"), &ev(Action::GroupRuleCreate))
            .await,
        "group_rule",
    );
    assert_not_found(
        s.shipments
            .create_rule(
                &rule(GroupId::new_random(&mut OsRng), "band"),
                &ev(Action::GroupRuleCreate),
            )
            .await,
    );
    let mut band = rule(g.id, "band");
    band.approval = Approval::Automatic;
    s.shipments
        .create_rule(&band, &ev(Action::GroupRuleCreate))
        .await
        .unwrap();
    assert_eq!(
        s.shipments.list_rules().await.unwrap(),
        vec![band.clone(), nfc.clone()],
        "by model"
    );

    let mut changed = nfc.clone();
    changed.enabled = false;
    changed.approval = Approval::Automatic;
    changed.updated_at = at(5);
    s.shipments
        .update_rule(&changed, &ev(Action::GroupRuleUpdate))
        .await
        .unwrap();
    assert_eq!(s.shipments.get_rule(nfc.id).await.unwrap().as_ref(), Some(&changed));
    let mut clash = changed.clone();
    clash.model = "band".into();
    assert_conflict(
        s.shipments.update_rule(&clash, &ev(Action::GroupRuleUpdate)).await,
        "group_rule",
    );
    assert_eq!(
        s.shipments.get_rule(nfc.id).await.unwrap().as_ref(),
        Some(&changed),
        "unchanged"
    );
    assert_not_found(
        s.shipments
            .update_rule(&rule(g.id, "x"), &ev(Action::GroupRuleUpdate))
            .await,
    );

    s.shipments
        .delete_rule(nfc.id, &ev(Action::GroupRuleDelete))
        .await
        .unwrap();
    assert_not_found(s.shipments.delete_rule(nfc.id, &ev(Action::GroupRuleDelete)).await);
    s.groups.delete_group(g.id, &ev(Action::GroupDelete)).await.unwrap();
    assert!(
        s.shipments.list_rules().await.unwrap().is_empty(),
        "the group's rules went with it"
    );
    let actions = audit_actions(s).await;
    assert_eq!(
        actions.iter().filter(|a| a.starts_with("group_rule.")).count(),
        4,
        "every successful change audited, no refusal: {actions:?}"
    );
}

/// Orders: one open order per user and rule (a closed one does not count), lists by state,
/// user and rule, compare-and-set transitions, and orders go with their user.
pub async fn shipment_orders(s: &Stores) {
    let alice = user("alice");
    let bob = user("bob");
    for u in [&alice, &bob] {
        s.users.create_user(u, &ev(Action::UserCreate)).await.unwrap();
    }
    let g = group("field");
    s.groups.create_group(&g, &ev(Action::GroupCreate)).await.unwrap();
    let r = rule(g.id, "nfc-key");
    s.shipments.create_rule(&r, &ev(Action::GroupRuleCreate)).await.unwrap();

    let first = order(alice.id, Some(r.id), ShipmentState::PendingApproval);
    s.shipments
        .create_shipment(&first, &ev(Action::ShipmentOrder))
        .await
        .unwrap();
    assert_eq!(s.shipments.get_shipment(first.id).await.unwrap().as_ref(), Some(&first));
    let before = audit_actions(s).await.len();
    assert_conflict(
        s.shipments
            .create_shipment(
                &order(alice.id, Some(r.id), ShipmentState::Requested),
                &ev(Action::ShipmentOrder),
            )
            .await,
        "open_order",
    );
    assert_eq!(
        audit_actions(s).await.len(),
        before,
        "a refused order writes no audit event"
    );
    // Another user, or an order placed by hand, is not the same open order.
    let bobs = order(bob.id, Some(r.id), ShipmentState::PendingApproval);
    s.shipments
        .create_shipment(&bobs, &ev(Action::ShipmentOrder))
        .await
        .unwrap();
    let mut manual = order(alice.id, None, ShipmentState::Requested);
    manual.created_at = at(1);
    manual.updated_at = at(1);
    s.shipments
        .create_shipment(&manual, &ev(Action::ShipmentOrder))
        .await
        .unwrap();
    assert_not_found(
        s.shipments
            .create_shipment(
                &order(UserId::new_random(&mut OsRng), None, ShipmentState::Requested),
                &ev(Action::ShipmentOrder),
            )
            .await,
    );

    // Compare-and-set.
    s.shipments
        .set_shipment_state(
            first.id,
            ShipmentState::PendingApproval,
            ShipmentState::Requested,
            at(2),
            &ev(Action::ShipmentApprove),
        )
        .await
        .unwrap();
    assert_not_found(
        s.shipments
            .set_shipment_state(
                first.id,
                ShipmentState::PendingApproval,
                ShipmentState::Cancelled,
                at(3),
                &ev(Action::ShipmentCancel),
            )
            .await,
    );
    let now = s.shipments.get_shipment(first.id).await.unwrap().unwrap();
    assert_eq!((now.state, now.updated_at), (ShipmentState::Requested, at(2)));
    s.shipments
        .set_shipment_state(
            first.id,
            ShipmentState::Requested,
            ShipmentState::Cancelled,
            at(3),
            &ev(Action::ShipmentCancel),
        )
        .await
        .unwrap();
    // Closed: the rule may order for alice again.
    let again = order(alice.id, Some(r.id), ShipmentState::PendingApproval);
    s.shipments
        .create_shipment(&again, &ev(Action::ShipmentOrder))
        .await
        .unwrap();

    let q = |state, user, rule| ShipmentQuery {
        state,
        user,
        rule,
        limit: 100,
    };
    let ids = |v: Vec<Shipment>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    let all = s.shipments.list_shipments(&q(None, None, None)).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].id, manual.id, "newest first");
    assert_eq!(
        ids(s
            .shipments
            .list_shipments(&q(Some(ShipmentState::Cancelled), None, None))
            .await
            .unwrap()),
        vec![first.id]
    );
    let mut bobs_only = ids(s.shipments.list_shipments(&q(None, Some(bob.id), None)).await.unwrap());
    bobs_only.sort();
    assert_eq!(bobs_only, vec![bobs.id]);
    assert_eq!(
        s.shipments
            .list_shipments(&q(None, Some(alice.id), Some(r.id)))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        s.shipments
            .list_shipments(&ShipmentQuery {
                limit: 1,
                ..q(None, None, None)
            })
            .await
            .unwrap()
            .len(),
        1
    );

    // A deleted rule leaves its orders.
    s.shipments
        .delete_rule(r.id, &ev(Action::GroupRuleDelete))
        .await
        .unwrap();
    assert_eq!(
        s.shipments.get_shipment(again.id).await.unwrap().unwrap().rule_id,
        Some(r.id)
    );
    // Orders go with their user.
    s.users.delete_user(alice.id, &ev(Action::UserDelete)).await.unwrap();
    assert_eq!(s.shipments.get_shipment(again.id).await.unwrap(), None);
    assert!(s.shipments.get_shipment(bobs.id).await.unwrap().is_some());
}

/// Collection flags: set once (a second flag writes nothing), listed per user, cleared, and
/// gone with their key.
pub async fn collection_flags(s: &Stores) {
    let alice = user("alice");
    s.users.create_user(&alice, &ev(Action::UserCreate)).await.unwrap();
    let key = credential(alice.id);
    let other = credential(alice.id);
    register(s, &key).await;
    register(s, &other).await;
    let flag = |k: &[u8]| CollectionFlag {
        credential_id: k.to_vec(),
        user_id: alice.id,
        reason: "left_group".into(),
        rule_id: Some(GroupRuleId::new_random(&mut OsRng)),
        requested_at: at(1),
    };
    let target = Some(Target::User(alice.id));
    assert!(
        s.shipments
            .flag_for_collection(
                &flag(&key.id),
                &event(Action::CredentialCollectionRequested, target.clone())
            )
            .await
            .unwrap()
    );
    let before = audit_actions(s).await.len();
    assert!(
        !s.shipments
            .flag_for_collection(
                &flag(&key.id),
                &event(Action::CredentialCollectionRequested, target.clone())
            )
            .await
            .unwrap()
    );
    assert_eq!(audit_actions(s).await.len(), before, "a second flag writes nothing");
    assert_not_found(
        s.shipments
            .flag_for_collection(
                &flag(&[9; 16]),
                &event(Action::CredentialCollectionRequested, target.clone()),
            )
            .await,
    );
    s.shipments
        .flag_for_collection(
            &flag(&other.id),
            &event(Action::CredentialCollectionRequested, target.clone()),
        )
        .await
        .unwrap();
    let listed = s.shipments.user_collections(alice.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].reason, "left_group");

    s.shipments
        .clear_collection(&other.id, &event(Action::CredentialCollectionCleared, target.clone()))
        .await
        .unwrap();
    assert_not_found(
        s.shipments
            .clear_collection(&other.id, &event(Action::CredentialCollectionCleared, target.clone()))
            .await,
    );
    s.credentials
        .delete_credential(alice.id, &key.id, &event(Action::CredentialReturned, target))
        .await
        .unwrap();
    assert!(
        s.shipments.user_collections(alice.id).await.unwrap().is_empty(),
        "the flag went with the key"
    );
}

/// The batched lookups a directory page makes: every user's groups and every group's members
/// in one query each.
pub async fn groups_and_members_batched(s: &Stores) {
    let users: Vec<_> = ["ann", "ben", "cat"].iter().map(|n| user(n)).collect();
    for u in &users {
        s.users.create_user(u, &ev(Action::UserCreate)).await.unwrap();
    }
    let a = group("alpha");
    let b = group("beta");
    for g in [&a, &b] {
        s.groups.create_group(g, &ev(Action::GroupCreate)).await.unwrap();
    }
    for (g, u) in [(&a, &users[0]), (&b, &users[0]), (&b, &users[1])] {
        s.groups
            .add_member(g.id, u.id, &ev(Action::GroupMemberAdd))
            .await
            .unwrap();
    }
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let pairs = s.groups.list_groups_of_users(&ids).await.unwrap();
    let of = |u: &UserId| {
        pairs
            .iter()
            .filter(|(x, _)| x == u)
            .map(|(_, g)| g.name.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(of(&users[0].id), vec!["alpha", "beta"], "by name");
    assert_eq!(of(&users[1].id), vec!["beta"]);
    assert!(of(&users[2].id).is_empty());
    assert!(s.groups.list_groups_of_users(&[]).await.unwrap().is_empty());

    let pairs = s.groups.list_members_of_groups(&[a.id, b.id]).await.unwrap();
    let members = |g: GroupId| {
        pairs
            .iter()
            .filter(|(x, _)| *x == g)
            .map(|(_, u)| u.username.as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(members(a.id), vec!["ann"]);
    assert_eq!(members(b.id), vec!["ann", "ben"], "by username");
    assert_eq!(
        pairs.iter().find(|(_, u)| u.id == users[1].id).map(|(_, u)| u),
        Some(&users[1])
    );
    assert!(s.groups.list_members_of_groups(&[]).await.unwrap().is_empty());

    // Users by id, as the audit log's pages name them: the ones that exist, whole; more ids
    // than one statement binds are read in several.
    let gone = UserId::new_random(&mut OsRng);
    let mut found = s.users.get_users(&[users[2].id, gone, users[0].id]).await.unwrap();
    found.sort_by(|x, y| x.username.as_str().cmp(y.username.as_str()));
    assert_eq!(found, [users[0].clone(), users[2].clone()]);
    let mut many: Vec<UserId> = (0..1_200).map(|_| UserId::new_random(&mut OsRng)).collect();
    many.push(users[1].id);
    assert_eq!(s.users.get_users(&many).await.unwrap(), [users[1].clone()]);
    assert!(s.users.get_users(&[]).await.unwrap().is_empty());
}

/// The connector's work on orders: an order with what it asks round-trips; claims are
/// exclusive between holders and look at an order once per run; only the lease holder
/// records a step; a failed step counts an attempt and waits its backoff; the database's
/// clock is a time; complete orders are purged with their outbox rows.
pub async fn connector_claims_and_purge(s: &Stores) {
    use keyfleet_domain::mail::{MailKind, NewMail};
    use keyfleet_domain::shipment::{OrderDetails, StepOutcome};
    use std::time::Duration;

    let (a, b) = (user("claim-a"), user("claim-b"));
    for u in [&a, &b] {
        s.users.create_user(u, &ev(Action::UserCreate)).await.unwrap();
    }
    let details = OrderDetails {
        pin_length: 6,
        emails_to: vec!["m1@example.com".into(), "m2@example.com".into()],
        shipping_address: Some("1 Street\nTown".into()),
        delivery_type: "express".into(),
    };
    let (oa, ob) = (
        order(a.id, None, ShipmentState::Requested),
        order(b.id, None, ShipmentState::Requested),
    );
    for o in [&oa, &ob] {
        s.shipments
            .create_order(o, &details, &ev(Action::ShipmentOrder))
            .await
            .unwrap();
    }
    let read = s.shipments.connector_order(oa.id).await.unwrap().unwrap();
    assert_eq!((&read.shipment, &read.details), (&oa, &details));
    assert_eq!(read.options_id, None);

    let now = s.shipments.database_now().await.unwrap();
    assert!(now.as_millis() > T0.as_millis(), "the database clock is a time");
    let lease = Duration::from_secs(300);
    let first = s
        .shipments
        .claim_orders(ShipmentState::Requested, "p1", lease, now, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    let other = s
        .shipments
        .claim_orders(ShipmentState::Requested, "p2", lease, now, 10)
        .await
        .unwrap();
    assert!(other.is_empty(), "leased orders are not claimed by another holder");
    let again = s
        .shipments
        .claim_orders(ShipmentState::Requested, "p1", lease, now, 10)
        .await
        .unwrap();
    assert!(again.is_empty(), "one run looks at an order once");

    let options = keyfleet_domain::ids::CeremonyId::new_random(&mut OsRng);
    assert_not_found(s.shipments.prepare_order(oa.id, "p2", options, b"key", b"req").await);
    s.shipments
        .prepare_order(oa.id, "p1", options, b"key", b"req")
        .await
        .unwrap();
    let prepared = s.shipments.connector_order(oa.id).await.unwrap().unwrap();
    assert_eq!(
        (
            prepared.options_id,
            prepared.response_key_sealed.as_deref(),
            prepared.request_sealed.as_deref()
        ),
        (Some(options), Some(&b"key"[..]), Some(&b"req"[..]))
    );

    // A failure: counted, its reason kept, not due for an hour (database clock).
    let failed = StepOutcome {
        state: ShipmentState::Requested,
        failed: true,
        error: Some("factory_unavailable: down"),
        retry_after: Some(Duration::from_secs(3600)),
        tracking_number: None,
        at: at(5),
    };
    assert_not_found(s.shipments.order_step(oa.id, "p2", &failed, None).await);
    s.shipments.order_step(oa.id, "p1", &failed, None).await.unwrap();
    let after = s.shipments.get_shipment(oa.id).await.unwrap().unwrap();
    assert_eq!(
        (after.attempts, after.last_error.as_deref(), after.state),
        (1, Some("factory_unavailable: down"), ShipmentState::Requested)
    );
    s.shipments
        .order_submitted(ob.id, "p1", "shp_1", at(6), &ev(Action::ShipmentSubmit))
        .await
        .unwrap();
    assert_not_found(
        s.shipments
            .order_submitted(ob.id, "p1", "shp_2", at(6), &ev(Action::ShipmentSubmit))
            .await,
    );
    let later = s.shipments.database_now().await.unwrap().plus(Duration::from_millis(1));
    let next_run = s
        .shipments
        .claim_orders(ShipmentState::Requested, "p2", lease, later, 10)
        .await
        .unwrap();
    assert!(next_run.is_empty(), "a failed order waits its backoff");
    let submitted = s
        .shipments
        .claim_orders(ShipmentState::Submitted, "p2", lease, later, 10)
        .await
        .unwrap();
    assert_eq!(submitted.len(), 1);
    assert_eq!(submitted[0].shipment.factory_shipment_id.as_deref(), Some("shp_1"));

    let counts = s.shipments.count_by_state().await.unwrap();
    assert!(counts.contains(&(ShipmentState::Requested, 1)) && counts.contains(&(ShipmentState::Submitted, 1)));

    // Complete orders go, with their outbox rows.
    s.shipments
        .set_shipment_state(
            ob.id,
            ShipmentState::Submitted,
            ShipmentState::Complete,
            at(7),
            &ev(Action::ShipmentComplete),
        )
        .await
        .unwrap();
    let mail = NewMail {
        id: "3f1c1c5e-8d1e-4a43-9d2b-7b3f0f0b6a11".into(),
        shipment_id: Some(ob.id),
        kind: MailKind::ShipmentPinResend,
        recipients: vec!["m1@example.com".into()],
        subject: "PIN".into(),
        body_sealed: vec![1, 2, 3],
        created_at: at(7),
    };
    s.shipments
        .queue_mail(&mail, &ev(Action::ShipmentResendPin))
        .await
        .unwrap();
    assert_eq!(
        s.shipments.purge_completed(at(7)).await.unwrap(),
        0,
        "not older than the cut-off"
    );
    assert_eq!(s.shipments.purge_completed(at(8)).await.unwrap(), 1);
    assert!(s.shipments.connector_order(ob.id).await.unwrap().is_none());
    assert!(s.shipments.connector_order(oa.id).await.unwrap().is_some());

    // Runs back to back, each well inside a millisecond: every run looks at the order once,
    // the next one included, and never twice itself.
    let oc = order(b.id, None, ShipmentState::Requested);
    s.shipments
        .create_order(&oc, &details, &ev(Action::ShipmentOrder))
        .await
        .unwrap();
    let retry_now = StepOutcome {
        retry_after: Some(Duration::ZERO),
        ..failed
    };
    let mut previous = None;
    for run in 1..=5 {
        let start = s.shipments.run_start().await.unwrap();
        assert!(previous.is_none_or(|p: keyfleet_domain::Timestamp| start.as_millis() > p.as_millis()));
        let claimed = s
            .shipments
            .claim_orders(ShipmentState::Requested, "p3", lease, start, 10)
            .await
            .unwrap();
        assert_eq!(
            claimed.iter().map(|o| o.shipment.id).collect::<Vec<_>>(),
            [oc.id],
            "run {run} looks at the order the run before it released"
        );
        s.shipments.order_step(oc.id, "p3", &retry_now, None).await.unwrap();
        let twice = s
            .shipments
            .claim_orders(ShipmentState::Requested, "p3", lease, start, 10)
            .await
            .unwrap();
        assert!(twice.is_empty(), "run {run} looked at the order twice");
        previous = Some(start);
    }
}
