/**
 * The host side of a transformation's `fetch`: one HTTP(S) request with the sandbox's rules applied
 * on every hop. Each hop's host must be on the allow-list; its name is resolved here, every
 * resolved address is checked, and the connection is made to exactly those checked addresses (a
 * pinned `lookup`), so DNS rebinding cannot swap in another address between check and connect.
 * Redirects are followed by hand (at most five) so each new host passes the same checks.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import zlib from 'node:zlib';
import { isBlockedAddress, isHostAllowed, normalizeHost } from './fetch-policy';

/** A request as the transformation asked for it (validated by the caller). */
export interface FetchRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** What the transformation's Response-like object is built from. */
export interface FetchResponse {
  /** The final URL, after redirects. */
  url: string;
  redirected: boolean;
  status: number;
  statusText: string;
  /** Lowercase names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body decoded as UTF-8 text. */
  body: string;
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface FetchRules {
  allowList: readonly string[];
  timeoutMs: number;
  /** `true` allows every private address, a list allows exactly those. Never set from user code. */
  allowPrivateAddresses: boolean | readonly string[];
  /** Keep-alive agents owned by the sandbox; a fresh connection per request without them. */
  agents?: { http: http.Agent; https: https.Agent };
  /** Resolves a host name; dns.lookup by default (tests inject names that DNS does not know). */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
}

const MAX_REDIRECTS = 5;
/** Enrichment answers are small; a larger body is refused rather than copied into the isolate. */
const MAX_RESPONSE_MB = 5;
const MAX_RESPONSE_BYTES = MAX_RESPONSE_MB * 1024 * 1024;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers the transport owns; a transformation setting them would only confuse the request. */
const TRANSPORT_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding']);
/** Credentials are not forwarded to another origin on redirect, as browsers do. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

/** Performs `request` under `rules`; rejects with a message naming the rule that refused it. */
export async function guardedFetch(
  request: FetchRequest,
  rules: FetchRules,
  signal?: AbortSignal,
): Promise<FetchResponse> {
  const timeout = AbortSignal.timeout(rules.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    return await untilAborted(followRedirects(request, rules, combined), combined);
  } catch (error) {
    if (timeout.aborted) {
      throw new Error(
        `fetch ${request.url}: no response within ${rules.timeoutMs} ms (sandbox.fetchTimeoutMs)`,
        { cause: error },
      );
    }
    if (signal?.aborted) {
      throw new Error(`fetch ${request.url}: cancelled, the call ended`, { cause: error });
    }
    throw error;
  }
}

/** Settles with `work`, or rejects as soon as `signal` aborts (DNS lookups ignore signals). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const abort = () => reject(signal.reason);
    if (signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

async function followRedirects(
  request: FetchRequest,
  rules: FetchRules,
  signal: AbortSignal,
): Promise<FetchResponse> {
  let url = parseUrl(request.url);
  let { method, body } = request;
  const headers = Object.fromEntries(
    Object.entries(request.headers)
      .map(([name, value]) => [name.toLowerCase(), value])
      .filter(([name]) => !TRANSPORT_HEADERS.has(name)),
  );
  headers['accept-encoding'] ??= 'gzip, deflate, br';
  headers['user-agent'] ??= 'Sluice-Transformation';
  for (let hop = 0; ; hop++) {
    const addresses = await checkedAddresses(url, rules);
    const response = await send(url, { method, headers, body }, addresses, rules, signal);
    const location = response.headers.location;
    if (!REDIRECT_STATUSES.has(response.statusCode ?? 0) || !location) {
      return {
        url: url.href,
        redirected: hop > 0,
        status: response.statusCode ?? 0,
        statusText: response.statusMessage ?? '',
        headers: flattenHeaders(response),
        body: await readBody(response, url, signal),
      };
    }
    response.resume();
    if (hop === MAX_REDIRECTS)
      throw new Error(`fetch ${request.url}: more than ${MAX_REDIRECTS} redirects`);
    const next = parseUrl(location, url);
    if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
    // 303 always, and 301/302 after a POST, turn into a GET without a body (as fetch does).
    const status = response.statusCode;
    if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
      method = method === 'HEAD' ? 'HEAD' : 'GET';
      body = undefined;
      delete headers['content-type'];
    }
    url = next;
  }
}

function parseUrl(text: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    throw new Error(`fetch ${text}: not a valid absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`fetch ${url.href}: only http and https URLs can be fetched`);
  }
  return url;
}

/** The host must be allowed, and every address it resolves to must be outside private ranges. */
async function checkedAddresses(url: URL, rules: FetchRules): Promise<ResolvedAddress[]> {
  const host = normalizeHost(url.hostname);
  if (!isHostAllowed(host, rules.allowList)) {
    throw new Error(`fetch ${url.href}: host ${host} is not in sandbox.fetchAllowList`);
  }
  const literal = isIP(host);
  const addresses = literal
    ? [{ address: host, family: literal }]
    : await (rules.resolve ?? resolveWithDns)(host).catch((error: Error) => {
        throw new Error(`fetch ${url.href}: cannot resolve ${host}: ${error.message}`, {
          cause: error,
        });
      });
  if (addresses.length === 0) throw new Error(`fetch ${url.href}: ${host} has no address`);
  for (const { address } of addresses) {
    if (isBlockedAddress(address) && !privateAllowed(address, rules.allowPrivateAddresses)) {
      throw new Error(
        `fetch ${url.href}: ${host} resolves to ${address}, a private or reserved address`,
      );
    }
  }
  return addresses;
}

function privateAllowed(address: string, allowed: FetchRules['allowPrivateAddresses']): boolean {
  return allowed === true || (Array.isArray(allowed) && allowed.includes(address));
}

async function resolveWithDns(hostname: string): Promise<ResolvedAddress[]> {
  return dnsLookup(hostname, { all: true, verbatim: true });
}

/** A lookup that answers with the addresses already checked, whatever DNS says by now. */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0].address, addresses[0].family);
  };
}

