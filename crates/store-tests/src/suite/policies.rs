//! Group policies: round trip, uniqueness, missing groups, the sign-in's one read.

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::ids::PolicyId;
use keyfleet_domain::metadata::{EntrySource, MetadataBlob, MetadataEntry};
use keyfleet_domain::policy::{
    Attestation, Enforcement, FailureWindow, KeyRestrictions, PasskeyTypes, Policy, PolicySettings, SignInLookup,
    Targets, UserVerification,
};
use keyfleet_domain::store::Stores;
use keyfleet_domain::{GroupId, Timestamp};
use rand_core::OsRng;

use super::{assert_conflict, assert_not_found};
use crate::fixtures::{MINUTE, T0, at, audit_actions, credential, event, group, register, user};

fn policy(name: &str, include: Targets, exclude: Vec<GroupId>) -> Policy {
    Policy {
        id: PolicyId::new_random(&mut OsRng),
        name: name.to_owned(),
        include,
        exclude,
        settings: PolicySettings {
            self_service_registration: false,
            user_verification: UserVerification::Required,
            attestation: Attestation::Required,
            passkey_types: PasskeyTypes {
                device_bound: true,
                synced: false,
            },
            key_restrictions: Some(KeyRestrictions {
                enforcement: Enforcement::Allow,
                aaguids: vec![[1; 16], [2; 16]],
            }),
            block_compromised_models: true,
            max_keys_per_user: Some(3),
        },
        created_at: T0,
        updated_at: T0,
    }
}

fn target(p: &Policy) -> Option<Target> {
    Some(Target::Policy(p.id))
}

/// Create, read, list, replace and delete, each with its audit event; names are unique
/// ignoring case; a missing group or policy is `NotFound` and changes nothing.
pub async fn policy_crud(s: &Stores) {
    let g1 = group("engineers");
    let g2 = group("contractors");
    for g in [&g1, &g2] {
        s.groups
            .create_group(g, &event(Action::GroupCreate, None))
            .await
            .unwrap();
    }
    let mut ids = vec![g1.id, g2.id];
    ids.sort();
    let mut a = policy("Strict", Targets::Groups(ids.clone()), Vec::new());
    s.policies
        .create_policy(&a, &event(Action::PolicyCreate, target(&a)))
        .await
        .unwrap();
    assert_eq!(s.policies.get_policy(a.id).await.unwrap(), Some(a.clone()));

    let mut b = policy("everyone", Targets::All, vec![g2.id]);
    b.settings = PolicySettings::permissive();
    s.policies
        .create_policy(&b, &event(Action::PolicyCreate, target(&b)))
        .await
        .unwrap();
    assert_eq!(
        s.policies.list_policies().await.unwrap(),
        vec![b.clone(), a.clone()],
        "by name, ignoring case"
    );

    let dup = policy("STRICT", Targets::All, Vec::new());
    assert_conflict(
        s.policies.create_policy(&dup, &event(Action::PolicyCreate, None)).await,
        "policy_name",
    );
    let ghost = policy(
        "ghost",
        Targets::Groups(vec![GroupId::new_random(&mut OsRng)]),
        Vec::new(),
    );
    assert_not_found(
        s.policies
            .create_policy(&ghost, &event(Action::PolicyCreate, None))
            .await,
    );
    assert_eq!(
        s.policies.get_policy(ghost.id).await.unwrap(),
        None,
        "nothing of it was written"
    );

    // Replace: settings, name and targets change; created_at stays.
    a.name = "Stricter".into();
    a.include = Targets::All;
    a.exclude = vec![g1.id];
    a.settings.key_restrictions = Some(KeyRestrictions {
        enforcement: Enforcement::Block,
        aaguids: vec![[9; 16]],
    });
    a.settings.max_keys_per_user = None;
    a.updated_at = at(1000);
    s.policies
        .replace_policy(&a, &event(Action::PolicyUpdate, target(&a)))
        .await
        .unwrap();
    assert_eq!(s.policies.get_policy(a.id).await.unwrap(), Some(a.clone()));
    let mut renamed = a.clone();
    renamed.name = "Everyone".into();
    assert_conflict(
        s.policies
            .replace_policy(&renamed, &event(Action::PolicyUpdate, None))
            .await,
        "policy_name",
    );
    let mut bad_group = a.clone();
    bad_group.exclude = vec![GroupId::new_random(&mut OsRng)];
    assert_not_found(
        s.policies
            .replace_policy(&bad_group, &event(Action::PolicyUpdate, None))
            .await,
    );
    assert_eq!(
        s.policies.get_policy(a.id).await.unwrap(),
        Some(a.clone()),
        "a refused replace changes nothing"
    );
    let unknown = policy("unknown", Targets::All, Vec::new());
    assert_not_found(
        s.policies
            .replace_policy(&unknown, &event(Action::PolicyUpdate, None))
            .await,
    );

    // Deleting a group takes it out of the policies that name it.
    s.groups
        .delete_group(g1.id, &event(Action::GroupDelete, None))
        .await
        .unwrap();
    assert_eq!(
        s.policies.get_policy(a.id).await.unwrap().unwrap().exclude,
        Vec::<GroupId>::new()
    );

    s.policies
        .delete_policy(a.id, &event(Action::PolicyDelete, target(&a)))
        .await
        .unwrap();
    assert_eq!(s.policies.get_policy(a.id).await.unwrap(), None);
    assert_not_found(s.policies.delete_policy(a.id, &event(Action::PolicyDelete, None)).await);
    let actions = audit_actions(s).await;
    let count = |name: &str| actions.iter().filter(|a| *a == name).count();
    assert_eq!(count("policy.create"), 2);
    assert_eq!(count("policy.update"), 1);
    assert_eq!(count("policy.delete"), 1);
}

