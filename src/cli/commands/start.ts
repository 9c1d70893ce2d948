/**
 * `hush start`: the zero-setup server (what `npm start` runs). Embedded broker with the Hush ACL and a
 * password file in the data directory, retained messages refused; the web server with the registration
 * API and /mqtt on --port; plain MQTT/TCP on --mqtt-port, on loopback unless --mqtt-host says otherwise.
 *
 * Plain HTTP (and plain MQTT) only on loopback: anywhere else TLS is required (--tls-cert/--tls-key, or
 * --generate-tls for a local CA whose fingerprint is printed) unless --insecure-http opts out loudly.
 * Every check runs before anything binds. SIGINT/SIGTERM stop new connections, answer pending registrations,
 * tell every MQTT client the server is going away and flush the stores, within 5 s whatever is connected
 * (run-until-signal.ts); the data directory keeps devices, sessions and queued messages across restarts.
 *
 * With --mosquitto-dir DIR --broker-url wss://HOST:PORT/mqtt (a deployment from `hush deploy mosquitto`) no
 * broker is started: registrations go into that Mosquitto's password file, which is reloaded once per batch
 * (src/server/mosquitto-accounts.ts), and the app connects to the broker URL. No root needed: see
 * docs/DEPLOY.md for the user and group the server runs as.
 */
import { constants } from 'node:fs';
import { readFile, writeFile, mkdir, access } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { startBroker, type BrokerOptions } from '../../broker/index.ts';
import { loadPasswordFile } from '../../broker/passwd/index.ts';
import { readMosquittoDeployment, type MosquittoDeployment } from '../../deploy/mosquitto-conf.ts';
import { DeviceRegistry } from '../../server/device-registry.ts';
import { embeddedAccounts } from '../../server/embedded-accounts.ts';
import { mosquittoAccounts, mosquittoPid } from '../../server/mosquitto-accounts.ts';
import { startHttpServer } from '../../server/http-server.ts';
import { ensureLocalTls, type CertificateNames } from '../../server/local-tls.ts';
import { isLoopbackHost, urlHost } from '../../server/loopback.ts';
import { createCliLogger } from '../shared/logger.ts';
import { parseCount, parsePort } from '../shared/options.ts';
import { runUntilSignal } from '../shared/run-until-signal.ts';
import { UserError } from '../shared/errors.ts';

/** The aclfile Hush writes for a new deployment: each client reads only its own inbox. */
export const HUSH_ACL = `# Hush: a client may read only its own inbox and write to any inbox.
pattern read chats/%c/messages
pattern write chats/+/messages
`;

