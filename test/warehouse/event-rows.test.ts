// Segment's warehouse schema, from events as the gateway stores them: names, tables, columns and
// the load plan's types, conversions and discards.
import { POSTGRES_DIALECT } from '../../destinations/postgres/dialect';
import type { SegmentEvent } from '../../src/event';
import { eventRows, isTimestamp, type TableRow } from '../../src/warehouse/event-rows';
import { planLoad } from '../../src/warehouse/load-plan';
import { snakeCase, warehouseName } from '../../src/warehouse/naming';

const LOADED_AT = '2024-05-01T12:05:00.000Z';

function event(fields: Partial<SegmentEvent>): SegmentEvent {
  return {
    type: 'track',
    messageId: 'm-1',
    userId: 'u-1',
    anonymousId: 'a-1',
    receivedAt: '2024-05-01T12:00:01.000Z',
    sentAt: '2024-05-01T12:00:00.500Z',
    timestamp: '2024-05-01T12:00:00.000Z',
    originalTimestamp: '2024-05-01T12:00:00.000Z',
    context: { ip: '203.0.113.0', library: { name: 'analytics.js', version: '1.0' } },
    ...fields,
  } as SegmentEvent;
}

const cellsOf = (row: TableRow) =>
  Object.fromEntries(row.columns.map((column, i) => [column, row.values[i]]));

