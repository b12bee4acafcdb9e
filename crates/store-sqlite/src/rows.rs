//! Decoding rows into domain values. Anything that does not decode is `Corrupt`.

use std::str::FromStr;

use keyfleet_domain::audit::{AuditEvent, Outcome};
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind};
use keyfleet_domain::client::{ApiClient, ClientSecret, Scope};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::group::Group;
use keyfleet_domain::session::{Session, SessionKind};
use keyfleet_domain::signing_key::StoredSigningKey;
use keyfleet_domain::store::JobState;
use keyfleet_domain::tap::Tap;
use keyfleet_domain::user::{Role, User, Username};
use keyfleet_domain::{StoreError, Timestamp};
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};

/// Columns of `users`, in the order [`user`] reads them (by name).
pub(crate) const USER_COLUMNS: &str = "id, username, display_name, email, manager_email, shipping_address, enabled, \
                                       role, user_handle, created_at, updated_at";
/// Columns of `users` aliased with the `u_` prefix, for joins (table alias `u`).
pub(crate) const USER_COLUMNS_U: &str = "u.id AS u_id, u.username AS u_username, u.display_name AS u_display_name, \
    u.email AS u_email, u.manager_email AS u_manager_email, u.shipping_address AS u_shipping_address, \
    u.enabled AS u_enabled, u.role AS u_role, u.user_handle AS u_user_handle, u.created_at AS u_created_at, \
    u.updated_at AS u_updated_at";
/// Columns of `user_groups`.
pub(crate) const GROUP_COLUMNS: &str = "id, name, name_key, description, created_at";
/// Columns of `user_groups` for a join (table alias `g`).
pub(crate) const GROUP_COLUMNS_G: &str = "g.id, g.name, g.name_key, g.description, g.created_at";
/// Columns of `sessions`.
pub(crate) const SESSION_COLUMNS: &str = "id, token_hash, user_id, kind, created_at, last_seen_at, expires_at, \
                                          idle_timeout_ms, client_addr, credential_id";
/// Columns of `sessions` aliased with the `s_` prefix, for joins (table alias `s`).
pub(crate) const SESSION_COLUMNS_S: &str = "s.id AS s_id, s.token_hash AS s_token_hash, s.user_id AS s_user_id, \
    s.kind AS s_kind, s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at, \
    s.expires_at AS s_expires_at, s.idle_timeout_ms AS s_idle_timeout_ms, s.client_addr AS s_client_addr, \
    s.credential_id AS s_credential_id";
/// Columns of `taps`.
pub(crate) const TAP_COLUMNS: &str = "id, user_id, code_hash, one_time, created_at, expires_at, use_count";
/// Columns of `api_clients`.
pub(crate) const CLIENT_COLUMNS: &str = "client_id, name, scopes, enabled, created_at";
/// Columns of `client_secrets`.
pub(crate) const SECRET_COLUMNS: &str = "id, client_id, secret_hash, created_at, expires_at";
/// Columns of `signing_keys`.
pub(crate) const KEY_COLUMNS: &str = "kid, alg, encrypted_private_key, public_key, created_at, active";
/// Columns of `credentials`.
pub(crate) const CREDENTIAL_COLUMNS: &str = "id, user_id, public_key, alg, sign_count, aaguid, transports, \
    backup_eligible, backup_state, uv_initialized, attestation_format, attestation_trust, attestation_object, \
    nickname, created_at, last_used_at, possibly_cloned";
/// Columns of `ceremonies`.
pub(crate) const CEREMONY_COLUMNS: &str = "id, kind, challenge, user_id, session_id, rp_id, user_verification, \
    allow_credentials, params, created_at, expires_at";
/// Columns of `audit_events`.
pub(crate) const AUDIT_COLUMNS: &str = "id, at, actor, action, target, outcome, request_id, detail";
/// Columns of `jobs`.
pub(crate) const JOB_COLUMNS: &str = "job, due_at, lease_holder, lease_until, last_finished_at, last_outcome";

fn corrupt(column: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{column}: {what}"))
}

/// Reads column `prefix` + `name`.
fn get<'r, T>(row: &'r SqliteRow, prefix: &str, name: &str) -> Result<T, StoreError>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    let column = format!("{prefix}{name}");
    row.try_get(column.as_str()).map_err(|e| corrupt(&column, e))
}

/// Reads and parses a text column (ids, enum names).
fn parse<T: FromStr>(row: &SqliteRow, prefix: &str, name: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    let text: String = get(row, prefix, name)?;
    text.parse().map_err(|e| corrupt(name, e))
}

fn time(row: &SqliteRow, prefix: &str, name: &str) -> Result<Timestamp, StoreError> {
    get::<i64>(row, prefix, name).map(Timestamp::from_millis)
}

fn opt_time(row: &SqliteRow, prefix: &str, name: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(get::<Option<i64>>(row, prefix, name)?.map(Timestamp::from_millis))
}

