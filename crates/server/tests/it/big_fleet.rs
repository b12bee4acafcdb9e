//! A large fleet for the render-budget test: 10 000 users and 30 000 keys, with temporary
//! access passes, lost-key reports and an audit trail, written in one transaction of
//! multi-row inserts (through the store's own statement runner, so each database binds its
//! types and lists its way). Inserting them one use case at a time would take minutes on two
//! cores; this takes seconds.
//!
//! The fleet is deterministic apart from ids and digests: user `i` is `user{i:05}` and holds
//! `KEYS_BY_USER[i % 8]` keys (none for one user in eight, 3 on average), of models cycling
//! through named and unnamed AAGUIDs, registered up to two years ago and last used (or not)
//! at spread times; one key in 211 is flagged as possibly cloned; one user in 20 has a pass
//! (half of them expired); one user in 33 is disabled.

use std::fmt::Write as _;

use keyfleet_domain::Timestamp;
use keyfleet_domain::audit::{Action, Actor, Target};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::ids::TapId;
use keyfleet_domain::tap::Tap;
use keyfleet_domain::user::{NewUser, Role, User, Username};
use keyfleet_store_sql::exec::{self, Arg, Connection};
use keyfleet_store_sql::{Backend, SqlStore};
use rand_core::{OsRng, RngCore};

/// Users in the fleet.
pub const USERS: usize = 10_000;
/// Keys held by user `i`: `KEYS_BY_USER[i % 8]` (30 000 in all).
pub const KEYS_BY_USER: [usize; 8] = [0, 1, 2, 3, 4, 5, 5, 4];
const DAY: i64 = 86_400_000;

/// The models keys cycle through: two of keyfleet's, a named passkey provider, the
/// undisclosed all-zero AAGUID and two unknown ones.
pub const MODELS: [[u8; 16]; 6] = [
    [
        0x35, 0x59, 0xc4, 0x35, 0xff, 0x17, 0x4b, 0xc9, 0xb9, 0x42, 0x32, 0x5c, 0x1f, 0x34, 0x8b, 0x94,
    ],
    [
        0x9b, 0x74, 0x93, 0xdd, 0xe2, 0x2e, 0x43, 0x69, 0xbb, 0xdf, 0x25, 0x17, 0x7d, 0x6e, 0xb5, 0x96,
    ],
    [
        0xba, 0xda, 0x55, 0x66, 0xa7, 0xaa, 0x40, 0x1f, 0xbd, 0x96, 0x45, 0x61, 0x9a, 0x55, 0x12, 0x0d,
    ],
    [0; 16],
    [0xe1; 16],
    [0xe2; 16],
];

/// Every key's count, and the users the test signs in as.
pub struct Seeded {
    /// Keys written.
    pub keys: usize,
    /// Audit events written.
    pub events: usize,
}

/// The username of user `i`.
pub fn username(i: usize) -> String {
    format!("user{i:05}")
}

fn ago(now: Timestamp, days: i64) -> Timestamp {
    Timestamp::from_millis(now.as_millis() - days * DAY)
}

fn users(now: Timestamp) -> Vec<User> {
    (0..USERS)
        .map(|i| {
            let mut u = NewUser {
                username: Username::parse(&username(i)).unwrap(),
                display_name: format!("User {i:05} Example"),
                email: format!("{}@example.com", username(i)),
                manager_email: Some("manager@example.com".into()),
                shipping_address: None,
                role: if i % 100 == 0 { Role::Helpdesk } else { Role::Worker },
            }
            .into_user(ago(now, 800), &mut OsRng);
            u.enabled = i % 33 != 5;
            u
        })
        .collect()
}

fn credentials(users: &[User], now: Timestamp) -> Vec<Credential> {
    let mut out = Vec::with_capacity(30_000);
    for (i, u) in users.iter().enumerate() {
        for k in 0..KEYS_BY_USER[i % KEYS_BY_USER.len()] {
            let age = 30 + i64::try_from((i * 7 + k * 31) % 700).unwrap();
            let idle = i64::try_from((i * 13 + k * 17) % 200).unwrap().min(age);
            let mut id = vec![0u8; 32];
            OsRng.fill_bytes(&mut id);
            out.push(Credential {
                id,
                user_id: u.id,
                public_key: vec![0xa5; 77],
                alg: -7,
                sign_count: u32::try_from(i + k).unwrap(),
                aaguid: MODELS[(i + k) % MODELS.len()],
                transports: vec!["nfc".into(), "usb".into()],
                backup_eligible: false,
                backup_state: false,
                uv_initialized: true,
                attestation_format: "packed".into(),
                attestation_trust: "not_evaluated".into(),
                attestation_object: vec![0; 600],
                nickname: format!("Key {k} of user {i:05}"),
                created_at: ago(now, age),
                last_used_at: ((i + k) % 5 != 0).then(|| ago(now, idle)),
                possibly_cloned: (i * 3 + k) % 211 == 0,
            });
        }
    }
    out
}

