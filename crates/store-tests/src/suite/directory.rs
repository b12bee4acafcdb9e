//! Directory sync: users and groups with their links, directory queries, soft deletion and
//! the purge after the recovery period.

use keyfleet_domain::audit::{Action, Target};
use keyfleet_domain::directory::{Cmp, Condition, DirectoryLink, DirectoryQuery, GroupAttr, Operand, UserAttr};
use keyfleet_domain::group::Group;
use keyfleet_domain::store::Stores;
use keyfleet_domain::{GroupId, UserId};
use rand_core::OsRng;

use super::{assert_conflict, assert_not_found};
use crate::fixtures::{self, MINUTE, T0, at, audit_actions, event, user, user_target};

fn link(external: &str) -> DirectoryLink {
    DirectoryLink {
        external_id: Some(external.to_owned()),
        ..DirectoryLink::default()
    }
}

fn query<A>(filter: Condition<A>) -> DirectoryQuery<A> {
    DirectoryQuery {
        filter,
        sort_by: None,
        descending: false,
        offset: 0,
        limit: 100,
    }
}

fn text<A>(attr: A, cmp: Cmp, v: &str) -> Condition<A> {
    Condition::Compare(attr, cmp, Operand::Text(v.to_owned()))
}

/// Users are created with their link, read back, found by every indexed attribute, and
/// refused (with nothing written) when their username or external id is taken.
pub async fn directory_users_round_trip_and_filters(s: &Stores) {
    let d = &s.directory;
    let mut ada = user("ada");
    ada.display_name = "Ada Lovelace".into();
    ada.email = "Ada@Example.com".into();
    let ada_link = DirectoryLink {
        external_id: Some("E-1".into()),
        manager_id: None,
        attributes: Some(r#"{"name":{"givenName":"Ada"}}"#.into()),
        deleted_at: None,
    };
    d.create_directory_user(&ada, &ada_link, &event(Action::UserCreate, user_target(ada.id)))
        .await
        .expect("create");
    let bob = user("bob");
    d.create_directory_user(&bob, &link("e-2"), &event(Action::UserCreate, user_target(bob.id)))
        .await
        .unwrap();
    let plain = user("carol");
    s.users
        .create_user(&plain, &event(Action::UserCreate, None))
        .await
        .unwrap();

    let got = d.directory_user(ada.id).await.unwrap().expect("found");
    assert_eq!((got.user, got.link), (ada.clone(), ada_link.clone()));
    let carol = d
        .directory_user(plain.id)
        .await
        .unwrap()
        .expect("a user without a link");
    assert_eq!(carol.link, DirectoryLink::default());

    let names = |found: Vec<keyfleet_domain::directory::DirectoryUser>| -> Vec<String> {
        found.into_iter().map(|u| u.user.username.as_str().to_owned()).collect()
    };
    let cases: Vec<(Condition<UserAttr>, Vec<&str>)> = vec![
        (text(UserAttr::UserName, Cmp::Eq, "ada"), vec!["ada"]),
        (text(UserAttr::ExternalId, Cmp::Eq, "E-1"), vec!["ada"]),
        (text(UserAttr::ExternalId, Cmp::Eq, "e-1"), vec![]),
        (text(UserAttr::Email, Cmp::Eq, "ada@example.com"), vec!["ada"]),
        (text(UserAttr::DisplayName, Cmp::Sw, "ada l"), vec!["ada"]),
        (text(UserAttr::DisplayName, Cmp::Co, "display"), vec!["bob", "carol"]),
        (
            text(UserAttr::Email, Cmp::Ew, "@example.com"),
            vec!["ada", "bob", "carol"],
        ),
        (text(UserAttr::UserName, Cmp::Co, "%"), vec![]),
        (Condition::Present(UserAttr::ExternalId), vec!["ada", "bob"]),
        (
            Condition::Not(Box::new(text(UserAttr::ExternalId, Cmp::Eq, "E-1"))),
            vec!["bob", "carol"],
        ),
        (text(UserAttr::ExternalId, Cmp::Ne, "E-1"), vec!["bob", "carol"]),
        (
            Condition::Or(
                Box::new(text(UserAttr::UserName, Cmp::Eq, "bob")),
                Box::new(Condition::And(
                    Box::new(Condition::Compare(UserAttr::Active, Cmp::Eq, Operand::Bool(true))),
                    Box::new(text(UserAttr::UserName, Cmp::Gt, "bz")),
                )),
            ),
            vec!["bob", "carol"],
        ),
        (Condition::Always(false), vec![]),
        (text(UserAttr::UserName, Cmp::Eq, "ada\0"), vec![]),
    ];
    for (filter, expected) in cases {
        let mut q = query(filter.clone());
        q.sort_by = Some(UserAttr::UserName);
        let (found, total) = d.list_directory_users(&q).await.unwrap();
        assert_eq!(names(found), expected, "{filter:?}");
        assert_eq!(total, expected.len() as u64, "total of {filter:?}");
    }
    // Paging and order.
    let mut q = query(Condition::Always(true));
    q.sort_by = Some(UserAttr::UserName);
    q.descending = true;
    q.offset = 1;
    q.limit = 1;
    let (page, total) = d.list_directory_users(&q).await.unwrap();
    assert_eq!((names(page), total), (vec!["bob".to_owned()], 3));

    // Conflicts change nothing.
    let before = audit_actions(s).await.len();
    let dup_name = user("ada");
    assert_conflict(
        d.create_directory_user(&dup_name, &link("e-9"), &event(Action::UserCreate, None))
            .await,
        "username",
    );
    let dup_ext = user("dave");
    assert_conflict(
        d.create_directory_user(&dup_ext, &link("e-2"), &event(Action::UserCreate, None))
            .await,
        "external_id",
    );
    let mut renamed = bob.clone();
    renamed.username = ada.username.clone();
    assert_conflict(
        d.replace_directory_user(&renamed, &link("e-2"), &event(Action::UserUpdate, None))
            .await,
        "username",
    );
    assert_conflict(
        d.replace_directory_user(&bob, &link("E-1"), &event(Action::UserUpdate, None))
            .await,
        "external_id",
    );
    assert_eq!(
        audit_actions(s).await.len(),
        before,
        "a refused change writes no audit event"
    );
    assert_eq!(s.users.get_user(dup_ext.id).await.unwrap(), None);
    assert_eq!(d.directory_user(bob.id).await.unwrap().unwrap().user, bob);
}

/// Replacing a user writes the username and link; writing them disabled ends their
/// sessions in the same transaction; soft deletion hides and disables; the purge removes
/// only those deleted before its time, audited one by one.
pub async fn directory_users_replace_delete_purge(s: &Stores) {
    let d = &s.directory;
    let ada = user("ada");
    d.create_directory_user(&ada, &link("e-1"), &event(Action::UserCreate, None))
        .await
        .unwrap();
    let session = fixtures::default_session(ada.id);
    s.sessions
        .create_session(&session, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();

    let mut changed = ada.clone();
    changed.username = keyfleet_domain::user::Username::parse("ada.l").unwrap();
    changed.enabled = false;
    changed.updated_at = at(MINUTE);
    let new_link = DirectoryLink {
        external_id: Some("e-1b".into()),
        manager_id: None,
        attributes: None,
        deleted_at: None,
    };
    d.replace_directory_user(&changed, &new_link, &event(Action::UserDisable, user_target(ada.id)))
        .await
        .unwrap();
    let got = d.directory_user(ada.id).await.unwrap().unwrap();
    assert_eq!((got.user, got.link), (changed.clone(), new_link));
    assert!(
        s.sessions
            .find_live_session(&session.token_hash, at(2 * MINUTE))
            .await
            .unwrap()
            .is_none(),
        "a disabled user's session ends"
    );
    assert_not_found(
        d.replace_directory_user(&user("ghost"), &link("x"), &event(Action::UserUpdate, None))
            .await,
    );

    let bob = user("bob");
    d.create_directory_user(&bob, &link("e-2"), &event(Action::UserCreate, None))
        .await
        .unwrap();
    let bob_session = fixtures::default_session(bob.id);
    s.sessions
        .create_session(&bob_session, &event(Action::AuthWebauthn, None))
        .await
        .unwrap();
    d.delete_directory_user(
        bob.id,
        at(MINUTE),
        &event(Action::UserDirectoryDelete, user_target(bob.id)),
    )
    .await
    .unwrap();
    let gone = d.directory_user(bob.id).await.unwrap().expect("kept for recovery");
    assert_eq!(gone.link.deleted_at, Some(at(MINUTE)));
    assert_eq!(gone.link.external_id.as_deref(), Some("e-2"));
    assert!(!gone.user.enabled);
    assert!(
        s.sessions
            .find_live_session(&bob_session.token_hash, at(2 * MINUTE))
            .await
            .unwrap()
            .is_none()
    );
    let (listed, total) = d.list_directory_users(&query(Condition::Always(true))).await.unwrap();
    assert_eq!(total, 1, "a deleted user is not listed");
    assert_eq!(listed[0].user.id, ada.id);
    assert_not_found(
        d.delete_directory_user(
            UserId::new_random(&mut OsRng),
            T0,
            &event(Action::UserDirectoryDelete, None),
        )
        .await,
    );

    let audit_for = |id: UserId| event(Action::UserPurge, Some(Target::User(id)));
    assert_eq!(
        d.purge_directory_users(at(MINUTE), &audit_for).await.unwrap(),
        Vec::<UserId>::new()
    );
    assert_eq!(
        d.purge_directory_users(at(MINUTE + 1), &audit_for).await.unwrap(),
        vec![bob.id]
    );
    assert_eq!(d.directory_user(bob.id).await.unwrap(), None);
    assert_eq!(s.users.get_user(ada.id).await.unwrap().map(|u| u.id), Some(ada.id));
    assert!(audit_actions(s).await.iter().any(|a| a == "user.purge"));
}

fn group(name: &str) -> Group {
    Group {
        id: GroupId::new_random(&mut OsRng),
        name: name.to_owned(),
        name_key: name.to_lowercase(),
        description: String::new(),
        created_at: T0,
    }
}

/// Groups are created with their external id and members, found by name, external id and
/// member, changed (renamed, members added and removed) in one transaction with one audit
/// event per change, and refused when their name or external id is taken.
pub async fn directory_groups(s: &Stores) {
    let d = &s.directory;
    let (ada, bob) = (user("ada"), user("bob"));
    for u in [&ada, &bob] {
        s.users.create_user(u, &event(Action::UserCreate, None)).await.unwrap();
    }
    let ops = group("Ops");
    let audits = [event(Action::GroupCreate, None), event(Action::GroupMemberAdd, None)];
    d.create_directory_group(&ops, Some("g-1"), &[ada.id], &audits)
        .await
        .expect("create");
    let got = d.directory_group(ops.id).await.unwrap().expect("found");
    assert_eq!((got.group, got.external_id.as_deref()), (ops.clone(), Some("g-1")));
    assert_eq!(s.groups.list_members(ops.id).await.unwrap(), vec![ada.clone()]);
    let dev = group("Dev");
    d.create_directory_group(&dev, None, &[], &[event(Action::GroupCreate, None)])
        .await
        .unwrap();

    let ids = |found: Vec<keyfleet_domain::directory::DirectoryGroup>| -> Vec<String> {
        found.into_iter().map(|g| g.group.name).collect()
    };
    let cases: Vec<(Condition<GroupAttr>, Vec<&str>)> = vec![
        (text(GroupAttr::DisplayName, Cmp::Eq, "ops"), vec!["Ops"]),
        (text(GroupAttr::ExternalId, Cmp::Eq, "g-1"), vec!["Ops"]),
        (text(GroupAttr::Member, Cmp::Eq, &ada.id.to_string()), vec!["Ops"]),
        (text(GroupAttr::Member, Cmp::Eq, &bob.id.to_string()), vec![]),
        (Condition::Always(true), vec!["Dev", "Ops"]),
    ];
    for (filter, expected) in cases {
        let mut q = query(filter.clone());
        q.sort_by = Some(GroupAttr::DisplayName);
        assert_eq!(
            ids(d.list_directory_groups(&q).await.unwrap().0),
            expected,
            "{filter:?}"
        );
    }

    let before = audit_actions(s).await.len();
    assert_conflict(
        d.create_directory_group(&group("OPS"), None, &[], &[event(Action::GroupCreate, None)])
            .await,
        "group_name",
    );
    assert_conflict(
        d.create_directory_group(&group("Other"), Some("g-1"), &[], &[event(Action::GroupCreate, None)])
            .await,
        "group_external_id",
    );
    let mut clash = dev.clone();
    clash.name = "Ops".into();
    clash.name_key = "ops".into();
    assert_conflict(
        d.update_directory_group(&clash, None, &[bob.id], &[], &[event(Action::GroupUpdate, None)])
            .await,
        "group_name",
    );
    assert!(
        s.groups.list_members(dev.id).await.unwrap().is_empty(),
        "a refused change adds no member"
    );
    assert_eq!(audit_actions(s).await.len(), before);

    let mut renamed = ops.clone();
    renamed.name = "Operations".into();
    renamed.name_key = "operations".into();
    let audits = [
        event(Action::GroupUpdate, None),
        event(Action::GroupMemberAdd, None),
        event(Action::GroupMemberRemove, None),
    ];
    d.update_directory_group(&renamed, Some("g-1b"), &[bob.id], &[ada.id], &audits)
        .await
        .unwrap();
    assert_eq!(s.groups.list_members(ops.id).await.unwrap(), vec![bob.clone()]);
    let got = d.directory_group(ops.id).await.unwrap().unwrap();
    assert_eq!(
        (got.group.name.as_str(), got.external_id.as_deref()),
        ("Operations", Some("g-1b"))
    );
    assert_eq!(audit_actions(s).await.len(), before + 3);
    assert_not_found(
        d.update_directory_group(
            &renamed,
            None,
            &[UserId::new_random(&mut OsRng)],
            &[],
            &[event(Action::GroupUpdate, None)],
        )
        .await,
    );
    assert_eq!(
        s.groups.list_members(ops.id).await.unwrap(),
        vec![bob],
        "nothing changed"
    );
}
