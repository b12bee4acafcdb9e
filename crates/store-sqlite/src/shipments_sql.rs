//! The group-rule, order and collection statements, in SQLite's dialect.

use keyfleet_store_sql::ShipmentSql;

/// Columns of `group_rules`.
macro_rules! rule_columns {
    () => {
        "id, group_id, model, approval, enabled, created_at, updated_at"
    };
}

/// Columns of `shipments`.
macro_rules! shipment_columns {
    () => {
        "id, user_id, model, state, rule_id, factory_shipment_id, tracking_number, serial_number, credential_id, \
         attempts, last_error, created_at, updated_at"
    };
}

/// The database clock, in milliseconds since the epoch.
macro_rules! now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    };
}

pub(crate) static SHIPMENT_SQL: ShipmentSql = ShipmentSql {
    insert_rule: concat!(
        "INSERT INTO group_rules (",
        rule_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ),
    rule_by_id: concat!("SELECT ", rule_columns!(), " FROM group_rules WHERE id = $1"),
    list_rules: concat!(
        "SELECT ",
        rule_columns!(),
        " FROM group_rules ORDER BY group_id, model, id"
    ),
    update_rule: "UPDATE group_rules SET model = $2, approval = $3, enabled = $4, updated_at = $5 WHERE id = $1",
    delete_rule: "DELETE FROM group_rules WHERE id = $1",
    insert_shipment: concat!(
        "INSERT INTO shipments (",
        shipment_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ),
    shipment_by_id: concat!("SELECT ", shipment_columns!(), " FROM shipments WHERE id = $1"),
    list_shipments: concat!(
        "SELECT ",
        shipment_columns!(),
        " FROM shipments WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR user_id = $2)
            AND ($3 IS NULL OR rule_id = $3)
          ORDER BY created_at DESC, id DESC LIMIT $4"
    ),
    set_state: "UPDATE shipments SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2",
    insert_collection: "INSERT INTO credential_collections (credential_id, user_id, reason, rule_id, requested_at)
                        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING",
    delete_collection: "DELETE FROM credential_collections WHERE credential_id = $1",
    user_collections: "SELECT credential_id, user_id, reason, rule_id, requested_at FROM credential_collections
                       WHERE user_id = $1 ORDER BY requested_at, credential_id",
    claim_orders: concat!(
        "UPDATE shipments SET lease_owner = $2, lease_until = ",
        now_ms!(),
        " + $3, checked_at = ",
        now_ms!(),
        " WHERE id IN (SELECT id FROM shipments WHERE state = $1
             AND (lease_until IS NULL OR lease_until < ",
        now_ms!(),
        ") AND (next_attempt_at IS NULL OR next_attempt_at <= ",
        now_ms!(),
        ") AND (checked_at IS NULL OR checked_at < $4)
             ORDER BY created_at, id LIMIT $5)
         RETURNING *"
    ),
    order_step: concat!(
        "UPDATE shipments SET state = $3, attempts = attempts + $4,
             last_error = CASE WHEN $4 = 1 THEN $5 ELSE last_error END,
             next_attempt_at = CASE WHEN $6 IS NULL THEN NULL ELSE ",
        now_ms!(),
        " + $6 END,
             tracking_number = COALESCE($7, tracking_number), updated_at = $8,
             lease_owner = NULL, lease_until = NULL
         WHERE id = $1 AND lease_owner = $2"
    ),
    insert_order: concat!(
        "INSERT INTO shipments (",
        shipment_columns!(),
        ", pin_length, emails_to, shipping_address, delivery_type)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    ),
    connector_order_by_id: "SELECT * FROM shipments WHERE id = $1",
    database_now: concat!("SELECT ", now_ms!(), " AS now_ms"),
    prepare_order: "UPDATE shipments SET options_id = $3, response_key_sealed = $4, request_sealed = $5
                    WHERE id = $1 AND lease_owner = $2 AND state = 'requested'",
    order_submitted: "UPDATE shipments SET state = 'submitted', factory_shipment_id = $3, last_error = NULL,
                          next_attempt_at = NULL, lease_owner = NULL, lease_until = NULL, updated_at = $4
                      WHERE id = $1 AND lease_owner = $2 AND state = 'requested'",
    order_registered: "UPDATE shipments SET state = 'registered', credential_id = $3,
                           tracking_number = COALESCE($4, tracking_number), serial_number = $5,
                           pin_sealed = $6, last_error = NULL, next_attempt_at = NULL, lease_owner = NULL,
                           lease_until = NULL, updated_at = $7
                       WHERE id = $1 AND lease_owner = $2 AND state = 'submitted'",
    insert_mail: "INSERT INTO mail_outbox (id, shipment_id, kind, recipients, subject, body_sealed, state, attempts,
                      next_attempt_at, created_at)
                  VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7)",
    purge_completed_mail: "DELETE FROM mail_outbox WHERE shipment_id IN
                               (SELECT id FROM shipments WHERE state = 'complete' AND updated_at < $1)",
    purge_completed: "DELETE FROM shipments WHERE state = 'complete' AND updated_at < $1",
    count_by_state: "SELECT state, COUNT(*) AS n FROM shipments GROUP BY state ORDER BY state",
};