interface StartFlags {
  host: string;
  port: number;
  mqttHost: string;
  mqttPort: number;
  dataDir: string;
  tlsCert?: string;
  tlsKey?: string;
  generateTls: boolean;
  insecureHttp: boolean;
  publicUrl?: string;
  registrationTokenFile?: string;
  registrationRate: number;
  registrationBurst: number;
  connectRate?: number;
  brokerUrl?: string;
  mosquittoDir?: string;
  mosquittoReloadCommand?: string;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/** Where this machine can reach a listener bound to `host` (wildcards → loopback). */
function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

function insecureWarning(what: string): string {
  const bar = '!'.repeat(78);
  return (
    `${bar}\n` +
    `!! WARNING: --insecure-http: ${what} without TLS.\n` +
    '!! Device secrets, registration tokens and chat metadata cross the network in the clear, and anyone\n' +
    '!! on the path can hijack devices. Use this only behind a TLS-terminating proxy on the same host.\n' +
    `${bar}\n`
  );
}

/** Checks every flag combination; throws UserError before anything is created or bound. */
function checkFlags(flags: StartFlags): { publicUrl?: URL; warnings: string[] } {
  const warnings: string[] = [];
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new UserError('--tls-cert and --tls-key must be given together');
  }
  if (flags.generateTls && flags.tlsCert !== undefined) {
    throw new UserError('give either --tls-cert/--tls-key or --generate-tls, not both');
  }
  const tls = flags.tlsCert !== undefined || flags.generateTls;
  if (!tls && !isLoopbackHost(flags.host)) {
    if (!flags.insecureHttp) {
      throw new UserError(
        `refusing to serve plain HTTP on ${flags.host}: device secrets would cross the network unencrypted. ` +
          'Give --tls-cert FILE --tls-key FILE, or --generate-tls for a local CA, ' +
          '(or --insecure-http if a TLS proxy on this host terminates TLS), or bind --host 127.0.0.1.',
        2,
      );
    }
    warnings.push(insecureWarning(`serving HTTP and MQTT over WebSocket on ${flags.host}`));
  }
  if (!tls && !isLoopbackHost(flags.mqttHost)) {
    if (!flags.insecureHttp) {
      throw new UserError(
        `refusing to serve plain MQTT on ${flags.mqttHost}: give --tls-cert/--tls-key or --generate-tls ` +
          '(the MQTT listener then speaks TLS), or keep --mqtt-host 127.0.0.1.',
        2,
      );
    }
    warnings.push(insecureWarning(`serving MQTT over TCP on ${flags.mqttHost}`));
  }
  let publicUrl: URL | undefined;
  if (flags.publicUrl !== undefined) {
    try {
      publicUrl = new URL(flags.publicUrl);
    } catch {
      throw new UserError(`--public-url: not a URL: ${flags.publicUrl}`, 2);
    }
    if (publicUrl.protocol !== 'https:' && publicUrl.protocol !== 'http:') {
      throw new UserError(
        `--public-url must be an https:// (or loopback http://) URL, got ${flags.publicUrl}`,
        2,
      );
    }
    if (publicUrl.protocol === 'http:' && !isLoopbackHost(publicUrl.hostname) && !flags.insecureHttp) {
      throw new UserError(
        `--public-url ${flags.publicUrl} is plain http on a non-loopback host; use https:// (or --insecure-http)`,
        2,
      );
    }
  }
  if ((flags.brokerUrl === undefined) !== (flags.mosquittoDir === undefined)) {
    throw new UserError(
      '--broker-url and --mosquitto-dir go together: the Mosquitto deployment (hush deploy mosquitto --out DIR) ' +
        'and the wss:// URL browsers reach its WebSocket listener at',
      2,
    );
  }
  if (flags.mosquittoReloadCommand !== undefined && flags.mosquittoDir === undefined) {
    throw new UserError('--mosquitto-reload-command needs --mosquitto-dir', 2);
  }
  if (flags.brokerUrl !== undefined) checkBrokerUrl(flags.brokerUrl);
  return { publicUrl, warnings };
}

/** An external broker URL clients can use: wss:// (ws:// only on loopback), no credentials or query. */
function checkBrokerUrl(text: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UserError(`--broker-url: not a URL: ${text}`, 2);
  }
  if (url.protocol !== 'wss:' && !(url.protocol === 'ws:' && isLoopbackHost(url.hostname))) {
    throw new UserError(
      `--broker-url must be the wss:// URL of Mosquitto's WebSocket listener (e.g. wss://chat.example.org:8443/mqtt), got ${text}`,
      2,
    );
  }
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new UserError(`--broker-url must not carry credentials, a query or a fragment: ${text}`, 2);
  }
}

/**
 * Reads the Mosquitto deployment and checks, before anything binds, that this user can do its job there:
 * read and replace the password file, and reload Mosquitto.
 */
async function openMosquittoDeployment(
  dir: string,
  reloadCommand: string[] | undefined,
): Promise<{ deployment: MosquittoDeployment; warnings: string[] }> {
  let deployment: MosquittoDeployment;
  try {
    deployment = await readMosquittoDeployment(dir);
  } catch (error) {
    throw new UserError((error as Error).message);
  }
  const warnings: string[] = [];
  if (!deployment.usernameIsClientId)
    warnings.push(
      `warning: ${deployment.confFile} lacks use_username_as_clientid true under some listener: ` +
        'client ids are not bound to accounts there (client-id takeover)\n',
    );
  try {
    await loadPasswordFile(deployment.passwordFile);
  } catch (error) {
    throw new UserError(`${(error as Error).message} (hush start --mosquitto-dir must read it)`);
  }
  const passwdDir = path.dirname(deployment.passwordFile);
  try {
    await access(passwdDir, constants.W_OK | constants.X_OK);
  } catch {
    throw new UserError(
      `cannot replace files in ${passwdDir}: the password file is rewritten by creating a new file next to it. ` +
        'Run hush as the user that owns that directory (see docs/DEPLOY.md, "The Hush server in front of Mosquitto")',
    );
  }
  if (reloadCommand === undefined) {
    try {
      await mosquittoPid(deployment.pidFile);
    } catch (error) {
      const message = (error as Error).message;
      // Not running yet is fine (each reload reads the pid file again); not being allowed to signal it is not.
      if (/not allowed/.test(message)) throw new UserError(message);
      warnings.push(`warning: ${message}; registrations fail until it runs\n`);
    }
  }
  return { deployment, warnings };
}

