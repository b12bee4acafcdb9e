//! Decoding rows into domain values. Anything that does not decode is `Corrupt`.

use std::fmt::Display;
use std::str::FromStr;

use keyfleet_domain::audit::{AuditEvent, Outcome};
use keyfleet_domain::ceremony::{Ceremony, CeremonyKind};
use keyfleet_domain::client::{ApiClient, ClientSecret, Scope};
use keyfleet_domain::credential::Credential;
use keyfleet_domain::group::Group;
use keyfleet_domain::report::{Aaguid, FleetCounts, ModelCount, RegistrationRow};
use keyfleet_domain::session::{Session, SessionKind};
use keyfleet_domain::signing_key::StoredSigningKey;
use keyfleet_domain::store::{JobState, StoreResult};
use keyfleet_domain::tap::Tap;
use keyfleet_domain::user::{Role, User, Username};
use keyfleet_domain::{StoreError, Timestamp};

use crate::backend::Backend;
use crate::exec::{DbRow, Driver};
use crate::schema::Applied;

fn corrupt(column: &str, what: impl Display) -> StoreError {
    StoreError::Corrupt(format!("{column}: {what}"))
}

/// One row, read through backend `B`, with the columns' name prefix (`u_`, `s_` or none).
struct Cols<'r, B: Backend> {
    row: &'r DbRow<B>,
    prefix: &'r str,
}

impl<'r, B: Backend> Cols<'r, B> {
    fn new(row: &'r DbRow<B>, prefix: &'r str) -> Self {
        Self { row, prefix }
    }

    /// Reads the column `prefix` + `name` with `read`; `None` when NULL.
    fn opt<T, E: Display>(
        &self,
        name: &str,
        read: fn(&DbRow<B>, &str) -> Result<Option<T>, E>,
    ) -> StoreResult<Option<T>> {
        let column = format!("{}{name}", self.prefix);
        read(self.row, &column).map_err(|e| corrupt(&column, e))
    }

    /// Reads a column that may not be NULL.
    fn req<T, E: Display>(&self, name: &str, read: fn(&DbRow<B>, &str) -> Result<Option<T>, E>) -> StoreResult<T> {
        self.opt(name, read)?.ok_or_else(|| corrupt(name, "NULL"))
    }

    fn opt_text(&self, name: &str) -> StoreResult<Option<String>> {
        self.opt(name, B::Db::text)
    }

    fn text(&self, name: &str) -> StoreResult<String> {
        self.req(name, B::Db::text)
    }

    fn int(&self, name: &str) -> StoreResult<i64> {
        self.req(name, B::Db::int)
    }

    fn flag(&self, name: &str) -> StoreResult<bool> {
        self.req(name, B::Db::boolean)
    }

    fn bytes(&self, name: &str) -> StoreResult<Vec<u8>> {
        self.req(name, B::Db::bytes)
    }

    fn opt_bytes(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.opt(name, B::Db::bytes)
    }

    fn time(&self, name: &str) -> StoreResult<Timestamp> {
        self.int(name).map(Timestamp::from_millis)
    }

    fn opt_time(&self, name: &str) -> StoreResult<Option<Timestamp>> {
        Ok(self.opt(name, B::Db::int)?.map(Timestamp::from_millis))
    }

    /// Reads and parses a text column (ids).
    fn parse<T: FromStr<Err: Display>>(&self, name: &str) -> StoreResult<T> {
        self.text(name)?.parse().map_err(|e| corrupt(name, e))
    }

    /// Reads and parses a nullable text column.
    fn opt_parse<T: FromStr<Err: Display>>(&self, name: &str) -> StoreResult<Option<T>> {
        self.opt_text(name)?
            .map(|t| t.parse().map_err(|e| corrupt(name, e)))
            .transpose()
    }

    /// Reads a text column naming one of a closed set of values.
    fn named<T>(&self, name: &str, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
        let text = self.text(name)?;
        parse(&text).ok_or_else(|| corrupt(name, text))
    }

    /// Reads a 32-byte digest.
    fn digest(&self, name: &str) -> StoreResult<[u8; 32]> {
        let bytes = self.bytes(name)?;
        bytes
            .try_into()
            .map_err(|b: Vec<u8>| corrupt(name, format!("{} bytes, expected 32", b.len())))
    }