function send(
  url: URL,
  request: Omit<FetchRequest, 'url'>,
  addresses: ResolvedAddress[],
  rules: FetchRules,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const secure = url.protocol === 'https:';
  const transport = secure ? https : http;
  const agent = secure ? rules.agents?.https : rules.agents?.http;
  const headers = { ...request.headers };
  if (request.body !== undefined)
    headers['content-length'] = String(Buffer.byteLength(request.body));
  return new Promise((resolve, reject) => {
    try {
      const outgoing = transport.request(url, {
        method: request.method,
        headers,
        signal,
        lookup: pinnedLookup(addresses),
        agent: agent ?? false,
      });
      outgoing.once('response', resolve);
      outgoing.once('error', (error) => reject(new Error(`fetch ${url.href}: ${error.message}`)));
      outgoing.end(request.body);
    } catch (error) {
      // Invalid header names or values throw synchronously.
      reject(new Error(`fetch ${url.href}: ${(error as Error).message}`));
    }
  });
}

function flattenHeaders(response: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function readBody(response: IncomingMessage, url: URL, signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const abort = () => response.destroy(signal.reason as Error);
  signal.addEventListener('abort', abort, { once: true });
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) {
        response.destroy();
        throw new Error(`fetch ${url.href}: the response is larger than ${MAX_RESPONSE_MB} MB`);
      }
      chunks.push(chunk);
    }
  } finally {
    signal.removeEventListener('abort', abort);
  }
  return decode(Buffer.concat(chunks), response.headers['content-encoding'], url).toString('utf8');
}

function decode(body: Buffer, encoding: string | undefined, url: URL): Buffer {
  const options = { maxOutputLength: MAX_RESPONSE_BYTES };
  try {
    switch (encoding?.trim().toLowerCase()) {
      case 'gzip':
      case 'x-gzip':
        return zlib.gunzipSync(body, options);
      case 'deflate':
        return zlib.inflateSync(body, options);
      case 'br':
        return zlib.brotliDecompressSync(body, options);
      default:
        return body;
    }
  } catch (error) {
    throw new Error(
      `fetch ${url.href}: cannot decode the ${encoding} body: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
