//! The console's reports: the dashboard's figures, keys by model, and the registration
//! report's filters and paging, on one small fleet whose every figure is known.

use keyfleet_domain::audit::{Action, Actor, NewAuditEvent};
use keyfleet_domain::report::{Aaguid, FleetCounts, FleetQuery, ModelCount, RegistrationFilter, RegistrationQuery};
use keyfleet_domain::store::Stores;
use keyfleet_domain::tap::Tap;
use keyfleet_domain::user::User;
use keyfleet_domain::{Timestamp, UserId};

use crate::fixtures::{self, HOUR, T0, at, event, register, user, user_target};

const DAY: i64 = 24 * HOUR;
const MODEL_A: Aaguid = [0x11; 16];
const MODEL_B: Aaguid = [0x22; 16];
const UNDISCLOSED: Aaguid = [0; 16];

/// The fleet, at `T0`:
///
/// | user | enabled | keys (model, registered, last used) | pass |
/// | --- | --- | --- | --- |
/// | alice | yes | A −200 d, used −1 d; B −100 d, never used | none |
/// | bob | yes | none | multi-use, expires in an hour (pending) |
/// | carol | no | A −90 d exactly, never used, flagged cloned | expires at `T0` exactly (not pending) |
/// | dave | yes | undisclosed −400 d, used −95 d | one-time, used (not pending) |
/// | erin | yes | none | one-time, unused, expires in two hours (pending) |
///
/// and three `credential.lost` events (−1 d, −29 d, −31 d) beside a `credential.delete`.
struct Fleet {
    alice: User,
    bob: User,
    carol: User,
    dave: User,
    erin: User,
}

async fn key(s: &Stores, owner: UserId, model: Aaguid, registered: i64, used: Option<i64>, cloned: bool) {
    let mut c = fixtures::credential(owner);
    c.aaguid = model;
    c.created_at = at(registered);
    c.last_used_at = used.map(at);
    c.possibly_cloned = cloned;
    register(s, &c).await;
}

async fn pass(s: &Stores, owner: UserId, one_time: bool, expires_in: i64, uses: i64) {
    let tap = Tap {
        use_count: uses,
        ..fixtures::tap(owner, one_time, expires_in)
    };
    s.taps
        .issue_tap(&tap, &event(Action::TapIssue, user_target(owner)))
        .await
        .expect("issue TAP");
}

async fn logged(s: &Stores, action: Action, ago: i64) {
    let e = NewAuditEvent::new(at(-ago), &Actor::System, action, None, None);
    s.audit.append(&e).await.expect("append");
}

async fn fleet(s: &Stores) -> Fleet {
    let mut people = Vec::new();
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        let mut u = user(name);
        u.enabled = name != "carol";
        s.users
            .create_user(&u, &event(Action::UserCreate, user_target(u.id)))
            .await
            .expect("create user");
        people.push(u);
    }
    let [alice, bob, carol, dave, erin] = <[User; 5]>::try_from(people).unwrap_or_else(|_| unreachable!());
    key(s, alice.id, MODEL_A, -200 * DAY, Some(-DAY), false).await;
    key(s, alice.id, MODEL_B, -100 * DAY, None, false).await;
    key(s, carol.id, MODEL_A, -90 * DAY, None, true).await;
    key(s, dave.id, UNDISCLOSED, -400 * DAY, Some(-95 * DAY), false).await;
    pass(s, bob.id, false, HOUR, 3).await;
    pass(s, carol.id, false, 0, 0).await;
    pass(s, dave.id, true, HOUR, 1).await;
    pass(s, erin.id, true, 2 * HOUR, 0).await;
    for ago in [DAY, 29 * DAY, 31 * DAY] {
        logged(s, Action::CredentialLost, ago).await;
    }
    logged(s, Action::CredentialDelete, DAY).await;
    Fleet {
        alice,
        bob,
        carol,
        dave,
        erin,
    }
}

/// A report row as compared: username, keys, models, first registered, last used, pending
/// TAP, possibly cloned.
type Shown<'a> = (
    &'a str,
    u64,
    Vec<Aaguid>,
    Option<Timestamp>,
    Option<Timestamp>,
    bool,
    bool,
);

