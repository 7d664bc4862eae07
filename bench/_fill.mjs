// throwaway: fills a database with 100k delivery rows (gateway+processor only) for plan experiments
import { Pool } from 'undici';
import pg from 'pg';
import { eventTexts, startSluice, WRITE_KEY, sleep } from './lib.mjs';
const url = 'postgres://postgres@127.0.0.1:5432/sluice_exp';
const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
await admin.connect();
await admin.query('DROP DATABASE IF EXISTS sluice_exp WITH (FORCE)');
await admin.query('CREATE DATABASE sluice_exp');
await admin.end();
const workspace = `
sources:
  - { id: bench, writeKey: ${WRITE_KEY} }
destinations:
  - id: sink
    type: webhook
    config: { url: "http://127.0.0.1:9/x", batchSize: 100 }
connections:
  - { source: bench, destination: sink }
`;
const sluice = await startSluice(url, { workspace, env: { SLUICE_ROLES: 'gateway,processor', SLUICE_WORKERS: '1' } });
const client = new Pool(sluice.url, { connections: 8 });
const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
const nextEvent = eventTexts();
for (let i = 0; i < 1000; i += 8) {
  await Promise.all(Array.from({ length: 8 }, async () => {
    const body = `{"batch":[${Array.from({ length: 100 }, nextEvent).join(',')}]}`;
    const r = await client.request({ path: '/v1/batch', method: 'POST', headers: { authorization: auth }, body });
    await r.body.dump();
  }));
}
await sleep(8000);
await client.close();
await sluice.stop();