/** Reads the registration token: the file's content without the final newline; refuses an empty one. */
async function readRegistrationToken(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UserError(`--registration-token-file ${file}: ${(error as Error).message}`);
  }
  const token = text.replace(/\r?\n$/, '');
  if (token.trim() === '') throw new UserError(`--registration-token-file ${file} is empty`);
  return token;
}

/** The web app built by `npm run build:web` (served when present; otherwise `/` is a status page). */
const WEB_ROOT = fileURLToPath(new URL('../../../dist/web', import.meta.url));

/** Names the generated server certificate covers: loopback, this host, the bound and public names. */
function certificateNames(host: string, publicUrl: URL | undefined): CertificateNames {
  const dns = new Set<string>(['localhost']);
  const ips = new Set<string>(['127.0.0.1', '::1']);
  const add = (name: string) => {
    const bare = name.replace(/^\[|\]$/g, '');
    if (net.isIP(bare) !== 0) ips.add(bare);
    else if (/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(bare)) dns.add(bare.toLowerCase());
  };
  add(os.hostname());
  if (publicUrl) add(publicUrl.hostname);
  if (WILDCARDS.has(host)) {
    for (const addresses of Object.values(os.networkInterfaces())) {
      for (const a of addresses ?? []) if (!a.internal && !a.address.startsWith('fe80')) ips.add(a.address);
    }
  } else {
    add(host);
  }
  return { dns: [...dns], ips: [...ips] };
}

