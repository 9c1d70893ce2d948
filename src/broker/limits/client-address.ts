/**
 * Which client a connection or an HTTP request comes from, for rate limits: the peer's address, or behind a
 * configured trusted reverse proxy the address that proxy saw (X-Forwarded-For); then the key of its bucket:
 * an IPv4 address as is, an IPv6 address as its /64 (one host or one home usually holds a whole /64, so
 * per-address buckets would be free to multiply), and `::ffff:a.b.c.d` as the IPv4 address it carries.
 *
 * X-Forwarded-For is honoured only when the direct peer is a trusted proxy: anyone else could write any
 * address there and get a fresh bucket per request. Each proxy appends the address it received the request
 * from, so the list is read from the right and the first address that is not itself a trusted proxy is the
 * client; what is left of it was written by that client and is ignored.
 */
import net from 'node:net';

/** The reverse proxies whose X-Forwarded-For is believed (addresses and CIDR ranges, IPv4 and IPv6). */
export class TrustedProxies {
  private readonly list = new net.BlockList();
  readonly empty: boolean;

  /** Throws an error naming the entry when one is not an IP address or CIDR range. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) this.add(entry);
    this.empty = entries.length === 0;
  }

  /** True when `address` (already normalised by normaliseAddress) is one of the trusted proxies. */
  contains(address: string): boolean {
    if (this.empty) return false;
    const family = net.isIP(address);
    return family !== 0 && this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  private add(entry: string): void {
    const problem = trustedProxyProblem(entry);
    if (problem !== undefined) throw new Error(problem);
    const [text = '', prefixText] = entry.trim().split('/');
    const address = normaliseAddress(text) as string;
    const family = net.isIPv4(address) ? 'ipv4' : 'ipv6';
    let prefix = prefixText === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefixText);
    // "::ffff:10.0.0.0/104" names IPv4 addresses; addresses are compared in their IPv4 form.
    if (family === 'ipv4' && net.isIPv6(text)) prefix = Math.max(0, prefix - 96);
    this.list.addSubnet(address, prefix, family);
  }
}

/** Why `entry` is not a usable trusted proxy (an IP address, or a CIDR range such as 10.0.0.0/8), or undefined. */
export function trustedProxyProblem(entry: string): string | undefined {
  const [text = '', prefixText, ...rest] = entry.trim().split('/');
  const address = normaliseAddress(text);
  const bad = `trusted proxy ${JSON.stringify(entry)}: `;
  if (address === undefined || rest.length > 0)
    return `${bad}expected an IP address or a CIDR range such as 10.0.0.0/8 or fd00::/8`;
  if (prefixText !== undefined) {
    const max = net.isIPv6(text) ? 128 : 32;
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max)
      return `${bad}the prefix length after '/' must be a whole number from 0 to ${max}`;
  }
  return undefined;
}

/** Trusted-proxy lists parsed once per options array (the broker and the web server pass the same one). */
const parsedLists = new WeakMap<readonly string[], TrustedProxies>();

function trustedProxies(list: readonly string[] | TrustedProxies): TrustedProxies {
  if (list instanceof TrustedProxies) return list;
  let parsed = parsedLists.get(list);
  if (!parsed) {
    parsed = new TrustedProxies(list);
    parsedLists.set(list, parsed);
  }
  return parsed;
}

/**
 * An IP address in one canonical text form: IPv4-mapped IPv6 becomes IPv4, IPv6 is lower-case without a zone
 * (`%eth0`) or brackets; "1.2.3.4:5678" and "[::1]:80" (ports some proxies append) lose the port.
 * Undefined when the text is not an IP address.
 */
export function normaliseAddress(text: string): string | undefined {
  let address = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(address)) address = address.slice(0, address.indexOf(':'));
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  if (net.isIPv4(address)) return address;
  if (!net.isIPv6(address)) return undefined;
  const groups = ipv6Groups(address);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) {
    const [high = 0, low = 0] = groups.slice(6);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return address.toLowerCase();
}

/** The eight 16-bit groups of a valid IPv6 address (a dotted IPv4 tail counts as two). */
function ipv6Groups(address: string): number[] {
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const gap = address.indexOf('::');
  if (gap < 0) return parse(address);
  const left = parse(address.slice(0, gap));
  const right = parse(address.slice(gap + 2));
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** The bucket key of a client address: IPv4 itself, IPv6 its /64 ("2001:db8:0:1::/64"); other text as is. */
export function addressKey(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  const normal = normaliseAddress(address);
  if (normal === undefined) return address;
  if (net.isIPv4(normal)) return normal;
  return `${ipv6Groups(normal)
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** Most X-Forwarded-For entries read: a chain of proxies is short, and the header is attacker-sized. */
const MAX_HOPS = 20;

/**
 * The address of the client behind a request: the direct peer, unless that peer is a trusted proxy, in which
 * case the right-most X-Forwarded-For entry that is not a trusted proxy. An entry that is not an address stops
 * the walk at the proxy that passed it on (its requests then count as that proxy's).
 */
export function clientAddress(
  remoteAddress: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trusted: readonly string[] | TrustedProxies,
): string | undefined {
  const peer = remoteAddress === undefined ? undefined : (normaliseAddress(remoteAddress) ?? remoteAddress);
  const proxies = trustedProxies(trusted);
  if (peer === undefined || forwardedFor === undefined || !proxies.contains(peer)) return peer;
  const hops = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0 && i >= hops.length - MAX_HOPS; i--) {
    const hop = normaliseAddress(hops[i]!);
    if (hop === undefined) return client;
    client = hop;
    if (!proxies.contains(hop)) return hop;
  }
  // Every entry read was a trusted proxy: the left-most of them is as far back as anyone can vouch for.
  return client;
}

/** The rate-limit key of a request or connection: addressKey(clientAddress(...)). */
export function clientAddressKey(
  remoteAddress: string | undefined,
  forwardedFor: string | readonly string[] | undefined,
  trusted: readonly string[] | TrustedProxies,
): string {
  return addressKey(clientAddress(remoteAddress, forwardedFor, trusted));
}
