/**
 * Which addresses a webhook may reach. A tenant chooses the URL, so without this a webhook is a way
 * into our own network (the cloud metadata service at 169.254.169.254, a database on 10.x, the API on
 * 127.0.0.1). Only public unicast addresses pass, unless the operator allow-lists the host by name or
 * the address by CIDR. Pure: strings in, answers out; the sender does the resolving and connecting.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { EarshotError } from '../../../core/errors.js';

export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  /** 100.64.0.0/10, shared address space of carrier-grade NAT. */
  | 'cgnat'
  | 'link-local'
  | 'multicast'
  | 'broadcast'
  /** Benchmarking, documentation, protocol assignments, 240/4, anything outside 2000::/3, ... */
  | 'reserved'
  /** Not an IP address at all. */
  | 'invalid';

/** Classes refused even when allow-listed: no webhook receiver lives there, and 0.0.0.0 reaches the local host. */
const NEVER_ALLOWED: ReadonlySet<AddressClass> = new Set(['unspecified', 'multicast', 'broadcast', 'invalid']);

interface Network {
  /** 4 bytes (IPv4) or 16 (IPv6); IPv4-mapped IPv6 networks are kept as IPv4. */
  bytes: Uint8Array;
  prefixBits: number;
}

/** Host names (lower case, ASCII) and networks that may be reached although not public. */
export interface Allowlist {
  readonly hostnames: ReadonlySet<string>;
  readonly networks: readonly Network[];
}

export type AddressVerdict = { ok: true } | { ok: false; reason: AddressClass };

/** `[::1]` → `::1`, `fe80::1%eth0` → `fe80::1`. */
function bare(ip: string): string {
  const unbracketed = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const zone = unbracketed.indexOf('%');
  return zone >= 0 ? unbracketed.slice(0, zone) : unbracketed;
}

function parseIpv4(ip: string): Uint8Array {
  return Uint8Array.from(ip.split('.').map((p) => Number.parseInt(p, 10)));
}

function parseIpv6(ip: string): Uint8Array {
  const groups = (side: string): number[] =>
    side === ''
      ? []
      : side.split(':').flatMap((g) => {
          if (!g.includes('.')) return [Number.parseInt(g, 16)];
          const v4 = parseIpv4(g);
          return [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
        });
  const gap = ip.indexOf('::');
  const head = groups(gap >= 0 ? ip.slice(0, gap) : ip);
  const tail = gap >= 0 ? groups(ip.slice(gap + 2)) : [];
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** The address's bytes, IPv4-mapped IPv6 (`::ffff:a.b.c.d`) as its 4 IPv4 bytes; undefined when not an IP. */
function addressBytes(ip: string): Uint8Array | undefined {
  const s = bare(ip);
  const family = isIP(s);
  if (family === 4) return parseIpv4(s);
  if (family !== 6) return undefined;
  const bytes = parseIpv6(s);
  return isMapped(bytes) ? bytes.slice(12) : bytes;
}

const isMapped = (b: Uint8Array): boolean => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

function classifyIpv4(b: Uint8Array): AddressClass {
  const [a = 0, x = 0, c = 0, d = 0] = b;
  if (a === 0) return 'unspecified'; // 0.0.0.0/8, "this network"; Linux connects 0.0.0.0 to the local host
  if (a === 10) return 'private';
  if (a === 100 && (x & 0xc0) === 64) return 'cgnat';
  if (a === 127) return 'loopback';
  if (a === 169 && x === 254) return 'link-local';
  if (a === 172 && (x & 0xf0) === 16) return 'private';
  if (a === 192 && x === 168) return 'private';
  if (a === 192 && x === 0 && (c === 0 || c === 2)) return 'reserved'; // protocol assignments, TEST-NET-1
  if (a === 192 && x === 88 && c === 99) return 'reserved'; // 6to4 relay anycast (deprecated)
  if (a === 198 && (x & 0xfe) === 18) return 'reserved'; // benchmarking
  if (a === 198 && x === 51 && c === 100) return 'reserved'; // TEST-NET-2
  if (a === 203 && x === 0 && c === 113) return 'reserved'; // TEST-NET-3
  if (a >= 224 && a <= 239) return 'multicast';
  if (a === 255 && x === 255 && c === 255 && d === 255) return 'broadcast';
  if (a >= 240) return 'reserved';
  return 'public';
}

function classifyIpv6(b: Uint8Array): AddressClass {
  const zeroUntil = (n: number) => b.subarray(0, n).every((x) => x === 0);
  if (zeroUntil(16)) return 'unspecified';
  if (zeroUntil(15) && b[15] === 1) return 'loopback';
  if (zeroUntil(12)) return 'reserved'; // IPv4-compatible (deprecated)
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0] = b;
  // NAT64 (64:ff9b::/96): the gateway connects to the embedded IPv4 address.
  if (b0 === 0x00 && b1 === 0x64 && b2 === 0xff && b3 === 0x9b && b.subarray(4, 12).every((x) => x === 0)) return classifyIpv4(b.subarray(12));
  if (b0 === 0x00 && b1 === 0x64 && b2 === 0xff && b3 === 0x9b) return 'reserved'; // 64:ff9b:1::/48, local-use NAT64
  if ((b0 & 0xfe) === 0xfc) return 'private'; // unique local fc00::/7
  if (b0 === 0xfe && (b1 & 0xc0) === 0x80) return 'link-local';
  if (b0 === 0xfe && (b1 & 0xc0) === 0xc0) return 'private'; // site-local (deprecated)
  if (b0 === 0xff) return 'multicast';
  if ((b0 & 0xe0) !== 0x20) return 'reserved'; // only 2000::/3 is global unicast
  if (b0 === 0x20 && b1 === 0x01 && b2 === 0x0d && b3 === 0xb8) return 'reserved'; // documentation
  if (b0 === 0x20 && b1 === 0x01 && (b2 & 0xfe) === 0) return 'reserved'; // protocol assignments, Teredo
  if (b0 === 0x3f && b1 === 0xff && (b2 & 0xf0) === 0) return 'reserved'; // documentation (3fff::/20)
  if (b0 === 0x20 && b1 === 0x02) {
    // 6to4 embeds an IPv4 address; a non-public one is no place to send a webhook either.
    const embedded = classifyIpv4(b.subarray(2, 6));
    return embedded === 'public' ? 'public' : embedded;
  }
  return 'public';
}

/** What kind of address `ip` is (IPv4, IPv6, bracketed or with a zone); IPv4-mapped and NAT64 by their IPv4. */
export function classifyAddress(ip: string): AddressClass {
  const bytes = addressBytes(ip);
  if (bytes === undefined) return 'invalid';
  return bytes.length === 4 ? classifyIpv4(bytes) : classifyIpv6(bytes);
}

function normalizeHostname(host: string): string | undefined {
  const lower = host.trim().toLowerCase().replace(/\.$/, '');
  const ascii = domainToASCII(lower);
  return ascii !== '' && /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(ascii) ? ascii : undefined;
}

function parseNetwork(entry: string): Network | undefined {
  const slash = entry.lastIndexOf('/');
  const address = slash >= 0 ? entry.slice(0, slash) : entry;
  const raw = bare(address);
  const family = isIP(raw);
  if (family === 0) return undefined;
  const maxBits = family === 4 ? 32 : 128;
  const prefixText = slash >= 0 ? entry.slice(slash + 1) : String(maxBits);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > maxBits) return undefined;
  let prefixBits = Number(prefixText);
  let bytes = family === 4 ? parseIpv4(raw) : parseIpv6(raw);
  if (family === 6 && isMapped(bytes) && prefixBits >= 96) {
    bytes = bytes.slice(12);
    prefixBits -= 96;
  }
  return { bytes, prefixBits };
}

