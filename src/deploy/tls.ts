/**
 * TLS material for `hush deploy mosquitto`: a local CA and a server certificate for the broker's hostname,
 * made with the `openssl` command (as src/server/local-tls.ts does for `hush start --generate-tls`).
 *
 * Unlike local-tls.ts, an existing private key is never replaced: a missing certificate, or a server
 * certificate whose names no longer match, is re-issued from the key already on disk. New keys are created
 * in files that are 0600 before openssl writes a byte into them. CA: EC P-256, 10 years, pathlen 0; server:
 * EC P-256, 397 days, serverAuth, the names as SANs.
 */
import { X509Certificate } from 'node:crypto';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describeNames, openssl as runOpenssl, opensslConfig, randomSerial } from '../tls/openssl.ts';

const CA_DAYS = 3650;
const SERVER_DAYS = 397;

/** Paths of the generated TLS files in a deployment's tls/ directory. */
export interface DeployTlsFiles {
  caFile: string;
  caKey: string;
  certFile: string;
  keyFile: string;
  namesFile: string;
}

/** What ensureDeployTls did. */
export interface DeployTlsResult extends DeployTlsFiles {
  /** Files this call created or re-issued (keys only when they did not exist). */
  created: string[];
  caFingerprint: string;
}

export function deployTlsFiles(dir: string): DeployTlsFiles {
  const file = (name: string) => path.join(dir, name);
  return {
    caFile: file('ca.crt'),
    caKey: file('ca.key'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    namesFile: file('server.names'),
  };
}

/** The SANs for a hostname: an IP address as IP, a name as DNS; localhost also covers 127.0.0.1 and ::1. */
export function certificateNames(hostname: string): { dns: string[]; ips: string[] } {
  if (net.isIP(hostname) !== 0) return { dns: [], ips: [hostname] };
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(hostname))
    throw new Error(`not a host name for the certificate: ${JSON.stringify(hostname)}`);
  if (hostname === 'localhost') return { dns: ['localhost'], ips: ['127.0.0.1', '::1'] };
  return { dns: [hostname], ips: [] };
}

/** openssl for deployments: says how to do without it. */
const openssl = (args: string[]) =>
  runOpenssl(
    args,
    'generating certificates needs the openssl command on PATH (or pass --tls-cert/--tls-key)',
  );

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** Creates a new EC P-256 key in `file`, which must not exist; the file is 0600 before the key is written. */
async function newKey(file: string): Promise<void> {
  const handle = await open(file, 'wx', 0o600);
  await handle.close();
  try {
    await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
}

/**
 * Makes sure `dir` holds a CA and a server certificate for `hostname`. Never replaces an existing private
 * key; re-issues the CA certificate only if it is missing, and the server certificate only if it is
 * missing, its names changed or the CA certificate was re-made. `dir` must exist.
 */
export async function ensureDeployTls(dir: string, hostname: string): Promise<DeployTlsResult> {
  const names = certificateNames(hostname);
  const files = deployTlsFiles(dir);
  const created: string[] = [];
  const config = path.join(
    dir,
    `.openssl-${Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString('hex')}.cnf`,
  );
  try {
    if (!(await exists(files.caKey))) {
      if (await exists(files.caFile))
        throw new Error(
          `tls: ${files.caFile} exists but its key ${files.caKey} does not; restore the key or remove both`,
        );
      await newKey(files.caKey);
      created.push(files.caKey);
    }
    let newCa = false;
    if (!(await exists(files.caFile))) {
      const tag = Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString('hex');
      await writeFile(config, opensslConfig(`Hush Mosquitto CA ${tag}`, names), { mode: 0o600 });
      await openssl([
        'req',
        '-x509',
        '-config',
        config,
        '-extensions',
        'ca_ext',
        '-key',
        files.caKey,
        '-out',
        files.caFile,
        '-days',
        String(CA_DAYS),
        '-set_serial',
        randomSerial(),
      ]);
      created.push(files.caFile);
      newCa = true;
    }

    if (!(await exists(files.keyFile))) {
      await newKey(files.keyFile);
      created.push(files.keyFile);
    }
    const wanted = describeNames(names);
    const haveNames = (await readFile(files.namesFile, 'utf8').catch(() => '')).trim();
    if (newCa || haveNames !== wanted || !(await exists(files.certFile))) {
      const csr = path.join(dir, '.server.csr');
      await writeFile(config, opensslConfig(hostname, names), { mode: 0o600 });
      try {
        await openssl(['req', '-new', '-config', config, '-key', files.keyFile, '-out', csr]);
        await openssl([
          'x509',
          '-req',
          '-in',
          csr,
          '-CA',
          files.caFile,
          '-CAkey',
          files.caKey,
          '-set_serial',
          randomSerial(),
          '-days',
          String(SERVER_DAYS),
          '-extfile',
          config,
          '-extensions',
          'server_ext',
          '-out',
          files.certFile,
        ]);
      } finally {
        await rm(csr, { force: true });
      }
      await writeFile(files.namesFile, wanted + '\n', { mode: 0o644 });
      created.push(files.certFile);
    }
  } finally {
    await rm(config, { force: true });
  }
  const ca = new X509Certificate(await readFile(files.caFile));
  return { ...files, created, caFingerprint: ca.fingerprint256 };
}