fn digest(row: &SqliteRow, prefix: &str, name: &str) -> Result<[u8; 32], StoreError> {
    let bytes: Vec<u8> = get(row, prefix, name)?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| corrupt(name, format!("{} bytes, expected 32", b.len())))
}

/// Reads and parses a nullable text column.
fn opt_parse<T: FromStr>(row: &SqliteRow, name: &str) -> Result<Option<T>, StoreError>
where
    T::Err: std::fmt::Display,
{
    let text: Option<String> = get(row, "", name)?;
    text.map(|t| t.parse().map_err(|e| corrupt(name, e))).transpose()
}

/// Encodes a list of byte strings as one BLOB: each item is its length as 4 big-endian
/// bytes followed by the item. SQLite has no array type; this keeps empty lists and items
/// holding any byte (a space, a comma) intact.
pub(crate) fn encode_list<T: AsRef<[u8]>>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.iter().map(|i| 4 + i.as_ref().len()).sum());
    for item in items {
        let item = item.as_ref();
        let len = u32::try_from(item.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&item[..len as usize]);
    }
    out
}

/// Decodes [`encode_list`]'s format; `None` when the bytes are not in it.
pub(crate) fn decode_list(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (item, rest) = rest.split_at(len);
        items.push(item.to_vec());
        bytes = rest;
    }
    Some(items)
}

/// Reads a list column written by [`encode_list`].
fn list(row: &SqliteRow, name: &str) -> Result<Vec<Vec<u8>>, StoreError> {
    let bytes: Vec<u8> = get(row, "", name)?;
    decode_list(&bytes).ok_or_else(|| corrupt(name, "malformed list"))
}

/// Reads a list column of UTF-8 strings written by [`encode_list`].
fn string_list(row: &SqliteRow, name: &str) -> Result<Vec<String>, StoreError> {
    list(row, name)?
        .into_iter()
        .map(|item| String::from_utf8(item).map_err(|e| corrupt(name, e)))
        .collect()
}

/// A credential.
pub(crate) fn credential(row: &SqliteRow) -> Result<Credential, StoreError> {
    let sign_count: i64 = get(row, "", "sign_count")?;
    let aaguid: Vec<u8> = get(row, "", "aaguid")?;
    Ok(Credential {
        id: get(row, "", "id")?,
        user_id: parse(row, "", "user_id")?,
        public_key: get(row, "", "public_key")?,
        alg: get(row, "", "alg")?,
        sign_count: u32::try_from(sign_count).map_err(|e| corrupt("sign_count", e))?,
        aaguid: aaguid
            .try_into()
            .map_err(|b: Vec<u8>| corrupt("aaguid", format!("{} bytes, expected 16", b.len())))?,
        transports: string_list(row, "transports")?,
        backup_eligible: get(row, "", "backup_eligible")?,
        backup_state: get(row, "", "backup_state")?,
        uv_initialized: get(row, "", "uv_initialized")?,
        attestation_format: get(row, "", "attestation_format")?,
        attestation_trust: get(row, "", "attestation_trust")?,
        attestation_object: get(row, "", "attestation_object")?,
        nickname: get(row, "", "nickname")?,
        created_at: time(row, "", "created_at")?,
        last_used_at: opt_time(row, "", "last_used_at")?,
        possibly_cloned: get(row, "", "possibly_cloned")?,
    })
}

/// A ceremony.
pub(crate) fn ceremony(row: &SqliteRow) -> Result<Ceremony, StoreError> {
    let kind: String = get(row, "", "kind")?;
    Ok(Ceremony {
        id: parse(row, "", "id")?,
        kind: CeremonyKind::parse(&kind).ok_or_else(|| corrupt("kind", kind))?,
        challenge: get(row, "", "challenge")?,
        user_id: opt_parse(row, "user_id")?,
        session_id: opt_parse(row, "session_id")?,
        rp_id: get(row, "", "rp_id")?,
        user_verification: get(row, "", "user_verification")?,
        allow_credentials: list(row, "allow_credentials")?,
        params: get(row, "", "params")?,
        created_at: time(row, "", "created_at")?,
        expires_at: time(row, "", "expires_at")?,
    })
}

/// A user from columns named with `prefix`.
pub(crate) fn user(row: &SqliteRow, prefix: &str) -> Result<User, StoreError> {
    let role: String = get(row, prefix, "role")?;
    Ok(User {
        id: parse(row, prefix, "id")?,
        username: Username::from_canonical(get(row, prefix, "username")?),
        display_name: get(row, prefix, "display_name")?,
        email: get(row, prefix, "email")?,
        manager_email: get(row, prefix, "manager_email")?,
        shipping_address: get(row, prefix, "shipping_address")?,
        enabled: get(row, prefix, "enabled")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", role))?,
        user_handle: get(row, prefix, "user_handle")?,
        created_at: time(row, prefix, "created_at")?,
        updated_at: time(row, prefix, "updated_at")?,
    })
}

