-- Events bound for warehouse destinations: written by the processor in the same transaction as
-- the delivery rows of the chunk (so a crash neither loses nor duplicates them), read in bulk by
-- the warehouse loader. A warehouse loads large batches and needs no order per user, so these
-- rows skip the router's delivery queue and its per-user claims altogether.
CREATE TABLE warehouse_staging (
  id bigint GENERATED ALWAYS AS IDENTITY,
  destination_id text NOT NULL,
  source_id text NOT NULL,
  message_id text NOT NULL,
  user_key text NOT NULL,
  received_at timestamptz NOT NULL,
  -- The event after the connection's transformations, as JSON text.
  payload text NOT NULL,
  PRIMARY KEY (destination_id, id)
);
