/**
 * analytics.js in a real headless Chromium: the stock Segment snippet with only its script host
 * changed to Sluice loads the bundle, its settings and its lazy chunks from Sluice, delivers its
 * events cross-origin (real CORS preflights, since analytics-next sends an Authorization header),
 * and never talks to Segment.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { SegmentEvent } from '../../src/event';
import { eventually } from '../support/eventually';
import { storedJobs, type StoredJob } from '../support/ingest';
import { startTestSluice, WRITE_KEY, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

interface SeenRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

let database: TestDatabase;
let sluice: TestSluice;
let site: http.Server;
let siteUrl: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Every request the browser made in the current test, in order. */
let requests: SeenRequest[];
/** Requests that got no response, and errors thrown in the page. */
let problems: string[];
/** The HTML the test site serves, set by each test. */
let html = '';

const BASIC_AUTH = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;

beforeAll(async () => {
  database = await createTestDatabase();
  sluice = await startTestSluice(database);
  // The page lives on another origin (another port), so its calls to Sluice are cross-origin.
  site = http.createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
  });
  site.listen(0, '127.0.0.1');
  await once(site, 'listening');
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Hermetic: only 127.0.0.1 resolves, so a stray request to Segment is still seen by
      // context.on('request') but never leaves the machine. No context.route() on purpose: with
      // interception on, Playwright answers CORS preflights itself and Sluice never sees them.
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  if (site) await new Promise((resolve) => site.close(resolve));
  await sluice?.stop();
  await database?.drop();
});
beforeEach(async () => {
  await database.pool.query('TRUNCATE ingest_jobs, ingest_message_ids');
  requests = [];
  problems = [];
  // A fresh context per test: no cookies, localStorage or cached preflights carried over.
  context = await browser.newContext();
  context.on('request', (request) => {
    requests.push({
      method: request.method(),
      url: request.url(),
      headers: request.headers(),
      body: request.postData(),
    });
  });
  context.on('requestfailed', (request) => {
    problems.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
});
afterEach(async () => {
  await context?.close();
});

/**
 * Segment's snippet (v5.2.1, as the Segment app hands it out), unminified: it stubs
 * window.analytics, queues calls with the page context of the moment, and loads analytics.js from
 * `${scriptHost}/analytics.js/v1/<key>/analytics.min.js`. Segment's is https://cdn.segment.com;
 * pointing it at Sluice is the one change a Sluice user makes. `calls` runs inside, as in the
 * snippet Segment hands out (`analytics.load(...); analytics.page();`).
 */
function segmentSnippet(scriptHost: string, calls: string): string {
  return `!function(){var i="analytics",analytics=window[i]=window[i]||[];
if(!analytics.initialize)if(analytics.invoked)window.console&&console.error&&console.error("Segment snippet included twice.");else{
  analytics.invoked=!0;
  analytics.methods=["trackSubmit","trackClick","trackLink","trackForm","pageview","identify","reset","group","track","ready","alias","debug","page","screen","once","off","on","addSourceMiddleware","addIntegrationMiddleware","setAnonymousId","addDestinationMiddleware","register"];
  analytics.factory=function(e){return function(){
    if(window[i].initialized)return window[i][e].apply(window[i],arguments);
    var n=Array.prototype.slice.call(arguments);
    if(["track","screen","alias","group","page","identify"].indexOf(e)>-1){
      var c=document.querySelector("link[rel='canonical']");
      n.push({__t:"bpc",c:c&&c.getAttribute("href")||void 0,p:location.pathname,u:location.href,s:location.search,t:document.title,r:document.referrer})
    }
    n.unshift(e);analytics.push(n);return analytics}};
  for(var n=0;n<analytics.methods.length;n++){var key=analytics.methods[n];analytics[key]=analytics.factory(key)}
  analytics.load=function(key,n){var t=document.createElement("script");t.type="text/javascript";t.async=!0;
    t.setAttribute("data-global-segment-analytics-key",i);
    t.src="${scriptHost}/analytics.js/v1/" + key + "/analytics.min.js";
    var r=document.getElementsByTagName("script")[0];r.parentNode.insertBefore(t,r);analytics._loadOptions=n};
  analytics._writeKey="${WRITE_KEY}";analytics.SNIPPET_VERSION="5.2.1";
  ${calls}
}}();`;
}

function pageWith(script: string): string {
  return `<!doctype html><html><head><title>Sluice test page</title>
<script>${script}</script></head><body><h1>Hello</h1></body></html>`;
}

function contextOf(event: SegmentEvent): Record<string, unknown> {
  return (event.context ?? {}) as Record<string, unknown>;
}

async function waitForJobs(check: (jobs: StoredJob[]) => void): Promise<StoredJob[]> {
  return eventually(async () => {
    // A failed request or page error explains missing events better than their absence does.
    expect(problems).toEqual([]);
    const jobs = await storedJobs(database.pool);
    check(jobs);
    return jobs;
  });
}

/**
 * The POSTs the browser made, once `check` passes on them: Playwright learns of requests over the
 * DevTools protocol, which can lag behind the events reaching the database.
 */
function browserPosts(check: (posts: SeenRequest[]) => void): Promise<SeenRequest[]> {
  return eventually(() => {
    const posts = requests.filter((r) => r.method === 'POST');
    check(posts);
    return posts;
  });
}

/** Requests to any Segment host (segment.com, segment.io and their subdomains). */
const toSegment = () =>
  requests
    .filter((r) => /(^|\.)segment\.(com|io)$/.test(new URL(r.url).hostname))
    .map((r) => r.url);

/** Preflights (OPTIONS answered 204) Sluice has counted for a route kind, from its metrics. */
async function answeredPreflights(route: 'single' | 'batch'): Promise<number> {
  const text = await (await fetch(`${sluice.url}/metrics`)).text();
  const prefix = `sluice_gateway_requests_total{route="${route}",status="204"} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.slice(prefix.length)) : 0;
}

test('the stock snippet, with only its host changed, delivers page, track and identify', async () => {
  const preflightsBefore = await answeredPreflights('single');
  html = pageWith(
    segmentSnippet(
      sluice.url,
      `analytics.load("${WRITE_KEY}");
  analytics.page();
  analytics.track("Button Clicked", { color: "blue" });
  analytics.identify("user-42", { email: "ada@example.com" });`,
    ),
  );
  const pageUrl = `${siteUrl}/pricing?utm_source=newsletter`;
  await page.goto(pageUrl);

  const jobs = await waitForJobs((stored) =>
    // One fetch per event, in parallel: the arrival order is the network's.
    expect(stored.map((job) => job.event.type).sort()).toEqual(['identify', 'page', 'track']),
  );
  const ofType = (type: string) => jobs.find((job) => job.event.type === type)!.event;
  const [pageCall, trackCall, identifyCall] = ['page', 'track', 'identify'].map(ofType);
  const userAgent = await page.evaluate<string>('navigator.userAgent');
  for (const job of jobs) {
    expect(job.sourceId).toBe('web');
    expect(job.messageId).toMatch(/^ajs-next-/);
    const context = contextOf(job.event);
    expect(context.library).toEqual({
      name: 'analytics.js',
      version: expect.stringMatching(/^next-\d/),
    });
    expect(context.page).toMatchObject({
      url: pageUrl,
      path: '/pricing',
      search: '?utm_source=newsletter',
      title: 'Sluice test page',
    });
    expect(context.userAgent).toBe(userAgent);
    expect(context.ip).toBe('127.0.0.1');
    expect(context.campaign).toEqual({ source: 'newsletter' });
    expect(job.event.anonymousId).toEqual(expect.any(String));
    expect(job.event.receivedAt).toEqual(expect.any(String));
    expect(job.event).not.toHaveProperty('writeKey');
  }
  // One visitor: the same anonymous id on every call.
  expect(new Set(jobs.map((job) => job.event.anonymousId)).size).toBe(1);
  expect(pageCall.properties).toMatchObject({ path: '/pricing', title: 'Sluice test page' });
  expect(trackCall).toMatchObject({ event: 'Button Clicked', properties: { color: 'blue' } });
  expect(identifyCall).toMatchObject({ userId: 'user-42', traits: { email: 'ada@example.com' } });

  // The bundle and its settings came from Sluice, the events went to Sluice, nothing to Segment.
  const urls = requests.map((r) => r.url);
  expect(urls).toContain(`${sluice.url}/analytics.js/v1/${WRITE_KEY}/analytics.min.js`);
  expect(urls).toContain(`${sluice.url}/v1/projects/${WRITE_KEY}/settings`);
  expect(toSegment()).toEqual([]);
  const posts = await browserPosts((seen) =>
    expect(seen.map((r) => r.url).sort()).toEqual(
      ['/v1/i', '/v1/p', '/v1/t'].map((path) => `${sluice.url}${path}`),
    ),
  );
  for (const post of posts) expect(post.headers.authorization).toBe(BASIC_AUTH);
  // Authorization makes each POST non-simple: Sluice answered a real preflight per path.
  expect(await answeredPreflights('single')).toBeGreaterThanOrEqual(preflightsBefore + 3);
  expect(problems).toEqual([]);
});

test('lazily loaded chunks come from Sluice too (ajs_ query parameters)', async () => {
  html = pageWith(
    segmentSnippet(sluice.url, `analytics.load("${WRITE_KEY}");\n  analytics.page();`),
  );
  // ajs_* parameters make analytics-next import its queryString chunk, which then sends them.
  await page.goto(`${siteUrl}/?ajs_uid=user-7&ajs_event=Email%20Opened&ajs_prop_campaign=spring`);

  const jobs = await waitForJobs((stored) =>
    expect(stored.map((job) => job.event.event ?? job.event.type).sort()).toEqual([
      'Email Opened',
      'identify',
      'page',
    ]),
  );
  expect(jobs.find((job) => job.event.type === 'track')!.event).toMatchObject({
    event: 'Email Opened',
    properties: { campaign: 'spring' },
  });
  expect(jobs.find((job) => job.event.type === 'identify')!.event.userId).toBe('user-7');
  const chunks = requests.filter((r) => r.url.includes('/analytics-next/bundles/'));
  expect(chunks.map((r) => r.url)).toContainEqual(
    expect.stringMatching(
      new RegExp(`^${sluice.url}/analytics-next/bundles/queryString\\.bundle\\.\\w+\\.js$`),
    ),
  );
  expect(toSegment()).toEqual([]);
  expect(problems).toEqual([]);
});

test('the batching delivery strategy posts batches to /v1/b', async () => {
  const preflightsBefore = await answeredPreflights('batch');
  html = pageWith(
    segmentSnippet(
      sluice.url,
      `analytics.load("${WRITE_KEY}", { integrations: { "Segment.io": {
    deliveryStrategy: { strategy: "batching", config: { size: 3, timeout: 100 } } } } });
  analytics.page("Pricing");
  analytics.track("First", { n: 1 });
  analytics.track("Second", { n: 2 });
  analytics.track("Third", { n: 3 });`,
    ),
  );
  await page.goto(`${siteUrl}/`);

  const nameOf = (event: SegmentEvent) => event.event ?? event.type;
  const jobs = await waitForJobs((stored) =>
    expect(stored.map((job) => nameOf(job.event)).sort()).toEqual([
      'First',
      'Second',
      'Third',
      'page',
    ]),
  );
  // Batches of at most 3 (usually 3, then the fourth event when the 100 ms timeout fires; the
  // split depends on timing), all to /v1/b. Without the load options: one /v1/p or /v1/t each.
  const batchesOf = (seen: SeenRequest[]) =>
    seen.map((r) => (JSON.parse(r.body ?? '{}') as { batch?: SegmentEvent[] }).batch ?? []);
  const posts = await browserPosts((seen) => expect(batchesOf(seen).flat()).toHaveLength(4));
  expect(posts.map((r) => r.url)).toEqual(posts.map(() => `${sluice.url}/v1/b`));
  expect(posts.length).toBeGreaterThanOrEqual(2);
  const stored = jobs.map((job) => nameOf(job.event));
  for (const batch of batchesOf(posts)) {
    expect(batch.length).toBeLessThanOrEqual(3);
    // Two batches can be in flight at once, so only the order inside a batch is kept.
    const names = batch.map(nameOf);
    expect(stored.filter((name) => names.includes(name))).toEqual(names);
  }
  for (const post of posts) expect(post.headers.authorization).toBe(BASIC_AUTH);
  for (const job of jobs) {
    expect(job.sourceId).toBe('web');
    expect(job.messageId).toMatch(/^ajs-next-/);
    const context = contextOf(job.event);
    expect(context.library).toMatchObject({ name: 'analytics.js' });
    expect(context.page).toMatchObject({ url: `${siteUrl}/` });
    expect(context.userAgent).toEqual(expect.any(String));
    expect(context.ip).toBe('127.0.0.1');
    // The batch-level sentAt is applied to each event.
    expect(job.event.sentAt).toEqual(expect.any(String));
  }
  const eventNamed = (name: string) => jobs.find((job) => nameOf(job.event) === name)!.event;
  expect(eventNamed('page')).toMatchObject({ name: 'Pricing' });
  expect(eventNamed('Third')).toMatchObject({ type: 'track', properties: { n: 3 } });
  expect(await answeredPreflights('batch')).toBeGreaterThanOrEqual(preflightsBefore + 1);
  expect(toSegment()).toEqual([]);
  expect(problems).toEqual([]);
});

test('a cross-origin fetch with an Authorization header gets its preflight answered', async () => {
  html = pageWith('');
  await page.goto(`${siteUrl}/`);
  const preflightsBefore = await answeredPreflights('single');
  const result = await page.evaluate(
    async ({ url, authorization }) => {
      const response = await fetch(url, {
        method: 'POST',
        credentials: 'include',
        headers: {
          Authorization: authorization,
          'Content-Type': 'application/json',
          'X-Retry-Count': '0',
        },
        body: JSON.stringify({ userId: 'cors-user', event: 'Cross Origin' }),
      });
      return { status: response.status, body: await response.json() };
    },
    { url: `${sluice.url}/v1/t`, authorization: BASIC_AUTH },
  );
  // A refused preflight would have made fetch() reject in the page.
  expect(result).toEqual({ status: 200, body: { success: true } });
  expect(await answeredPreflights('single')).toBe(preflightsBefore + 1);
  const [job] = await storedJobs(database.pool);
  expect(job.event).toMatchObject({ type: 'track', userId: 'cors-user', event: 'Cross Origin' });
  expect(problems).toEqual([]);
});
