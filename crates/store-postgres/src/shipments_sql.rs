//! The group-rule, order and collection statements, in PostgreSQL's dialect.

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
        " FROM shipments WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR user_id = $2)
            AND ($3::text IS NULL OR rule_id = $3)
          ORDER BY created_at DESC, id DESC LIMIT $4"
    ),
    set_state: "UPDATE shipments SET state = $3, updated_at = $4 WHERE id = $1 AND state = $2",
    insert_collection: "INSERT INTO credential_collections (credential_id, user_id, reason, rule_id, requested_at)
                        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING",
    delete_collection: "DELETE FROM credential_collections WHERE credential_id = $1",
    user_collections: "SELECT credential_id, user_id, reason, rule_id, requested_at FROM credential_collections
                       WHERE user_id = $1 ORDER BY requested_at, credential_id",
};
