/**
 * `hush start --generate-tls`: a local certificate authority and a server certificate, made with the
 * `openssl` command and kept in `<data-dir>/tls/` (directory 0700, private keys 0600).
 *
 * The CA is made once and reused, so its fingerprint stays the same across restarts: users install
 * `ca.crt` (or compare the printed SHA-256 fingerprint) once. The server certificate is re-issued by that CA
 * when the names it must cover change or it is within 30 days of expiry. CA: EC P-256, 10 years,
 * pathlen 0; server: EC P-256, 397 days (the CA/Browser Forum maximum), serverAuth, the names as SANs.
 */
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {
  describeNames,
  openssl as runOpenssl,
  opensslConfig,
  randomSerial,
  type CertificateNames,
} from '../tls/openssl.ts';

export type { CertificateNames };

/** openssl for `hush start --generate-tls`: says how to do without it. */
const openssl = (args: string[]) => runOpenssl(args, '--generate-tls needs the openssl command on PATH');

export interface LocalTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** SHA-256 of the CA certificate (DER), colon-separated hex, as browsers and `openssl x509 -fingerprint -sha256` show it. */
  caFingerprint: string;
  /** True when the CA was created by this call. */
  createdCa: boolean;
}

const CA_DAYS = 3650;
const SERVER_DAYS = 397;
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

async function exists(file: string): Promise<boolean> {
  return readFile(file).then(
    () => true,
    () => false,
  );
}

/** Names must be safe to write into an openssl config file; refuse anything else. */
function checkNames(names: CertificateNames): void {
  for (const name of names.dns) {
    if (!/^[A-Za-z0-9*](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(name))
      throw new Error(`tls: not a DNS name for the certificate: ${JSON.stringify(name)}`);
  }
  for (const ip of names.ips) {
    if (net.isIP(ip) === 0) throw new Error(`tls: not an IP address for the certificate: ${ip}`);
  }
}

/** Creates (or reuses) the local CA and a server certificate for `names` in `dir`. */
export async function ensureLocalTls(dir: string, names: CertificateNames): Promise<LocalTls> {
  checkNames(names);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const file = (name: string) => path.join(dir, name);
  const caFile = file('ca.crt');
  const caKey = file('ca.key');
  const certFile = file('server.crt');
  const keyFile = file('server.key');
  const namesFile = file('server.names');
  const config = file('openssl.cnf');

  let createdCa = false;
  if (!(await exists(caFile)) || !(await exists(caKey))) {
    const tag = Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString('hex');
    await writeFile(config, opensslConfig(`Hush local CA ${tag}`, names), { mode: 0o600 });
    await openssl([
      'req',
      '-x509',
      '-config',
      config,
      '-extensions',
      'ca_ext',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      caKey,
      '-out',
      caFile,
      '-days',
      String(CA_DAYS),
      '-set_serial',
      randomSerial(),
    ]);
    await chmod(caKey, 0o600);
    createdCa = true;
  }

  const wanted = describeNames(names);
  const current = await readFile(certFile, 'utf8').then(
    (pem) => new X509Certificate(pem),
    () => undefined,
  );
  const haveNames = await readFile(namesFile, 'utf8').catch(() => '');
  const fresh =
    current !== undefined &&
    !createdCa &&
    (await exists(keyFile)) &&
    haveNames.trim() === wanted &&
    new Date(current.validTo).getTime() - Date.now() > RENEW_BEFORE_MS;
  if (!fresh) {
    const csr = file('server.csr');
    await writeFile(config, opensslConfig(names.dns[0] ?? names.ips[0] ?? 'hush', names), { mode: 0o600 });
    await openssl([
      'req',
      '-new',
      '-config',
      config,
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      csr,
    ]);
    await chmod(keyFile, 0o600);
    await openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caFile,
      '-CAkey',
      caKey,
      '-set_serial',
      randomSerial(),
      '-days',
      String(SERVER_DAYS),
      '-extfile',
      config,
      '-extensions',
      'server_ext',
      '-out',
      certFile,
    ]);
    await rm(csr, { force: true });
    await writeFile(namesFile, wanted + '\n', { mode: 0o600 });
  }
  await rm(config, { force: true });

  const ca = new X509Certificate(await readFile(caFile));
  return { caFile, certFile, keyFile, caFingerprint: ca.fingerprint256, createdCa };
}
