//! The factory's database: SQLite through sqlx, like keyfleet's embedded store (WAL, foreign
//! keys, a busy timeout, embedded migrations, one writer connection so writers queue in the
//! process). Every change is written with its audit entry in one `BEGIN IMMEDIATE`
//! transaction; the audit table rejects UPDATE and DELETE.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};

use crate::error::FactoryError;

/// The migrations in `migrations/`, embedded at build time (a test checks the list against
/// the directory).
static MIGRATOR: std::sync::LazyLock<sqlx::migrate::Migrator> =
    keyfleet_store_sql::embed_migrations!["0001_factory.sql", "0002_idempotency.sql",];

/// Result of a store call.
pub type StoreResult<T> = Result<T, FactoryError>;

/// One audit entry to write with a change.
#[derive(Debug, Clone)]
pub struct Audit<'a> {
    /// Who: `token:ID`, `cli:USER`, `clock`.
    pub actor: &'a str,
    /// What: `shipment.received`, `token.revoked`, …
    pub action: &'static str,
    /// The shipment concerned, if any.
    pub shipment_id: Option<&'a str>,
    /// Details as JSON (never a secret).
    pub detail: serde_json::Value,
}

/// An API token's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Its id (not secret).
    pub id: String,
    /// What the operator called it.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once revoked.
    pub revoked_at: Option<i64>,
}

/// A JOSE key's public record.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// Key id.
    pub kid: String,
    /// `transport` or `sign`.
    pub purpose: String,
    /// The public JWK, JSON.
    pub public_jwk: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once a newer key replaced it.
    pub retired_at: Option<i64>,
}

/// A shipment row.
#[derive(Debug, Clone)]
pub struct ShipmentRow {
    /// Id.
    pub id: String,
    /// State.
    pub state: String,
    /// Model.
    pub model: String,
    /// Recipient.
    pub recipient: String,
    /// Address.
    pub address: String,
    /// Delivery type.
    pub delivery_type: String,
    /// PIN length.
    pub pin_length: u8,
    /// How many credentials were requested.
    pub request_count: usize,
    /// The JWEs, until programmed (JSON array).
    pub credential_requests: Option<String>,
    /// The customer's response key, JSON.
    pub response_key: String,
    /// The token that created it.
    pub token_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Unix seconds.
    pub shipped_at: Option<i64>,
    /// Tracking number.
    pub tracking_number: Option<String>,
    /// Serial number.
    pub serial_number: Option<String>,
    /// Firmware version.
    pub firmware_version: Option<String>,
    /// JWE.
    pub pin_response: Option<String>,
    /// JSON array of JWEs.
    pub credential_responses: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
}

/// What programming produced, stored when a shipment is programmed.
#[derive(Debug, Clone)]
pub struct Programmed {
    /// Tracking number (the parcel's file name).
    pub tracking_number: String,
    /// Serial number.
    pub serial_number: String,
    /// Firmware version.
    pub firmware_version: String,
    /// The PIN, signed then encrypted to the customer.
    pub pin_response: String,
    /// The credentials, signed then encrypted to the customer.
    pub credential_responses: Vec<String>,
}

/// The factory's database.
#[derive(Debug, Clone)]
pub struct Store {
    reads: SqlitePool,
    writes: SqlitePool,
}