    fn texts(&self, name: &str) -> StoreResult<Vec<String>> {
        let column = format!("{}{name}", self.prefix);
        B::texts(self.row, &column).map_err(|e| corrupt(&column, e))
    }

    fn blobs(&self, name: &str) -> StoreResult<Vec<Vec<u8>>> {
        let column = format!("{}{name}", self.prefix);
        B::blobs(self.row, &column).map_err(|e| corrupt(&column, e))
    }
}

/// A credential.
pub(crate) fn credential<B: Backend>(row: &DbRow<B>) -> StoreResult<Credential> {
    let c = Cols::<B>::new(row, "");
    let aaguid = c.bytes("aaguid")?;
    Ok(Credential {
        id: c.bytes("id")?,
        user_id: c.parse("user_id")?,
        public_key: c.bytes("public_key")?,
        alg: c.int("alg")?,
        sign_count: u32::try_from(c.int("sign_count")?).map_err(|e| corrupt("sign_count", e))?,
        aaguid: aaguid
            .try_into()
            .map_err(|b: Vec<u8>| corrupt("aaguid", format!("{} bytes, expected 16", b.len())))?,
        transports: c.texts("transports")?,
        backup_eligible: c.flag("backup_eligible")?,
        backup_state: c.flag("backup_state")?,
        uv_initialized: c.flag("uv_initialized")?,
        attestation_format: c.text("attestation_format")?,
        attestation_trust: c.text("attestation_trust")?,
        attestation_object: c.bytes("attestation_object")?,
        nickname: c.text("nickname")?,
        created_at: c.time("created_at")?,
        last_used_at: c.opt_time("last_used_at")?,
        possibly_cloned: c.flag("possibly_cloned")?,
    })
}

/// A ceremony.
pub(crate) fn ceremony<B: Backend>(row: &DbRow<B>) -> StoreResult<Ceremony> {
    let c = Cols::<B>::new(row, "");
    Ok(Ceremony {
        id: c.parse("id")?,
        kind: c.named("kind", CeremonyKind::parse)?,
        challenge: c.bytes("challenge")?,
        user_id: c.opt_parse("user_id")?,
        session_id: c.opt_parse("session_id")?,
        rp_id: c.text("rp_id")?,
        user_verification: c.text("user_verification")?,
        allow_credentials: c.blobs("allow_credentials")?,
        params: c.text("params")?,
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
    })
}

/// A row of `onbehalf_options`.
pub(crate) fn onbehalf_options<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::onbehalf::OnBehalfOptions> {
    let c = Cols::<B>::new(row, "");
    let expected_aaguid = c
        .opt_bytes("expected_aaguid")?
        .map(|b| {
            b.try_into()
                .map_err(|b: Vec<u8>| corrupt("expected_aaguid", format!("{} bytes, expected 16", b.len())))
        })
        .transpose()?;
    Ok(keyfleet_domain::onbehalf::OnBehalfOptions {
        id: c.parse("id")?,
        user_id: c.parse("user_id")?,
        caller: c.text("caller")?,
        challenge: c.bytes("challenge")?,
        rp_id: c.text("rp_id")?,
        expected_aaguid,
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
    })
}

