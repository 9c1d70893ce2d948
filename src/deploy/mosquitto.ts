/**
 * `hush deploy mosquitto`: writes a directory from which a stock Mosquitto 2.0 serves Hush — a commented
 * mosquitto.conf, the Hush aclfile, an empty password file (account mode), TLS material (a local CA and a
 * server certificate, unless the operator brings their own) and a README — with the owners and modes
 * Mosquitto needs: it reads the config as root, then drops to user `mosquitto` before it reads the password
 * file, the acl file and the TLS key and before it writes its pid file and database (notes/brokers.md).
 *
 * The password file lives alone in `accounts/`, owned by user `mosquitto`: the registration server
 * (`hush start --mosquitto-dir`), running as that user and never as root, replaces it atomically (which needs
 * a writable directory, and must not be the one holding mosquitto.conf, read as root) and signals the pid in
 * `pid_file` to reload it.
 *
 * Re-running never overwrites anything silently: without `force` it refuses and lists what exists; with
 * `force` it rewrites the config files but never the password file or a private key (the server certificate
 * is re-issued from the existing key when the hostname changed). Every line is explained in docs/DEPLOY.md.
 */
import { chmod, chown, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { certificateNames, deployTlsFiles, ensureDeployTls } from './tls.ts';

/** What to generate. */
export interface DeployMosquittoOptions {
  /** The directory to write (created if missing). */
  out: string;
  /** The name clients use to reach the broker; the server certificate is issued for it. */
  hostname: string;
  /** The plain MQTT listener, bound to 127.0.0.1. */
  mqttPort: number;
  /** The MQTT-over-secure-WebSockets listener (every interface). */
  wsPort: number;
  /** The seed's setup: anonymous clients, client ids not bound to accounts. */
  anonymous: boolean;
  /** The operator's own certificate chain and key, referenced by path (not copied). */
  tlsCert?: string;
  tlsKey?: string;
  /** Rewrite the config files of an existing deployment (never the password file or private keys). */
  force: boolean;
}

/** What was written and what the operator should do next. */
export interface DeployMosquittoResult {
  dir: string;
  confFile: string;
  aclFile: string;
  /** The password file (account mode only). */
  passwordFile: string | undefined;
  /** Mosquitto's pid file (SIGHUP this pid to reload the password file). */
  pidFile: string;
  certFile: string;
  keyFile: string;
  /** The generated CA certificate clients must trust, when the TLS material was generated. */
  caFile: string | undefined;
  caFingerprint: string | undefined;
  /** Files written or (re)created by this run. */
  written: string[];
  /** Files that existed and were deliberately left untouched (password file, private keys, certificates). */
  kept: string[];
  /** True when files were given to root:mosquitto; false when they are owner-only (see `notes`). */
  mosquittoOwned: boolean;
  /** Warnings and chown/chmod commands the operator still has to run. */
  notes: string[];
  /** Human-readable next steps (start, add a device, reload, audit). */
  nextSteps: string[];
}

/** Re-running without `force` on a directory that already holds a deployment. */
export class DeployConflictError extends Error {
  constructor(readonly existing: string[]) {
    super(
      `refusing to overwrite an existing deployment; these already exist:\n${existing.map((f) => `  ${f}`).join('\n')}\n` +
        're-run with --force to rewrite the config files (mosquitto.conf, aclfile, README.md); the password file and private keys are never overwritten',
    );
    this.name = 'DeployConflictError';
  }
}

/** The files of a deployment directory. */
export function deploymentFiles(dir: string) {
  const tls = path.join(dir, 'tls');
  return {
    conf: path.join(dir, 'mosquitto.conf'),
    acl: path.join(dir, 'aclfile'),
    accounts: path.join(dir, 'accounts'),
    passwd: path.join(dir, 'accounts', 'passwd'),
    /** Where deployments before the registration server kept it (still used when it exists). */
    legacyPasswd: path.join(dir, 'passwd'),
    pid: path.join(dir, 'data', 'mosquitto.pid'),
    readme: path.join(dir, 'README.md'),
    data: path.join(dir, 'data'),
    tlsDir: tls,
    ...deployTlsFiles(tls),
  };
}

interface Owner {
  uid: number;
  gid: number;
}

/** The `mosquitto` user and group from /etc/passwd and /etc/group, if both exist. */
async function lookupMosquitto(): Promise<Owner | undefined> {
  const field = async (file: string, index: number) => {
    const text = await readFile(file, 'utf8').catch(() => '');
    const line = text.split('\n').find((l) => l.split(':')[0] === 'mosquitto');
    const value = line === undefined ? NaN : Number(line.split(':')[index]);
    return Number.isInteger(value) ? value : undefined;
  };
  const uid = await field('/etc/passwd', 2);
  const gid = await field('/etc/group', 2);
  return uid === undefined || gid === undefined ? undefined : { uid, gid };
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** Writes `text` to `file` via a temporary file and rename, with mode (and owner) set before the rename. */
async function writeAtomic(
  file: string,
  text: string,
  mode: number,
  owner: Owner | undefined,
): Promise<void> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${Buffer.from(crypto.getRandomValues(new Uint8Array(6))).toString('hex')}.tmp`,
  );
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    if (owner) await handle.chown(owner.uid, owner.gid);
    await handle.chmod(mode);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, file);
}

async function setOwnerMode(file: string, mode: number, owner: Owner | undefined): Promise<void> {
  if (owner) await chown(file, owner.uid, owner.gid);
  await chmod(file, mode);
}

/** Ancestors of `dir` the mosquitto user cannot enter (it must, to reach the files after dropping root). */
async function untraversableParents(dir: string, mosquitto: Owner): Promise<string[]> {
  const blocked: string[] = [];
  for (let p = path.dirname(dir); ; p = path.dirname(p)) {
    const s = await stat(p).catch(() => undefined);
    if (s) {
      const ok =
        (s.mode & 0o001) !== 0 ||
        (s.gid === mosquitto.gid && (s.mode & 0o010) !== 0) ||
        (s.uid === mosquitto.uid && (s.mode & 0o100) !== 0);
      if (!ok) blocked.push(p);
    }
    if (path.dirname(p) === p) break;
  }
  return blocked;
}

const HUSH_ACL_LINES = ['pattern read chats/%c/messages', 'pattern write chats/+/messages'];

function renderAcl(anonymous: boolean): string {
  const mode = anonymous
    ? [
        "# Mode: anonymous (the seed's setup). Anyone may connect with any client id. A client reads only the",
        '# inbox named by its client id, so the random per-chat ids are the ONLY barrier: whoever learns an id',
        '# can connect with it, take that session over and read the inbox, queued messages included.',
      ]
    : [
        '# Mode: accounts. The broker replaces every client id with the authenticated username',
        '# (use_username_as_clientid true), so %c below is the account name and cannot be borrowed.',
      ];
  return [
    '# Hush aclfile, generated by `hush deploy mosquitto` (explained in docs/DEPLOY.md).',
    ...mode,
    '#',
    '# Each client may read exactly its own inbox (%c = its client id) ...',
    HUSH_ACL_LINES[0],
    '# ... and write into any inbox (that is how messages are delivered). Nothing else is allowed:',
    '# every other topic, $SYS included, is denied because no rule matches it.',
    HUSH_ACL_LINES[1],
    '',
  ].join('\n');
}

/**
 * The resource limits every generated deployment carries, matching the embedded broker's defaults
 * (src/broker/options.ts). Global options in Mosquitto 2.0.11 (mosquitto.conf(5)), except max_connections,
 * which is per listener. Exported so the lint and tests agree with what is written.
 */
export const MOSQUITTO_LIMITS = {
  /** Largest MQTT packet (header included); a bigger one disconnects its sender. */
  maxPacketSize: 256 * 1024,
  /** QoS 1/2 messages held per client beyond those in flight (Mosquitto's own default, written down). */
  maxQueuedMessages: 1000,
  /** Bytes of payload held per client beyond those in flight. */
  maxQueuedBytes: 32 * 1024 * 1024,
  /** Unacknowledged QoS 1/2 messages sent to one client at once (Mosquitto's default). */
  maxInflightMessages: 20,
  /** Bytes of payload sent to one client and not yet acknowledged. */
  maxInflightBytes: 1024 * 1024,
  /** Concurrent connections per listener. */
  maxConnections: 10_000,
} as const;

function limitLines(): string[] {
  const l = MOSQUITTO_LIMITS;
  return [
    `# The largest MQTT packet, header included (${l.maxPacketSize / 1024} KiB; Hush messages are far smaller):`,
    '# a client that sends a bigger one is disconnected. Mosquitto 2.0.11 checks this on TCP listeners only ...',
    `max_packet_size ${l.maxPacketSize}`,
    '# ... so the largest message payload is bounded too, which also covers the WebSockets listener (a bigger',
    '# message is acknowledged and dropped there: the sender is not told).',
    `message_size_limit ${l.maxPacketSize}`,
    '# Per client: at most this many QoS 1 messages wait (offline, or online but not reading) ...',
    `max_queued_messages ${l.maxQueuedMessages}`,
    `# ... and at most this many bytes of them (${l.maxQueuedBytes / 1024 / 1024} MiB); past either bound, new ones are dropped.`,
    `max_queued_bytes ${l.maxQueuedBytes}`,
    '# Per client: messages sent but not yet acknowledged, by count and by bytes (1 MiB).',
    `max_inflight_messages ${l.maxInflightMessages}`,
    `max_inflight_bytes ${l.maxInflightBytes}`,
  ];
}

