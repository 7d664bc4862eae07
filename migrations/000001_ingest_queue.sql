-- The ingest queue: one row per accepted event, written once by the gateway and never updated.
--
-- Rows are read in (txid, id) order per partition (a hash of the user) by the processor, which
-- records how far it got in ingest_cursors in the same transaction as its output. Reading only
-- rows whose txid is below the oldest running transaction (pg_snapshot_xmin) makes that order
-- final: no row can later appear before a cursor, whatever order concurrent writers commit in.
--
-- The table is LIST-partitioned into segments. The gateway always writes into the newest
-- segment; the maintenance task starts a new segment when the head is large or old enough and
-- drops a whole older segment once every partition's cursor has passed all of its rows, so the
-- database holds the backlog and no more (no DELETE, no dead tuples).

CREATE TABLE ingest_segments (
  segment bigint PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The next id ingest_jobs_id_seq was to hand out when the segment became the head: tells the
  -- head's size without a count.
  first_id bigint NOT NULL
);

CREATE SEQUENCE ingest_jobs_id_seq AS bigint;

CREATE TABLE ingest_jobs (
  segment bigint NOT NULL,
  id bigint NOT NULL DEFAULT nextval('ingest_jobs_id_seq'),
  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  partition smallint NOT NULL,
  source_id text NOT NULL,
  message_id text NOT NULL,
  received_at timestamptz NOT NULL,
  -- The normalized event as JSON text: text loads faster than jsonb and is never queried into.
  payload text NOT NULL
) PARTITION BY LIST (segment);

CREATE INDEX ingest_jobs_read_order ON ingest_jobs (partition, txid, id);

CREATE TABLE ingest_jobs_1 PARTITION OF ingest_jobs FOR VALUES IN (1);
INSERT INTO ingest_segments (segment, first_id) VALUES (1, 1);

-- How far the processor has read each partition; 64 partitions, fixed.
CREATE TABLE ingest_cursors (
  partition smallint PRIMARY KEY,
  txid xid8 NOT NULL DEFAULT '0',
  id bigint NOT NULL DEFAULT 0
);
INSERT INTO ingest_cursors (partition) SELECT generate_series(0, 63);

-- messageIds seen per source, for deduplicating SDK retries within the dedup window: the processor
-- records each event's key here in the transaction that hands it on, and drops an event whose key
-- is already present. (Checking at the gateway instead costs a third of its throughput.) The key is
-- md5(source_id, 0x1f, message_id) as a uuid: a fixed 16 bytes, cheaper to index and compare than
-- the text pair, and collision-free in practice.
CREATE TABLE ingest_message_ids (
  key uuid PRIMARY KEY,
  received_at timestamptz NOT NULL
);
-- BRIN: rows arrive in time order, so expiry finds old rows without a btree on every insert.
CREATE INDEX ingest_message_ids_received_at ON ingest_message_ids USING brin (received_at);