fn query(filter: RegistrationFilter) -> RegistrationQuery {
    RegistrationQuery {
        filter,
        after: None,
        limit: 100,
        now: T0,
    }
}

async fn names(s: &Stores, q: &RegistrationQuery) -> Vec<String> {
    s.reports
        .list_registrations(q)
        .await
        .expect("list registrations")
        .into_iter()
        .map(|r| r.user.username.as_str().to_owned())
        .collect()
}

/// Every figure of the dashboard, with the boundaries: a key last active exactly at the cutoff
/// is not unused, a pass expiring exactly now is not pending, a used one-time pass is not
/// pending, lost-key reports count from `lost_since` on and other actions do not count.
pub async fn report_fleet_counts(s: &Stores) {
    let empty = s
        .reports
        .count_fleet(&FleetQuery {
            unused_before: at(-90 * DAY),
            now: T0,
            lost_since: at(-30 * DAY),
        })
        .await
        .expect("count an empty fleet");
    assert_eq!(empty, FleetCounts::default(), "an empty store counts nothing");
    fleet(s).await;
    let counts = s
        .reports
        .count_fleet(&FleetQuery {
            unused_before: at(-90 * DAY),
            now: T0,
            lost_since: at(-30 * DAY),
        })
        .await
        .expect("count the fleet");
    assert_eq!(
        counts,
        FleetCounts {
            users: 5,
            users_enabled: 4,
            users_without_key: 2,
            keys: 4,
            keys_unused: 2,
            users_with_unused_key: 2,
            keys_cloned: 1,
            users_with_cloned_key: 1,
            pending_taps: 2,
            lost_keys: 2,
        }
    );
    let later = s
        .reports
        .count_fleet(&FleetQuery {
            unused_before: at(-30 * DAY),
            now: at(90 * 60_000),
            lost_since: at(-40 * DAY),
        })
        .await
        .expect("count with other windows");
    assert_eq!(
        (
            later.keys_unused,
            later.users_with_unused_key,
            later.pending_taps,
            later.lost_keys
        ),
        (3, 3, 1, 3),
        "a 30-day window adds carol's key; in 90 minutes bob's pass has expired; 40 days hold every report"
    );
}

/// Keys per model, most first, ties by AAGUID.
pub async fn report_keys_by_model(s: &Stores) {
    assert!(s.reports.count_keys_by_model().await.expect("by model").is_empty());
    fleet(s).await;
    assert_eq!(
        s.reports.count_keys_by_model().await.expect("by model"),
        vec![
            ModelCount {
                aaguid: MODEL_A,
                keys: 2
            },
            ModelCount {
                aaguid: UNDISCLOSED,
                keys: 1
            },
            ModelCount {
                aaguid: MODEL_B,
                keys: 1
            },
        ]
    );
}

/// One row per user with what they hold, by username, with keyset paging.
pub async fn report_registration_rows_and_paging(s: &Stores) {
    let f = fleet(s).await;
    let rows = s
        .reports
        .list_registrations(&query(RegistrationFilter::default()))
        .await
        .expect("list");
    let got: Vec<Shown<'_>> = rows
        .iter()
        .map(|r| {
            (
                r.user.username.as_str(),
                r.keys,
                r.models.clone(),
                r.first_key_at,
                r.last_used_at,
                r.pending_tap,
                r.possibly_cloned,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "alice",
                2,
                vec![MODEL_A, MODEL_B],
                Some(at(-200 * DAY)),
                Some(at(-DAY)),
                false,
                false
            ),
            ("bob", 0, vec![], None, None, true, false),
            ("carol", 1, vec![MODEL_A], Some(at(-90 * DAY)), None, false, true),
            (
                "dave",
                1,
                vec![UNDISCLOSED],
                Some(at(-400 * DAY)),
                Some(at(-95 * DAY)),
                false,
                false
            ),
            ("erin", 0, vec![], None, None, true, false),
        ]
    );
    assert_eq!(rows[0].user, f.alice, "the user's every attribute is read back");
    assert_eq!(rows[2].user, f.carol);
    assert!(!rows[2].user.enabled);

    let mut q = query(RegistrationFilter::default());
    q.limit = 2;
    assert_eq!(names(s, &q).await, ["alice", "bob"]);
    q.after = Some(f.bob.username.as_str().to_owned());
    assert_eq!(names(s, &q).await, ["carol", "dave"]);
    q.after = Some(f.dave.username.as_str().to_owned());
    assert_eq!(names(s, &q).await, ["erin"]);
    q.after = Some(f.erin.username.as_str().to_owned());
    assert!(names(s, &q).await.is_empty());

    let mut later = query(RegistrationFilter::default());
    later.now = at(90 * 60_000);
    let rows = s.reports.list_registrations(&later).await.expect("list later");
    let pending: Vec<&str> = rows
        .iter()
        .filter(|r| r.pending_tap)
        .map(|r| r.user.username.as_str())
        .collect();
    assert_eq!(pending, ["erin"], "pending is judged at the query's time");
}

