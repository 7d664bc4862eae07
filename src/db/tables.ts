/** Kysely types for the tables that ordinary (non hot-path) queries touch. */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface IngestSegmentsTable {
  segment: number;
  created_at: Generated<Timestamp>;
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
  txid: string;
  id: number;
}

export interface IngestMessageIdsTable {
  source_id: string;
  message_id: string;
  received_at: Timestamp;
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
  sluice_migrations: MigrationsTable;
}