fn taps(users: &[User], now: Timestamp) -> Vec<Tap> {
    users
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 20 == 7)
        .map(|(i, u)| {
            let issued = ago(now, i64::try_from(i % 3).unwrap());
            let lifetime = if i % 40 == 7 { 5 * DAY } else { DAY / 24 };
            Tap {
                id: TapId::new_random(&mut OsRng),
                user_id: u.id,
                code_hash: [7; 32],
                one_time: true,
                created_at: issued,
                expires_at: Timestamp::from_millis(issued.as_millis() + lifetime),
                use_count: 0,
            }
        })
        .collect()
}

/// An audit row: at, actor, action, target, outcome, request id, detail.
type Event = (
    Timestamp,
    String,
    &'static str,
    Option<String>,
    &'static str,
    Option<String>,
    Option<String>,
);

fn events(users: &[User], keys: &[Credential], now: Timestamp) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::with_capacity(users.len() + keys.len() + 400);
    let system = Actor::System.to_string();
    for u in users {
        let target = Target::User(u.id).to_string();
        out.push((
            u.created_at,
            system.clone(),
            Action::UserCreate.as_str(),
            Some(target),
            "success",
            None,
            None,
        ));
    }
    for c in keys {
        let who = Actor::User(c.user_id).to_string();
        let target = Target::User(c.user_id).to_string();
        let action = Action::CredentialRegister.as_str();
        out.push((c.created_at, who, action, Some(target), "success", None, None));
    }
    // 400 lost keys over 80 days: about 150 in the last 30.
    for n in 0..400 {
        let u = &users[(n * 37) % users.len()];
        let detail = format!("{{\"credentialId\":\"lost{n}\",\"nickname\":\"Lost key {n}\"}}");
        out.push((
            Timestamp::from_millis(now.as_millis() - i64::try_from(n).unwrap() * DAY / 5),
            Actor::User(u.id).to_string(),
            Action::CredentialLost.as_str(),
            Some(Target::User(u.id).to_string()),
            "success",
            Some(format!("req-{n}")),
            Some(detail),
        ));
    }
    out.sort_by_key(|e| e.0);
    out
}

/// How these statements mark parameters. SQLite finds a numbered or named parameter (`$N`,
/// `?N`) by walking a list, and the driver asks for each one's name, so a statement with
/// thousands of them costs seconds; plain `?` are bound in order. PostgreSQL only knows `$N`.
#[derive(Debug, Clone, Copy)]
pub enum Placeholders {
    /// `?, ?, …`
    Question,
    /// `$1, $2, …`
    Dollar,
}

/// `INSERT INTO {table} ({columns}) VALUES ($1, …), (…)` for `rows` rows.
fn insert_sql(table: &str, columns: &[&str], rows: usize, p: Placeholders) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns.len() {
            n += 1;
            let sep = if c == 0 { "" } else { ", " };
            let _ = match p {
                Placeholders::Question => write!(sql, "{sep}?"),
                Placeholders::Dollar => write!(sql, "{sep}${n}"),
            };
        }
        sql.push(')');
    }
    sql
}

/// Inserts `items` into `table`, `per_statement` rows to a statement.
async fn insert_all<B: Backend, T>(
    conn: &mut Connection<B>,
    p: Placeholders,
    table: &str,
    columns: &[&str],
    items: &[T],
    per_statement: usize,
    args: impl for<'a> Fn(&'a T, &mut Vec<Arg<'a>>),
) {
    for chunk in items.chunks(per_statement) {
        let sql = insert_sql(table, columns, chunk.len(), p);
        let mut bound = Vec::with_capacity(chunk.len() * columns.len());
        for item in chunk {
            args(item, &mut bound);
        }
        exec::execute::<B>(conn, &sql, &bound)
            .await
            .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
    }
}