/** Registers `hush start`. */
export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description(
      'run Hush: web app and device registration API, with the embedded broker or in front of Mosquitto',
    )
    .option(
      '--host <address>',
      'address the web server listens on (plain HTTP only on loopback)',
      '127.0.0.1',
    )
    .option('--port <port>', 'web app, registration API and MQTT over WebSocket (/mqtt)', parsePort, 8080)
    .option('--mqtt-host <address>', 'address of the MQTT/TCP listener', '127.0.0.1')
    .option('--mqtt-port <port>', 'MQTT over TCP (TLS when not on loopback)', parsePort, 1883)
    .option('--data-dir <dir>', 'where devices, sessions, queued messages and keys live', '.hush')
    .option('--tls-cert <file>', 'PEM certificate: serve https/wss (and mqtts off loopback)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--generate-tls', 'create a local CA and server certificate in <data-dir>/tls', false)
    .option('--insecure-http', 'allow plain HTTP/MQTT on a non-loopback address (behind a TLS proxy)', false)
    .option('--public-url <url>', 'the URL users open (behind a proxy); registration answers derive from it')
    .option('--registration-token-file <file>', 'closed deployment: registrations must send this token')
    .option('--registration-rate <n>', 'registrations per minute per address (0 = no limit)', parseCount, 10)
    .option('--registration-burst <n>', 'registrations one address may make at once', parseCount, 20)
    .option('--connect-rate <n>', 'MQTT CONNECTs per second per address (0 = no limit)', parseCount)
    .option(
      '--broker-url <url>',
      "with --mosquitto-dir: the wss:// URL of Mosquitto's WebSocket listener that devices connect to",
    )
    .option(
      '--mosquitto-dir <dir>',
      'run in front of a Mosquitto deployment (hush deploy mosquitto): no embedded broker',
    )
    .option(
      '--mosquitto-reload-command <command>',
      'reload Mosquitto with this command (e.g. "sudo -n systemctl reload mosquitto") instead of SIGHUP',
    )
    .action(async (flags: StartFlags) => {
      const { publicUrl, warnings } = checkFlags(flags);
      if (flags.registrationBurst < 1) throw new UserError('--registration-burst must be at least 1', 2);
      const registrationToken =
        flags.registrationTokenFile !== undefined
          ? await readRegistrationToken(flags.registrationTokenFile)
          : undefined;
      if (flags.mosquittoDir !== undefined && flags.brokerUrl !== undefined) {
        const reloadCommand = flags.mosquittoReloadCommand?.trim().split(/\s+/);
        if (reloadCommand !== undefined && reloadCommand[0] === '')
          throw new UserError('--mosquitto-reload-command is empty', 2);
        const opened = await openMosquittoDeployment(flags.mosquittoDir, reloadCommand);
        for (const warning of [...warnings, ...opened.warnings]) process.stderr.write(warning);
        await startInFrontOfMosquitto(flags, {
          publicUrl,
          registrationToken,
          deployment: opened.deployment,
          brokerUrl: flags.brokerUrl,
          reloadCommand,
        });
        return;
      }
      for (const warning of warnings) process.stderr.write(warning);

      const log = createCliLogger();
      const dataDir = path.resolve(flags.dataDir);
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      const aclFile = path.join(dataDir, 'aclfile');
      const passwordFile = path.join(dataDir, 'passwd');
      // Never overwrite: an operator may have edited either file.
      if (!(await exists(aclFile))) await writeFile(aclFile, HUSH_ACL, { mode: 0o600 });
      if (!(await exists(passwordFile))) await writeFile(passwordFile, '', { mode: 0o600 });

      const { files: tlsFiles, tls } = await webTls(flags, publicUrl);
      // Plain MQTT on loopback is for local bots and tools; off loopback the listener speaks TLS.
      const mqttOnLoopback = isLoopbackHost(flags.mqttHost);
      const limits: BrokerOptions['limits'] =
        flags.connectRate !== undefined ? { connectsPerSecondPerAddress: flags.connectRate } : {};

      let broker;
      try {
        broker = await startBroker(
          {
            host: flags.mqttHost,
            mqttPort: flags.mqttPort,
            aclFile,
            passwordFile,
            tlsCertFile: mqttOnLoopback ? undefined : tlsFiles?.cert,
            tlsKeyFile: mqttOnLoopback ? undefined : tlsFiles?.key,
            dataDir: path.join(dataDir, 'broker'),
            retainAvailable: false,
            limits,
          },
          log,
        );
      } catch (error) {
        throw new UserError((error as Error).message);
      }
      let registry: DeviceRegistry;
      let web;
      const localUrl = `${tls ? 'https' : 'http'}://${urlHost(reachableHost(flags.host))}`;
      try {
        registry = await DeviceRegistry.open(passwordFile, embeddedAccounts(broker), log);
        web = await startHttpServer({
          broker,
          host: flags.host,
          port: flags.port,
          tls,
          hsts: flags.tlsCert !== undefined,
          webRoot: WEB_ROOT,
          api: {
            registry,
            log: log.child({ component: 'api' }),
            registrationToken,
            registrationsPerMinute: flags.registrationRate,
            registrationBurst: flags.registrationBurst,
            publicUrl,
            fallbackHost: urlHost(reachableHost(flags.host)),
            mqttUrl: mqttOnLoopback
              ? `mqtt://${urlHost(flags.mqttHost)}:${broker.mqttPort ?? flags.mqttPort}`
              : undefined,
          },
        });
      } catch (error) {
        await broker.close();
        throw new UserError(`cannot listen on ${flags.host}:${flags.port}: ${(error as Error).message}`);
      }
      const stopped = runUntilSignal(
        log,
        () => registry.exclusive(() => broker.reload()),
        async () => {
          // New connections are refused first: web, API and /mqtt here, MQTT/TCP as broker.close() starts.
          const webClosed = web.close();
          // Registrations in progress are written and answered; any other HTTP request still open is ended.
          await registry.close();
          web.endRequests();
          // Every MQTT client is told the server is going away (WebSocket 1001, TCP closed), then the
          // broker's stores are flushed and closed; the web server is done once its /mqtt connections are.
          await broker.close();
          await webClosed;
          process.stdout.write('hush stopped\n');
        },
      );
      const url = `${localUrl}:${web.port}/`;
      // After the signal handlers are in place, so a script that stops the server once it reads this cannot
      // meet Node's default SIGINT handling. One write: a reader that waits for `hush ready` has the next line too.
      process.stdout.write(
        `hush ready ${url} mqtt=${broker.mqttPort} data=${dataDir}\n` +
          `Open ${publicUrl?.href ?? url} in a browser.` +
          `${registrationToken ? ' Registration needs the token.' : ''} Ctrl-C stops the server.\n`,
      );
      await stopped;
    });
}

