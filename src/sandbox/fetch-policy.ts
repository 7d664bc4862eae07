/**
 * What a transformation may fetch: hosts on the workspace's `sandbox.fetchAllowList`, and never an
 * address inside the operator's network (private, loopback, link-local, ...). The address rule is
 * applied to resolved addresses, so a public name that resolves to 10.0.0.1 is refused as well.
 */
import { isIP } from 'node:net';

/**
 * True when `host` matches an allow-list entry: an exact host name (or IP literal), or a pattern
 * `*.example.com` that matches every subdomain of example.com at any depth, but not example.com.
 */
export function isHostAllowed(host: string, allowList: readonly string[]): boolean {
  const name = normalizeHost(host);
  return allowList.some((entry) => {
    const pattern = normalizeHost(entry);
    // '*.example.com' → '.example.com': the leading dot keeps 'badexample.com' out.
    if (pattern.startsWith('*.')) return name.endsWith(pattern.slice(1));
    return name === pattern;
  });
}

/** Lowercase, without IPv6 brackets or the trailing dot of a fully qualified name. */
export function normalizeHost(host: string): string {
  let name = host.trim().toLowerCase();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name;
}

interface Range {
  network: bigint;
  prefix: number;
}

const BLOCKED_IPV4: readonly Range[] = [
  '0.0.0.0/8', // "this network"; 0.0.0.0 reaches the local host on Linux
  '10.0.0.0/8', // RFC 1918
  '100.64.0.0/10', // carrier-grade NAT, often cloud-internal
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, including cloud metadata (169.254.169.254)
  '172.16.0.0/12', // RFC 1918
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // documentation
  '192.168.0.0/16', // RFC 1918
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // documentation
  '203.0.113.0/24', // documentation
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, including broadcast
].map((cidr) => parseRange(cidr, 4));

const BLOCKED_IPV6: readonly Range[] = [
  '::/128', // unspecified
  '::1/128', // loopback
  '100::/64', // discard-only
  '2001::/32', // Teredo: embeds an (obfuscated) IPv4 address
  '2001:db8::/32', // documentation
  'fc00::/7', // unique local
  'fe80::/10', // link-local
  'fec0::/10', // deprecated site-local
  'ff00::/8', // multicast
].map((cidr) => parseRange(cidr, 6));

/** IPv6 forms that carry an IPv4 address, which must pass the IPv4 rules. */
const EMBEDS_IPV4: ReadonlyArray<Range & { extract: (address: bigint) => bigint }> = [
  { ...parseRange('::ffff:0:0/96', 6), extract: (a) => a & 0xffffffffn }, // IPv4-mapped
  { ...parseRange('::/96', 6), extract: (a) => a & 0xffffffffn }, // IPv4-compatible (deprecated)
  { ...parseRange('::ffff:0:0:0/96', 6), extract: (a) => a & 0xffffffffn }, // IPv4-translated
  { ...parseRange('64:ff9b::/96', 6), extract: (a) => a & 0xffffffffn }, // NAT64
  { ...parseRange('64:ff9b:1::/48', 6), extract: (a) => a & 0xffffffffn }, // local NAT64
  { ...parseRange('2002::/16', 6), extract: (a) => (a >> 80n) & 0xffffffffn }, // 6to4
];

/**
 * True for addresses a transformation must never reach: RFC 1918, loopback, link-local, CGNAT,
 * unique-local, multicast, reserved, and IPv6 forms that embed such an IPv4 address. Anything that
 * is not a valid IP address is blocked too.
 */
export function isBlockedAddress(address: string): boolean {
  const withoutZone = address.split('%')[0];
  const version = isIP(withoutZone);
  if (version === 4) return inAny(parseIPv4(withoutZone), BLOCKED_IPV4, 32);
  if (version !== 6) return true;
  const value = parseIPv6(withoutZone);
  if (inAny(value, BLOCKED_IPV6, 128)) return true;
  for (const form of EMBEDS_IPV4) {
    if (inRange(value, form, 128) && inAny(form.extract(value), BLOCKED_IPV4, 32)) return true;
  }
  return false;
}

function inAny(value: bigint, ranges: readonly Range[], bits: number): boolean {
  return ranges.some((range) => inRange(value, range, bits));
}

function inRange(value: bigint, range: Range, bits: number): boolean {
  const shift = BigInt(bits - range.prefix);
  return value >> shift === range.network >> shift;
}

function parseRange(cidr: string, version: 4 | 6): Range {
  const [address, prefix] = cidr.split('/');
  return {
    network: version === 4 ? parseIPv4(address) : parseIPv6(address),
    prefix: Number(prefix),
  };
}

function parseIPv4(address: string): bigint {
  return address.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);
}

/** Parses a valid IPv6 text (net.isIP already said so) into its 128-bit value. */
function parseIPv6(address: string): bigint {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    // A trailing dotted quad stands for the last two 16-bit groups.
    const v4 = parseIPv4(dotted[1]);
    text = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  const all = [...left, ...Array<string>(missing).fill('0'), ...right];
  return all.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}