/// Writes the fleet into `store` in one transaction, as of `now`.
pub async fn seed<B: Backend>(store: &SqlStore<B>, now: Timestamp, p: Placeholders) -> Seeded {
    let users = users(now);
    let keys = credentials(&users, now);
    let taps = taps(&users, now);
    let events = events(&users, &keys, now);
    let ids: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
    let mut tx = store.pool().begin().await.expect("begin");
    insert_all::<B, (&User, &String)>(
        &mut tx,
        p,
        "users",
        &[
            "id",
            "username",
            "display_name",
            "email",
            "manager_email",
            "shipping_address",
            "enabled",
            "role",
            "user_handle",
            "created_at",
            "updated_at",
        ],
        &users.iter().zip(&ids).collect::<Vec<_>>(),
        1000,
        |(u, id), a| {
            a.extend([
                Arg::Text(Some(id.as_str())),
                Arg::Text(Some(u.username.as_str())),
                Arg::Text(Some(&u.display_name)),
                Arg::Text(Some(&u.email)),
                Arg::Text(u.manager_email.as_deref()),
                Arg::Text(u.shipping_address.as_deref()),
                Arg::Bool(u.enabled),
                Arg::Text(Some(u.role.as_str())),
                Arg::Bytes(Some(&u.user_handle)),
                exec::ms(u.created_at),
                exec::ms(u.updated_at),
            ]);
        },
    )
    .await;
    let owners: Vec<String> = keys.iter().map(|c| c.user_id.to_string()).collect();
    insert_all::<B, (&Credential, &String)>(
        &mut tx,
        p,
        "credentials",
        &[
            "id",
            "user_id",
            "public_key",
            "alg",
            "sign_count",
            "aaguid",
            "transports",
            "backup_eligible",
            "backup_state",
            "uv_initialized",
            "attestation_format",
            "attestation_trust",
            "attestation_object",
            "nickname",
            "created_at",
            "last_used_at",
            "possibly_cloned",
        ],
        &keys.iter().zip(&owners).collect::<Vec<_>>(),
        500,
        |(c, owner), a| {
            a.extend([
                Arg::Bytes(Some(&c.id)),
                Arg::Text(Some(owner.as_str())),
                Arg::Bytes(Some(&c.public_key)),
                exec::int(c.alg),
                exec::int(i64::from(c.sign_count)),
                Arg::Bytes(Some(&c.aaguid)),
                Arg::Texts(&c.transports),
                Arg::Bool(c.backup_eligible),
                Arg::Bool(c.backup_state),
                Arg::Bool(c.uv_initialized),
                Arg::Text(Some(&c.attestation_format)),
                Arg::Text(Some(&c.attestation_trust)),
                Arg::Bytes(Some(&c.attestation_object)),
                Arg::Text(Some(&c.nickname)),
                exec::ms(c.created_at),
                exec::opt_ms(c.last_used_at),
                Arg::Bool(c.possibly_cloned),
            ]);
        },
    )
    .await;
    let tap_users: Vec<String> = taps.iter().map(|t| t.user_id.to_string()).collect();
    let tap_ids: Vec<String> = taps.iter().map(|t| t.id.to_string()).collect();
    insert_all::<B, ((&Tap, &String), &String)>(
        &mut tx,
        p,
        "taps",
        &[
            "id",
            "user_id",
            "code_hash",
            "one_time",
            "created_at",
            "expires_at",
            "use_count",
        ],
        &taps.iter().zip(&tap_ids).zip(&tap_users).collect::<Vec<_>>(),
        1000,
        |((t, id), owner), a| {
            a.extend([
                Arg::Text(Some(id.as_str())),
                Arg::Text(Some(owner.as_str())),
                Arg::Bytes(Some(&t.code_hash)),
                Arg::Bool(t.one_time),
                exec::ms(t.created_at),
                exec::ms(t.expires_at),
                exec::int(t.use_count),
            ]);
        },
    )
    .await;
    insert_all::<B, Event>(
        &mut tx,
        p,
        "audit_events",
        &["at", "actor", "action", "target", "outcome", "request_id", "detail"],
        &events,
        1000,
        |e, a| {
            a.extend([
                exec::ms(e.0),
                Arg::Text(Some(&e.1)),
                Arg::Text(Some(e.2)),
                Arg::Text(e.3.as_deref()),
                Arg::Text(Some(e.4)),
                Arg::Text(e.5.as_deref()),
                Arg::Text(e.6.as_deref()),
            ]);
        },
    )
    .await;
    tx.commit().await.expect("commit");
    Seeded {
        keys: keys.len(),
        events: events.len(),
    }
}

#[test]
fn statements_number_their_parameters() {
    assert_eq!(
        insert_sql("t", &["a", "b"], 2, Placeholders::Dollar),
        "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
    );
    assert_eq!(
        insert_sql("t", &["a"], 2, Placeholders::Question),
        "INSERT INTO t (a) VALUES (?), (?)"
    );
    let keys: usize = (0..USERS).map(|i| KEYS_BY_USER[i % KEYS_BY_USER.len()]).sum();
    assert_eq!(keys, 30_000);
}