/** `max_connections` under a listener, with what it bounds. */
function connectionLimitLines(): string[] {
  return [
    '# Per listener: at most this many clients connected at once through it.',
    `max_connections ${MOSQUITTO_LIMITS.maxConnections}`,
  ];
}

interface ConfInput {
  o: DeployMosquittoOptions;
  files: ReturnType<typeof deploymentFiles>;
  passwordFile: string | undefined;
  certFile: string;
  keyFile: string;
}

function renderConf({ o, files, passwordFile, certFile, keyFile }: ConfInput): string {
  const bind = o.anonymous ? [] : ['use_username_as_clientid true'];
  const lines = [
    `# mosquitto.conf for Hush, generated by \`hush deploy mosquitto\` for ${o.hostname}.`,
    '# Every line is explained in docs/DEPLOY.md. Mosquitto 2.0 syntax: one option per line, and `#`',
    '# starts a comment only at the beginning of a line (never after an option).',
    '#',
    ...(o.anonymous
      ? [
          "# MODE: ANONYMOUS (the seed's setup). Anyone may connect without an account, with any client id.",
          '# What this gives up: a client id is a bearer secret. Whoever learns or guesses one connects with it,',
          '# takes that session over and receives its inbox, queued messages included (`hush audit` reports',
          '# this as takeover-clean and takeover-persistent). Per-chat random ids are the only barrier. Use account mode',
          '# (re-run without --anonymous) wherever a registration service can hand out passwords.',
        ]
      : [
          '# MODE: ACCOUNTS. Every device has a username (its client id) and a password in the password file;',
          "# the broker uses the username as the client id, so nobody can take over another device's session.",
        ]),
    '',
    '# --- The process: its pid, for reloads (kill -HUP, or hush start --mosquitto-dir). Written as user',
    '# mosquitto, so it lives in the data directory.',
    `pid_file ${files.pid}`,
    '',
    '# --- Durability: sessions and queued QoS 1 messages survive a restart. ---',
    'persistence true',
    '# The directory must be writable by user mosquitto (Mosquitto drops root before writing it);',
    '# if it is not, the broker still starts and saving fails later, only in the log.',
    `persistence_location ${files.data}${path.sep}`,
    '',
    '# --- Limits: what one client can make the broker hold (global options; docs/DEPLOY.md). ---',
    '# Anyone may write into an inbox, so every one of these bounds what a stranger can pile up.',
    ...limitLines(),
    '# A device that stays away this long loses its session and its queue.',
    'persistent_client_expiration 30d',
    '# Retained messages are refused: otherwise anyone could pin a message on any inbox.',
    'retain_available false',
    '',
    '# --- Who may connect and what they may do. ---',
    '# These options apply to every listener below (per_listener_settings false).',
    'per_listener_settings false',
    ...(o.anonymous
      ? ['# No account needed (see MODE above).', 'allow_anonymous true']
      : [
          '# Only clients with a username and password from password_file get in.',
          'allow_anonymous false',
          '# Devices are added by the registration server (hush start --mosquitto-dir), or by hand:',
          '# hush passwd -b THIS_FILE USERNAME PASSWORD, then kill -HUP "$(cat PID_FILE)".',
          `password_file ${passwordFile}`,
        ]),
    '# Read your own inbox, write any inbox, nothing else.',
    `acl_file ${files.acl}`,
    '',
    '# --- Listener 1: plain MQTT on the loopback interface only. ---',
    '# Mosquitto 2.0 refuses to start with a WebSockets listener alone; this one also serves local tools',
    '# (mosquitto_sub -p PORT, bridges) and is unreachable from the network.',
    `listener ${o.mqttPort} 127.0.0.1`,
    ...connectionLimitLines(),
    ...(o.anonymous
      ? []
      : [
          '# Per listener: the client id becomes the authenticated username (closes client-id takeover).',
          ...bind,
        ]),
    '',
    `# --- Listener 2: MQTT over secure WebSockets, wss://${o.hostname}:${o.wsPort}/mqtt (every interface). ---`,
    '# Clients must ask for the WebSocket subprotocol `mqtt`; the path does not matter to Mosquitto.',
    `listener ${o.wsPort}`,
    'protocol websockets',
    ...connectionLimitLines(),
    '# The server certificate (with its chain) and key; the key is read after dropping to user mosquitto.',
    `certfile ${certFile}`,
    `keyfile ${keyFile}`,
    ...(o.anonymous
      ? []
      : ['# Per listener again: an option written once does not cover the other listener.', ...bind]),
    '',
  ];
  return lines.join('\n');
}

