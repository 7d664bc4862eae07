-- What the warehouse loader last did per warehouse destination, for operators (/admin/queues,
-- /metrics) and for every process to see: any process with the warehouse role may run a load.
CREATE TABLE warehouse_loads (
  destination_id text PRIMARY KEY,
  last_load_at timestamptz,
  last_load_rows bigint,
  last_load_tables text[],
  last_error text,
  last_error_at timestamptz,
  -- Set on the first failure of a run of failures, cleared by a load that succeeds.
  failing_since timestamptz
);
-- The loader reads a destination's staged rows in id order.
CREATE INDEX IF NOT EXISTS warehouse_staging_destination_received ON warehouse_staging (destination_id, received_at);