describe('names', () => {
  test.each([
    ['sample text', 'sample_text'],
    ['sample-text', 'sample_text'],
    ['sample___text', 'sample_text'],
    ['sampleText', 'sample_text'],
    ['inviteYourCustomersAddInvites', 'invite_your_customers_add_invites'],
    ['   $#$sample   2    Text   ', 'sample_2_text'],
    ['SAMPLE 2 TEXT', 'sample_2_text'],
    ['___$$Base64Encode', 'base64_encode'],
    ['FOO:BAR$BAZ', 'foo_bar_baz'],
    ['something.com', 'something_com'],
    ['CStringRef', 'cstring_ref'],
    ['2FA Enabled', '2fa_enabled'],
    ['f_pX9', 'f_p_x9'],
    ['•¶§ƒ˚foo˙∆˚¬', 'foo'],
    ['Order Completed', 'order_completed'],
    ['_already_snake', '_already_snake'],
  ])('snake_case of %j is %j (segmentio/go-snakecase)', (text, snake) => {
    expect(snakeCase(text)).toBe(snake);
  });

  test('reserved words and leading digits get a _; nothing left means no name', () => {
    expect(warehouseName('order', POSTGRES_DIALECT)).toBe('_order');
    expect(warehouseName('User', POSTGRES_DIALECT)).toBe('_user');
    expect(warehouseName('3 doctors', POSTGRES_DIALECT)).toBe('_3_doctors');
    expect(warehouseName('•¶§', POSTGRES_DIALECT)).toBeUndefined();
  });

  test('names are cut to the limit without colliding, the same way every time', () => {
    const long = (suffix: string) => `${'very long property name '.repeat(5)}${suffix}`;
    const a = warehouseName(long('a'), POSTGRES_DIALECT)!;
    const b = warehouseName(long('b'), POSTGRES_DIALECT)!;
    expect(a.length).toBeLessThanOrEqual(63);
    expect(b.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    expect(warehouseName(long('a'), POSTGRES_DIALECT)).toBe(a);
  });

  test('ISO-8601 text is a timestamp only when every field is a real date and time', () => {
    for (const text of ['2024-05-01T12:00:00.000Z', '2024-05-01', '2024-02-29T23:59:59+05:30']) {
      expect([text, isTimestamp(text)]).toEqual([text, true]);
    }
    for (const text of ['2023-02-29', '2024-13-01', '0000-01-01', '2024-05-01T24:00', 'May 1']) {
      expect([text, isTimestamp(text)]).toEqual([text, false]);
    }
  });
});

describe('tables and columns', () => {
  test('a track: tracks with the common columns, and its own table with the properties', () => {
    const rows = eventRows(
      event({
        event: 'Order Completed',
        properties: {
          revenue: 42.5,
          orderId: 'o-1',
          coupon: null,
          products: [{ sku: 's-1' }],
          shipping: { method: 'Express', cost: 5 },
          id: 'not the event id',
        },
      }),
      POSTGRES_DIALECT,
      LOADED_AT,
    );
    expect(rows.map((row) => row.table)).toEqual(['tracks', 'order_completed']);
    const common = {
      id: 'm-1',
      anonymous_id: 'a-1',
      user_id: 'u-1',
      received_at: '2024-05-01T12:00:01.000Z',
      sent_at: '2024-05-01T12:00:00.500Z',
      timestamp: '2024-05-01T12:00:00.000Z',
      original_timestamp: '2024-05-01T12:00:00.000Z',
      uuid_ts: LOADED_AT,
      context_ip: '203.0.113.0',
      context_library_name: 'analytics.js',
      context_library_version: '1.0',
      event: 'order_completed',
      event_text: 'Order Completed',
    };
    expect(cellsOf(rows[0])).toEqual(common);
    expect(cellsOf(rows[1])).toEqual({
      ...common,
      revenue: 42.5,
      order_id: 'o-1',
      products: '[{"sku":"s-1"}]',
      shipping_method: 'Express',
      shipping_cost: 5,
    });
    // A property named like a column Sluice writes is discarded, as Segment does, not lost.
    expect(rows[1].discards).toEqual([
      expect.objectContaining({ table: 'order_completed', column: 'id', rowId: 'm-1' }),
    ]);
  });

  test('a key that names no column, or a column named already, is discarded with the reason', () => {
    const [, row] = eventRows(
      event({ event: 'Odd Keys', properties: { '•¶§': 1, Plan: 'a', plan: 'b' } }),
      POSTGRES_DIALECT,
      LOADED_AT,
    );
    expect(cellsOf(row)).toMatchObject({ plan: 'a' });
    expect(row.discards.map((d) => [d.column, d.value, d.reason])).toEqual([
      ['•¶§', '1', 'no column name can be made of the key (it has no letters or digits)'],
      ['plan', '"b"', 'another key of the event is named "plan" too'],
    ]);
  });

  test('an event named like a Segment table gets a _ table', () => {
    const rows = eventRows(event({ event: 'Pages' }), POSTGRES_DIALECT, LOADED_AT);
    expect(rows.map((row) => row.table)).toEqual(['tracks', '_pages']);
  });

  test('identify: identifies with the traits, users keyed by user_id; context.traits count too', () => {
    const rows = eventRows(
      event({
        type: 'identify',
        traits: { plan: 'pro', name: 'Ada' },
        context: { traits: { email: 'ada@example.com', plan: 'free' } },
      }),
      POSTGRES_DIALECT,
      LOADED_AT,
    );
    expect(rows.map((row) => [row.table, row.write])).toEqual([
      ['identifies', 'insert'],
      ['users', 'merge'],
    ]);
    expect(cellsOf(rows[0])).toMatchObject({ plan: 'pro', name: 'Ada', email: 'ada@example.com' });
    expect(cellsOf(rows[1])).toEqual({
      id: 'u-1',
      received_at: '2024-05-01T12:00:01.000Z',
      uuid_ts: LOADED_AT,
      plan: 'pro',
      name: 'Ada',
      email: 'ada@example.com',
    });
  });

  test('page, screen, group and alias tables with their own columns', () => {
    const tables = (fields: Partial<SegmentEvent>) =>
      eventRows(event(fields), POSTGRES_DIALECT, LOADED_AT).map((row) => [row.table, cellsOf(row)]);
    expect(tables({ type: 'page', name: 'Pricing', properties: { plan: 'pro' } })).toEqual([
      ['pages', expect.objectContaining({ name: 'Pricing', plan: 'pro' })],
    ]);
    expect(tables({ type: 'screen', name: 'Home' })).toEqual([
      ['screens', expect.objectContaining({ name: 'Home' })],
    ]);
    expect(tables({ type: 'group', groupId: 'g-1', traits: { size: 5 } })).toEqual([
      ['groups', expect.objectContaining({ group_id: 'g-1', size: 5 })],
    ]);
    expect(tables({ type: 'alias', previousId: 'a-0' })).toEqual([
      ['aliases', expect.objectContaining({ previous_id: 'a-0' })],
    ]);
  });
});

describe('the load plan', () => {
  const track = (id: string, properties: Record<string, unknown>) =>
    eventRows(
      event({ messageId: id, event: 'Signed Up', properties }),
      POSTGRES_DIALECT,
      LOADED_AT,
    );

  test('a column takes the type of the first value; later values convert or are discarded', () => {
    const rows = [
      ...track('m-1', { plan: 'pro', seats: 3, ratio: 0.5, active: true, at: '2024-05-01' }),
      ...track('m-2', { plan: 7, seats: 2.5, ratio: 2, active: 'yes', at: 'soon' }),
    ];
    const plan = planLoad(new Map(), rows, POSTGRES_DIALECT);
    expect(Object.fromEntries(plan.createTables.get('signed_up')!)).toMatchObject({
      plan: 'string',
      seats: 'float', // 3, then 2.5: a number column made by the load takes fractions
      ratio: 'float',
      active: 'boolean',
      at: 'timestamp',
    });
    const table = plan.tables.find((t) => t.table === 'signed_up')!;
    const second = Object.fromEntries(table.columns.map((c, i) => [c, table.rows[1][i]]));
    expect(second).toMatchObject({ plan: '7', seats: 2.5, ratio: 2, active: null, at: null });
    expect(plan.discards.map((d) => [d.column, d.value, d.reason])).toEqual([
      ['active', '"yes"', 'a string in a boolean column'],
      ['at', '"soon"', 'a string in a timestamp column'],
    ]);
  });

  test('a column that exists keeps its type; only new columns are planned', () => {
    const existing = new Map([
      [
        'signed_up',
        new Map([
          ['id', 'string' as const],
          ['plan', 'int' as const],
        ]),
      ],
    ]);
    const plan = planLoad(existing, track('m-1', { plan: 1.5, seats: 3 }), POSTGRES_DIALECT);
    expect(plan.createTables.has('signed_up')).toBe(false);
    expect(Object.keys(Object.fromEntries(plan.addColumns.get('signed_up')!))).not.toContain(
      'plan',
    );
    expect(plan.addColumns.get('signed_up')!.get('seats')).toBe('int');
    expect(plan.discards).toEqual([
      expect.objectContaining({ column: 'plan', reason: 'a float in a int column' }),
    ]);
  });

  test('text the warehouse cannot store, and columns past the limit, go to the discards', () => {
    const narrow = { ...POSTGRES_DIALECT, maxColumns: 16 }; // 13 common columns, then 3
    const plan = planLoad(
      new Map(),
      track('m-1', { nul: 'a\u0000b', a: 1, b: 2, c: 3, d: 4, e: 5 }),
      narrow,
    );
    const reasons = plan.discards.map((d) => `${d.table}.${d.column}: ${d.reason}`);
    expect(reasons).toContain(
      'signed_up.nul: text the warehouse cannot store (a NUL or a lone surrogate)',
    );
    expect(reasons.filter((r) => r.includes('most columns allowed (16)'))).toEqual([
      'signed_up.c: the table has the most columns allowed (16)',
      'signed_up.d: the table has the most columns allowed (16)',
      'signed_up.e: the table has the most columns allowed (16)',
    ]);
    expect(plan.createTables.get('signed_up')!.size).toBe(16);
  });

  test('rows with one id become one: the last, or for users all of them merged', () => {
    const identify = (id: string, traits: Record<string, unknown>) =>
      eventRows(event({ type: 'identify', messageId: id, traits }), POSTGRES_DIALECT, LOADED_AT);
    const plan = planLoad(
      new Map(),
      [
        ...identify('m-1', { plan: 'free', name: 'Ada' }),
        ...identify('m-2', { plan: 'pro' }),
        ...identify('m-2', { plan: 'pro' }),
      ],
      POSTGRES_DIALECT,
    );
    const users = plan.tables.find((t) => t.table === 'users')!;
    expect(users.rows).toHaveLength(1);
    const user = Object.fromEntries(users.columns.map((c, i) => [c, users.rows[0][i]]));
    expect(user).toMatchObject({ id: 'u-1', plan: 'pro', name: 'Ada' });
    expect(plan.tables.find((t) => t.table === 'identifies')!.rows).toHaveLength(2);
  });
});
