/** Client addresses for `context.ip`: proxy headers, IPv4-in-IPv6 unmapping, anonymization. */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import proxyaddr from 'proxy-addr';

/** `::ffff:1.2.3.4` (how a dual-stack socket reports IPv4 clients) becomes `1.2.3.4`. */
function plainIp(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

// How proxies and clients write an address with its port: `1.2.3.4:80`, `[2001:db8::1]:443`.
const IPV4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;
const BRACKETED = /^\[([^\]]+)\](?::\d{1,5})?$/;

/**
 * The IP address `text` holds: plain, `ip:port`, `[ipv6]` or `[ipv6]:port`, IPv4-in-IPv6
 * unmapped. Undefined for anything else, including forms some parsers read differently
 * (`203.0.113.077`: octal to some, decimal to others).
 */
export function parseIp(text: string): string | undefined {
  const trimmed = text.trim();
  const address = BRACKETED.exec(trimmed)?.[1] ?? IPV4_WITH_PORT.exec(trimmed)?.[1] ?? trimmed;
  return net.isIP(address) === 0 ? undefined : plainIp(address);
}

/**
 * Zeroes the last octet of an IPv4 address or the last 80 bits of an IPv6 address (keeping the
 * /48 routing prefix), as analytics vendors do. Undefined when `text` is not an address
 * parseIp reads: what cannot be anonymized must not be stored.
 */
export function anonymizeIp(text: string): string | undefined {
  const ip = parseIp(text);
  if (ip === undefined) return undefined;
  if (net.isIPv4(ip)) return ip.replace(/\.\d+$/, '.0');
  return compressIPv6([...expandIPv6(ip).slice(0, 3), 0, 0, 0, 0, 0]);
}

function expandIPv6(ip: string): number[] {
  let text = ip.split('%')[0];
  // A trailing dotted IPv4 part counts as two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text =
      text.slice(0, -v4[1].length) +
      `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const all =
    tail === undefined ? headGroups : [...headGroups, ...Array(missing).fill('0'), ...tailGroups];
  return all.map((group) => parseInt(group, 16));
}

function compressIPv6(groups: number[]): string {
  // Replace the longest run of zero groups with "::".
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestLength < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Express-style `trust proxy` setting, compiled once: which hops may set X-Forwarded-For. */
export function compileTrust(setting: string): (address: string, hop: number) => boolean {
  if (setting === 'true') return () => true;
  if (setting === 'false') return () => false;
  if (/^\d+$/.test(setting)) {
    const hops = Number(setting);
    return (_address, hop) => hop < hops;
  }
  return proxyaddr.compile(setting.split(',').map((part) => part.trim()));
}

/**
 * The client's address, honouring X-Forwarded-For from trusted proxies (entries with a port or in
 * brackets are read too); undefined when the entry that names the client is not an address.
 */
export function clientAddress(
  request: IncomingMessage,
  trust: (address: string, hop: number) => boolean,
): string | undefined {
  if (!request.socket.remoteAddress) return undefined;
  return parseIp(proxyaddr(request, trust));
}
