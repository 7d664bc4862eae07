/**
 * Masks credentials in everything the router stores or serves about a delivery: the request kept
 * with a dead letter, the vendor's response (body and headers: a vendor may echo what it was
 * sent), the reasons, and the last error of rows waiting for a retry. One mask per destination,
 * from the credentials its config holds (`credentialsOf`), widened per request by the values of
 * its headers and query parameters named like credentials; every value is masked as written and
 * as escaped in JSON and URLs.
 */
import type { DestinationRequest, DestinationResponse } from '../../destinations/destination';
import { MAX_RESPONSE_BYTES } from './read-response';

const MASK = '[redacted]';

/** Header and query parameter names that carry credentials, whatever the destination. */
const CREDENTIAL_NAME = /auth|key|token|secret|sig|pass|session|cookie/i;

/**
 * Shorter values are not masked: no credential is that short, and masking them would blank out
 * unrelated text (a webhook header `X-Env: prod` would blank every "prod").
 */
const MIN_MASKED_LENGTH = 4;

/** Credentials masked in stored text, as written and as escaped in JSON and URLs. */
export class CredentialMask {
  readonly #credentials: readonly string[];
  readonly #pattern: RegExp | undefined;
  #lastRequest?: { key: string; mask: CredentialMask };

  constructor(credentials: readonly string[]) {
    this.#credentials = credentials;
    const variants = [...new Set(credentials.flatMap(variantsOf))]
      .filter((variant) => variant.length >= MIN_MASKED_LENGTH)
      // Longest first, so that a credential containing another is masked whole.
      .sort((a, b) => b.length - a.length);
    this.#pattern =
      variants.length > 0 ? new RegExp(variants.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  /** This mask, plus the credentials `request` carries in headers and query parameters. */
  forRequest(request: DestinationRequest): CredentialMask {
    const carried = carriedCredentials(request);
    // A destination's requests mostly carry the same credentials: build their mask once.
    const key = JSON.stringify(carried);
    if (this.#lastRequest?.key !== key) {
      this.#lastRequest = { key, mask: new CredentialMask([...this.#credentials, ...carried]) };
    }
    return this.#lastRequest.mask;
  }

  /** `text` with every credential replaced by [redacted]. */
  mask(text: string): string {
    return this.#pattern ? text.replace(this.#pattern, MASK) : text;
  }

  /**
   * A response as the router keeps and judges it: credentials masked in its body and headers.
   * A body cut at the read limit may end in the first characters of a credential; they go too.
   */
  maskResponse(response: DestinationResponse): DestinationResponse {
    const headers = Object.fromEntries(
      Object.entries(response.headers).map(([name, value]) => [name, this.mask(value)]),
    );
    let body = this.mask(response.body);
    if (response.truncated) body = this.#withoutCutCredential(body);
    return { ...response, headers, body };
  }

  /**
   * The request as stored with a dead letter: credential headers and query parameters replaced,
   * URL user and password removed, every credential masked, and the body cut at the response
   * limit (a batch of 2000 events need not be stored with each of its refused items).
   */
  describeRequest(request: DestinationRequest): string {
    const mask = this.forRequest(request);
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [
        name,
        CREDENTIAL_NAME.test(name) ? MASK : mask.mask(value),
      ]),
    );
    const url = new URL(request.url);
    for (const name of [...url.searchParams.keys()]) {
      if (CREDENTIAL_NAME.test(name)) url.searchParams.set(name, MASK);
    }
    if (url.username) url.username = MASK;
    if (url.password) url.password = MASK;
    const body = request.body === undefined ? undefined : mask.mask(request.body);
    const kept = body === undefined ? undefined : utf8Prefix(body, MAX_RESPONSE_BYTES);
    return JSON.stringify({
      method: request.method,
      url: mask.mask(url.toString()),
      headers,
      body: kept,
      ...(kept !== body ? { bodyTruncated: true } : {}),
    });
  }

  /** `text` without a trailing beginning (4 characters or more) of a credential. */
  #withoutCutCredential(text: string): string {
    for (const credential of this.#credentials.flatMap(variantsOf)) {
      for (let length = credential.length - 1; length >= MIN_MASKED_LENGTH; length--) {
        if (text.endsWith(credential.slice(0, length))) return text.slice(0, -length) + MASK;
      }
    }
    return text;
  }
}

/** A credential as written, JSON-escaped, and encoded in a path or a query string. */
function variantsOf(credential: string): string[] {
  if (!credential) return [];
  return [
    credential,
    JSON.stringify(credential).slice(1, -1),
    encodeURIComponent(credential),
    new URLSearchParams({ v: credential }).toString().slice(2),
  ];
}

/**
 * The values of a request's headers and query parameters named like credentials, and of its URL
 * user and password; for a header such as `Bearer <token>`, the token alone too.
 */
function carriedCredentials(request: DestinationRequest): string[] {
  const carried: string[] = [];
  for (const [name, value] of Object.entries(request.headers)) {
    if (!CREDENTIAL_NAME.test(name)) continue;
    carried.push(value);
    const scheme = /^\S+\s+(\S.*)$/.exec(value);
    if (scheme) carried.push(scheme[1]);
  }
  const url = new URL(request.url);
  for (const [name, value] of url.searchParams) {
    if (CREDENTIAL_NAME.test(name)) carried.push(value);
  }
  for (const part of [url.username, url.password]) {
    if (part) carried.push(decodeURIComponent(part));
  }
  return carried;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The longest prefix of `text` of at most `bytes` UTF-8 bytes. */
function utf8Prefix(text: string, bytes: number): string {
  if (text.length * 3 <= bytes) return text;
  const encoded = Buffer.from(text, 'utf8');
  if (encoded.length <= bytes) return text;
  // A character cut in two decodes as U+FFFD; drop it.
  return encoded
    .subarray(0, bytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}
