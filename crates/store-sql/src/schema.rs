//! Whether a database holds the schema this build expects (`HealthStore::schema`, behind
//! `/readyz`): the comparison, given what the store read from its catalog and from sqlx's
//! migrations table. Problems are named by migration version and table name, never by data.

use keyfleet_domain::store::SchemaState;
use sqlx::migrate::Migrator;

/// The table in which sqlx records applied migrations.
pub const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// Every table the stores read or write.
pub const TABLES: &[&str] = &[
    "meta",
    "users",
    "user_groups",
    "group_members",
    "sessions",
    "taps",
    "api_clients",
    "client_secrets",
    "signing_keys",
    "audit_events",
    "rate_limits",
    "credentials",
    "ceremonies",
    "session_ends_pending",
    "jobs",
    "spent_ceremonies",
    "metadata_blob",
    "metadata_entries",
    "oidc_applications",
    "oidc_grants",
    "oidc_refresh_tokens",
    "oidc_consents",
    "authentication_strengths",
    "policies",
    "policy_groups",
    "directory_users",
    "directory_groups",
    "onbehalf_options",
    "group_rules",
    "shipments",
    "credential_collections",
    "mail_outbox",
    "master_keys",
    "secret_settings",
];

/// One row of [`MIGRATIONS_TABLE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The migration's version.
    pub version: i64,
    /// Whether it ran to the end.
    pub success: bool,
    /// The checksum of the SQL that ran.
    pub checksum: Vec<u8>,
}

/// The version of the newest migration `migrator` holds (0 when it holds none).
pub fn expected_version(migrator: &Migrator) -> i64 {
    up_migrations(migrator).map(|m| m.version).max().unwrap_or(0)
}

fn up_migrations(migrator: &Migrator) -> impl Iterator<Item = &sqlx::migrate::Migration> {
    migrator.iter().filter(|m| !m.migration_type.is_down_migration())
}

/// What is wrong with the tables: [`MIGRATIONS_TABLE`] or any of [`TABLES`] missing from
/// `present` (the names the catalog lists).
pub fn table_problems(present: &[String]) -> Vec<String> {
    std::iter::once(MIGRATIONS_TABLE)
        .chain(TABLES.iter().copied())
        .filter(|t| !present.iter().any(|p| p == t))
        .map(|t| format!("table {t} is missing"))
        .collect()
}

/// What is wrong with the applied migrations: one this build holds that is not applied (or
/// was changed since), one that failed, one this build does not know.
pub fn migration_problems(migrator: &Migrator, applied: &[Applied]) -> Vec<String> {
    let mut problems = Vec::new();
    for m in up_migrations(migrator) {
        match applied.iter().find(|a| a.version == m.version) {
            None => problems.push(format!("migration {} ({}) is not applied", m.version, m.description)),
            Some(a) if !a.success => problems.push(format!("migration {} ({}) failed", m.version, m.description)),
            Some(a) if a.checksum != *m.checksum => {
                problems.push(format!(
                    "migration {} ({}) was changed after it was applied",
                    m.version, m.description
                ));
            }
            Some(_) => {}
        }
    }
    for a in applied {
        if !up_migrations(migrator).any(|m| m.version == a.version) {
            problems.push(format!("migration {} is applied but unknown to this build", a.version));
        }
    }
    problems
}

/// The answer for a database whose tables and applied migrations are as given (`applied`
/// is `None` when the migrations table could not be read because it is missing).
pub fn state(migrator: &Migrator, present: &[String], applied: Option<&[Applied]>) -> SchemaState {
    let mut problems = applied.map_or_else(Vec::new, |a| migration_problems(migrator, a));
    problems.extend(table_problems(present));
    if problems.is_empty() {
        SchemaState::Ready {
            version: expected_version(migrator),
        }
    } else {
        SchemaState::NotReady(problems.join("; "))
    }
}