/// A user from columns named with `prefix`.
pub(crate) fn user<B: Backend>(row: &DbRow<B>, prefix: &str) -> StoreResult<User> {
    let c = Cols::<B>::new(row, prefix);
    Ok(User {
        id: c.parse("id")?,
        username: Username::from_canonical(c.text("username")?),
        display_name: c.text("display_name")?,
        email: c.text("email")?,
        manager_email: c.opt_text("manager_email")?,
        shipping_address: c.opt_text("shipping_address")?,
        enabled: c.flag("enabled")?,
        role: c.named("role", Role::parse)?,
        user_handle: c.bytes("user_handle")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

/// A count column: never negative.
fn count<B: Backend>(c: &Cols<'_, B>, name: &str) -> StoreResult<u64> {
    u64::try_from(c.int(name)?).map_err(|e| corrupt(name, e))
}

/// An AAGUID as 32 hexadecimal digits (either case).
pub(crate) fn aaguid_from_hex(text: &str) -> Option<Aaguid> {
    let digits = text.as_bytes();
    if digits.len() != 32 {
        return None;
    }
    let nibble = |b: u8| char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = [0u8; 16];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// An AAGUID as 32 lower-case hexadecimal digits (how the report statements compare them).
pub(crate) fn aaguid_hex(aaguid: &Aaguid) -> String {
    aaguid.iter().map(|b| format!("{b:02x}")).collect()
}

/// The dashboard's figures.
pub(crate) fn fleet_counts<B: Backend>(row: &DbRow<B>) -> StoreResult<FleetCounts> {
    let c = Cols::<B>::new(row, "");
    Ok(FleetCounts {
        users: count(&c, "users")?,
        users_enabled: count(&c, "users_enabled")?,
        users_without_key: count(&c, "users_without_key")?,
        keys: count(&c, "keys_total")?,
        keys_unused: count(&c, "keys_unused")?,
        users_with_unused_key: count(&c, "users_with_unused_key")?,
        keys_cloned: count(&c, "keys_cloned")?,
        users_with_cloned_key: count(&c, "users_with_cloned_key")?,
        pending_taps: count(&c, "pending_taps")?,
        lost_keys: count(&c, "lost_keys")?,
    })
}

/// How many keys of one model exist.
pub(crate) fn model_count<B: Backend>(row: &DbRow<B>) -> StoreResult<ModelCount> {
    let c = Cols::<B>::new(row, "");
    let aaguid = c.bytes("aaguid")?;
    Ok(ModelCount {
        aaguid: aaguid
            .try_into()
            .map_err(|b: Vec<u8>| corrupt("aaguid", format!("{} bytes, expected 16", b.len())))?,
        keys: count(&c, "key_count")?,
    })
}

/// A user of the registration report with what they hold; `models` is the AAGUIDs in hex,
/// separated by commas (NULL without a key).
pub(crate) fn registration<B: Backend>(row: &DbRow<B>) -> StoreResult<RegistrationRow> {
    let c = Cols::<B>::new(row, "");
    let mut models = c
        .opt_text("models")?
        .unwrap_or_default()
        .split(',')
        .filter(|m| !m.is_empty())
        .map(|m| aaguid_from_hex(m).ok_or_else(|| corrupt("models", m)))
        .collect::<StoreResult<Vec<_>>>()?;
    models.sort_unstable();
    models.dedup();
    Ok(RegistrationRow {
        user: user::<B>(row, "")?,
        keys: count(&c, "key_count")?,
        models,
        first_key_at: c.opt_time("first_key_at")?,
        last_used_at: c.opt_time("last_used_at")?,
        pending_tap: c.flag("pending_tap")?,
        possibly_cloned: c.flag("possibly_cloned")?,
    })
}

/// A group.
pub(crate) fn group<B: Backend>(row: &DbRow<B>) -> StoreResult<Group> {
    let c = Cols::<B>::new(row, "");
    Ok(Group {
        id: c.parse("id")?,
        name: c.text("name")?,
        name_key: c.text("name_key")?,
        description: c.text("description")?,
        created_at: c.time("created_at")?,
    })
}

/// A session from columns named with `prefix`.
pub(crate) fn session<B: Backend>(row: &DbRow<B>, prefix: &str) -> StoreResult<Session> {
    let c = Cols::<B>::new(row, prefix);
    Ok(Session {
        id: c.parse("id")?,
        token_hash: c.digest("token_hash")?,
        user_id: c.parse("user_id")?,
        kind: c.named("kind", SessionKind::parse)?,
        created_at: c.time("created_at")?,
        last_seen_at: c.time("last_seen_at")?,
        expires_at: c.time("expires_at")?,
        idle_timeout_ms: c.int("idle_timeout_ms")?,
        client_addr: c.opt_text("client_addr")?,
        credential_id: c.opt_bytes("credential_id")?,
        user_verified: c.flag("user_verified")?,
    })
}

/// A TAP.
pub(crate) fn tap<B: Backend>(row: &DbRow<B>) -> StoreResult<Tap> {
    let c = Cols::<B>::new(row, "");
    Ok(Tap {
        id: c.parse("id")?,
        user_id: c.parse("user_id")?,
        code_hash: c.digest("code_hash")?,
        one_time: c.flag("one_time")?,
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
        use_count: c.int("use_count")?,
    })
}

/// Scopes as stored: their OAuth names separated by single spaces.
pub(crate) fn scopes_text(scopes: &[Scope]) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

/// An API client.
pub(crate) fn client<B: Backend>(row: &DbRow<B>) -> StoreResult<ApiClient> {
    let c = Cols::<B>::new(row, "");
    let scopes = c
        .text("scopes")?
        .split_whitespace()
        .map(|s| Scope::parse(s).ok_or_else(|| corrupt("scopes", s)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(ApiClient {
        client_id: c.text("client_id")?,
        name: c.text("name")?,
        scopes,
        enabled: c.flag("enabled")?,
        created_at: c.time("created_at")?,
    })
}

/// A client secret.
pub(crate) fn secret<B: Backend>(row: &DbRow<B>) -> StoreResult<ClientSecret> {
    secret_as::<B>(row, "")
}

/// A client secret read with its columns named `{prefix}id` etc. (beside its client's);
/// `None` when they are NULL (a client without secrets, left-joined).
pub(crate) fn opt_secret_as<B: Backend>(row: &DbRow<B>, prefix: &str) -> StoreResult<Option<ClientSecret>> {
    if Cols::<B>::new(row, prefix).opt_text("id")?.is_none() {
        return Ok(None);
    }
    secret_as::<B>(row, prefix).map(Some)
}

/// A client secret read with its columns named `{prefix}id` etc. (beside its client's).
pub(crate) fn secret_as<B: Backend>(row: &DbRow<B>, prefix: &str) -> StoreResult<ClientSecret> {
    let c = Cols::<B>::new(row, prefix);
    Ok(ClientSecret {
        id: c.parse("id")?,
        client_id: c.text("client_id")?,
        secret_hash: c.text("secret_hash")?,
        created_at: c.time("created_at")?,
        expires_at: c.opt_time("expires_at")?,
    })
}

/// A signing key.
pub(crate) fn signing_key<B: Backend>(row: &DbRow<B>) -> StoreResult<StoredSigningKey> {
    let c = Cols::<B>::new(row, "");
    Ok(StoredSigningKey {
        kid: c.text("kid")?,
        alg: c.text("alg")?,
        encrypted_private_key: c.bytes("encrypted_private_key")?,
        public_key: c.bytes("public_key")?,
        created_at: c.time("created_at")?,
        active: c.flag("active")?,
        activates_at: c.opt_time("activates_at")?,
        retired_at: c.opt_time("retired_at")?,
    })
}

/// An audit event.
pub(crate) fn audit_event<B: Backend>(row: &DbRow<B>) -> StoreResult<AuditEvent> {
    let c = Cols::<B>::new(row, "");
    Ok(AuditEvent {
        id: c.int("id")?,
        at: c.time("at")?,
        actor: c.text("actor")?,
        action: c.text("action")?,
        target: c.opt_text("target")?,
        outcome: c.named("outcome", Outcome::parse)?,
        request_id: c.opt_text("request_id")?,
        detail: c.opt_text("detail")?,
    })
}

/// A job's state.
pub(crate) fn job<B: Backend>(row: &DbRow<B>) -> StoreResult<JobState> {
    let c = Cols::<B>::new(row, "");
    Ok(JobState {
        job: c.text("job")?,
        due_at: c.time("due_at")?,
        lease_holder: c.opt_text("lease_holder")?,
        lease_until: c.opt_time("lease_until")?,
        last_finished_at: c.opt_time("last_finished_at")?,
        last_outcome: c.opt_text("last_outcome")?,
    })
}

/// A row of `_sqlx_migrations`.
pub(crate) fn applied<B: Backend>(row: &DbRow<B>) -> StoreResult<Applied> {
    let c = Cols::<B>::new(row, "");
    Ok(Applied {
        version: c.int("version")?,
        success: c.flag("success")?,
        checksum: c.bytes("checksum")?,
    })
}

/// A table name from the catalog (column `name`).
pub(crate) fn table_name<B: Backend>(row: &DbRow<B>) -> StoreResult<String> {
    Cols::<B>::new(row, "").text("name")
}

/// A row of `metadata_blob` (without the bytes).
pub(crate) fn metadata_blob<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::metadata::MetadataBlob> {
    let c = Cols::<B>::new(row, "");
    Ok(keyfleet_domain::metadata::MetadataBlob {
        no: c.int("no")?,
        next_update: c.text("next_update")?,
        entry_count: c.int("entry_count")?,
        imported_at: c.time("imported_at")?,
        verified_at: c.time("verified_at")?,
        revocation: c.text("revocation")?,
    })
}

/// The `blob` column of `metadata_blob`.
pub(crate) fn metadata_blob_raw<B: Backend>(row: &DbRow<B>) -> StoreResult<Vec<u8>> {
    Cols::<B>::new(row, "").bytes("blob")
}

/// A row of `metadata_fetch`.
pub(crate) fn metadata_validators<B: Backend>(
    row: &DbRow<B>,
) -> StoreResult<keyfleet_domain::metadata::FetchValidators> {
    let c = Cols::<B>::new(row, "");
    Ok(keyfleet_domain::metadata::FetchValidators {
        etag: c.opt_text("etag")?,
        last_modified: c.opt_text("last_modified")?,
    })
}

/// A row of `metadata_entries`.
pub(crate) fn metadata_entry<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::metadata::MetadataEntry> {
    use keyfleet_domain::metadata::{EntrySource, MetadataEntry};
    let c = Cols::<B>::new(row, "");
    let aaguid = c.bytes("aaguid")?;
    let source = c.text("source")?;
    Ok(MetadataEntry {
        aaguid: aaguid
            .try_into()
            .map_err(|b: Vec<u8>| corrupt("aaguid", format!("{} bytes, expected 16", b.len())))?,
        description: c.text("description")?,
        status: c.opt_text("status")?,
        status_date: c.opt_text("status_date")?,
        certification_level: c.opt_text("certification_level")?,
        compromised: c.flag("compromised")?,
        attestation_roots: c.blobs("attestation_roots")?,
        icon: c.opt_text("icon")?,
        source: EntrySource::parse(&source).ok_or_else(|| corrupt("source", source))?,
    })
}

/// Comma-separated group ids (an aggregate column), NULL for none.
fn group_list(c: &Cols<'_, impl Backend>, name: &str) -> StoreResult<Vec<keyfleet_domain::GroupId>> {
    let mut ids = match c.opt_text(name)? {
        None => Vec::new(),
        Some(t) if t.is_empty() => Vec::new(),
        Some(t) => t
            .split(',')
            .map(|id| id.parse().map_err(|e| corrupt(name, e)))
            .collect::<StoreResult<Vec<_>>>()?,
    };
    ids.sort();
    Ok(ids)
}

/// A row of `policies` (columns prefixed `p_`) with its `include_groups` and `exclude_groups` aggregated.
pub(crate) fn policy<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::policy::Policy> {
    use keyfleet_domain::policy::{
        Attestation, Enforcement, KeyRestrictions, PasskeyTypes, Policy, PolicySettings, Targets, UserVerification,
    };
    let c = Cols::<B>::new(row, "p_");
    let include = if c.flag("include_all")? {
        Targets::All
    } else {
        Targets::Groups(group_list(&c, "include_groups")?)
    };
    let key_restrictions = match c.opt_text("enforcement")? {
        None => None,
        Some(e) => Some(KeyRestrictions {
            enforcement: Enforcement::parse(&e).ok_or_else(|| corrupt("enforcement", e))?,
            aaguids: c
                .blobs("aaguids")?
                .into_iter()
                .map(|b| {
                    b.try_into()
                        .map_err(|b: Vec<u8>| corrupt("aaguids", format!("{} bytes, expected 16", b.len())))
                })
                .collect::<StoreResult<Vec<Aaguid>>>()?,
        }),
    };
    let max = c.opt("max_keys_per_user", B::Db::int)?;
    Ok(Policy {
        id: c.parse("id")?,
        name: c.text("name")?,
        include,
        exclude: group_list(&c, "exclude_groups")?,
        settings: PolicySettings {
            self_service_registration: c.flag("self_service_registration")?,
            user_verification: c.named("user_verification", UserVerification::parse)?,
            attestation: c.named("attestation", Attestation::parse)?,
            passkey_types: PasskeyTypes {
                device_bound: c.flag("allow_device_bound")?,
                synced: c.flag("allow_synced")?,
            },
            key_restrictions,
            block_compromised_models: c.flag("block_compromised_models")?,
            max_keys_per_user: max
                .map(|n| u32::try_from(n).map_err(|e| corrupt("max_keys_per_user", e)))
                .transpose()?,
        },
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

/// A row of `authentication_strengths`.
pub(crate) fn strength<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::strength::AuthenticationStrength> {
    let c = Cols::<B>::new(row, "");
    let aaguids = c
        .blobs("allowed_aaguids")?
        .into_iter()
        .map(|b| {
            b.try_into()
                .map_err(|b: Vec<u8>| corrupt("allowed_aaguids", format!("{} bytes, expected 16", b.len())))
        })
        .collect::<StoreResult<Vec<Aaguid>>>()?;
    Ok(keyfleet_domain::strength::AuthenticationStrength {
        id: c.text("id")?,
        name: c.text("name")?,
        acr: c.text("acr")?,
        require_user_verification: c.flag("require_user_verification")?,
        require_attestation: c.flag("require_attestation")?,
        allow_synced: c.flag("allow_synced")?,
        allowed_aaguids: (!aaguids.is_empty()).then_some(aaguids),
        built_in: false,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

/// A user with their directory link (`l_` columns, NULL without a link).
pub(crate) fn directory_user<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::directory::DirectoryUser> {
    let c = Cols::<B>::new(row, "l_");
    Ok(keyfleet_domain::directory::DirectoryUser {
        user: user::<B>(row, "")?,
        link: keyfleet_domain::directory::DirectoryLink {
            external_id: c.opt_text("external_id")?,
            manager_id: c.opt_parse("manager_id")?,
            attributes: c.opt_text("attributes")?,
            deleted_at: c.opt_time("deleted_at")?,
        },
    })
}

/// A group with its directory external id (`d_external_id`).
pub(crate) fn directory_group<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::directory::DirectoryGroup> {
    let c = Cols::<B>::new(row, "d_");
    Ok(keyfleet_domain::directory::DirectoryGroup {
        group: group::<B>(row)?,
        external_id: c.opt_text("external_id")?,
    })
}

/// A user id in the column `user_id`.
pub(crate) fn user_id<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::UserId> {
    Cols::<B>::new(row, "").parse("user_id")
}

/// A row of `oidc_applications`.
pub(crate) fn application<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::oidc::Application> {
    use keyfleet_domain::oidc::{Application, ClientType};
    let c = Cols::<B>::new(row, "");
    Ok(Application {
        client_id: c.text("client_id")?,
        name: c.text("name")?,
        client_type: c.named("client_type", ClientType::parse)?,
        secret_hash: c.opt_text("secret_hash")?,
        redirect_uris: c.texts("redirect_uris")?,
        post_logout_redirect_uris: c.texts("post_logout_redirect_uris")?,
        scopes: c.texts("scopes")?,
        access_token_lifetime_s: c.int("access_token_lifetime_s")?,
        refresh_token_lifetime_s: c.int("refresh_token_lifetime_s")?,
        authentication_strength: c.opt_text("authentication_strength")?,
        backchannel_logout_uri: c.opt_text("backchannel_logout_uri")?,
        jwks: c.opt_text("jwks")?,
        third_party: c.flag("third_party")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

/// A row of `oidc_grants`.
pub(crate) fn grant<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::oidc::Grant> {
    let c = Cols::<B>::new(row, "");
    Ok(keyfleet_domain::oidc::Grant {
        id: c.text("id")?,
        code_hash: c.digest("code_hash")?,
        client_id: c.text("client_id")?,
        user_id: c.parse("user_id")?,
        session_id: c.parse("session_id")?,
        redirect_uri: c.text("redirect_uri")?,
        scope: c.text("scope")?,
        nonce: c.opt_text("nonce")?,
        code_challenge: c.text("code_challenge")?,
        auth_time: c.time("auth_time")?,
        amr: c.text("amr")?,
        acr: c.opt_text("acr")?,
        created_at: c.time("created_at")?,
        code_expires_at: c.time("code_expires_at")?,
        code_used_at: c.opt_time("code_used_at")?,
        revoked_at: c.opt_time("revoked_at")?,
    })
}

/// A row of `oidc_consents`.
pub(crate) fn consent<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::consent::Consent> {
    let c = Cols::<B>::new(row, "");
    Ok(keyfleet_domain::consent::Consent {
        user_id: c.parse("user_id")?,
        client_id: c.text("client_id")?,
        scopes: c.texts("scopes")?,
        granted_at: c.time("granted_at")?,
    })
}

/// A row of `oidc_refresh_tokens`.
/// Its columns are named `{prefix}token_hash` etc. (read beside its grant's).
pub(crate) fn refresh_token_as<B: Backend>(
    row: &DbRow<B>,
    prefix: &str,
) -> StoreResult<keyfleet_domain::oidc::RefreshToken> {
    let c = Cols::<B>::new(row, prefix);
    Ok(keyfleet_domain::oidc::RefreshToken {
        token_hash: c.digest("token_hash")?,
        grant_id: c.text("grant_id")?,
        created_at: c.time("created_at")?,
        expires_at: c.time("expires_at")?,
        used_at: c.opt_time("used_at")?,
    })
}

/// A group rule.
pub(crate) fn group_rule<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::shipment::GroupRule> {
    let c = Cols::<B>::new(row, "");
    Ok(keyfleet_domain::shipment::GroupRule {
        id: c.parse("id")?,
        group_id: c.parse("group_id")?,
        model: c.text("model")?,
        approval: c.named("approval", keyfleet_domain::shipment::Approval::parse)?,
        enabled: c.flag("enabled")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

/// A key order.
pub(crate) fn shipment<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::shipment::Shipment> {
    let c = Cols::<B>::new(row, "");
    let attempts = c.int("attempts")?;
    Ok(keyfleet_domain::shipment::Shipment {
        id: c.parse("id")?,
        user_id: c.parse("user_id")?,
        model: c.text("model")?,
        state: c.named("state", keyfleet_domain::shipment::ShipmentState::parse)?,
        rule_id: c.opt_parse("rule_id")?,
        factory_shipment_id: c.opt_text("factory_shipment_id")?,
        tracking_number: c.opt_text("tracking_number")?,
        serial_number: c.opt_text("serial_number")?,
        credential_id: c.opt_bytes("credential_id")?,
        attempts: u32::try_from(attempts).map_err(|e| corrupt("attempts", e))?,
        last_error: c.opt_text("last_error")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

/// A key flagged for collection.
pub(crate) fn collection<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::shipment::CollectionFlag> {
    let c = Cols::<B>::new(row, "");
    Ok(keyfleet_domain::shipment::CollectionFlag {
        credential_id: c.bytes("credential_id")?,
        user_id: c.parse("user_id")?,
        reason: c.text("reason")?,
        rule_id: c.opt_parse("rule_id")?,
        requested_at: c.time("requested_at")?,
    })
}

/// A user id in column `name`.
pub(crate) fn parsed<B: Backend, T: FromStr<Err: Display>>(row: &DbRow<B>, name: &str) -> StoreResult<T> {
    Cols::<B>::new(row, "").parse(name)
}

/// A row of `oidc_logout_outbox` with its application's back-channel logout URI (`uri`).
pub(crate) fn logout_delivery<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::backchannel::LogoutDelivery> {
    let c = Cols::<B>::new(row, "");
    Ok(keyfleet_domain::backchannel::LogoutDelivery {
        grant_id: c.text("grant_id")?,
        client_id: c.text("client_id")?,
        user_id: c.parse("user_id")?,
        created_at: c.time("created_at")?,
        attempts: u32::try_from(c.int("attempts")?).map_err(|_| StoreError::Corrupt("attempts out of range".into()))?,
        next_attempt_at: c.time("next_attempt_at")?,
        uri: c.opt_text("uri")?,
    })
}

/// The `secret_hash` column of a row.
pub(crate) fn secret_hash<B: Backend>(row: &DbRow<B>) -> StoreResult<String> {
    Cols::<B>::new(row, "").text("secret_hash")
}

/// A key order with the connector's columns (`SELECT *` of `shipments`).
pub(crate) fn connector_order<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::shipment::ConnectorOrder> {
    let c = Cols::<B>::new(row, "");
    let pin_length = c.int("pin_length")?;
    Ok(keyfleet_domain::shipment::ConnectorOrder {
        shipment: shipment::<B>(row)?,
        details: keyfleet_domain::shipment::OrderDetails {
            pin_length: u8::try_from(pin_length).map_err(|e| corrupt("pin_length", e))?,
            emails_to: keyfleet_domain::mail::parse_recipients(&c.text("emails_to")?),
            shipping_address: c.opt_text("shipping_address")?,
            delivery_type: c.text("delivery_type")?,
        },
        options_id: c.opt_parse("options_id")?,
        response_key_sealed: c.opt_bytes("response_key_sealed")?,
        request_sealed: c.opt_bytes("request_sealed")?,
        pin_sealed: c.opt_bytes("pin_sealed")?,
        next_attempt_at: c.opt_time("next_attempt_at")?,
    })
}

/// A row of `count_by_state`.
pub(crate) fn state_count<B: Backend>(row: &DbRow<B>) -> StoreResult<(keyfleet_domain::shipment::ShipmentState, u64)> {
    let c = Cols::<B>::new(row, "");
    let n = c.int("n")?;
    Ok((
        c.named("state", keyfleet_domain::shipment::ShipmentState::parse)?,
        u64::try_from(n).map_err(|e| corrupt("n", e))?,
    ))
}

/// A row of `mail_outbox` (recipients stored one per line).
pub(crate) fn outbox_mail<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::outbox::OutboxMail> {
    use keyfleet_domain::mail::MailKind;
    use keyfleet_domain::outbox::{MailState, OutboxMail};
    let c = Cols::<B>::new(row, "");
    let attempts = c.int("attempts")?;
    Ok(OutboxMail {
        id: c.text("id")?,
        shipment_id: c.opt_parse("shipment_id")?,
        kind: c.named("kind", MailKind::parse)?,
        recipients: c
            .text("recipients")?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        subject: c.text("subject")?,
        body_sealed: c.bytes("body_sealed")?,
        state: c.named("state", MailState::parse)?,
        attempts: u32::try_from(attempts).map_err(|_| corrupt("attempts", attempts))?,
        next_attempt_at: c.time("next_attempt_at")?,
        last_error: c.opt_text("last_error")?,
        created_at: c.time("created_at")?,
        sent_at: c.opt_time("sent_at")?,
    })
}

/// A row of `master_keys`.
pub(crate) fn master_key<B: Backend>(row: &DbRow<B>) -> StoreResult<keyfleet_domain::keyring::StoredMasterKey> {
    use keyfleet_domain::keyring::{MasterKeyState, StoredMasterKey};
    let c = Cols::<B>::new(row, "");
    let id = c.int("id")?;
    Ok(StoredMasterKey {
        id: u32::try_from(id).map_err(|_| corrupt("id", id))?,
        wrapped: c.bytes("wrapped")?,
        state: c.named("state", MasterKeyState::parse)?,
        created_at: c.time("created_at")?,
        retired_at: c.opt_time("retired_at")?,
    })
}

/// A `(id, value)` pair of an encrypted column.
pub(crate) fn ciphertext<B: Backend>(row: &DbRow<B>) -> StoreResult<(String, Vec<u8>)> {
    let c = Cols::<B>::new(row, "");
    Ok((c.text("row_id")?, c.bytes("value")?))
}

/// A named count (`n`) and sum (`failing`) per state of the mail outbox.
pub(crate) fn mail_state_count<B: Backend>(row: &DbRow<B>) -> StoreResult<(String, u64, u64)> {
    let c = Cols::<B>::new(row, "");
    Ok((c.text("state")?, count(&c, "n")?, count(&c, "failing")?))
}

/// The `value_sealed` of a secret setting.
pub(crate) fn ciphertext_value<B: Backend>(row: &DbRow<B>) -> StoreResult<Vec<u8>> {
    Cols::<B>::new(row, "").bytes("value_sealed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aaguids_round_trip_through_hex() {
        let a: Aaguid = [
            0x35, 0x59, 0xc4, 0x35, 0xff, 0x17, 0x4b, 0xc9, 0xb9, 0x42, 0x32, 0x5c, 0x1f, 0x34, 0x8b, 0x94,
        ];
        assert_eq!(aaguid_hex(&a), "3559c435ff174bc9b942325c1f348b94");
        assert_eq!(aaguid_from_hex(&aaguid_hex(&a)), Some(a));
        assert_eq!(aaguid_from_hex("3559C435FF174BC9B942325C1F348B94"), Some(a));
        for bad in [
            "",
            "3559c435",
            "3559c435ff174bc9b942325c1f348b9g",
            "+559c435ff174bc9b942325c1f348b94",
        ] {
            assert_eq!(aaguid_from_hex(bad), None, "{bad}");
        }
    }
}
