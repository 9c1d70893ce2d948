// `hush deploy mosquitto` against the real /usr/sbin/mosquitto (tests run as root): the generated directory
// starts a broker that drops to user `mosquitto` and writes its pid file, devices added with `hush passwd` +
// SIGHUP connect over wss:// trusting the generated CA, the attack suite finds nothing in account mode and exactly the documented
// takeover in anonymous mode, and re-running never touches the password file or private keys.
import { X509Certificate, createPublicKey } from 'node:crypto';
import { chmod, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAttackSuite, summarizeFindings, type Finding } from '../../src/audit/index.ts';
import { lintExitCode, lintMosquittoConf } from '../../src/audit/lint/index.ts';
import { runHush } from '../helpers/hush-broker.ts';
import { connectClient, settle } from '../helpers/mqtt.ts';
import { freePort } from '../helpers/ports.ts';
import { runMosquittoConf, type MosquittoProcess } from '../helpers/mosquitto.ts';

const INBOX = 'chats/%c/messages';
const ALICE = { username: 'alice-device-0001', password: 'alice-secret-pw' };
const BOB = { username: 'bob-device-0002', password: 'bob-secret-pw' };

type Running = MosquittoProcess;
const startFromDir = runMosquittoConf;

/** A temp dir the mosquitto user can enter (mkdtemp makes 0700 directories). */
async function traversableTemp(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hush-deploy-'));
  await chmod(dir, 0o755);
  return dir;
}

async function deploy(args: string[]) {
  return runHush(['deploy', 'mosquitto', ...args]);
}

const modeOf = async (file: string) => {
  const s = await stat(file);
  return { mode: s.mode & 0o777, uid: s.uid, gid: s.gid };
};

async function mosquittoIds(): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith('mosquitto:'));
  const group = (await readFile('/etc/group', 'utf8')).split('\n').find((l) => l.startsWith('mosquitto:'));
  return { uid: Number(line!.split(':')[2]), gid: Number(group!.split(':')[2]) };
}

const verdicts = (findings: Finding[]) => Object.fromEntries(findings.map((f) => [f.id, f.verdict]));

