//! Policy validation and evaluation, table-driven: groups × settings × key properties →
//! decision.

use super::*;

const YUBI: Aaguid = [1; 16];
const OTHER: Aaguid = [2; 16];
const ENGINEERS: GroupId = gid(1);
const CONTRACTORS: GroupId = gid(2);
const EXCLUDED: GroupId = gid(9);

const fn gid(n: u8) -> GroupId {
    GroupId::from_uuid(uuid::Uuid::from_bytes([n; 16]))
}

fn policy(n: u8, include: Targets, exclude: &[GroupId], f: impl FnOnce(&mut PolicySettings)) -> Policy {
    let mut settings = PolicySettings::permissive();
    f(&mut settings);
    Policy {
        id: PolicyId::from_uuid(uuid::Uuid::from_bytes([n; 16])),
        name: format!("p{n}"),
        include,
        exclude: exclude.to_vec(),
        settings,
        created_at: Timestamp::from_millis(0),
        updated_at: Timestamp::from_millis(0),
    }
}

fn default_policy() -> Policy {
    Policy {
        id: DEFAULT_POLICY_ID,
        name: "Default".into(),
        ..policy(0, Targets::All, &[], |s| {
            s.user_verification = UserVerification::Preferred
        })
    }
}

fn key(aaguid: Aaguid, attested: bool, be: bool, compromised: bool) -> KeyFacts {
    KeyFacts {
        aaguid,
        attested,
        backup_eligible: be,
        compromised,
    }
}

/// The effective policy of a member of `groups` among `policies` (and the default).
fn effective_for(groups: &[GroupId], policies: &[Policy]) -> EffectivePolicy {
    let applying: Vec<Policy> = std::iter::once(default_policy())
        .chain(policies.iter().cloned())
        .filter(|p| p.targets(groups))
        .collect();
    EffectivePolicy::combine(&applying)
}

#[test]
fn targeting_follows_groups_and_exclusions() {
    let p = policy(1, Targets::Groups(vec![gid(1), gid(2)]), &[gid(9)], |_| {});
    let all = policy(2, Targets::All, &[gid(9)], |_| {});
    let cases: &[(&[GroupId], bool, bool)] = &[
        (&[], false, true),
        (&[gid(1)], true, true),
        (&[gid(2), gid(3)], true, true),
        (&[gid(3)], false, true),
        (&[gid(1), gid(9)], false, false),
        (&[gid(9)], false, false),
    ];
    for (groups, in_p, in_all) in cases {
        assert_eq!(p.targets(groups), *in_p, "{groups:?}");
        assert_eq!(all.targets(groups), *in_all, "{groups:?}");
    }
}

/// (groups, key, uv flag, keys held, self-service, registration, sign-in).
type Case = (
    &'static [GroupId],
    KeyFacts,
    bool,
    usize,
    bool,
    Result<(), Refusal>,
    Result<(), Refusal>,
);

/// A change to a good draft.
type Change = Box<dyn Fn(&mut PolicyDraft)>;

