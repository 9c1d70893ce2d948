/**
 * Shared pieces for making a local CA and server certificates with the `openssl` command, used by
 * `hush start --generate-tls` (src/server/local-tls.ts) and `hush deploy mosquitto` (src/deploy/tls.ts).
 * openssl is used rather than a JS X.509 library because Debian ships it and its output is what operators
 * already trust and can inspect with the same tool.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The names a server certificate covers: DNS names and IP addresses. */
export interface CertificateNames {
  dns: string[];
  ips: string[];
}

/** A stable, sorted description of the names ("DNS:a,IP:b"), to notice when they change. */
export function describeNames(names: CertificateNames): string {
  return [...names.dns.map((n) => `DNS:${n}`), ...names.ips.map((ip) => `IP:${ip}`)].sort().join(',');
}

/** A random positive 128-bit serial number (RFC 5280 §4.1.2.2), as openssl's -set_serial wants it. */
export function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f;
  return '0x' + Buffer.from(bytes).toString('hex');
}

/** An openssl config with a CA extension section and a server extension section carrying the names as SANs. */
export function opensslConfig(commonName: string, names: CertificateNames): string {
  const alt = [
    ...names.dns.map((n, i) => `DNS.${i + 1} = ${n}`),
    ...names.ips.map((ip, i) => `IP.${i + 1} = ${ip}`),
  ];
  return `[req]
distinguished_name = dn
prompt = no
[dn]
CN = ${commonName}
[ca_ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @alt
[alt]
${alt.join('\n')}
`;
}

/** Runs openssl; errors say which subcommand failed and why, and what to do if openssl is missing. */
export async function openssl(args: string[], missingHint: string): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`tls: ${missingHint}`);
    throw new Error(`tls: openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}
