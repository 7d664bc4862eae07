-- The processor and the router.
--
-- Processor partitions are leased: a processor owns a partition while its lease is unexpired, so
-- any number of replicas share the 64 ingest partitions and a dead one's partitions are taken over
-- once its leases lapse. Correctness does not rest on the leases: the hand-off locks and compares
-- the partition's cursor row (ingest_cursors) in the transaction that writes the output.

CREATE TABLE processor_members (
  member text PRIMARY KEY,
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE processor_leases (
  partition smallint PRIMARY KEY,
  member text,
  expires_at timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO processor_leases (partition) SELECT generate_series(0, 63);

-- Events a transformation failed on, for the operator to inspect and replay once the code is
-- fixed. `event` is the event as it entered the connection (before any transformation).
CREATE TABLE failed_events (
  id bigserial PRIMARY KEY,
  failed_at timestamptz NOT NULL DEFAULT now(),
  source_id text NOT NULL,
  destination_id text NOT NULL,
  transformation_id text NOT NULL,
  message_id text NOT NULL,
  user_key text NOT NULL,
  received_at timestamptz NOT NULL,
  error text NOT NULL,
  stack text,
  event text NOT NULL
);
CREATE INDEX failed_events_destination ON failed_events (destination_id, id);

-- The delivery queue: one row per (event, tool destination), written by the processor, claimed
-- by the router. States: a row is waiting (next_attempt_at in the future after a failure), due,
-- or in flight (its (destination, user_key) advisory lock held by the session a router process
-- keeps for its keys in flight, see src/router/delivery-locks.ts); delivered rows are deleted,
-- aborted rows move to dead_letters in the same transaction. Order per (destination, user_key)
-- is the id order: the router sends a row only when no older row of its key exists. Segmented
-- like ingest_jobs so that space is reclaimed by dropping empty segments, not by vacuuming dead
-- rows.
CREATE TABLE delivery_segments (
  segment bigint PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  first_id bigint NOT NULL
);

CREATE SEQUENCE delivery_jobs_id_seq AS bigint;

CREATE TABLE delivery_jobs (
  segment bigint NOT NULL,
  id bigint NOT NULL DEFAULT nextval('delivery_jobs_id_seq'),
  destination_id text NOT NULL,
  user_key text NOT NULL,
  source_id text NOT NULL,
  message_id text NOT NULL,
  received_at timestamptz NOT NULL,
  payload text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  first_attempt_at timestamptz,
  next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
  last_error text
) PARTITION BY LIST (segment);

-- Finds the oldest row of a key (the ordering check) and the rows behind a head.
CREATE INDEX delivery_jobs_key_order ON delivery_jobs (destination_id, user_key, id);
-- Finds due rows of a destination in id order.
CREATE INDEX delivery_jobs_due ON delivery_jobs (destination_id, id);

-- Room on each page for retry updates to stay HOT (no new index entries).
CREATE TABLE delivery_jobs_1 PARTITION OF delivery_jobs FOR VALUES IN (1) WITH (fillfactor = 80);
INSERT INTO delivery_segments (segment, first_id) VALUES (1, 1);

-- Deliveries that will not succeed by retrying (a 4xx, a mapping error, too many attempts), with
-- the last request and response, until an operator replays or discards them.
CREATE TABLE dead_letters (
  id bigserial PRIMARY KEY,
  failed_at timestamptz NOT NULL DEFAULT now(),
  destination_id text NOT NULL,
  user_key text NOT NULL,
  source_id text NOT NULL,
  message_id text NOT NULL,
  received_at timestamptz NOT NULL,
  payload text NOT NULL,
  attempts integer NOT NULL,
  reason text NOT NULL,
  last_request text,
  last_response text
);
CREATE INDEX dead_letters_destination ON dead_letters (destination_id, id);