/// The sign-in's read: exactly the policies that target the user (everyone, through a group,
/// less exclusions), and the model's compromised flag, whether or not any policy applies.
pub async fn policy_sign_in_read(s: &Stores) {
    let alice = user("alice");
    let bob = user("bob");
    for u in [&alice, &bob] {
        s.users.create_user(u, &event(Action::UserCreate, None)).await.unwrap();
    }
    // No policy, no metadata.
    let none = s.policies.sign_in_policies(alice.id, &[1; 16]).await.unwrap();
    assert!(none.policies.is_empty());
    assert!(!none.model_compromised);

    let eng = group("engineers");
    let out = group("excluded");
    for g in [&eng, &out] {
        s.groups
            .create_group(g, &event(Action::GroupCreate, None))
            .await
            .unwrap();
    }
    s.groups
        .add_member(eng.id, alice.id, &event(Action::GroupMemberAdd, None))
        .await
        .unwrap();
    s.groups
        .add_member(out.id, bob.id, &event(Action::GroupMemberAdd, None))
        .await
        .unwrap();
    let all = policy("all", Targets::All, vec![out.id]);
    let engineers = policy("engineers", Targets::Groups(vec![eng.id]), Vec::new());
    let others = policy("others", Targets::Groups(vec![out.id]), Vec::new());
    for p in [&all, &engineers, &others] {
        s.policies
            .create_policy(p, &event(Action::PolicyCreate, None))
            .await
            .unwrap();
    }
    let names =
        |r: &keyfleet_domain::policy::SignInPolicies| r.policies.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    let for_alice = s.policies.sign_in_policies(alice.id, &[1; 16]).await.unwrap();
    assert_eq!(names(&for_alice), ["all", "engineers"]);
    assert_eq!(for_alice.policies[1], engineers, "read whole");
    let for_bob = s.policies.sign_in_policies(bob.id, &[1; 16]).await.unwrap();
    assert_eq!(names(&for_bob), ["others"]);

    let blob = MetadataBlob {
        no: 1,
        next_update: "2027-01-01".into(),
        entry_count: 2,
        imported_at: Timestamp::from_millis(0),
        verified_at: Timestamp::from_millis(0),
        revocation: "offline".into(),
    };
    let entry = |a: u8, compromised| MetadataEntry {
        aaguid: [a; 16],
        description: format!("model {a}"),
        status: Some(if compromised { "REVOKED" } else { "FIDO_CERTIFIED" }.into()),
        status_date: None,
        certification_level: None,
        compromised,
        attestation_roots: Vec::new(),
        icon: None,
        source: EntrySource::Mds,
    };
    s.metadata
        .import_metadata(
            &blob,
            b"x",
            &[entry(1, false), entry(2, true)],
            &event(Action::MetadataImport, None),
        )
        .await
        .unwrap();
    assert!(
        !s.policies
            .sign_in_policies(alice.id, &[1; 16])
            .await
            .unwrap()
            .model_compromised
    );
    assert!(
        s.policies
            .sign_in_policies(alice.id, &[2; 16])
            .await
            .unwrap()
            .model_compromised
    );
    // Without any policy the flag still comes back.
    let carol = user("carol");
    s.users
        .create_user(&carol, &event(Action::UserCreate, None))
        .await
        .unwrap();
    s.groups
        .add_member(out.id, carol.id, &event(Action::GroupMemberAdd, None))
        .await
        .unwrap();
    s.policies
        .delete_policy(others.id, &event(Action::PolicyDelete, None))
        .await
        .unwrap();
    let for_carol = s.policies.sign_in_policies(carol.id, &[2; 16]).await.unwrap();
    assert!(for_carol.policies.is_empty());
    assert!(for_carol.model_compromised);

    // A second group for alice, its name escaped in JSON (quotes, a backslash, a comma).
    let quoted = group("\u{c4}rzte, \"QA\" \\ team");
    s.groups
        .create_group(&quoted, &event(Action::GroupCreate, None))
        .await
        .unwrap();
    s.groups
        .add_member(quoted.id, alice.id, &event(Action::GroupMemberAdd, None))
        .await
        .unwrap();

    // The sign-in's one read of a key brings the same policies and flag as the read by user
    // and model, with the key, its owner and the owner's groups: for every user and model
    // above.
    for (owner, model) in [(&alice, 1u8), (&alice, 2), (&bob, 1), (&carol, 2)] {
        let mut key = credential(owner.id);
        key.aaguid = [model; 16];
        register(s, &key).await;
        let SignInLookup::Found(read) = read_key(s, &key.id, fresh_ceremony()).await else {
            panic!("the key is stored");
        };
        assert_eq!(read.credential, key);
        assert_eq!(&read.owner, owner);
        let groups = s.groups.list_user_groups(owner.id).await.unwrap();
        assert_eq!(
            read.groups,
            groups.into_iter().map(|g| g.name).collect::<Vec<_>>(),
            "{}'s groups, in name order",
            owner.username.as_str()
        );
        assert_eq!(
            read.policies,
            s.policies.sign_in_policies(owner.id, &[model; 16]).await.unwrap(),
            "{} with model {model}",
            owner.username.as_str()
        );
    }
    let unspent = fresh_ceremony();
    assert_eq!(
        read_key(s, &[7; 16], unspent).await,
        SignInLookup::UnknownKey,
        "an unknown key"
    );

    // A spent ceremony is told first, whatever the key.
    let key = credential(alice.id);
    register(s, &key).await;
    let spent = fresh_ceremony();
    assert!(s.ceremonies.spend_ceremony(spent, at(MINUTE)).await.unwrap());
    for id in [&key.id[..], &[7; 16]] {
        assert_eq!(read_key(s, id, spent).await, SignInLookup::Spent);
    }
    assert!(matches!(
        read_key(s, &key.id, unspent).await,
        SignInLookup::Found(read) if read.credential == key
    ));
    let dave = user("dave");
    s.users
        .create_user(&dave, &event(Action::UserCreate, None))
        .await
        .unwrap();
    let key = credential(dave.id);
    register(s, &key).await;
    let SignInLookup::Found(read) = read_key(s, &key.id, unspent).await else {
        panic!("dave's key is stored");
    };
    assert!(read.groups.is_empty(), "no group: an empty list");

    // The failures on the address's key come with every answer, counted as `peek` counts
    // them: in the window, 0 once it has passed, 0 for a key never hit or holding a NUL.
    let window = 10 * MINUTE;
    let limit_key = "signin:fail:192.0.2.7";
    for _ in 0..3 {
        s.rate_limits.hit(limit_key, at(MINUTE), window).await.unwrap();
    }
    s.rate_limits
        .hit("signin:fail:192.0.2.8", at(MINUTE), window)
        .await
        .unwrap();
    for (now, expected) in [
        (at(2 * MINUTE), 3),
        (at(MINUTE + window - 1), 3),
        (at(MINUTE + window), 0),
    ] {
        let failures = FailureWindow {
            key: limit_key,
            now,
            window_ms: window,
        };
        assert_eq!(s.rate_limits.peek(limit_key, now, window).await.unwrap(), expected);
        for (id, ceremony, kind) in [
            (&key.id[..], unspent, "found"),
            (&[7; 16][..], unspent, "unknown key"),
            (&key.id[..], spent, "spent"),
        ] {
            let reading = s.policies.sign_in_read(id, ceremony, failures).await.unwrap();
            assert_eq!(reading.failures, expected, "{kind} at {now:?}");
            assert_eq!(
                reading.lookup,
                read_key(s, id, ceremony).await,
                "{kind}: the same lookup"
            );
        }
    }
    for never in ["signin:fail:192.0.2.9", "signin:fail:192.0.2.7\0"] {
        let failures = FailureWindow {
            key: never,
            now: at(2 * MINUTE),
            window_ms: window,
        };
        let reading = s.policies.sign_in_read(&key.id, unspent, failures).await.unwrap();
        assert_eq!(reading.failures, 0, "{never:?}");
        assert!(
            matches!(reading.lookup, SignInLookup::Found(ref r) if r.credential == key),
            "{never:?}"
        );
    }
}

/// The sign-in's read of `id` under `ceremony`, with a failure key nothing was counted on.
pub(crate) async fn read_key(s: &Stores, id: &[u8], ceremony: keyfleet_domain::ids::CeremonyId) -> SignInLookup {
    let failures = FailureWindow {
        key: "signin:fail:203.0.113.250",
        now: at(MINUTE),
        window_ms: MINUTE,
    };
    let reading = s.policies.sign_in_read(id, ceremony, failures).await.unwrap();
    assert_eq!(reading.failures, 0, "nothing counted on the key");
    reading.lookup
}

fn fresh_ceremony() -> keyfleet_domain::ids::CeremonyId {
    keyfleet_domain::ids::CeremonyId::new_random(&mut OsRng)
}