describe('hush deploy mosquitto, account mode, on the real broker', () => {
  let temp: string;
  let dir: string;
  let mqttPort: number;
  let wsPort: number;
  let broker: Running | undefined;
  let ca: Buffer;

  beforeAll(async () => {
    temp = await traversableTemp();
    dir = path.join(temp, 'deploy');
    mqttPort = await freePort();
    wsPort = await freePort();
    const result = await deploy(['--out', dir, '--mqtt-port', String(mqttPort), '--ws-port', String(wsPort)]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`hush passwd -b ${dir}/accounts/passwd`);
    expect(result.stdout).toContain(`--mosquitto-dir ${dir} --broker-url wss://localhost:${wsPort}/mqtt`);
    ca = await readFile(path.join(dir, 'tls/ca.crt'));
    broker = await startFromDir(path.join(dir, 'mosquitto.conf'), [mqttPort, wsPort]);
    for (const device of [ALICE, BOB]) {
      const added = await runHush([
        'passwd',
        '-b',
        path.join(dir, 'accounts/passwd'),
        device.username,
        device.password,
      ]);
      expect(added.code, added.stderr).toBe(0);
    }
    await broker.reload();
  }, 60_000);

  afterAll(async () => {
    await broker?.stop();
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  it('gives every file the owner and mode Mosquitto needs, nothing secret world-readable', async () => {
    const m = await mosquittoIds();
    const rootGroup = { uid: 0, gid: m.gid };
    expect(await modeOf(dir)).toEqual({ mode: 0o750, ...rootGroup });
    // The password file sits alone in accounts/, owned by mosquitto: the registration server runs as that user.
    const mosquittoOwned = { uid: m.uid, gid: m.gid };
    expect(await modeOf(path.join(dir, 'accounts'))).toEqual({ mode: 0o750, ...mosquittoOwned });
    expect(await modeOf(path.join(dir, 'accounts/passwd'))).toEqual({ mode: 0o640, ...mosquittoOwned }); // kept by hush passwd
    expect(await modeOf(path.join(dir, 'aclfile'))).toEqual({ mode: 0o640, ...rootGroup });
    expect(await modeOf(path.join(dir, 'mosquitto.conf'))).toEqual({ mode: 0o640, ...rootGroup });
    expect(await modeOf(path.join(dir, 'tls'))).toEqual({ mode: 0o750, ...rootGroup });
    expect(await modeOf(path.join(dir, 'tls/server.key'))).toEqual({ mode: 0o640, ...rootGroup });
    expect(await modeOf(path.join(dir, 'tls/ca.key'))).toEqual({ mode: 0o600, uid: 0, gid: 0 });
    expect(await modeOf(path.join(dir, 'data'))).toEqual({ mode: 0o750, uid: m.uid, gid: m.gid });
    const conf = await readFile(path.join(dir, 'mosquitto.conf'), 'utf8');
    const options = conf.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(options.filter((l) => l === 'use_username_as_clientid true')).toHaveLength(2);
    expect(options.filter((l) => l === 'max_connections 10000')).toHaveLength(2);
    expect(options).toEqual(
      expect.arrayContaining([
        'allow_anonymous false',
        'retain_available false',
        'max_queued_messages 1000',
        'max_packet_size 262144',
        'message_size_limit 262144',
        'max_queued_bytes 33554432',
        'max_inflight_messages 20',
        'max_inflight_bytes 1048576',
        'persistent_client_expiration 30d',
        'persistence true',
        `persistence_location ${dir}/data/`,
        `pid_file ${dir}/data/mosquitto.pid`,
        `password_file ${dir}/accounts/passwd`,
        `listener ${mqttPort} 127.0.0.1`,
        `listener ${wsPort}`,
        'protocol websockets',
      ]),
    );
    const acl = await readFile(path.join(dir, 'aclfile'), 'utf8');
    expect(acl.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([
      'pattern read chats/%c/messages',
      'pattern write chats/+/messages',
    ]);
  });

  it('lets two devices added with hush passwd + SIGHUP exchange a message over wss:// trusting the CA', async () => {
    const url = `wss://localhost:${wsPort}/mqtt`;
    const alice = await connectClient(url, { ...ALICE, clientId: ALICE.username, ca, clean: false });
    const bob = await connectClient(url, { ...BOB, clientId: BOB.username, ca, clean: false });
    try {
      await bob.client.subscribeAsync(`chats/${BOB.username}/messages`, { qos: 1 });
      await alice.client.publishAsync(`chats/${BOB.username}/messages`, 'hello bob', { qos: 1 });
      await settle(bob, 1);
      expect(bob.received.map((r) => r.payload)).toEqual(['hello bob']);
    } finally {
      await Promise.all([alice.end(), bob.end()]);
    }
    // Without trusting the generated CA the certificate is refused.
    await expect(connectClient(url, { ...ALICE, clientId: ALICE.username })).rejects.toThrow();
  });

  it('passes the attack suite over wss:// with accounts: no leak, no takeover (exit code 0)', async () => {
    const findings = await runAttackSuite(
      {
        url: `wss://localhost:${wsPort}/mqtt`,
        attacker: ALICE,
        victim: BOB,
        inboxPattern: INBOX,
        ca,
        plainPorts: [mqttPort],
        timeoutMs: 3000,
      },
      undefined,
      // The resource checks against this deployment: deploy-mosquitto-limits.test.ts.
      { resourceChecks: false },
    );
    const v = verdicts(findings);
    expect(v['takeover-clean']).toBe('pass');
    expect(v['takeover-persistent']).toBe('pass');
    expect(v['wildcard-all']).toBe('pass');
    expect(summarizeFindings(findings), JSON.stringify(findings, null, 1)).toMatchObject({
      leaks: 0,
      weaknesses: 0,
      exitCode: 0,
    });
  }, 60_000);

  it('lints clean: nothing critical, high or medium, in-process and via hush audit --mosquitto-conf', async () => {
    const conf = path.join(dir, 'mosquitto.conf');
    const findings = await lintMosquittoConf(conf);
    expect(lintExitCode(findings), JSON.stringify(findings, null, 1)).toBe(0);
    const cli = await runHush(['audit', '--mosquitto-conf', conf]);
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
  });

  it('writes its pid file as user mosquitto: the pid of the running broker, for reloads', async () => {
    const pidFile = path.join(dir, 'data/mosquitto.pid');
    expect(Number((await readFile(pidFile, 'utf8')).trim())).toBe(broker!.pid);
    expect((await modeOf(pidFile)).uid).toBe((await mosquittoIds()).uid);
  });

  it('persists its database into data/ as user mosquitto', async () => {
    await broker!.stop();
    expect(broker!.log()).not.toMatch(/Error saving|Permission denied|Unable to/i);
    const db = await modeOf(path.join(dir, 'data/mosquitto.db'));
    expect(db.uid).toBe((await mosquittoIds()).uid);
  });
});

describe('hush deploy mosquitto --anonymous (the seed setup), on the real broker', () => {
  let temp: string;
  let dir: string;
  let broker: Running | undefined;

  beforeAll(async () => {
    temp = await traversableTemp();
    dir = path.join(temp, 'deploy');
  });
  afterAll(async () => {
    await broker?.stop();
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  it('starts, and the audit reports exactly the documented takeover and no wildcard leak', async () => {
    const mqttPort = await freePort();
    const wsPort = await freePort();
    const result = await deploy([
      '--out',
      dir,
      '--anonymous',
      '--mqtt-port',
      String(mqttPort),
      '--ws-port',
      String(wsPort),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/takeover/);
    const conf = await readFile(path.join(dir, 'mosquitto.conf'), 'utf8');
    const options = conf.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(options).toContain('allow_anonymous true');
    expect(options.some((l) => l.startsWith('password_file'))).toBe(false);
    expect(options.some((l) => l.startsWith('use_username_as_clientid'))).toBe(false);
    expect(conf).toMatch(/only barrier/);
    await expect(stat(path.join(dir, 'passwd'))).rejects.toThrow();

    broker = await startFromDir(path.join(dir, 'mosquitto.conf'), [mqttPort, wsPort]);
    const findings = await runAttackSuite(
      {
        url: `wss://localhost:${wsPort}/mqtt`,
        attacker: {},
        victim: {},
        inboxPattern: INBOX,
        ca: await readFile(path.join(dir, 'tls/ca.crt')),
        plainPorts: [mqttPort],
        timeoutMs: 3000,
      },
      undefined,
      // The resource checks against this deployment: deploy-mosquitto-limits.test.ts.
      { resourceChecks: false },
    );
    const v = verdicts(findings);
    expect(v['takeover-persistent']).toBe('leak');
    for (const id of [
      'wildcard-all',
      'wildcard-plus-all',
      'wildcard-levels',
      'wildcard-prefix',
      'wildcard-inboxes',
      'wildcard-shared',
    ])
      expect(v[id], id).toBe('pass');
    expect(
      findings.filter((f) => f.verdict === 'leak' && !f.id.startsWith('takeover-')).map((f) => f.id),
    ).toEqual([]);
  }, 60_000);
});

describe('re-running hush deploy mosquitto on an existing directory', () => {
  let temp: string;
  beforeAll(async () => {
    temp = await traversableTemp();
  });
  afterAll(() => rm(temp, { recursive: true, force: true }));

  it('refuses without --force and never changes the password file or keys, even with --force', async () => {
    const dir = path.join(temp, 'deploy');
    const first = await deploy(['--out', dir]);
    expect(first.code, first.stderr).toBe(0);
    const added = await runHush([
      'passwd',
      '-b',
      path.join(dir, 'accounts/passwd'),
      ALICE.username,
      ALICE.password,
    ]);
    expect(added.code, added.stderr).toBe(0);
    const kept = ['accounts/passwd', 'tls/ca.key', 'tls/server.key', 'tls/ca.crt'].map((f) =>
      path.join(dir, f),
    );
    const snapshot = async () => Promise.all(kept.map((f) => readFile(f)));
    const before = await snapshot();
    const certBefore = await readFile(path.join(dir, 'tls/server.crt'));

    const refused = await deploy(['--out', dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refusing to overwrite');
    for (const f of ['mosquitto.conf', 'accounts/passwd', 'tls/server.key', 'tls/ca.key'])
      expect(refused.stderr).toContain(path.join(dir, f));
    expect(await snapshot()).toEqual(before);

    const forced = await deploy(['--out', dir, '--force', '--ws-port', '9443']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await snapshot()).toEqual(before);
    expect(await readFile(path.join(dir, 'tls/server.crt'))).toEqual(certBefore); // same hostname
    expect(await readFile(path.join(dir, 'mosquitto.conf'), 'utf8')).toContain('listener 9443\n');

    const renamed = await deploy(['--out', dir, '--force', '--hostname', 'chat.example.org']);
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(await snapshot()).toEqual(before);
    const cert = new X509Certificate(await readFile(path.join(dir, 'tls/server.crt')));
    expect(cert.subjectAltName).toContain('DNS:chat.example.org');
    expect(cert.checkIssued(new X509Certificate(before[3]!))).toBe(true);
    const key = await readFile(path.join(dir, 'tls/server.key'), 'utf8');
    expect(cert.publicKey.export({ format: 'pem', type: 'spki' })).toEqual(
      createPublicKey(key).export({ format: 'pem', type: 'spki' }),
    );

    const anonymous = await deploy(['--out', dir, '--force', '--anonymous']);
    expect(anonymous.code, anonymous.stderr).toBe(0);
    expect(await snapshot()).toEqual(before);
  }, 90_000); // five hush processes, each generating or checking TLS material

  it('keeps a password file of the older layout (DIR/passwd) where it is, and says how to move it', async () => {
    const dir = path.join(temp, 'legacy');
    const first = await deploy(['--out', dir]);
    expect(first.code, first.stderr).toBe(0);
    // The layout before the registration server: the password file next to mosquitto.conf.
    await rename(path.join(dir, 'accounts/passwd'), path.join(dir, 'passwd'));
    await rm(path.join(dir, 'accounts'), { recursive: true });
    const before = await readFile(path.join(dir, 'passwd'));
    const forced = await deploy(['--out', dir, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`kept   ${path.join(dir, 'passwd')}`);
    expect(forced.stdout).toContain(`mv ${path.join(dir, 'passwd')} ${path.join(dir, 'accounts/passwd')}`);
    expect(await readFile(path.join(dir, 'mosquitto.conf'), 'utf8')).toContain(
      `password_file ${path.join(dir, 'passwd')}\n`,
    );
    expect(await readFile(path.join(dir, 'passwd'))).toEqual(before);
    await expect(stat(path.join(dir, 'accounts'))).rejects.toThrow();
  });

  it('references the operator’s own certificate and key by path instead of generating them', async () => {
    const dir = path.join(temp, 'own-tls');
    const source = path.join(temp, 'deploy/tls');
    const result = await deploy([
      '--out',
      dir,
      '--tls-cert',
      path.join(source, 'server.crt'),
      '--tls-key',
      path.join(source, 'server.key'),
    ]);
    expect(result.code, result.stderr).toBe(0);
    const conf = await readFile(path.join(dir, 'mosquitto.conf'), 'utf8');
    expect(conf).toContain(`certfile ${path.join(source, 'server.crt')}\n`);
    expect(conf).toContain(`keyfile ${path.join(source, 'server.key')}\n`);
    await expect(stat(path.join(dir, 'tls'))).rejects.toThrow();
  });
});