#[test]
fn decisions_table() {
    let policies = vec![
        // Engineers: only the YubiKey model, attested, UV required.
        policy(1, Targets::Groups(vec![ENGINEERS]), &[EXCLUDED], |s| {
            s.user_verification = UserVerification::Required;
            s.key_restrictions = Some(KeyRestrictions {
                enforcement: Enforcement::Allow,
                aaguids: vec![YUBI],
            });
        }),
        // Contractors: no synced keys, OTHER blocked, compromised models blocked, one key.
        policy(2, Targets::Groups(vec![CONTRACTORS]), &[], |s| {
            s.passkey_types = PasskeyTypes {
                device_bound: true,
                synced: false,
            };
            s.key_restrictions = Some(KeyRestrictions {
                enforcement: Enforcement::Block,
                aaguids: vec![OTHER],
            });
            s.block_compromised_models = true;
            s.max_keys_per_user = Some(1);
            s.self_service_registration = false;
        }),
    ];
    let ok = Ok(());
    // (groups, key, uv flag, keys held, self-service, registration, sign-in)
    let cases: Vec<Case> = vec![
        // Nobody's policy but the default: anything goes.
        (&[], key(OTHER, false, true, true), false, 5, true, ok, ok),
        // Engineers.
        (&[ENGINEERS], key(YUBI, true, false, false), true, 0, true, ok, ok),
        (
            &[ENGINEERS],
            key(YUBI, true, false, false),
            false,
            0,
            true,
            Err(Refusal::UserVerification),
            Err(Refusal::UserVerification),
        ),
        (
            &[ENGINEERS],
            key(OTHER, true, false, false),
            true,
            0,
            true,
            Err(Refusal::AaguidNotAllowed),
            Err(Refusal::AaguidNotAllowed),
        ),
        // `none`/self attestation never satisfies an allow list.
        (
            &[ENGINEERS],
            key(YUBI, false, false, false),
            true,
            0,
            true,
            Err(Refusal::AaguidUnattested),
            Err(Refusal::AaguidUnattested),
        ),
        // Excluded ENGINEERS are not targeted.
        (
            &[ENGINEERS, EXCLUDED],
            key(OTHER, false, true, false),
            false,
            0,
            true,
            ok,
            ok,
        ),
        // Contractors.
        (&[CONTRACTORS], key(YUBI, false, false, false), false, 0, false, ok, ok),
        (
            &[CONTRACTORS],
            key(YUBI, false, false, false),
            false,
            0,
            true,
            Err(Refusal::SelfServiceDisabled),
            ok,
        ),
        (
            &[CONTRACTORS],
            key(YUBI, false, false, false),
            false,
            1,
            false,
            Err(Refusal::TooManyKeys),
            ok,
        ),
        (
            &[CONTRACTORS],
            key(YUBI, false, true, false),
            false,
            0,
            false,
            Err(Refusal::PasskeyType),
            Err(Refusal::PasskeyType),
        ),
        (
            &[CONTRACTORS],
            key(OTHER, true, false, false),
            false,
            0,
            false,
            Err(Refusal::AaguidBlocked),
            Err(Refusal::AaguidBlocked),
        ),
        (
            &[CONTRACTORS],
            key(YUBI, true, false, true),
            false,
            0,
            false,
            Err(Refusal::Compromised),
            Err(Refusal::Compromised),
        ),
        // Both: every rule of both applies.
        (
            &[ENGINEERS, CONTRACTORS],
            key(YUBI, true, false, false),
            true,
            0,
            false,
            ok,
            ok,
        ),
        (
            &[ENGINEERS, CONTRACTORS],
            key(YUBI, true, false, false),
            false,
            0,
            false,
            Err(Refusal::UserVerification),
            Err(Refusal::UserVerification),
        ),
        (
            &[ENGINEERS, CONTRACTORS],
            key(YUBI, true, true, false),
            true,
            0,
            false,
            Err(Refusal::PasskeyType),
            Err(Refusal::PasskeyType),
        ),
    ];
    for (i, (groups, key, uv, held, self_service, reg, sign_in)) in cases.into_iter().enumerate() {
        let eff = effective_for(groups, &policies);
        assert_eq!(
            eff.may_register(&key, uv, held, self_service),
            reg,
            "case {i}: registration"
        );
        assert_eq!(eff.may_sign_in(&key, uv), sign_in, "case {i}: sign-in");
    }
}

#[test]
fn the_strictest_wins_and_is_named() {
    let a = policy(1, Targets::All, &[], |s| {
        s.user_verification = UserVerification::Required;
        s.max_keys_per_user = Some(5);
        s.key_restrictions = Some(KeyRestrictions {
            enforcement: Enforcement::Allow,
            aaguids: vec![YUBI, OTHER],
        });
    });
    let b = policy(2, Targets::All, &[], |s| {
        s.attestation = Attestation::Required;
        s.max_keys_per_user = Some(2);
        s.key_restrictions = Some(KeyRestrictions {
            enforcement: Enforcement::Allow,
            aaguids: vec![YUBI],
        });
    });
    let eff = effective_for(&[], &[a.clone(), b.clone()]);
    assert_eq!(eff.user_verification.value, UserVerification::Required);
    assert_eq!(eff.user_verification.by, vec![PolicyRef::from(&a)]);
    assert_eq!(eff.attestation.value, Attestation::Required);
    assert_eq!(eff.attestation.by, vec![PolicyRef::from(&b)]);
    assert_eq!(eff.max_keys_per_user.value, Some(2));
    assert_eq!(eff.max_keys_per_user.by, vec![PolicyRef::from(&b)]);
    assert_eq!(eff.allowed_aaguids.value, Some(vec![YUBI]));
    assert_eq!(eff.allowed_aaguids.by, vec![PolicyRef::from(&a), PolicyRef::from(&b)]);
    // Settings nobody tightened are the default's.
    assert!(eff.self_service_registration.value);
    assert_eq!(eff.self_service_registration.by[0].id, DEFAULT_POLICY_ID);
    assert_eq!(eff.applied.len(), 3);
    assert_eq!(eff.applied[0].id, DEFAULT_POLICY_ID);
}

