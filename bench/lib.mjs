// Shared pieces of the benchmarks: a database to run against, the Sluice process, sample events,
// an HTTP load loop and percentile maths. Benchmarks print figures; they never pass or fail.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const WRITE_KEY = 'bench-write-key';

/** A fresh database on DATABASE_URL's server (else 127.0.0.1:5432), dropped by `drop()`. */
export async function benchDatabase() {
  const admin = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `sluice_bench_${process.pid}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${name}`);
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Starts `sluice start` as its own process (as in production) and resolves its URL. */
export async function startSluice(databaseUrl, { workspace, env = {} } = {}) {
  const workspaceFile = path.join(os.tmpdir(), `sluice-bench-${process.pid}.yaml`);
  writeFileSync(
    workspaceFile,
    workspace ?? `sources:\n  - id: bench\n    writeKey: ${WRITE_KEY}\n`,
  );
  // BENCH_NODE_ARGS passes flags to the Sluice process, e.g. --cpu-prof for a profile.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [
      '--no-node-snapshot',
      '--max-semi-space-size=64',
      ...nodeArgs,
      path.join(ROOT, 'dist/src/cli/main.js'),
      'start',
    ],
    {
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        SLUICE_WORKSPACE: workspaceFile,
        PORT: '0',
        HOST: '127.0.0.1',
        SLUICE_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
      if (match) resolve(match[1]);
      if (process.env.BENCH_LOG) process.stderr.write(chunk);
    });
    child.once('exit', (code) => reject(new Error(`sluice exited with ${code}: ${output}`)));
  });
  return {
    url,
    child,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

const PAGES = [
  '/pricing',
  '/docs/getting-started',
  '/blog/launch',
  '/checkout',
  '/account/settings',
];

/** A realistic analytics-next track event of about 750 bytes. */
export function sampleEvent(i, users = 10_000) {
  return {
    type: 'track',
    event: 'Product Viewed',
    userId: `user-${i % users}`,
    anonymousId: randomUUID(),
    messageId: `ajs-next-${Date.now()}-${randomUUID()}`,
    timestamp: new Date().toISOString(),
    properties: {
      product_id: `sku-${i % 5000}`,
      name: 'Monogram Canvas Tote',
      category: 'Bags',
      price: 49.99,
      currency: 'USD',
      position: i % 20,
    },
    context: {
      library: { name: 'analytics.js', version: 'next-1.84.3' },
      page: {
        path: PAGES[i % PAGES.length],
        referrer: 'https://www.google.com/',
        title: 'Shop',
        url: `https://shop.example${PAGES[i % PAGES.length]}`,
      },
      userAgent:
        'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      locale: 'en-US',
      timezone: 'Europe/Berlin',
    },
    integrations: {},
  };
}

/**
 * Cheap unique event texts for load generation: a few hundred pre-serialized events with a
 * userId (of `users`) and a counter messageId spliced in, so the client spends its CPU on sending,
 * not on JSON.
 */
export function eventTexts(users = 100_000) {
  const templates = Array.from({ length: 500 }, (_, i) => {
    const text = JSON.stringify({ ...sampleEvent(i), userId: '@USER@', messageId: '@ID@' });
    const [before, middle, after] = text.split(/@USER@|@ID@/);
    return { before, middle, after };
  });
  let counter = 0;
  return () => {
    const template = templates[counter % templates.length];
    const user = `user-${(counter * 7919) % users}`;
    return `${template.before}${user}${template.middle}bench-${process.pid}-${counter++}${template.after}`;
  };
}

/**
 * Runs `concurrency` request loops against `url` for `seconds` (after `warmup` seconds), each
 * sending `makeBody()`; returns requests, events and latencies of the measured window.
 */
export async function drive({
  url,
  path: route,
  concurrency,
  seconds,
  warmup = 1,
  makeBody,
  eventsPerRequest,
}) {
  const client = new Pool(url, {
    connections: concurrency,
    pipelining: 1,
    keepAliveTimeout: 60_000,
  });
  const auth = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
  const latencies = [];
  let requests = 0;
  let failures = 0;
  let measuring = false;
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const body = makeBody();
      const started = performance.now();
      const response = await client.request({
        path: route,
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body,
      });
      await response.body.dump();
      if (!measuring) continue;
      if (response.statusCode === 200) {
        requests++;
        latencies.push(performance.now() - started);
      } else failures++;
    }
  });
  await sleep(warmup * 1000);
  measuring = true;
  const started = performance.now();
  await sleep(seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  running = false;
  await Promise.all(loops);
  await client.close();
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: requests / elapsed,
    eventsPerSecond: (requests * eventsPerRequest) / elapsed,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    failures,
  };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function fmt(n, digits = 0) {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}