function renderReadme(o: DeployMosquittoOptions, r: DeployMosquittoResult): string {
  return [
    `# Hush on Mosquitto (${o.anonymous ? 'anonymous mode' : 'account mode'})`,
    '',
    'Generated by `hush deploy mosquitto`. Every line of `mosquitto.conf` is explained in docs/DEPLOY.md of',
    'the Hush repository. Files:',
    '',
    '- `mosquitto.conf`: the broker configuration (rewritten by `hush deploy mosquitto --force`).',
    '- `aclfile`: read your own inbox (`chats/%c/messages`), write any inbox, nothing else.',
    ...(o.anonymous
      ? []
      : [
          `- \`${path.relative(r.dir, r.passwordFile ?? '')}\`: one line per device (written by \`hush start --mosquitto-dir\``,
          '  or `hush passwd`); never overwritten by a re-run.',
        ]),
    "- `data/`: Mosquitto's database (sessions, queued messages) and pid file; owned by user `mosquitto`.",
    ...(r.caFile
      ? [
          '- `tls/ca.crt`: the local CA clients must trust; `tls/ca.key` its key (root only, keep it offline if',
          "  you can); `tls/server.crt` and `tls/server.key`: the broker's certificate and key.",
        ]
      : [`- TLS: your own certificate \`${r.certFile}\` and key \`${r.keyFile}\` (referenced, not copied).`]),
    '',
    ...(o.anonymous
      ? [
          '## What anonymous mode gives up',
          '',
          'Anyone may connect, with any client id. A client id is therefore a bearer secret: whoever learns or',
          'guesses one can connect with it, take that session over and receive that inbox, including the',
          'messages queued while its owner was offline. The random per-chat ids are the only barrier.',
          '`hush audit` reports exactly this as `takeover-clean` and `takeover-persistent` (leaks). Content stays end-to-end',
          'encrypted, but delivery can be stolen. Use account mode where you can run a registration service.',
          '',
        ]
      : []),
    '## Next steps',
    '',
    ...r.nextSteps.map((s) => `    ${s}`),
    '',
  ].join('\n');
}

