/**
 * The BigQuery destination's parts that need no server: its workspace config (errors name the
 * field and never quote the key), the dataset a source loads into, the dialect from BigQuery's
 * docs, timestamps as load files carry them, and the MERGE text.
 */
import { inspect } from 'node:util';
import pino from 'pino';
import { clientOptionsOf, type BigQueryConfig } from '../../destinations/bigquery/bigquery-config';
import { bigQueryTimestamp } from '../../destinations/bigquery/bigquery-timestamp';
import {
  dedupWindowStart,
  mergeStatement,
  transactionScripts,
} from '../../destinations/bigquery/merge-statement';
import { validateDestinationConfig } from '../../destinations';
import { warehouseName } from '../../src/warehouse/naming';
import type { TableLoad } from '../../src/warehouse/load-plan';
import { bigquery, serviceAccount } from './bigquery-testbed';
import { configError, testConfigErrors } from './support';

const { json: KEY } = serviceAccount();
const key = JSON.parse(KEY);
const withKey = (fields: Record<string, unknown>) => JSON.stringify({ ...key, ...fields });

describe('config', () => {
  testConfigErrors('bigquery', [
    [{}, 'projectId: required'],
    [{ projectId: 'Acme Analytics' }, 'projectId: must be a Google Cloud project ID'],
    [{ projectId: 'acme-analytics', dataset: 'shop-events' }, 'dataset: must be 1-1024 letters'],
    [{ projectId: 'acme-analytics', location: 'EU west' }, 'location: must be a BigQuery location'],
    [{ projectId: 'acme-analytics', apiEndpoint: 'localhost:9050' }, 'apiEndpoint: Invalid URL'],
    [{ projectId: 'acme-analytics', syncIntervalSeconds: 0 }, 'syncIntervalSeconds:'],
    [{ projectId: 'acme-analytics', table: 'x' }, 'table: unknown field'],
    [
      { projectId: 'acme-analytics', credentials: 'not json' },
      'credentials: must be a service account key (JSON)',
    ],
    [{ projectId: 'acme-analytics', credentials: '[]' }, 'credentials: Invalid input'],
    [
      { projectId: 'acme-analytics', credentials: withKey({ type: 'authorized_user' }) },
      'credentials.type: must be "service_account"',
    ],
    [
      { projectId: 'acme-analytics', credentials: withKey({ client_email: undefined }) },
      'credentials.client_email: required',
    ],
    [
      { projectId: 'acme-analytics', credentials: withKey({ client_email: 'loader' }) },
      "credentials.client_email: must be the service account's email",
    ],
    [
      { projectId: 'acme-analytics', credentials: withKey({ private_key: 'secret' }) },
      'credentials.private_key: must be a PEM private key',
    ],
  ]);

  test('an error about the key never quotes it', () => {
    const broken = `${KEY.slice(0, -1)},}`;
    const message = configError('bigquery', { projectId: 'acme-analytics', credentials: broken });
    expect(message).toBe('credentials: must be a service account key (JSON)');
    const almost = withKey({ type: 'user' });
    expect(
      configError('bigquery', { projectId: 'acme-analytics', credentials: almost }),
    ).not.toContain('PRIVATE');
  });

  test('defaults, and domain-scoped project IDs', () => {
    expect(
      validateDestinationConfig({
        type: 'bigquery',
        config: { projectId: 'example.com:acme-analytics' },
      }),
    ).toEqual({
      projectId: 'example.com:acme-analytics',
      syncIntervalSeconds: 60,
    });
  });

  test('the parsed key prints as a placeholder wherever the config is logged, and its secrets are listed for masking', () => {
    const config = validateDestinationConfig({
      type: 'bigquery',
      config: { projectId: 'acme-analytics', credentials: KEY },
    }) as BigQueryConfig;
    const lines: string[] = [];
    pino({}, { write: (line: string) => lines.push(line) }).info({ config }, 'destination');
    for (const printed of [
      JSON.stringify(config),
      inspect(config, { depth: 10 }),
      lines.join(''),
    ]) {
      expect(printed).toContain('[service account key]');
      expect(printed).not.toContain('PRIVATE KEY');
      expect(printed).not.toContain(key.client_email);
    }
    // The client reads the fields themselves.
    expect(clientOptionsOf(config).credentials).toMatchObject({
      client_email: key.client_email,
      private_key: key.private_key,
    });
    expect(bigquery.credentialsOf!(config)).toEqual([key.private_key, key.private_key_id]);
  });

  test('without credentials the client finds Application Default Credentials itself', () => {
    const config = validateDestinationConfig({
      type: 'bigquery',
      config: { projectId: 'acme-analytics', location: 'EU' },
    }) as BigQueryConfig;
    expect(clientOptionsOf(config)).toEqual({ projectId: 'acme-analytics', location: 'EU' });
    expect(bigquery.credentialsOf!(config)).toEqual([]);
  });

  test('the dataset is the configured one, else the source name in snake_case', () => {
    const config = (fields: Record<string, unknown> = {}) =>
      validateDestinationConfig({
        type: 'bigquery',
        config: { projectId: 'acme-analytics', ...fields },
      });
    expect(bigquery.schemaOf(config({ dataset: 'events' }), { id: 'web', name: 'Shop' })).toBe(
      'events',
    );
    expect(bigquery.schemaOf(config(), { id: 'web', name: 'Acme Web Shop' })).toBe('acme_web_shop');
    expect(bigquery.schemaOf(config(), { id: 'web', name: 'Select' })).toBe('_select');
    expect(bigquery.schemaOf(config(), { id: 'ios-app' })).toBe('ios_app');
    expect(bigquery.schemaOf(config(), { id: 'web-2', name: '•••' })).toBe('web_2');
    expect(bigquery.schemaOf(config(), { id: '--', name: '•••' })).toBe('sluice');
    expect(bigquery.syncIntervalSeconds(config({ syncIntervalSeconds: 300 }))).toBe(300);
  });
});

