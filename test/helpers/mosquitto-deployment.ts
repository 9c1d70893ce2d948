/**
 * A real Mosquitto started from a deployment that `hush deploy mosquitto` generated (on free ports), with
 * `hush start --mosquitto-dir … --broker-url wss://…` in front of it, running as user `mosquitto` (not
 * root).
 * Shared by the Mosquitto integration tests and the web app's end-to-end tests against Mosquitto.
 */
import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HUSH_BIN, runHush } from './hush-broker.ts';
import { runMosquittoConf, type MosquittoProcess } from './mosquitto.ts';
import { freePort } from './ports.ts';
import { reapAtExit } from './reaper.ts';

/** uid and gid of a system user, from /etc/passwd. */
export async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no user ${name}`);
  const fields = line.split(':');
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** A `hush start` child process. */
export interface HushStartProcess {
  pid: number;
  url: string;
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Runs `hush start …` as `user`; resolves once it is ready (or once it exited, for refusals). */
export async function startAs(user: string, args: string[], home: string): Promise<HushStartProcess> {
  const ids = await userIds(user);
  const child = spawn(process.execPath, [HUSH_BIN, 'start', ...args], {
    uid: ids.uid,
    gid: ids.gid,
    cwd: home,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: home, HUSH_LOG_LEVEL: 'info' },
  });
  const pid = child.pid!;
  const forget = reapAtExit(pid);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      forget();
      resolve(code);
    }),
  );
  const deadline = Date.now() + 20_000;
  let done = false;
  void exited.then(() => (done = true));
  while (!output.includes('hush ready') && !done) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`hush start not ready after 20 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const port = /hush ready http:\/\/127\.0\.0\.1:(\d+)\//.exec(output)?.[1];
  return {
    pid,
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    async stop() {
      if (!done) process.kill(pid, 'SIGTERM');
      await exited;
    },
  };
}

/** A running deployment: Mosquitto from the generated directory plus `hush start` in front of it. */
export interface MosquittoDeployment {
  /** The temporary directory holding everything (deployment, Hush data). */
  temp: string;
  /** The generated deployment directory (mosquitto.conf, accounts/, tls/, data/). */
  dir: string;
  /** The Mosquitto password file the server writes. */
  passwd: string;
  mqttPort: number;
  wsPort: number;
  /** The broker URL the web app and devices connect to: wss://localhost:PORT/mqtt. */
  wss: string;
  /** The generated CA certificate (PEM) and its path. */
  ca: Buffer;
  caFile: string;
  /** The broker's server certificate (PEM) and its path. */
  certFile: string;
  mosquitto: MosquittoProcess;
  server: HushStartProcess;
  /** Stops the server and Mosquitto and removes the temporary directory. */
  stop(): Promise<void>;
}

/** Generates a deployment on free ports, starts Mosquitto from it and `hush start` (as mosquitto) for it. */
export async function startMosquittoDeployment(): Promise<MosquittoDeployment> {
  const temp = await mkdtemp(path.join(tmpdir(), 'hush-mosq-server-'));
  let mosquitto: MosquittoProcess | undefined;
  try {
    await chmod(temp, 0o755); // user mosquitto must enter it
    const dir = path.join(temp, 'deploy');
    const mqttPort = await freePort();
    const wsPort = await freePort();
    const wss = `wss://localhost:${wsPort}/mqtt`;
    const deployed = await runHush([
      'deploy',
      'mosquitto',
      '--out',
      dir,
      '--mqtt-port',
      String(mqttPort),
      '--ws-port',
      String(wsPort),
    ]);
    if (deployed.code !== 0) throw new Error(`hush deploy mosquitto failed:\n${deployed.stderr}`);
    const caFile = path.join(dir, 'tls/ca.crt');
    const ca = await readFile(caFile);
    mosquitto = await runMosquittoConf(path.join(dir, 'mosquitto.conf'), [mqttPort, wsPort]);
    const server = await startAs(
      'mosquitto',
      [
        '--port',
        '0',
        '--mosquitto-dir',
        dir,
        '--broker-url',
        wss,
        '--registration-rate',
        '0',
        '--data-dir',
        path.join(temp, 'hush'),
      ],
      temp,
    );
    if (!server.output().includes('hush ready')) throw new Error(`hush start failed:\n${server.output()}`);
    const broker = mosquitto;
    return {
      temp,
      dir,
      passwd: path.join(dir, 'accounts/passwd'),
      mqttPort,
      wsPort,
      wss,
      ca,
      caFile,
      certFile: path.join(dir, 'tls/server.crt'),
      mosquitto: broker,
      server,
      async stop() {
        await server.stop();
        await broker.stop();
        await rm(temp, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await mosquitto?.stop();
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The base64 SHA-256 of the broker certificate's public key (SPKI), for Chromium's
 * `--ignore-certificate-errors-spki-list`: the browser then accepts that one key and no other self-made
 * certificate. Checked to be issued by the deployment's CA first, so the pin stands for "trust this CA's
 * broker certificate". (Installing the CA into Chromium's NSS store would need certutil, which is not here.)
 */
export async function brokerSpkiPin(deployment: MosquittoDeployment): Promise<string> {
  const cert = new X509Certificate(await readFile(deployment.certFile));
  const ca = new X509Certificate(deployment.ca);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    throw new Error(`${deployment.certFile} is not issued by ${deployment.caFile}`);
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}
