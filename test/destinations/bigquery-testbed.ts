/**
 * The BigQuery destination wired as Sluice wires it (workspace config → connect), its real
 * client talking to the fake BigQuery (test/support/fake-bigquery.ts) with a service account
 * made for the test. The key's `universe_domain` is not Google's, so google-auth-library signs
 * a JWT itself instead of asking Google's token endpoint (verified with @google-cloud/bigquery
 * 8.3 and google-auth-library 10: see the test that watches every socket).
 */
import { generateKeyPairSync } from 'node:crypto';
import net from 'node:net';
import pino from 'pino';
import YAML from 'yaml';
import { destinationOf, validateDestinationConfig } from '../../destinations';
import type { WarehouseDestination } from '../../destinations/destination';
import { parseWorkspace } from '../../src/config/workspace';
import type { SegmentEvent } from '../../src/event';
import { eventRows, type TableRow } from '../../src/warehouse/event-rows';
import type { Warehouse } from '../../src/warehouse/warehouse';
import { startFakeBigQuery, type FakeBigQuery } from '../support/fake-bigquery';

export const PROJECT = 'acme-analytics';
export const DATASET = 'shop';
const CLIENT_EMAIL = 'sluice-loader@acme-analytics.iam.gserviceaccount.com';

export const bigquery = destinationOf('bigquery') as WarehouseDestination;

/** A service account key as Google issues them (JSON text), in a universe of its own. */
export function serviceAccount() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const json = JSON.stringify({
    type: 'service_account',
    project_id: PROJECT,
    private_key_id: 'a1b2c3d4e5f6',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    client_email: CLIENT_EMAIL,
    client_id: '1234567890',
    token_uri: 'https://oauth2.googleapis.com/token',
    universe_domain: 'sluice.test',
  });
  return { json, publicKey, clientEmail: CLIENT_EMAIL };
}

export interface Testbed {
  fake: FakeBigQuery;
  warehouse: Warehouse;
  config: Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * The fake BigQuery and a warehouse connected to it, configured through a workspace file as a
 * user would (the key from an environment variable); `config` adds to the destination's config.
 * With `trusted: 'another key'` the fake checks signatures against a key the client lacks.
 */
export async function startTestbed(
  config: Record<string, unknown> = {},
  { trusted = 'the key' }: { trusted?: 'the key' | 'another key' } = {},
): Promise<Testbed> {
  const account = serviceAccount();
  const publicKey = trusted === 'the key' ? account.publicKey : serviceAccount().publicKey;
  const fake = await startFakeBigQuery({ projectId: PROJECT, ...account, publicKey });
  const workspace = parseWorkspace(
    YAML.stringify({
      sources: [{ id: 'web', name: 'Shop', writeKey: 'shop-write-key' }],
      destinations: [
        {
          id: 'bq',
          type: 'bigquery',
          config: {
            projectId: PROJECT,
            location: 'EU',
            credentials: '${BQ_SERVICE_ACCOUNT_JSON}',
            apiEndpoint: fake.url,
            ...config,
          },
        },
      ],
      connections: [{ source: 'web', destination: 'bq' }],
    }),
    'sluice.yaml',
    {
      env: { BQ_SERVICE_ACCOUNT_JSON: account.json },
      validateDestination: validateDestinationConfig,
    },
  );
  // Frozen, as the workspace loader leaves every config: the client must cope.
  const parsed = workspace.destinations[0].config;
  const warehouse = bigquery.connect(parsed, { logger: pino({ level: 'silent' }) });
  return {
    fake,
    warehouse,
    config: parsed,
    close: async () => {
      await warehouse.close();
      await fake.close();
    },
  };
}

/** Segment's table rows of the events, as the loader hands them over. */
export function rowsOf(events: SegmentEvent[], uuidTs = '2024-05-01T12:01:00.000Z'): TableRow[] {
  return events.flatMap((event) => eventRows(event, bigquery.dialect, uuidTs));
}

/** Every TCP connection this process opens, as `host:port`, until `stop` is called. */
export function watchConnections(): { connections: string[]; stop(): void } {
  const connections: string[] = [];
  const connect = net.Socket.prototype.connect;
  // Every TCP client (http, https, tls) ends in Socket#connect, whose first argument is the
  // options (or, from net.connect, the normalized [options, callback]).
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const options = (typeof first === 'object' && first !== null ? first : {}) as {
      host?: string;
      port?: number;
      path?: string;
    };
    connections.push(options.path ?? `${options.host ?? 'localhost'}:${options.port}`);
    return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
  return { connections, stop: () => (net.Socket.prototype.connect = connect) };
}
