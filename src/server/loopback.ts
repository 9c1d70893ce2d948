/** Is an address or host name the local machine only? Plain HTTP and plain MQTT are allowed there alone. */
import net from 'node:net';

/** True for 127.0.0.0/8, ::1, ::ffff:127.x.y.z and `localhost`; false for wildcards (0.0.0.0, ::) and the rest. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  if (net.isIPv6(bare)) {
    const lower = bare.toLowerCase();
    if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  return false;
}

/** Host as it goes into a URL authority: IPv6 literals in brackets. */
export function urlHost(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}