function nextSteps(o: DeployMosquittoOptions, r: Omit<DeployMosquittoResult, 'nextSteps'>): string[] {
  const wss = `wss://${o.hostname}:${o.wsPort}/mqtt`;
  const credentials = o.anonymous
    ? ''
    : ' --username DEVICE_A --password PW_A --victim-username DEVICE_B --victim-password PW_B';
  const steps = [
    `# 1. start Mosquitto with it (as root; it drops to user mosquitto). Stop any other broker on port ${o.mqttPort} first.`,
    `mosquitto -c ${r.confFile}`,
    '#    under systemd: `systemctl edit mosquitto` and set',
    `#    ExecStart=  then  ExecStart=/usr/sbin/mosquitto -c ${r.confFile}`,
  ];
  if (!o.anonymous && r.passwordFile) {
    steps.push(
      '# 2. run the web app and registration server in front of it, as user mosquitto (never root)',
      `sudo -u mosquitto npx hush start --host 0.0.0.0 --tls-cert CERT --tls-key KEY --mosquitto-dir ${r.dir} --broker-url ${wss}`,
      '#    or add a device by hand (username = its client id), then make Mosquitto re-read the password file',
      `npx hush passwd -b ${r.passwordFile} DEVICE_ID DEVICE_PASSWORD`,
      `kill -HUP "$(cat ${r.pidFile})"`,
    );
  }
  steps.push(
    `# ${o.anonymous ? 2 : 3}. clients connect to ${wss} (WebSocket subprotocol mqtt${o.anonymous ? '' : ', username = client id'})` +
      (r.caFile ? `, trusting ${r.caFile}` : ''),
    `# ${o.anonymous ? 3 : 4}. check it`,
    `npx hush audit --mosquitto-conf ${r.confFile}`,
    `npx hush audit ${wss}${r.caFile ? ` --ca ${r.caFile}` : ''} --plain-port ${o.mqttPort}${credentials}`,
    "#    on the broker's host, the resource checks decide there (Mosquitto's WebSockets send large messages slowly)",
    `npx hush audit mqtt://127.0.0.1:${o.mqttPort}${credentials}`,
  );
  return steps;
}