/// Each filter alone and combined; a search matches literally and case-insensitively.
pub async fn report_registration_filters(s: &Stores) {
    fleet(s).await;
    let cases: Vec<(RegistrationFilter, Vec<&str>)> = vec![
        (
            RegistrationFilter {
                search: Some("CAROL".into()),
                ..Default::default()
            },
            vec!["carol"],
        ),
        (
            RegistrationFilter {
                search: Some("display d".into()),
                ..Default::default()
            },
            vec!["dave"],
        ),
        (
            RegistrationFilter {
                search: Some("%".into()),
                ..Default::default()
            },
            vec![],
        ),
        (
            RegistrationFilter {
                search: Some("_".into()),
                ..Default::default()
            },
            vec![],
        ),
        (
            RegistrationFilter {
                search: Some("a\0".into()),
                ..Default::default()
            },
            vec![],
        ),
        (
            RegistrationFilter {
                enabled: Some(false),
                ..Default::default()
            },
            vec!["carol"],
        ),
        (
            RegistrationFilter {
                enabled: Some(true),
                has_key: Some(true),
                ..Default::default()
            },
            vec!["alice", "dave"],
        ),
        (
            RegistrationFilter {
                has_key: Some(true),
                ..Default::default()
            },
            vec!["alice", "carol", "dave"],
        ),
        (
            RegistrationFilter {
                has_key: Some(false),
                ..Default::default()
            },
            vec!["bob", "erin"],
        ),
        (
            RegistrationFilter {
                unused_before: Some(at(-90 * DAY)),
                ..Default::default()
            },
            vec!["alice", "dave"],
        ),
        (
            RegistrationFilter {
                cloned: true,
                ..Default::default()
            },
            vec!["carol"],
        ),
        (
            RegistrationFilter {
                pending_tap: true,
                ..Default::default()
            },
            vec!["bob", "erin"],
        ),
        (
            RegistrationFilter {
                models: Some(vec![MODEL_A]),
                ..Default::default()
            },
            vec!["alice", "carol"],
        ),
        (
            RegistrationFilter {
                models: Some(vec![MODEL_B, UNDISCLOSED]),
                ..Default::default()
            },
            vec!["alice", "dave"],
        ),
        (
            RegistrationFilter {
                models: Some(vec![]),
                ..Default::default()
            },
            vec![],
        ),
        (
            RegistrationFilter {
                models: Some(vec![[0x99; 16]]),
                ..Default::default()
            },
            vec![],
        ),
        // Conditions hold each on its own: alice has a model-A key and another, unused, key.
        (
            RegistrationFilter {
                models: Some(vec![MODEL_A]),
                unused_before: Some(at(-90 * DAY)),
                ..Default::default()
            },
            vec!["alice"],
        ),
        (
            RegistrationFilter {
                has_key: Some(false),
                pending_tap: true,
                search: Some("ERIN@".into()),
                ..Default::default()
            },
            vec!["erin"],
        ),
        (
            RegistrationFilter {
                cloned: true,
                pending_tap: true,
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (filter, expected) in cases {
        let got = names(s, &query(filter.clone())).await;
        assert_eq!(got, expected, "{filter:?}");
    }
    let mut q = query(RegistrationFilter {
        has_key: Some(true),
        ..Default::default()
    });
    q.limit = 1;
    q.after = Some("alice".into());
    assert_eq!(names(s, &q).await, ["carol"], "paging keeps the filter");
}
