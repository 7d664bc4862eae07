/**
 * What Sluice gives away: logs at the default level carry codes, indexes and messageIds, never
 * write keys or the values of rejected fields (they can be emails); responses name no source id
 * and no file path; the admin API and metrics answer no CORS.
 */
import path from 'node:path';
import request from 'supertest';
import {
  BASIC_WORKSPACE,
  captureLogs,
  startTestSluice,
  WRITE_KEY,
  type LogCapture,
  type TestSluice,
} from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const EMAIL = 'alice.secret@example.com';
let database: TestDatabase;
let sluice: TestSluice;
let logs: LogCapture;

beforeAll(async () => {
  database = await createTestDatabase();
  logs = captureLogs();
  sluice = await startTestSluice(database, {
    workspace: `${BASIC_WORKSPACE}  - id: hidden-source-id
    writeKey: hidden-write-key
    enabled: false
transformations:
  - { id: missing, file: not-there.js }
`,
    settings: { adminToken: ADMIN_TOKEN, roles: ['gateway'] },
    logs,
  });
});
afterAll(async () => {
  await sluice?.stop();
  await database?.drop();
});

const admin = (call: request.Test) => call.set('Authorization', `Bearer ${ADMIN_TOKEN}`);

describe('logs', () => {
  test('rejected events are logged by code, index and messageId, not by the values sent', async () => {
    const response = await request(sluice.url)
      .post('/v1/batch')
      .auth(WRITE_KEY, '')
      .send({
        batch: [
          { type: 'track', userId: 'u1', event: 'Good' },
          { type: EMAIL, userId: 'u1', messageId: 'm-rejected' },
        ],
      })
      .expect(200);
    // The client is told what it sent wrong, value included.
    expect(response.body.rejected[0].message).toContain(EMAIL);
    const line = logs
      .text()
      .split('\n')
      .find((entry) => entry.includes('events rejected'));
    expect(JSON.parse(line!)).toMatchObject({
      rejected: [{ index: 1, messageId: 'm-rejected', code: 'SLUICE_E_INVALID_EVENT' }],
    });
    expect(logs.text()).not.toContain(EMAIL);
    expect(logs.text()).not.toContain(WRITE_KEY);
  });

  test('a pixel that is not stored is logged by its code, not by what it held', async () => {
    const data = Buffer.from(`{"userId": "${EMAIL}", "event": `).toString('base64');
    await request(sluice.url)
      .get(`/v1/pixel/track?writeKey=${WRITE_KEY}&data=${encodeURIComponent(data)}`)
      .expect(200);
    const line = logs
      .text()
      .split('\n')
      .find((entry) => entry.includes('pixel request not stored'));
    expect(JSON.parse(line!)).toMatchObject({ code: 'SLUICE_E_INVALID_JSON' });
    expect(logs.text()).not.toContain(EMAIL);
  });
});

describe('responses', () => {
  test('a disabled source is not named', async () => {
    const response = await request(sluice.url)
      .post('/v1/track')
      .auth('hidden-write-key', '')
      .send({ userId: 'u1', event: 'E' });
    expect(response.status).toBe(401);
    expect(response.body.code).toBe('SLUICE_E_SOURCE_DISABLED');
    expect(response.text).not.toContain('hidden-source-id');
  });

  test('a workspace problem is answered without its file path, which the log keeps', async () => {
    const dir = path.dirname(sluice.workspaceFile);
    const missing = await admin(request(sluice.url).post('/admin/transformations/test')).send({
      transformationId: 'missing',
      events: [{ type: 'track', userId: 'u', event: 'E' }],
    });
    expect(missing.status).toBe(500);
    expect(missing.body).toEqual({
      success: false,
      code: 'SLUICE_E_WORKSPACE_INVALID',
      message: 'The workspace file is invalid',
    });
    expect(logs.text()).toContain(path.join(dir, 'not-there.js'));

    const unknown = await admin(request(sluice.url).post('/admin/transformations/test')).send({
      transformationId: 'nope',
      events: [{ type: 'track', userId: 'u', event: 'E' }],
    });
    expect(unknown.status).toBe(404);
    expect(unknown.text).not.toContain(dir);
  });
});

describe('CORS', () => {
  test.each(['/admin/queues', '/admin/failed-events', '/metrics'])(
    '%s answers a cross-origin call, even with the token, without CORS; its preflight is refused',
    async (route) => {
      const preflight = await request(sluice.url)
        .options(route)
        .set('Origin', 'https://evil.example')
        .set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'authorization');
      expect(preflight.status).toBeGreaterThanOrEqual(400);
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
      const response = await admin(request(sluice.url).get(route)).set(
        'Origin',
        'https://evil.example',
      );
      expect(response.status).toBe(200);
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
      expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    },
  );
});