/// A group.
pub(crate) fn group(row: &SqliteRow) -> Result<Group, StoreError> {
    Ok(Group {
        id: parse(row, "", "id")?,
        name: get(row, "", "name")?,
        name_key: get(row, "", "name_key")?,
        description: get(row, "", "description")?,
        created_at: time(row, "", "created_at")?,
    })
}

/// A session from columns named with `prefix`.
pub(crate) fn session(row: &SqliteRow, prefix: &str) -> Result<Session, StoreError> {
    let kind: String = get(row, prefix, "kind")?;
    Ok(Session {
        id: parse(row, prefix, "id")?,
        token_hash: digest(row, prefix, "token_hash")?,
        user_id: parse(row, prefix, "user_id")?,
        kind: SessionKind::parse(&kind).ok_or_else(|| corrupt("kind", kind))?,
        created_at: time(row, prefix, "created_at")?,
        last_seen_at: time(row, prefix, "last_seen_at")?,
        expires_at: time(row, prefix, "expires_at")?,
        idle_timeout_ms: get(row, prefix, "idle_timeout_ms")?,
        client_addr: get(row, prefix, "client_addr")?,
        credential_id: get(row, prefix, "credential_id")?,
    })
}

/// A TAP.
pub(crate) fn tap(row: &SqliteRow) -> Result<Tap, StoreError> {
    Ok(Tap {
        id: parse(row, "", "id")?,
        user_id: parse(row, "", "user_id")?,
        code_hash: digest(row, "", "code_hash")?,
        one_time: get(row, "", "one_time")?,
        created_at: time(row, "", "created_at")?,
        expires_at: time(row, "", "expires_at")?,
        use_count: get(row, "", "use_count")?,
    })
}

/// Scopes as stored: their OAuth names separated by single spaces.
pub(crate) fn scopes_text(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

/// An API client.
pub(crate) fn client(row: &SqliteRow) -> Result<ApiClient, StoreError> {
    let text: String = get(row, "", "scopes")?;
    let scopes = text
        .split_whitespace()
        .map(|s| Scope::parse(s).ok_or_else(|| corrupt("scopes", s)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ApiClient {
        client_id: get(row, "", "client_id")?,
        name: get(row, "", "name")?,
        scopes,
        enabled: get(row, "", "enabled")?,
        created_at: time(row, "", "created_at")?,
    })
}

/// A client secret.
pub(crate) fn secret(row: &SqliteRow) -> Result<ClientSecret, StoreError> {
    Ok(ClientSecret {
        id: parse(row, "", "id")?,
        client_id: get(row, "", "client_id")?,
        secret_hash: get(row, "", "secret_hash")?,
        created_at: time(row, "", "created_at")?,
        expires_at: opt_time(row, "", "expires_at")?,
    })
}

/// A signing key.
pub(crate) fn signing_key(row: &SqliteRow) -> Result<StoredSigningKey, StoreError> {
    Ok(StoredSigningKey {
        kid: get(row, "", "kid")?,
        alg: get(row, "", "alg")?,
        encrypted_private_key: get(row, "", "encrypted_private_key")?,
        public_key: get(row, "", "public_key")?,
        created_at: time(row, "", "created_at")?,
        active: get(row, "", "active")?,
    })
}

/// An audit event.
pub(crate) fn audit_event(row: &SqliteRow) -> Result<AuditEvent, StoreError> {
    let outcome: String = get(row, "", "outcome")?;
    Ok(AuditEvent {
        id: get(row, "", "id")?,
        at: time(row, "", "at")?,
        actor: get(row, "", "actor")?,
        action: get(row, "", "action")?,
        target: get(row, "", "target")?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| corrupt("outcome", outcome))?,
        request_id: get(row, "", "request_id")?,
        detail: get(row, "", "detail")?,
    })
}

/// A job's state.
pub(crate) fn job(row: &SqliteRow) -> Result<JobState, StoreError> {
    Ok(JobState {
        job: get(row, "", "job")?,
        due_at: time(row, "", "due_at")?,
        lease_holder: get(row, "", "lease_holder")?,
        lease_until: opt_time(row, "", "lease_until")?,
        last_finished_at: opt_time(row, "", "last_finished_at")?,
        last_outcome: get(row, "", "last_outcome")?,
    })
}

#[cfg(test)]
mod tests {
    use super::{decode_list, encode_list};

    #[test]
    fn lists_round_trip() {
        let empty: [&[u8]; 0] = [];
        assert_eq!(encode_list(&empty), Vec::<u8>::new());
        assert_eq!(decode_list(&[]), Some(Vec::new()));
        let items = [b"usb".to_vec(), Vec::new(), b"smart card".to_vec(), vec![0xff; 1023]];
        assert_eq!(decode_list(&encode_list(&items)), Some(items.to_vec()));
    }

    #[test]
    fn malformed_lists_are_refused() {
        assert_eq!(decode_list(&[0, 0, 0]), None, "short length");
        assert_eq!(decode_list(&[0, 0, 0, 2, 1]), None, "short item");
    }
}