describe('dialect', () => {
  const name = (text: string) => warehouseName(text, bigquery.dialect);

  test('reserved keywords of GoogleSQL get a `_`, other words do not', () => {
    for (const word of ['select', 'from', 'group', 'qualify', 'within', 'assert_rows_modified']) {
      expect(name(word)).toBe(`_${word}`);
    }
    for (const word of ['user', 'table', 'date', 'timestamp', 'values', 'event']) {
      expect(name(word)).toBe(word);
    }
    expect(bigquery.dialect.reservedWords.size).toBe(96);
  });

  test('names beginning as BigQuery reserves get a `_`, including the reserved word `partition`', () => {
    expect(name('_table_suffix')).toBe('__table_suffix');
    expect(name('_file_name')).toBe('__file_name');
    expect(name('_partitiondate')).toBe('__partitiondate');
    expect(name('partition')).toBe('__partition');
    expect(name('_colidentifier')).toBe('__colidentifier');
    expect(name('_change_type')).toBe('__change_type');
    expect(name('table_name')).toBe('table_name');
  });

  test('names are cut to 300 characters, ending in a hash of the whole', () => {
    const long = name(`a${'b'.repeat(400)}`)!;
    expect(long).toHaveLength(300);
    expect(name(`a${'b'.repeat(400)}c`)).not.toBe(long);
    expect(name('c'.repeat(300))).toBe('c'.repeat(300));
    expect(bigquery.dialect.maxColumns).toBe(10_000);
  });

  test('strings hold any well-formed text, NUL included; a lone surrogate has no UTF-8', () => {
    expect(bigquery.dialect.canStore('a\u0000b')).toBe(true);
    expect(bigquery.dialect.canStore('emoji 😀 and ü')).toBe(true);
    expect(bigquery.dialect.canStore('half \ud83d of a pair')).toBe(false);
    expect(bigquery.dialect.canStore('\udc00')).toBe(false);
  });
});

test.each([
  ['2024-05-01T12:00:00.000Z', '2024-05-01T12:00:00.000000Z'],
  ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.000000Z'],
  ['2024-05-01T12:00:00.123456789z', '2024-05-01T12:00:00.123456Z'],
  ['2024-05-01 23:30:00+0200', '2024-05-01T21:30:00.000000Z'],
  ['2024-05-01T00:30:00-02:30', '2024-05-01T03:00:00.000000Z'],
  ['2024-05-01T12:00+02', '2024-05-01T10:00:00.000000Z'],
  ['2024-05-01', '2024-05-01T00:00:00.000000Z'],
  ['2024-02-29T23:59:59.5Z', '2024-02-29T23:59:59.500000Z'],
  ['0050-03-01T00:00:00Z', '0050-03-01T00:00:00.000000Z'],
  ['9999-12-31T23:59:59.999999Z', '9999-12-31T23:59:59.999999Z'],
  ['0001-01-01T00:30:00+01:00', undefined],
  ['9999-12-31T23:30:00-01:00', undefined],
  ['yesterday', undefined],
])('the timestamp %s is loaded as %s', (text, loaded) => {
  expect(bigQueryTimestamp(text)).toBe(loaded);
});

