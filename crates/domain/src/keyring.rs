//! The master-key ring kept in the database, the registry of encrypted columns, and secret
//! settings (migration 0019).
//!
//! The configured master key (`master_key` / `master_key_file`, key id 0) wraps the data
//! keys in `master_keys`; the newest (`current`) encrypts, every one not yet `retired`
//! decrypts. A rotation adds a data key; the re-encryption job rewrites every column in
//! [`ENCRYPTED_COLUMNS`] under it and then retires the earlier ones. See docs/secrets.md.

use async_trait::async_trait;

use crate::Timestamp;
use crate::audit::NewAuditEvent;
use crate::store::StoreResult;

/// A column holding ciphertexts of the master key: rotation rewrites it. Every such column
/// is in [`ENCRYPTED_COLUMNS`]; the associated data of a value is `aad_prefix` followed by
/// its row's id (the text in `id_column`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedColumn {
    /// The table.
    pub table: &'static str,
    /// Its text primary key.
    pub id_column: &'static str,
    /// The column of ciphertexts (bytes; NULL or empty: nothing stored).
    pub column: &'static str,
    /// The associated data before the row id.
    pub aad_prefix: &'static str,
}

impl EncryptedColumn {
    /// The associated data of the value in row `id`.
    pub fn aad(&self, id: &str) -> Vec<u8> {
        let mut aad = self.aad_prefix.as_bytes().to_vec();
        aad.extend_from_slice(id.as_bytes());
        aad
    }
}

/// Token-signing private keys.
pub const SIGNING_KEYS: EncryptedColumn = EncryptedColumn {
    table: "signing_keys",
    id_column: "kid",
    column: "encrypted_private_key",
    aad_prefix: "keyfleet-signing-key:",
};

/// Queued mail bodies (a PIN email holds the PIN).
pub const MAIL_BODIES: EncryptedColumn = EncryptedColumn {
    table: "mail_outbox",
    id_column: "id",
    column: "body_sealed",
    aad_prefix: "mail_outbox.body:",
};

/// Secret settings (the SMTP password, the factory token).
pub const SECRET_SETTINGS: EncryptedColumn = EncryptedColumn {
    table: "secret_settings",
    id_column: "name",
    column: "value_sealed",
    aad_prefix: "secret_settings:",
};

/// A shipment's response key: the private key the factory encrypts its answers to.
pub const SHIPMENT_RESPONSE_KEYS: EncryptedColumn = EncryptedColumn {
    table: "shipments",
    id_column: "id",
    column: "response_key_sealed",
    aad_prefix: "shipments.response_key_sealed:",
};

/// A shipment's request body as submitted (so that a retry resends it unchanged).
pub const SHIPMENT_REQUESTS: EncryptedColumn = EncryptedColumn {
    table: "shipments",
    id_column: "id",
    column: "request_sealed",
    aad_prefix: "shipments.request_sealed:",
};

/// A shipment's PIN, kept for a resend until the shipment is cleaned up.
pub const SHIPMENT_PINS: EncryptedColumn = EncryptedColumn {
    table: "shipments",
    id_column: "id",
    column: "pin_sealed",
    aad_prefix: "shipments.pin_sealed:",
};

/// Every column the master key encrypts. A feature that stores a new kind of ciphertext adds
/// its column here (a text primary key, a bytes column, an AAD of prefix + id); the store
/// refuses any column not listed.
pub const ENCRYPTED_COLUMNS: &[EncryptedColumn] = &[
    SIGNING_KEYS,
    MAIL_BODIES,
    SECRET_SETTINGS,
    SHIPMENT_RESPONSE_KEYS,
    SHIPMENT_REQUESTS,
    SHIPMENT_PINS,
];

/// The names a secret setting may have.
pub const SECRET_SETTING_NAMES: &[&str] = &["smtp_password", "factory_token"];

/// Where a data key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeyState {
    /// Encrypts (one at a time).
    Current,
    /// Decrypts what was written before the last rotation, until re-encryption finishes.
    Previous,
    /// Decrypts nothing any more; its wrapped bytes are erased.
    Retired,
}

impl MasterKeyState {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            MasterKeyState::Current => "current",
            MasterKeyState::Previous => "previous",
            MasterKeyState::Retired => "retired",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "current" => Some(MasterKeyState::Current),
            "previous" => Some(MasterKeyState::Previous),
            "retired" => Some(MasterKeyState::Retired),
            _ => None,
        }
    }
}

/// A data key as stored: wrapped under the configured master key. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMasterKey {
    /// Its id (1, 2, …), carried by every ciphertext it makes.
    pub id: u32,
    /// The key sealed under the configured master key (AAD `master_keys:` + id); empty
    /// once retired.
    pub wrapped: Vec<u8>,
    /// Where it stands.
    pub state: MasterKeyState,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was retired.
    pub retired_at: Option<Timestamp>,
}

impl std::fmt::Debug for StoredMasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredMasterKey")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// The ring and the ciphertexts, for rotation and re-encryption.
#[async_trait]
pub trait KeyringStore: Send + Sync {
    /// Every data key, retired ones included, by id.
    async fn master_keys(&self) -> StoreResult<Vec<StoredMasterKey>>;

    /// Adds data key `id` as `current` (the current one becomes `previous`), with `audit`.
    /// `Conflict("master_key_id")` when `id` exists (a rotation ran at the same time).
    async fn add_master_key(&self, id: u32, wrapped: &[u8], now: Timestamp, audit: &NewAuditEvent) -> StoreResult<()>;

    /// Retires a `previous` data key (its wrapped bytes erased), with `audit`; `NotFound`
    /// when it is not `previous`.
    async fn retire_master_key(&self, id: u32, now: Timestamp, audit: &NewAuditEvent) -> StoreResult<()>;

    /// Up to `limit` non-empty values of `column` with ids after `after`, by id.
    /// `Invalid("column")` for a column not in [`ENCRYPTED_COLUMNS`].
    async fn ciphertexts(
        &self,
        column: &EncryptedColumn,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<(String, Vec<u8>)>>;

    /// Replaces row `id`'s value by `new` if it still is `old`; whether it did.
    async fn replace_ciphertext(&self, column: &EncryptedColumn, id: &str, old: &[u8], new: &[u8])
    -> StoreResult<bool>;

    /// A secret setting's sealed value.
    async fn secret_setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Sets (or, with `None`, removes) a secret setting, with `audit`.
    async fn set_secret_setting(
        &self,
        name: &str,
        sealed: Option<&[u8]>,
        now: Timestamp,
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
}
