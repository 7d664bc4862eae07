/**
 * Kysely types for the tables of migrations/*.sql and sluice_migrations (created by migrate.ts);
 * kept in step with the SQL by hand. The segment partitions (ingest_jobs_<n>, delivery_jobs_<n>)
 * are reached through their parent tables. int8 columns read as numbers (see database.ts), xid8
 * and uuid as strings.
 */
import type { ColumnType, Generated, GeneratedAlways } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface IngestSegmentsTable {
  segment: number;
  created_at: Generated<Timestamp>;
  first_id: number;
}

export interface IngestJobsTable {
  segment: number;
  id: Generated<number>;
  txid: Generated<string>;
  partition: number;
  source_id: string;
  message_id: string;
  received_at: Timestamp;
  payload: string;
}

export interface IngestCursorsTable {
  partition: number;
  txid: Generated<string>;
  id: Generated<number>;
}

export interface IngestMessageIdsTable {
  /** md5(source_id, 0x1f, message_id) as a uuid (see queue/message-ids.ts). */
  key: string;
  received_at: Timestamp;
}

export interface ProcessorMembersTable {
  member: string;
  heartbeat_at: Generated<Timestamp>;
}

export interface ProcessorLeasesTable {
  partition: number;
  member: string | null;
  expires_at: Generated<Timestamp>;
}

export interface FailedEventsTable {
  id: Generated<number>;
  failed_at: Generated<Timestamp>;
  source_id: string;
  destination_id: string;
  /** Null when the event failed in the processor outside any transformation. */
  transformation_id: string | null;
  message_id: string;
  user_key: string;
  received_at: Timestamp;
  error: string;
  stack: string | null;
  event: string;
}

export interface DeliverySegmentsTable {
  segment: number;
  created_at: Generated<Timestamp>;
  first_id: number;
}

export interface DeliveryJobsTable {
  segment: number;
  id: Generated<number>;
  destination_id: string;
  user_key: string;
  source_id: string;
  message_id: string;
  received_at: Timestamp;
  payload: string;
  attempts: Generated<number>;
  first_attempt_at: Timestamp | null;
  next_attempt_at: Generated<Timestamp>;
  last_error: string | null;
}

export interface DeadLettersTable {
  id: Generated<number>;
  failed_at: Generated<Timestamp>;
  destination_id: string;
  user_key: string;
  source_id: string;
  message_id: string;
  received_at: Timestamp;
  payload: string;
  attempts: number;
  reason: string;
  last_request: string | null;
  last_response: string | null;
}

export interface WarehouseStagingTable {
  id: GeneratedAlways<number>;
  destination_id: string;
  source_id: string;
  message_id: string;
  user_key: string;
  received_at: Timestamp;
  payload: string;
}

export interface WarehouseLoadsTable {
  destination_id: string;
  last_load_at: Timestamp | null;
  last_load_rows: number | null;
  last_load_tables: string[] | null;
  last_error: string | null;
  last_error_at: Timestamp | null;
  failing_since: Timestamp | null;
}

export interface MigrationsTable {
  id: number;
  name: string;
  applied_at: Generated<Timestamp>;
}

export interface Tables {
  ingest_segments: IngestSegmentsTable;
  ingest_jobs: IngestJobsTable;
  ingest_cursors: IngestCursorsTable;
  ingest_message_ids: IngestMessageIdsTable;
  processor_members: ProcessorMembersTable;
  processor_leases: ProcessorLeasesTable;
  failed_events: FailedEventsTable;
  delivery_segments: DeliverySegmentsTable;
  delivery_jobs: DeliveryJobsTable;
  dead_letters: DeadLettersTable;
  warehouse_staging: WarehouseStagingTable;
  warehouse_loads: WarehouseLoadsTable;
  sluice_migrations: MigrationsTable;
}
