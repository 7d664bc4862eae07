/**
 * analytics.js in a real headless Chromium: the stock Segment snippet with only its script host
 * changed to Sluice loads the bundle, settings and lazy chunks from Sluice and delivers its events
 * cross-origin (CORS preflights included, since analytics-next sends an Authorization header),
 * and never talks to Segment.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { eventually } from '../support/eventually';
import { storedJobs } from '../support/ingest';
import { startTestSluice, WRITE_KEY, type TestSluice } from '../support/sluice';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

jest.setTimeout(30_000);

let database: TestDatabase;
let sluice: TestSluice;
let site: http.Server;
let siteUrl: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Every request the browser made in the current test, in order. */
let requests: Array<{ method: string; url: string; headers: Record<string, string> }>;
/** The HTML the test site serves at `/`, set by each test. */
let html = '';

beforeAll(async () => {
  database = await createTestDatabase();
  sluice = await startTestSluice(database);
  // The page lives on another origin (another port), so its calls to Sluice are cross-origin.
  site = http.createServer((request, response) => {
    if (request.url === '/' || request.url?.startsWith('/?')) {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
    } else {
      response.writeHead(404).end();
    }
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
  // A fresh context per test: no cookies, localStorage or cached preflights carried over.
  context = await browser.newContext();
  context.on('request', (request) => {
    requests.push({ method: request.method(), url: request.url(), headers: request.headers() });
  });
  // Keep the test hermetic: whatever is not local is recorded (above) but never sent.
  await context.route(
    (url) => url.hostname !== '127.0.0.1',
    (route) => route.abort(),
  );
  page = await context.newPage();
});
afterEach(async () => {
  await context?.close();
});

/**
 * Segment's snippet (v5.2, as the Segment app hands it out) in readable form: it stubs
 * window.analytics, queues calls with the page context of the moment, and loads analytics.js from
 * the CDN. The one change a Sluice user makes is the script host.
 */
function segmentSnippet(scriptHost: string, writeKey: string, calls: string): string {
  return `
!function(){var i="analytics",analytics=window[i]=window[i]||[];
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
analytics._writeKey="${writeKey}";analytics.SNIPPET_VERSION="5.2.1";
${calls}
}}();`;
}

function pageWith(script: string): string {
  return `<!doctype html><html><head><title>Sluice test page</title>
<script>${script}</script></head><body><h1>Hello</h1></body></html>`;
}

const sluiceOrigin = () => new URL(sluice.url).origin;
const toSegment = () =>
  requests.filter((r) => /(^|\.)segment\.(com|io)$/.test(new URL(r.url).hostname));

test('the stock snippet, with only its host changed, delivers page, track and identify', async () => {
  html = pageWith(
    segmentSnippet(
      sluice.url,
      WRITE_KEY,
      `analytics.load("${WRITE_KEY}");
analytics.page();
analytics.track("Button Clicked", { color: "blue" });
analytics.identify("user-42", { email: "ada@example.com" });`,
    ),
  );
  await page.goto(`${siteUrl}/?utm_source=test`);

  const jobs = await eventually(async () => {
    const stored = await storedJobs(database.pool);
    // One fetch per event, in parallel: the arrival order is the network's.
    expect(stored.map((job) => job.event.type).sort()).toEqual(['identify', 'page', 'track']);
    return stored;
  });
  const ofType = (type: string) => jobs.find((job) => job.event.type === type)!.event;
  const [pageCall, trackCall, identifyCall] = ['page', 'track', 'identify'].map(ofType);
  const userAgent = await page.evaluate(() => navigator.userAgent);
  for (const job of jobs) {
    expect(job.sourceId).toBe('web');
    expect(job.messageId).toMatch(/^ajs-next-/);
    const ctx = job.event.context as Record<string, any>;
    expect(ctx.library).toEqual({ name: 'analytics.js', version: expect.stringMatching(/^next-/) });
    expect(ctx.page).toMatchObject({
      url: `${siteUrl}/?utm_source=test`,
      path: '/',
      search: '?utm_source=test',
      title: 'Sluice test page',
    });
    expect(ctx.userAgent).toBe(userAgent);
    expect(ctx.ip).toBe('127.0.0.1');
    expect(ctx.campaign).toEqual({ source: 'test' });
    expect(job.event.anonymousId).toEqual(expect.any(String));
    expect(job.event.receivedAt).toEqual(expect.any(String));
    expect(job.event).not.toHaveProperty('writeKey');
  }
  // One visitor: the anonymous id stays the same across calls.
  expect(new Set(jobs.map((job) => job.event.anonymousId)).size).toBe(1);
  expect(pageCall).toMatchObject({ properties: { path: '/', title: 'Sluice test page' } });
  expect(trackCall).toMatchObject({ event: 'Button Clicked', properties: { color: 'blue' } });
  expect(identifyCall).toMatchObject({ userId: 'user-42', traits: { email: 'ada@example.com' } });

  // Everything came from and went to Sluice; nothing to Segment.
  const urls = requests.map((r) => r.url);
  expect(urls).toContain(`${sluice.url}/analytics.js/v1/${WRITE_KEY}/analytics.min.js`);
  expect(urls).toContain(`${sluice.url}/v1/projects/${WRITE_KEY}/settings`);
  expect(toSegment()).toEqual([]);
  const posts = requests.filter((r) => r.method === 'POST');
  expect(posts.map((r) => new URL(r.url).pathname).sort()).toEqual(['/v1/i', '/v1/p', '/v1/t']);
  for (const post of posts) {
    expect(new URL(post.url).origin).toBe(sluiceOrigin());
    expect(post.headers.authorization).toBe(
      `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`,
    );
  }
});

test('the batching delivery strategy posts batches to /v1/b', async () => {
  html = pageWith(
    segmentSnippet(
      sluice.url,
      WRITE_KEY,
      `analytics.load("${WRITE_KEY}", { integrations: { "Segment.io": {
  deliveryStrategy: { strategy: "batching", config: { size: 3, timeout: 100 } } } } });
analytics.page("Pricing");
analytics.track("First", { n: 1 });
analytics.track("Second", { n: 2 });
analytics.track("Third", { n: 3 });`,
    ),
  );
  await page.goto(`${siteUrl}/`);

  const jobs = await eventually(async () => {
    const stored = await storedJobs(database.pool);
    expect(stored.map((job) => job.event.event ?? job.event.type)).toEqual([
      'page',
      'First',
      'Second',
      'Third',
    ]);
    return stored;
  });
  // Three events fill a batch; the fourth goes when the 100 ms timeout fires.
  const posts = requests.filter((r) => r.method === 'POST');
  expect(posts.map((r) => r.url)).toEqual([`${sluice.url}/v1/b`, `${sluice.url}/v1/b`]);
  for (const job of jobs) {
    expect(job.sourceId).toBe('web');
    expect(job.event.context?.library).toMatchObject({ name: 'analytics.js' });
    expect((job.event.context as Record<string, any>).page).toMatchObject({ url: `${siteUrl}/` });
    expect(job.event.context?.ip).toBe('127.0.0.1');
    expect(job.event.sentAt).toEqual(expect.any(String));
  }
  expect(jobs[0].event).toMatchObject({ type: 'page', name: 'Pricing' });
  expect(jobs[3].event).toMatchObject({ type: 'track', event: 'Third', properties: { n: 3 } });
  expect(toSegment()).toEqual([]);
});

test('a cross-origin fetch with an Authorization header gets its preflight answered', async () => {
  html = pageWith('');
  await page.goto(`${siteUrl}/`);
  const preflightsBefore = await answeredPreflights();
  console.log((await (await fetch(`${sluice.url}/metrics`)).text()).split("\n").filter(l=>l.includes("gateway_requests")).join("\n"));
  const authorization = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
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
    { url: `${sluice.url}/v1/t`, authorization },
  );
  expect(result).toEqual({ status: 200, body: { success: true } });
  console.log((await (await fetch(`${sluice.url}/metrics`)).text()).split("\n").filter(l=>l.includes("gateway_requests")).join("\n"));
  // The browser did ask first (Sluice answered one more OPTIONS on a single-event path).
  expect(await answeredPreflights()).toBe(preflightsBefore + 1);
  const [job] = await storedJobs(database.pool);
  expect(job.event).toMatchObject({ type: 'track', userId: 'cors-user', event: 'Cross Origin' });
});

/** How many preflights Sluice has answered (204) on single-event paths, from its metrics. */
async function answeredPreflights(): Promise<number> {
  const text = await (await fetch(`${sluice.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('sluice_gateway_requests_total{') && l.includes('route="single"') && l.includes('status="204"'));
  return line ? Number(line.split(' ').pop()) : 0;
}