/**
 * Reads allow-list entries: host names (`hooks.internal`; exact, no wildcards), bare IPs (`10.1.2.3`,
 * `::1`, `[::1]`) and CIDRs (`10.0.0.0/8`, `fd00::/8`). Throws `invalid_config` naming a bad entry.
 */
export function parseAllowlist(entries: readonly string[]): Allowlist {
  const hostnames = new Set<string>();
  const networks: Network[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    const network = parseNetwork(entry);
    if (network !== undefined) {
      networks.push(network);
      continue;
    }
    const name = entry.includes('/') || entry.includes(':') ? undefined : normalizeHostname(entry);
    if (name === undefined) throw new EarshotError('invalid_config', `webhook allow-list entry "${entry}" is neither a host name, an IP address nor a CIDR`);
    hostnames.add(name);
  }
  return { hostnames, networks };
}

function inNetwork(bytes: Uint8Array, network: Network): boolean {
  if (bytes.length !== network.bytes.length) return false;
  let bits = network.prefixBits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((network.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/**
 * True when the URL's host is allow-listed by name, or `ip` (the address to connect to; for an IP
 * literal host, the host itself) lies in an allow-listed network.
 */
export function isAllowlisted(host: string, ip: string | undefined, allowlist: Allowlist): boolean {
  const name = normalizeHostname(bare(host));
  if (name !== undefined && allowlist.hostnames.has(name)) return true;
  for (const candidate of [ip, host]) {
    const bytes = candidate === undefined ? undefined : addressBytes(candidate);
    if (bytes !== undefined && allowlist.networks.some((n) => inNetwork(bytes, n))) return true;
  }
  return false;
}

/**
 * Whether a webhook for `host` may connect to `ip`: public addresses always, others when allow-listed,
 * unspecified, multicast and broadcast addresses never.
 */
export function checkAddress(host: string, ip: string, allowlist: Allowlist): AddressVerdict {
  const cls = classifyAddress(ip);
  if (cls === 'public') return { ok: true };
  if (NEVER_ALLOWED.has(cls) || !isAllowlisted(host, ip, allowlist)) return { ok: false, reason: cls };
  return { ok: true };
}
