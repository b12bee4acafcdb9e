//! The authenticator-metadata statements, in SQLite's dialect.

use keyfleet_store_sql::MetadataSql;

/// Columns of `metadata_entries`, in the order they are read (by name).
macro_rules! entry_columns {
    () => {
        "aaguid, description, status, status_date, certification_level, compromised, attestation_roots, icon, source"
    };
}

pub(crate) static METADATA_SQL: MetadataSql = MetadataSql {
    // UPSERT with a condition: a stored BLOB whose `no` is not smaller is left alone and the
    // statement changes no row, which the store reports as the rollback refusal.
    upsert_blob:
        "INSERT INTO metadata_blob (id, no, next_update, entry_count, imported_at, verified_at, revocation, blob)
                  VALUES (1, $1, $2, $3, $4, $5, $6, $7)
                  ON CONFLICT (id) DO UPDATE SET no = EXCLUDED.no, next_update = EXCLUDED.next_update,
                      entry_count = EXCLUDED.entry_count, imported_at = EXCLUDED.imported_at,
                      verified_at = EXCLUDED.verified_at, revocation = EXCLUDED.revocation, blob = EXCLUDED.blob
                  WHERE metadata_blob.no < EXCLUDED.no",
    delete_entries: "DELETE FROM metadata_entries",
    insert_entry: concat!(
        "INSERT INTO metadata_entries (",
        entry_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ),
    blob: "SELECT no, next_update, entry_count, imported_at, verified_at, revocation FROM metadata_blob WHERE id = 1",
    blob_raw: "SELECT blob FROM metadata_blob WHERE id = 1",
    entry: concat!("SELECT ", entry_columns!(), " FROM metadata_entries WHERE aaguid = $1"),
    entries: concat!(
        "SELECT ",
        entry_columns!(),
        " FROM metadata_entries WHERE aaguid IN ({})"
    ),
    list_entries: concat!("SELECT ", entry_columns!(), " FROM metadata_entries ORDER BY aaguid"),
    validators: "SELECT etag, last_modified FROM metadata_fetch WHERE id = 1",
    set_validators: "INSERT INTO metadata_fetch (id, etag, last_modified) VALUES (1, $1, $2)
                     ON CONFLICT (id) DO UPDATE SET etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified",
};