fn draft() -> PolicyDraft {
    PolicyDraft {
        name: " Engineers ".into(),
        include_groups: vec!["all".into()],
        exclude_groups: vec![],
        self_service_registration: true,
        user_verification: "required".into(),
        attestation: "none".into(),
        passkey_types: vec!["deviceBound".into(), "synced".into()],
        key_restrictions: None,
        block_compromised_models: false,
        max_keys_per_user: Some(3),
    }
}

#[test]
fn validation_accepts_a_good_draft() {
    let v = validate(&draft()).unwrap();
    assert_eq!(v.name, "Engineers");
    assert_eq!(v.name_key, "engineers");
    assert_eq!(v.include, Targets::All);
    assert_eq!(v.settings.max_keys_per_user, Some(3));
    let mut d = draft();
    d.key_restrictions = Some((
        "allow".into(),
        vec![
            "CB69481E-8FF7-4039-93EC-0A2729A154A8".into(),
            "cb69481e-8ff7-4039-93ec-0a2729a154a8".into(),
        ],
    ));
    let v = validate(&d).unwrap();
    assert_eq!(
        v.settings.key_restrictions.unwrap().aaguids.len(),
        1,
        "duplicates merged"
    );
}

#[test]
fn validation_refuses_bad_fields() {
    let g = "00000000-0000-0000-0000-0000000000aa".to_owned();
    let cases: Vec<(&str, Change)> = vec![
        ("name", Box::new(|d| d.name = " ".into())),
        ("name", Box::new(|d| d.name = "a\u{202E}b".into())),
        ("includeGroups", Box::new(|d| d.include_groups = vec![])),
        (
            "includeGroups",
            Box::new(|d| d.include_groups = vec!["all".into(), "00000000-0000-0000-0000-000000000001".into()]),
        ),
        (
            "includeGroups",
            Box::new(|d| d.include_groups = vec!["engineers".into()]),
        ),
        ("excludeGroups", Box::new(|d| d.exclude_groups = vec!["all".into()])),
        ("excludeGroups", {
            let g = g.clone();
            Box::new(move |d| {
                d.include_groups = vec![g.clone()];
                d.exclude_groups = vec![g.clone()];
            })
        }),
        ("userVerification", Box::new(|d| d.user_verification = "always".into())),
        ("attestation", Box::new(|d| d.attestation = "direct".into())),
        ("passkeyTypes", Box::new(|d| d.passkey_types = vec![])),
        ("passkeyTypes", Box::new(|d| d.passkey_types = vec!["hybrid".into()])),
        (
            "keyRestrictions.enforcement",
            Box::new(|d| d.key_restrictions = Some(("both".into(), vec![]))),
        ),
        (
            "keyRestrictions.aaguids",
            Box::new(|d| d.key_restrictions = Some(("allow".into(), vec![]))),
        ),
        (
            "keyRestrictions.aaguids",
            Box::new(|d| d.key_restrictions = Some(("block".into(), vec!["not-a-uuid".into()]))),
        ),
        (
            "keyRestrictions.aaguids",
            Box::new(|d| d.key_restrictions = Some(("block".into(), vec!["cb69481e8ff7403993ec0a2729a154a8".into()]))),
        ),
        ("maxKeysPerUser", Box::new(|d| d.max_keys_per_user = Some(0))),
        ("maxKeysPerUser", Box::new(|d| d.max_keys_per_user = Some(-1))),
        ("maxKeysPerUser", Box::new(|d| d.max_keys_per_user = Some(1_000_000))),
    ];
    for (field, change) in cases {
        let mut d = draft();
        change(&mut d);
        assert_eq!(validate(&d).unwrap_err().field, field, "{d:?}");
    }
}