fn shipment(row: &SqliteRow) -> Result<ShipmentRow, sqlx::Error> {
    Ok(ShipmentRow {
        id: row.try_get("id")?,
        state: row.try_get("state")?,
        model: row.try_get("model")?,
        recipient: row.try_get("recipient")?,
        address: row.try_get("address")?,
        delivery_type: row.try_get("delivery_type")?,
        pin_length: u8::try_from(row.try_get::<i64, _>("pin_length")?).unwrap_or(0),
        request_count: usize::try_from(row.try_get::<i64, _>("request_count")?).unwrap_or(0),
        credential_requests: row.try_get("credential_requests")?,
        response_key: row.try_get("response_key")?,
        token_id: row.try_get("token_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        shipped_at: row.try_get("shipped_at")?,
        tracking_number: row.try_get("tracking_number")?,
        serial_number: row.try_get("serial_number")?,
        firmware_version: row.try_get("firmware_version")?,
        pin_response: row.try_get("pin_response")?,
        credential_responses: row.try_get("credential_responses")?,
        failure: row.try_get("failure")?,
    })
}

type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

impl Store {
    /// Opens (creating if missing) the database at `url` (`sqlite://PATH`) and migrates it.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        if !url.starts_with("sqlite:") {
            return Err(FactoryError::invalid(
                "unsupported_database",
                "the factory's database is SQLite: sqlite://PATH",
            ));
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writes).await?;
        let reads = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(Store { reads, writes })
    }

    async fn begin(&self) -> StoreResult<Tx> {
        Ok(self.writes.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn audit(tx: &mut Tx, at: i64, audit: &Audit<'_>) -> StoreResult<()> {
        sqlx::query("INSERT INTO audit_log (at, actor, action, shipment_id, detail) VALUES (?, ?, ?, ?, ?)")
            .bind(at)
            .bind(audit.actor)
            .bind(audit.action)
            .bind(audit.shipment_id)
            .bind(audit.detail.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Writes an audit entry alone (a refusal, which changes nothing else).
    pub async fn record(&self, at: i64, audit: Audit<'_>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        Self::audit(&mut tx, at, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The audit log, oldest first: (at, actor, action, shipment id, detail).
    pub async fn audit_log(&self) -> StoreResult<Vec<(i64, String, String, Option<String>, String)>> {
        let rows = sqlx::query("SELECT at, actor, action, shipment_id, detail FROM audit_log ORDER BY id")
            .fetch_all(&self.reads)
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("at")?,
                    r.try_get("actor")?,
                    r.try_get("action")?,
                    r.try_get("shipment_id")?,
                    r.try_get("detail")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    // ---- API tokens ----

    /// Stores a new token's digest.
    pub async fn insert_token(&self, record: &TokenRecord, digest: &[u8], audit: Audit<'_>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO api_tokens (id, name, digest, created_at) VALUES (?, ?, ?, ?)")
            .bind(&record.id)
            .bind(&record.name)
            .bind(digest)
            .bind(record.created_at)
            .execute(&mut *tx)
            .await?;
        Self::audit(&mut tx, record.created_at, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes a token; false if there is no such active token.
    pub async fn revoke_token(&self, id: &str, at: i64, audit: Audit<'_>) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if done {
            Self::audit(&mut tx, at, &audit).await?;
            tx.commit().await?;
        }
        Ok(done)
    }

    /// Every token, newest first.
    pub async fn tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        let rows = sqlx::query("SELECT id, name, created_at, revoked_at FROM api_tokens ORDER BY created_at DESC, id")
            .fetch_all(&self.reads)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenRecord {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// The id of the active token with this digest.
    pub async fn active_token(&self, digest: &[u8]) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT id FROM api_tokens WHERE digest = ? AND revoked_at IS NULL")
            .bind(digest)
            .fetch_optional(&self.reads)
            .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    // ---- JOSE keys ----

    /// Adds a key of `purpose`, retiring the current one of that purpose.
    pub async fn insert_key(&self, key: &KeyRecord, audit: Audit<'_>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE jose_keys SET retired_at = ? WHERE purpose = ? AND retired_at IS NULL")
            .bind(key.created_at)
            .bind(&key.purpose)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO jose_keys (kid, purpose, public_jwk, created_at) VALUES (?, ?, ?, ?)")
            .bind(&key.kid)
            .bind(&key.purpose)
            .bind(&key.public_jwk)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
        Self::audit(&mut tx, key.created_at, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The keys of `purpose` not retired before `since`, newest first.
    pub async fn keys(&self, purpose: &str, since: i64) -> StoreResult<Vec<KeyRecord>> {
        let rows = sqlx::query(
            "SELECT kid, purpose, public_jwk, created_at, retired_at FROM jose_keys \
             WHERE purpose = ? AND (retired_at IS NULL OR retired_at >= ?) ORDER BY created_at DESC, kid",
        )
        .bind(purpose)
        .bind(since)
        .fetch_all(&self.reads)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyRecord {
                    kid: r.try_get("kid")?,
                    purpose: r.try_get("purpose")?,
                    public_jwk: r.try_get("public_jwk")?,
                    created_at: r.try_get("created_at")?,
                    retired_at: r.try_get("retired_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    // ---- Shipments ----

    /// Stores a received shipment.
    /// `idempotency_key`: a unique violation on it (with the token) fails the insert; the caller
    /// then reads the first shipment with [`Store::shipment_by_key`].
    pub async fn insert_shipment(
        &self,
        s: &ShipmentRow,
        idempotency_key: Option<&str>,
        audit: Audit<'_>,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO shipments (id, state, model, recipient, address, delivery_type, pin_length, request_count, \
             credential_requests, response_key, token_id, created_at, updated_at, idempotency_key) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(&s.state)
        .bind(&s.model)
        .bind(&s.recipient)
        .bind(&s.address)
        .bind(&s.delivery_type)
        .bind(i64::from(s.pin_length))
        .bind(i64::try_from(s.request_count).unwrap_or(i64::MAX))
        .bind(&s.credential_requests)
        .bind(&s.response_key)
        .bind(&s.token_id)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(idempotency_key)
        .execute(&mut *tx)
        .await?;
        Self::audit(&mut tx, s.created_at, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The shipment a token made with an idempotency key.
    pub async fn shipment_by_key(&self, token_id: Option<&str>, key: &str) -> StoreResult<Option<ShipmentRow>> {
        let row = sqlx::query("SELECT * FROM shipments WHERE token_id IS ? AND idempotency_key = ?")
            .bind(token_id)
            .bind(key)
            .fetch_optional(&self.reads)
            .await?;
        Ok(row.as_ref().map(shipment).transpose()?)
    }

    /// One shipment.
    pub async fn shipment(&self, id: &str) -> StoreResult<Option<ShipmentRow>> {
        let row = sqlx::query("SELECT * FROM shipments WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reads)
            .await?;
        Ok(row.as_ref().map(shipment).transpose()?)
    }

    /// Every shipment, newest first.
    pub async fn shipments(&self) -> StoreResult<Vec<ShipmentRow>> {
        let rows = sqlx::query("SELECT * FROM shipments ORDER BY created_at DESC, id")
            .fetch_all(&self.reads)
            .await?;
        Ok(rows.iter().map(shipment).collect::<Result<_, _>>()?)
    }

    /// Runs `change` (an UPDATE with the shipment id as its last parameter, guarded by a state
    /// condition) with its audit entry; the shipment afterwards if it applied, else the refusal.
    async fn transition<'q>(
        &self,
        id: &str,
        at: i64,
        verb: &'static str,
        change: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
        audit: Audit<'_>,
    ) -> StoreResult<ShipmentRow> {
        let mut tx = self.begin().await?;
        let applied = change.execute(&mut *tx).await?.rows_affected() == 1;
        if !applied {
            let state: Option<String> = sqlx::query_scalar("SELECT state FROM shipments WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            drop(tx);
            return Err(match state {
                None => FactoryError::NotFound(id.to_string()),
                Some(state) => FactoryError::Locked { state, verb },
            });
        }
        Self::audit(&mut tx, at, &audit).await?;
        let row = sqlx::query("SELECT * FROM shipments WHERE id = ?")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(shipment(&row)?)
    }

    /// Changes what may change while `received`.
    pub async fn update_shipment(
        &self,
        id: &str,
        recipient: Option<&str>,
        address: Option<&str>,
        delivery_type: Option<&str>,
        at: i64,
        audit: Audit<'_>,
    ) -> StoreResult<ShipmentRow> {
        let q = sqlx::query(
            "UPDATE shipments SET recipient = COALESCE(?, recipient), address = COALESCE(?, address), \
             delivery_type = COALESCE(?, delivery_type), updated_at = ? WHERE id = ? AND state = 'received'",
        )
        .bind(recipient)
        .bind(address)
        .bind(delivery_type)
        .bind(at)
        .bind(id);
        self.transition(id, at, "changed", q, audit).await
    }

    /// `received` → `cancelled`, erasing the credential requests.
    pub async fn cancel_shipment(&self, id: &str, at: i64, audit: Audit<'_>) -> StoreResult<ShipmentRow> {
        let q = sqlx::query(
            "UPDATE shipments SET state = 'cancelled', credential_requests = NULL, updated_at = ? \
             WHERE id = ? AND state = 'received'",
        )
        .bind(at)
        .bind(id);
        self.transition(id, at, "cancelled", q, audit).await
    }

    /// `received` → `locked`: no more edits; fulfilment owns it.
    pub async fn lock_shipment(&self, id: &str, at: i64, audit: Audit<'_>) -> StoreResult<ShipmentRow> {
        let q =
            sqlx::query("UPDATE shipments SET state = 'locked', updated_at = ? WHERE id = ? AND state = 'received'")
                .bind(at)
                .bind(id);
        self.transition(id, at, "fulfilled", q, audit).await
    }

    /// `locked` → `programmed`: the answers stored, the credential requests erased.
    pub async fn programmed(&self, id: &str, p: &Programmed, at: i64, audit: Audit<'_>) -> StoreResult<ShipmentRow> {
        let responses = serde_json::to_string(&p.credential_responses).unwrap_or_else(|_| "[]".into());
        let q = sqlx::query(
            "UPDATE shipments SET state = 'programmed', credential_requests = NULL, tracking_number = ?, \
             serial_number = ?, firmware_version = ?, pin_response = ?, credential_responses = ?, updated_at = ? \
             WHERE id = ? AND state = 'locked'",
        )
        .bind(&p.tracking_number)
        .bind(&p.serial_number)
        .bind(&p.firmware_version)
        .bind(&p.pin_response)
        .bind(responses)
        .bind(at)
        .bind(id);
        self.transition(id, at, "programmed", q, audit).await
    }

    /// `programmed` → `shipped`.
    pub async fn shipped(&self, id: &str, at: i64, audit: Audit<'_>) -> StoreResult<ShipmentRow> {
        let q = sqlx::query(
            "UPDATE shipments SET state = 'shipped', shipped_at = ?, updated_at = ? WHERE id = ? AND state = 'programmed'",
        )
        .bind(at)
        .bind(at)
        .bind(id);
        self.transition(id, at, "shipped", q, audit).await
    }

    /// `shipped` → `delivered`.
    pub async fn delivered(&self, id: &str, at: i64, audit: Audit<'_>) -> StoreResult<ShipmentRow> {
        let q =
            sqlx::query("UPDATE shipments SET state = 'delivered', updated_at = ? WHERE id = ? AND state = 'shipped'")
                .bind(at)
                .bind(id);
        self.transition(id, at, "delivered", q, audit).await
    }

    /// `locked` → `failed`, erasing the credential requests.
    pub async fn failed(&self, id: &str, reason: &str, at: i64, audit: Audit<'_>) -> StoreResult<ShipmentRow> {
        let q = sqlx::query(
            "UPDATE shipments SET state = 'failed', credential_requests = NULL, failure = ?, updated_at = ? \
             WHERE id = ? AND state = 'locked'",
        )
        .bind(reason)
        .bind(at)
        .bind(id);
        self.transition(id, at, "failed", q, audit).await
    }

    /// Ids of shipments in `state` whose `column` (a time) is at or before `due`, oldest first.
    pub async fn due(&self, state: &str, column: &str, due: i64) -> StoreResult<Vec<String>> {
        let column = match column {
            "created_at" => "created_at",
            _ => "shipped_at",
        };
        let sql = format!("SELECT id FROM shipments WHERE state = ? AND {column} <= ? ORDER BY {column}, id");
        Ok(sqlx::query_scalar(&sql)
            .bind(state)
            .bind(due)
            .fetch_all(&self.reads)
            .await?)
    }

    /// Every value of every table as text (tests: what the factory still holds).
    pub async fn dump(&self) -> StoreResult<String> {
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(&self.reads)
                .await?;
        let mut out = String::new();
        for table in tables {
            let rows = sqlx::query(&format!("SELECT * FROM \"{table}\""))
                .fetch_all(&self.reads)
                .await?;
            for row in rows {
                out.push_str(&table);
                for i in 0..row.len() {
                    out.push('|');
                    if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                        out.push_str(&text);
                    } else if let Ok(Some(n)) = row.try_get::<Option<i64>, _>(i) {
                        out.push_str(&n.to_string());
                    } else if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                        out.push_str(&hex::encode(bytes));
                    }
                }
                out.push('\n');
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod migration_files {
    /// The embedded list holds every file of `migrations/`, read as sqlx reads the directory.
    #[tokio::test]
    async fn the_list_matches_the_directory() {
        keyfleet_store_sql::migrations::assert_matches_directory(&super::MIGRATOR, env!("CARGO_MANIFEST_DIR")).await;
    }
}