describe('MERGE', () => {
  const spec = {
    target: '`p.d.order_completed`',
    staging: '`p.d._sluice_load_1_order_completed`',
    keys: ['id'],
    columns: ['id', 'received_at', 'revenue'],
  };

  test('an insert table (events) leaves a row already there as it is: an id is one event', () => {
    expect(mergeStatement({ ...spec, write: 'insert', since: '2024-04-24' })).toBe(
      [
        'MERGE `p.d.order_completed` AS t',
        'USING `p.d._sluice_load_1_order_completed` AS s',
        "ON t.`id` = s.`id` AND t.`received_at` >= TIMESTAMP '2024-04-24 00:00:00+00'",
        'WHEN NOT MATCHED THEN INSERT (`id`, `received_at`, `revenue`) VALUES (s.`id`, s.`received_at`, s.`revenue`);',
      ].join('\n'),
    );
  });

  test('a merge table keeps what the new row leaves NULL, the later version winning', () => {
    expect(mergeStatement({ ...spec, write: 'merge' })).toBe(
      [
        'MERGE `p.d.order_completed` AS t',
        'USING `p.d._sluice_load_1_order_completed` AS s',
        'ON t.`id` = s.`id`',
        'WHEN MATCHED AND (t.`received_at` IS NULL OR s.`received_at` >= t.`received_at`) THEN UPDATE SET `received_at` = COALESCE(s.`received_at`, t.`received_at`), `revenue` = COALESCE(s.`revenue`, t.`revenue`)',
        'WHEN MATCHED THEN UPDATE SET `received_at` = COALESCE(t.`received_at`, s.`received_at`), `revenue` = COALESCE(t.`revenue`, s.`revenue`)',
        'WHEN NOT MATCHED THEN INSERT (`id`, `received_at`, `revenue`) VALUES (s.`id`, s.`received_at`, s.`revenue`);',
      ].join('\n'),
    );
  });

  test('a row of keys only is inserted or left', () => {
    expect(
      mergeStatement({ ...spec, columns: ['id'], write: 'insert' })
        .split('\n')
        .slice(3),
    ).toEqual(['WHEN NOT MATCHED THEN INSERT (`id`) VALUES (s.`id`);']);
  });

  const tableLoad = (write: TableLoad['write'], receivedAt: Array<string | null>): TableLoad => ({
    table: 'order_completed',
    write,
    columns: ['id', 'received_at'],
    types: ['string', 'timestamp'],
    rows: receivedAt.map((value, index) => [`id-${index}`, value]),
  });

  test('the dedup window starts a week before the earliest row, at the start of that day', () => {
    expect(
      dedupWindowStart(tableLoad('insert', ['2024-05-03T01:00:00+02:00', '2024-05-09T00:00:00Z'])),
    ).toBe('2024-04-25');
    // Users are one row each however old; a row without received_at could be anywhere.
    expect(dedupWindowStart(tableLoad('merge', ['2024-05-03T00:00:00Z']))).toBeUndefined();
    expect(dedupWindowStart(tableLoad('insert', ['2024-05-03T00:00:00Z', null]))).toBeUndefined();
  });

  test('a load is one transaction, split only at the limits of BigQuery: 100 tables, 1 MB of text', () => {
    const scripts = transactionScripts(
      Array.from({ length: 150 }, (_, index) => `MERGE ${index};`),
    );
    expect(scripts.map((script) => script.split('\n').length)).toEqual([102, 52]);
    expect(scripts[0]).toMatch(/^BEGIN TRANSACTION;\nMERGE 0;\n/);
    expect(scripts[0]).toMatch(/\nMERGE 99;\nCOMMIT TRANSACTION;$/);
    expect(scripts[1]).toMatch(/^BEGIN TRANSACTION;\nMERGE 100;\n/);

    const wide = transactionScripts(['x'.repeat(600_000), 'y'.repeat(390_000), 'z'.repeat(20_000)]);
    expect(wide.map((script) => script.replace(/[^xyz]/g, '').length)).toEqual([990_000, 20_000]);
    for (const script of wide) expect(script.length).toBeLessThan(1024 * 1024);
  });
});