/** The web TLS material: --tls-cert/--tls-key, or a generated local CA in <data-dir>/tls; none without either. */
async function webTls(
  flags: StartFlags,
  publicUrl: URL | undefined,
): Promise<{
  files?: { cert: string; key: string };
  tls?: { cert: Buffer; key: Buffer };
}> {
  let files: { cert: string; key: string } | undefined;
  if (flags.tlsCert !== undefined && flags.tlsKey !== undefined) {
    files = { cert: flags.tlsCert, key: flags.tlsKey };
  } else if (flags.generateTls) {
    const dataDir = path.resolve(flags.dataDir);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    let local;
    try {
      local = await ensureLocalTls(path.join(dataDir, 'tls'), certificateNames(flags.host, publicUrl));
    } catch (error) {
      throw new UserError((error as Error).message);
    }
    files = { cert: local.certFile, key: local.keyFile };
    process.stdout.write(
      `hush tls: ${local.createdCa ? 'created a local CA' : 'using the local CA'}; ` +
        'install it in browsers, or compare its SHA-256 fingerprint before trusting it\n' +
        `hush tls ca=${local.caFile} sha256=${local.caFingerprint}\n`,
    );
  }
  if (!files) return {};
  try {
    return { files, tls: { cert: await readFile(files.cert), key: await readFile(files.key) } };
  } catch (error) {
    throw new UserError(`cannot read the TLS certificate or key: ${(error as Error).message}`);
  }
}

/** `hush start --mosquitto-dir DIR --broker-url URL`: the web app and registration API, no broker. */
async function startInFrontOfMosquitto(
  flags: StartFlags,
  context: {
    publicUrl: URL | undefined;
    registrationToken: string | undefined;
    deployment: MosquittoDeployment;
    brokerUrl: string;
    reloadCommand: string[] | undefined;
  },
): Promise<void> {
  const { deployment, publicUrl, registrationToken } = context;
  const log = createCliLogger();
  const { tls } = await webTls(flags, publicUrl);
  const accounts = mosquittoAccounts({
    pidFile: deployment.pidFile,
    localUrl: deployment.localUrl,
    reloadCommand: context.reloadCommand,
    log: log.child({ component: 'mosquitto' }),
  });
  const registry = await DeviceRegistry.open(deployment.passwordFile, accounts, log);
  let web;
  try {
    web = await startHttpServer({
      host: flags.host,
      port: flags.port,
      tls,
      hsts: flags.tlsCert !== undefined,
      webRoot: WEB_ROOT,
      api: {
        registry,
        log: log.child({ component: 'api' }),
        brokerUrl: context.brokerUrl,
        registrationToken,
        registrationsPerMinute: flags.registrationRate,
        registrationBurst: flags.registrationBurst,
        publicUrl,
        fallbackHost: urlHost(reachableHost(flags.host)),
        // Mosquitto's plain listener is on loopback, like the server: local tools and bots may use it.
        mqttUrl: deployment.localUrl,
      },
    });
  } catch (error) {
    await registry.close();
    throw new UserError(`cannot listen on ${flags.host}:${flags.port}: ${(error as Error).message}`);
  }
  const stopped = runUntilSignal(
    log,
    // The file is re-read by every batch anyway; this refreshes the device count for /healthz.
    () => registry.exclusive(async () => undefined),
    async () => {
      const webClosed = web.close();
      await registry.close();
      web.endRequests();
      await webClosed;
      process.stdout.write('hush stopped\n');
    },
  );
  const url = `${tls ? 'https' : 'http'}://${urlHost(reachableHost(flags.host))}:${web.port}/`;
  // After the signal handlers are in place (see the embedded case).
  process.stdout.write(
    `hush ready ${url} broker=${context.brokerUrl} mosquitto=${path.dirname(deployment.confFile)}\n` +
      `Open ${publicUrl?.href ?? url} in a browser.` +
      `${registrationToken ? ' Registration needs the token.' : ''} Ctrl-C stops the server.\n`,
  );
  await stopped;
}
