/**
 * The console's side of the admin API: signing in for a session cookie, the cross-site check on
 * changes made with it, and the data routes (sources, destinations and the workspace with their
 * secrets masked, transformations' code, activity).
 */
import { writeFileSync } from 'node:fs';
import request from 'supertest';
import { eventually } from '../support/eventually';
import { startTestSluice, WRITE_KEY, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const ADMIN_TOKEN = 'console-admin-token-0123456789';
const HOOK_SECRET = 'hook-header-secret-123';
let database: TestDatabase;
let sluice: TestSluice;

const WORKSPACE = `
sources:
  - { id: web, name: Website, writeKey: ${WRITE_KEY} }
destinations:
  - id: hook
    type: webhook
    config: { url: "https://hooks.example.com/in", headers: { X-Secret: "${HOOK_SECRET}" } }
connections:
  - { source: web, destination: hook }
`;

beforeAll(async () => {
  database = await createTestDatabase();
  sluice = await startTestSluice(database, {
    workspace: WORKSPACE,
    settings: { adminToken: ADMIN_TOKEN, roles: ['gateway'] },
  });
});
afterAll(async () => {
  await sluice?.stop();
  await database?.drop();
});

async function signIn(): Promise<string> {
  const response = await request(sluice.url)
    .post('/console/session')
    .set('X-Sluice-Console', '1')
    .send({ token: ADMIN_TOKEN });
  expect(response.status).toBe(200);
  const cookie = String(response.headers['set-cookie']);
  expect(cookie).toMatch(
    /^sluice_console=\d+\.[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/,
  );
  return cookie.split(';')[0];
}

test('signing in takes the admin token and the console’s header', async () => {
  const wrong = await request(sluice.url)
    .post('/console/session')
    .set('X-Sluice-Console', '1')
    .send({ token: 'not-the-token-at-all-000' });
  expect([wrong.status, wrong.body.code]).toEqual([401, 'SLUICE_E_UNAUTHORIZED']);
  const foreign = await request(sluice.url).post('/console/session').send({ token: ADMIN_TOKEN });
  expect([foreign.status, foreign.body.code]).toEqual([403, 'SLUICE_E_CROSS_SITE']);
  expect(await signIn()).toMatch(/^sluice_console=/);
});

test('the session reads the admin API; changes need the console’s header and no foreign Origin', async () => {
  const cookie = await signIn();
  expect((await request(sluice.url).get('/admin/queues')).status).toBe(401);
  expect((await request(sluice.url).get('/admin/queues').set('Cookie', cookie)).status).toBe(200);
  const replay = (headers: Record<string, string>) =>
    request(sluice.url).post('/admin/dead-letters/replay').set(headers).send({});
  const bare = await replay({ Cookie: cookie });
  expect([bare.status, bare.body.code]).toEqual([403, 'SLUICE_E_CROSS_SITE']);
  const foreign = await replay({
    Cookie: cookie,
    'X-Sluice-Console': '1',
    Origin: 'https://evil.example',
  });
  expect([foreign.status, foreign.body.code]).toEqual([403, 'SLUICE_E_CROSS_SITE']);
  const own = await replay({ Cookie: cookie, 'X-Sluice-Console': '1' });
  expect([own.status, own.body]).toEqual([200, { replayed: 0 }]);
  // Scripts keep using the bearer token, without the console's header.
  const script = await request(sluice.url)
    .post('/admin/dead-letters/replay')
    .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
    .send({});
  expect(script.status).toBe(200);
  // A forged or expired cookie is no session.
  const forged = cookie.replace(/\.[0-9a-f]{64}$/, `.${'0'.repeat(64)}`);
  expect((await request(sluice.url).get('/admin/queues').set('Cookie', forged)).status).toBe(401);
});

test('sources carry their write keys; destinations and the workspace mask their secrets', async () => {
  const cookie = await signIn();
  const sources = await request(sluice.url).get('/admin/sources').set('Cookie', cookie);
  expect(sources.body.sources).toEqual([
    expect.objectContaining({
      id: 'web',
      name: 'Website',
      writeKey: WRITE_KEY,
      destinations: ['hook'],
    }),
  ]);
  expect(sources.body.publicUrl).toMatch(/^http:\/\//);
  const destinations = await request(sluice.url).get('/admin/destinations').set('Cookie', cookie);
  expect(JSON.stringify(destinations.body)).not.toContain(HOOK_SECRET);
  expect(destinations.body.destinations[0]).toMatchObject({
    id: 'hook',
    type: 'webhook',
    kind: 'tool',
    config: { headers: { 'X-Secret': '[redacted]' } },
  });
  const workspace = await request(sluice.url).get('/admin/workspace').set('Cookie', cookie);
  const text = JSON.stringify(workspace.body);
  expect(text).not.toContain(HOOK_SECRET);
  expect(text).not.toContain(WRITE_KEY);
  expect(workspace.body).toMatchObject({ file: 'sluice.yaml', lastRefusedEdit: null });
});

test('an edit of the workspace that is refused shows with its reason; the last good one stays', async () => {
  const cookie = await signIn();
  writeFileSync(sluice.workspaceFile, 'sources:\n  - { id: web }\n');
  expect(sluice.workspace.reload()).toBe(false);
  const workspace = await request(sluice.url).get('/admin/workspace').set('Cookie', cookie);
  expect(workspace.body.lastRefusedEdit.message).toMatch(/writeKey/);
  expect(workspace.body.sources).toHaveLength(1);
  writeFileSync(sluice.workspaceFile, WORKSPACE);
  expect(sluice.workspace.reload()).toBe(true);
  const fixed = await request(sluice.url).get('/admin/workspace').set('Cookie', cookie);
  expect(fixed.body.lastRefusedEdit).toBeNull();
});

test('activity counts the events accepted per minute', async () => {
  const cookie = await signIn();
  const response = await request(sluice.url)
    .post('/v1/track')
    .auth(WRITE_KEY, '')
    .send({ userId: 'u1', event: 'Counted' });
  expect(response.status).toBe(200);
  await eventually(async () => {
    const activity = await request(sluice.url).get('/admin/activity').set('Cookie', cookie);
    const accepted = (
      activity.body.minutes as Array<{ sources: Record<string, { accepted: number }> }>
    )
      .map((minute) => minute.sources.web?.accepted ?? 0)
      .reduce((sum, n) => sum + n, 0);
    expect(accepted).toBeGreaterThanOrEqual(1);
  }, 30_000);
});
