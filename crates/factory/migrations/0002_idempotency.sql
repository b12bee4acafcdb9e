-- A customer's Idempotency-Key on POST /v1/shipments: a resubmission with the same key (and
-- token) returns the shipment the first one made, so a customer that did not see the answer
-- can retry without ordering twice.
ALTER TABLE shipments ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX shipments_idempotency_key ON shipments (token_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