/** Generates (or with `force`, refreshes) a Mosquitto deployment directory for Hush. */
export async function deployMosquitto(o: DeployMosquittoOptions): Promise<DeployMosquittoResult> {
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined))
    throw new Error('--tls-cert and --tls-key go together');
  if (o.mqttPort === o.wsPort) throw new Error(`--mqtt-port and --ws-port are both ${o.wsPort}`);
  if (o.tlsCert === undefined)
    certificateNames(o.hostname); // validates before anything is written
  else if (!/^[A-Za-z0-9.:-]+$/.test(o.hostname))
    throw new Error(`not a host name: ${JSON.stringify(o.hostname)}`);

  const dir = path.resolve(o.out);
  const files = deploymentFiles(dir);
  const tlsCert = o.tlsCert === undefined ? undefined : path.resolve(o.tlsCert);
  const tlsKey = o.tlsKey === undefined ? undefined : path.resolve(o.tlsKey);
  for (const [flag, file] of [
    ['--tls-cert', tlsCert],
    ['--tls-key', tlsKey],
  ] as const) {
    if (file === undefined) continue;
    const s = await stat(file).catch(() => undefined);
    if (!s?.isFile()) throw new Error(`${flag} ${file}: no such file`);
    if (/\s/.test(file)) throw new Error(`${flag} ${file}: Mosquitto cannot read paths with spaces here`);
  }
  if (/\s/.test(dir))
    throw new Error(`--out ${dir}: the path must not contain spaces (mosquitto.conf syntax)`);

  const managed = [
    files.conf,
    files.acl,
    files.passwd,
    files.legacyPasswd,
    files.readme,
    files.data,
    files.caKey,
    files.caFile,
    files.keyFile,
    files.certFile,
  ];
  const existing: string[] = [];
  for (const f of managed) if (await exists(f)) existing.push(f);
  if (existing.length > 0 && !o.force) throw new DeployConflictError(existing);

  const mosquitto = await lookupMosquitto();
  const asRoot = process.getuid?.() === 0;
  const mosquittoOwned = asRoot && mosquitto !== undefined;
  const rootGroup = mosquittoOwned ? { uid: 0, gid: mosquitto.gid } : undefined;
  const notes: string[] = [];
  const written: string[] = [];
  const kept: string[] = [];

  // The directory itself: root:mosquitto 0750 (Mosquitto must enter it after dropping root), else owner-only.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await setOwnerMode(dir, mosquittoOwned ? 0o750 : 0o700, rootGroup);

  // Data directory: owned by mosquitto, which writes the database there.
  if (!(await exists(files.data))) {
    await mkdir(files.data, { mode: 0o700 });
    written.push(files.data);
  }
  await setOwnerMode(files.data, mosquittoOwned ? 0o750 : 0o700, mosquittoOwned ? mosquitto : undefined);

  // TLS material.
  let certFile: string;
  let keyFile: string;
  let caFile: string | undefined;
  let caFingerprint: string | undefined;
  if (tlsCert !== undefined && tlsKey !== undefined) {
    certFile = tlsCert;
    keyFile = tlsKey;
    const key = await stat(tlsKey);
    if ((key.mode & 0o004) !== 0)
      notes.push(
        `${tlsKey} is readable by every local user: chown root:mosquitto ${tlsKey} && chmod 0640 ${tlsKey}`,
      );
    if (mosquittoOwned) {
      const readable =
        (key.mode & 0o004) !== 0 ||
        (key.gid === mosquitto.gid && (key.mode & 0o040) !== 0) ||
        (key.uid === mosquitto.uid && (key.mode & 0o400) !== 0);
      if (!readable)
        notes.push(
          `Mosquitto reads ${tlsKey} as user mosquitto and cannot: chown root:mosquitto ${tlsKey} && chmod 0640 ${tlsKey}`,
        );
    }
  } else {
    const tlsExisted = new Set<string>();
    for (const f of [files.caKey, files.caFile, files.keyFile, files.certFile])
      if (await exists(f)) tlsExisted.add(f);
    await mkdir(files.tlsDir, { recursive: true, mode: 0o700 });
    await chmod(files.tlsDir, 0o700); // closed while keys are made; opened to the group at the end
    const tls = await ensureDeployTls(files.tlsDir, o.hostname);
    for (const f of tls.created) written.push(f);
    for (const f of tlsExisted) if (!tls.created.includes(f)) kept.push(f);
    if (tls.created.includes(tls.caKey))
      await setOwnerMode(tls.caKey, 0o600, mosquittoOwned ? { uid: 0, gid: 0 } : undefined);
    if (tls.created.includes(tls.keyFile))
      await setOwnerMode(tls.keyFile, mosquittoOwned ? 0o640 : 0o600, rootGroup);
    if (tls.created.includes(tls.caFile)) await setOwnerMode(tls.caFile, 0o644, undefined);
    if (tls.created.includes(tls.certFile)) await setOwnerMode(tls.certFile, 0o644, undefined);
    await setOwnerMode(files.tlsDir, mosquittoOwned ? 0o750 : 0o700, rootGroup);
    certFile = tls.certFile;
    keyFile = tls.keyFile;
    caFile = tls.caFile;
    caFingerprint = tls.caFingerprint;
  }

  // Password file: created empty once, never rewritten here (devices are added by the registration server
  // or `hush passwd`). It sits alone in accounts/, owned by mosquitto, which the server runs as.
  let passwordFile: string | undefined;
  if (!o.anonymous) {
    const legacy = (await exists(files.legacyPasswd)) && !(await exists(files.passwd));
    passwordFile = legacy ? files.legacyPasswd : files.passwd;
    if (legacy) {
      kept.push(files.legacyPasswd);
      notes.push(
        `${files.legacyPasswd} is kept where it is. For hush start --mosquitto-dir, move it into a directory of its own that user mosquitto may write, then re-run with --force:`,
        `  mkdir ${files.accounts} && mv ${files.legacyPasswd} ${files.passwd} && chown -R mosquitto:mosquitto ${files.accounts} && chmod 0750 ${files.accounts} && chmod 0640 ${files.passwd}`,
      );
    } else {
      if (!(await exists(files.accounts))) {
        await mkdir(files.accounts, { mode: 0o700 });
        written.push(files.accounts);
      }
      await setOwnerMode(
        files.accounts,
        mosquittoOwned ? 0o750 : 0o700,
        mosquittoOwned ? mosquitto : undefined,
      );
      if (await exists(files.passwd)) kept.push(files.passwd);
      else {
        const handle = await open(files.passwd, 'wx', 0o600);
        if (mosquittoOwned) await handle.chown(mosquitto.uid, mosquitto.gid);
        await handle.chmod(mosquittoOwned ? 0o640 : 0o600);
        await handle.close();
        written.push(files.passwd);
      }
    }
  }

  // Config files: always (re)written.
  const secretMode = mosquittoOwned ? 0o640 : 0o600;
  await writeAtomic(files.acl, renderAcl(o.anonymous), secretMode, rootGroup);
  written.push(files.acl);
  await writeAtomic(
    files.conf,
    renderConf({ o, files, passwordFile, certFile, keyFile }),
    secretMode,
    rootGroup,
  );
  written.push(files.conf);

  if (!mosquittoOwned) {
    const why = asRoot ? 'there is no `mosquitto` user/group on this host' : 'this did not run as root';
    notes.push(
      `Files are owner-only because ${why}. Mosquitto reads the password file, the aclfile and the TLS key after dropping to user mosquitto; as root, run:`,
      `  chown root:mosquitto ${dir} ${files.conf} ${files.acl} && chmod 0750 ${dir} && chmod 0640 ${files.conf} ${files.acl}`,
      `  chown -R mosquitto:mosquitto ${files.data} && chmod 0750 ${files.data}`,
      ...(passwordFile === files.passwd
        ? [
            `  chown -R mosquitto:mosquitto ${files.accounts} && chmod 0750 ${files.accounts} && chmod 0640 ${files.passwd}`,
          ]
        : passwordFile
          ? [`  chown root:mosquitto ${passwordFile} && chmod 0640 ${passwordFile}`]
          : []),
      ...(caFile
        ? [
            `  chown root:mosquitto ${files.tlsDir} ${keyFile} && chmod 0750 ${files.tlsDir} && chmod 0640 ${keyFile}`,
            `  chown root:root ${files.caKey} && chmod 0600 ${files.caKey}`,
          ]
        : []),
    );
  } else {
    const blocked = await untraversableParents(dir, mosquitto);
    if (blocked.length > 0)
      notes.push(
        `user mosquitto cannot enter ${blocked.join(', ')}, so it will not reach the files it reads after dropping root: chmod o+x ${blocked.join(' ')} (or deploy elsewhere)`,
      );
  }

  const partial = {
    dir,
    confFile: files.conf,
    aclFile: files.acl,
    passwordFile,
    pidFile: files.pid,
    certFile,
    keyFile,
    caFile,
    caFingerprint,
    written,
    kept,
    mosquittoOwned,
    notes,
  };
  const result: DeployMosquittoResult = { ...partial, nextSteps: nextSteps(o, partial) };
  await writeAtomic(files.readme, renderReadme(o, result), 0o644, undefined);
  written.push(files.readme);
  return result;
}
