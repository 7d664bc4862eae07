/**
 * Masks credentials in the requests the router keeps with dead letters: headers and query
 * parameters named like credentials, and the destination's own credentials (`credentialsOf`)
 * wherever they appear.
 */
import type { DestinationRequest } from '../../destinations/destination';

/** The credentials to mask, as written and as escaped in JSON and URLs. */
export function credentialVariants(credentials: readonly string[]): string[] {
  return [
    ...new Set(
      credentials
        .filter((value) => value)
        .flatMap((value) => [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]),
    ),
  ];
}

/** The request as stored with a dead letter, credentials (see credentialVariants) masked. */
export function describeRequest(
  request: DestinationRequest,
  credentials: readonly string[],
): string {
  const mask = (text: string) =>
    credentials.reduce((masked, credential) => masked.split(credential).join('[redacted]'), text);
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) =>
      /authorization|api[-_]?key|token|secret/i.test(name)
        ? [name, '[redacted]']
        : [name, mask(value)],
    ),
  );
  const url = new URL(request.url);
  for (const name of [...url.searchParams.keys()]) {
    if (/secret|key|token|password/i.test(name)) url.searchParams.set(name, '[redacted]');
  }
  const body = request.body === undefined ? undefined : mask(request.body);
  return JSON.stringify({ method: request.method, url: mask(url.toString()), headers, body });
}
