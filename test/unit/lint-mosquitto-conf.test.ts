// Unit tests for the mosquitto.conf lint (src/audit/lint/mosquitto-conf-lint.ts): each rule fires on a small
// config written to a temp directory, names the right file and line, and Hush's own deployment passes.

import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lintExitCode, lintMosquittoConf, type LintFinding } from '../../src/audit/lint/index.ts';

let dir: string;
let acl: string;
let passwd: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hush-lint-conf-'));
  acl = path.join(dir, 'aclfile');
  passwd = path.join(dir, 'passwd');
  await writeFile(acl, 'pattern read chats/%c/messages\npattern write chats/+/messages\n');
  await writeFile(passwd, 'device:$7$101$c2FsdA==$aGFzaA==\n');
  await chmod(acl, 0o640);
  await chmod(passwd, 0o640);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let counter = 0;
/** Writes a config (lines joined with \n) and lints it; findings are `line severity id`. */
async function lintConf(lines: string[], cwd?: string): Promise<{ file: string; findings: LintFinding[] }> {
  const file = path.join(dir, `mosquitto-${counter++}.conf`);
  await writeFile(file, lines.join('\n') + '\n');
  return { file, findings: await lintMosquittoConf(file, cwd === undefined ? {} : { cwd }) };
}
/** Findings about size, queue and connection limits (tested on their own below). */
const LIMIT_IDS = new Set([
  'no-message-size-limit',
  'size-limit-not-on-websockets',
  'no-queued-bytes-limit',
  'unbounded-inflight',
  'no-connection-limit',
]);
const withoutLimits = (findings: LintFinding[]) => findings.filter((f) => !LIMIT_IDS.has(f.id));
const ids = (findings: LintFinding[]) => findings.map((f) => `${f.line} ${f.severity} ${f.id}`);
const only = (findings: LintFinding[], id: string) => ids(findings.filter((f) => f.id === id));

/** What `hush deploy mosquitto` aims for: authenticated devices, ids bound to usernames, loopback only. */
const hushConf = () => [
  'per_listener_settings false',
  'allow_anonymous false',
  `password_file ${passwd}`,
  `acl_file ${acl}`,
  'retain_available false',
  'persistent_client_expiration 30d',
  'listener 1883 127.0.0.1',
  'use_username_as_clientid true',
  'listener 8083 lo',
  'protocol websockets',
  'use_username_as_clientid true',
];

describe('mosquitto.conf lint: whole configurations', () => {
  it("passes Hush's own deployment with only informational findings", async () => {
    const { findings } = await lintConf(hushConf());
    expect(ids(withoutLimits(findings))).toEqual([
      '7 info plain-listener-loopback',
      '9 info plain-websockets-loopback',
    ]);
  });

  it('fails an open broker: anonymous clients, no acl_file, plain MQTT on every interface', async () => {
    const { findings } = await lintConf(['listener 1883', 'allow_anonymous true']);
    expect(only(findings, 'anonymous-without-acl')).toEqual(['2 critical anonymous-without-acl']);
    expect(only(findings, 'plain-listener')).toEqual(['1 high plain-listener']);
    expect(lintExitCode(findings)).toBe(1);
  });

  it('reports the seed setup (anonymous + %c inbox) as a client-id takeover but finds the aclfile clean', async () => {
    const { findings } = await lintConf([
      'allow_anonymous true',
      `acl_file ${acl}`,
      'persistent_client_expiration 1d',
      'listener 1883 127.0.0.1',
    ]);
    expect(ids(withoutLimits(findings))).toEqual([
      '2 low retained-inbox',
      '4 high client-id-not-bound',
      '4 info plain-listener-loopback',
    ]);
    expect(findings.filter((f) => f.file === acl)).toEqual([]);
  });

  it('reports no listener at all as local-only (info)', async () => {
    const { findings } = await lintConf(['allow_anonymous true']);
    expect(ids(findings)).toEqual(['undefined info local-only']);
  });
});

describe('mosquitto.conf lint: access control', () => {
  it('flags a password file without an acl_file as high: every account reads every topic', async () => {
    const { findings } = await lintConf([`password_file ${passwd}`, 'listener 1883 127.0.0.1']);
    expect(only(findings, 'no-acl-file')).toEqual(['1 high no-acl-file']);
  });

  it('flags use_username_as_clientid without a password file: usernames are never checked', async () => {
    const { findings } = await lintConf([
      'allow_anonymous true',
      `acl_file ${acl}`,
      'listener 1883 127.0.0.1',
      'use_username_as_clientid true',
    ]);
    expect(only(findings, 'username-not-authenticated')).toEqual(['4 high username-not-authenticated']);
    expect(only(findings, 'client-id-not-bound')).toEqual([]);
  });

  it('flags each listener without use_username_as_clientid while the aclfile uses %c', async () => {
    const conf = hushConf().filter((_, i) => i !== 10);
    const { findings } = await lintConf(conf);
    expect(only(findings, 'client-id-not-bound')).toEqual(['9 high client-id-not-bound']);
  });

  it('lints the acl_file the config names and reports its findings under the aclfile name', async () => {
    const open = path.join(dir, 'open-acl');
    await writeFile(open, '# open\ntopic read #\n');
    await chmod(open, 0o600);
    const { findings } = await lintConf([
      'allow_anonymous true',
      `acl_file ${open}`,
      'listener 1883 127.0.0.1',
    ]);
    const aclFindings = findings.filter((f) => f.file === open);
    expect(ids(aclFindings)).toEqual(['2 critical acl-anonymous-reads-wildcard']);
  });

  it('reports an aclfile parse error with the aclfile line', async () => {
    const broken = path.join(dir, 'broken-acl');
    await writeFile(broken, 'pattern read chats/%c/messages\nallow read #\n');
    await chmod(broken, 0o600);
    const { findings } = await lintConf([`acl_file ${broken}`, 'listener 1883 127.0.0.1']);
    expect(findings.filter((f) => f.file === broken).map((f) => `${f.line} ${f.id}`)).toEqual([
      '2 acl-parse-error',
    ]);
  });

  it('notes inbox writes with retained messages available as low', async () => {
    const { findings } = await lintConf(hushConf().filter((l) => l !== 'retain_available false'));
    expect(only(findings, 'retained-inbox')).toEqual(['4 low retained-inbox']);
  });
});

describe('mosquitto.conf lint: listeners', () => {
  it('flags plain WebSockets on every interface as high and on `lo` as info', async () => {
    const { findings } = await lintConf([
      'listener 1883 127.0.0.1',
      'listener 8080',
      'protocol websockets',
      'listener 8081 lo',
      'protocol websockets',
    ]);
    expect(only(findings, 'plain-websockets')).toEqual(['2 high plain-websockets']);
    expect(only(findings, 'plain-websockets-loopback')).toEqual(['4 info plain-websockets-loopback']);
  });

  it('explains that a WebSocket listener on 127.0.0.1 still listens on every interface', async () => {
    const { findings } = await lintConf([
      'listener 1883 127.0.0.1',
      'listener 8080 127.0.0.1',
      'protocol websockets',
    ]);
    const [ws] = findings.filter((f) => f.id === 'plain-websockets');
    expect(ws?.line).toBe(2);
    expect(ws?.message).toContain('ignore an IP bind address');
    expect(ws?.fix).toContain('listener 8080 lo');
  });

  it('accepts TLS listeners and flags a certfile without keyfile, which Mosquitto serves in clear text', async () => {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    await writeFile(cert, 'cert');
    await writeFile(key, 'key');
    await chmod(key, 0o600);
    const { findings } = await lintConf([
      'listener 8883',
      `certfile ${cert}`,
      `keyfile ${key}`,
      'listener 8884',
      `certfile ${cert}`,
    ]);
    // The listener with both files is TLS: no plain-listener finding on line 1.
    expect(only(findings, 'plain-listener')).toEqual(['4 high plain-listener']);
    expect(only(findings, 'tls-incomplete')).toEqual(['5 high tls-incomplete']);
  });

  it('flags a world-readable TLS key as high', async () => {
    const cert = path.join(dir, 'cert2.pem');
    const key = path.join(dir, 'key2.pem');
    await writeFile(cert, 'cert');
    await writeFile(key, 'key');
    await chmod(key, 0o644);
    const { findings } = await lintConf(['listener 8883', `certfile ${cert}`, `keyfile ${key}`]);
    expect(only(findings, 'world-readable')).toEqual(['3 high world-readable']);
  });

  it('flags use_username_as_clientid before the first listener: it opens an extra listener on 1883', async () => {
    const { findings } = await lintConf(['use_username_as_clientid true', ...hushConf()]);
    expect(only(findings, 'use-username-as-clientid-before-listener')).toEqual([
      '1 high use-username-as-clientid-before-listener',
    ]);
    // The hidden listener is plain MQTT on every interface, and reported as such.
    expect(only(findings, 'plain-listener')).toEqual(['1 high plain-listener']);
  });

  it('flags another listener option before the first listener as opening the default listener', async () => {
    const { findings } = await lintConf(['max_connections 100', ...hushConf()]);
    expect(only(findings, 'default-listener-created')).toEqual(['1 high default-listener-created']);
  });

  it('treats `port` without any listener line as the main listener, not a surprise', async () => {
    const { findings } = await lintConf(['port 1883', `password_file ${passwd}`, `acl_file ${acl}`]);
    expect(only(findings, 'default-listener-created')).toEqual([]);
    expect(only(findings, 'plain-listener')).toEqual(['1 high plain-listener']);
  });
});

describe('mosquitto.conf lint: per_listener_settings', () => {
  it('flags security options before the first listener as silently ignored when per_listener_settings is true', async () => {
    const { findings } = await lintConf([
      'per_listener_settings true',
      `acl_file ${acl}`,
      'listener 1883 127.0.0.1',
      'allow_anonymous true',
    ]);
    expect(only(findings, 'per-listener-setting-ignored')).toEqual(['2 high per-listener-setting-ignored']);
    expect(only(findings, 'anonymous-without-acl')).toEqual(['4 critical anonymous-without-acl']);
  });

  it('checks each listener on its own when per_listener_settings is true', async () => {
    const { findings } = await lintConf([
      'per_listener_settings true',
      'listener 1883 127.0.0.1',
      'allow_anonymous true',
      `acl_file ${acl}`,
      'listener 1884 127.0.0.1',
      'allow_anonymous true',
    ]);
    expect(only(findings, 'anonymous-without-acl')).toEqual(['6 critical anonymous-without-acl']);
    expect(only(findings, 'client-id-not-bound')).toEqual(['2 high client-id-not-bound']);
  });

  it('flags a password_file before the first listener with per_listener_settings true as opening the default listener', async () => {
    const { findings } = await lintConf([
      'per_listener_settings true',
      `password_file ${passwd}`,
      'listener 1883 127.0.0.1',
    ]);
    expect(only(findings, 'default-listener-created')).toEqual(['2 high default-listener-created']);
  });

  it('reports per_listener_settings true after another security option as a parse error', async () => {
    const { findings } = await lintConf([
      'allow_anonymous false',
      'per_listener_settings true',
      'listener 1883',
    ]);
    expect(only(findings, 'conf-parse-error')).toEqual(['2 critical conf-parse-error']);
  });

  it('notes a security option under one listener that applies to all when per_listener_settings is false', async () => {
    const { findings } = await lintConf([
      `password_file ${passwd}`,
      `acl_file ${acl}`,
      'listener 1883 127.0.0.1',
      'listener 1884 127.0.0.1',
      'allow_anonymous true',
    ]);
    expect(only(findings, 'security-option-applies-to-all-listeners')).toEqual([
      '5 low security-option-applies-to-all-listeners',
    ]);
  });
});

describe('mosquitto.conf lint: limits', () => {
  it('flags max_queued_messages 0 as an unbounded queue (medium)', async () => {
    const { findings } = await lintConf([...hushConf(), 'max_queued_messages 0']);
    expect(only(findings, 'unbounded-queue')).toEqual(['12 medium unbounded-queue']);
    expect(lintExitCode(findings)).toBe(1);
  });

  it('notes a missing persistent_client_expiration as low', async () => {
    const { findings } = await lintConf(hushConf().filter((l) => !l.startsWith('persistent_client')));
    expect(only(findings, 'no-session-expiry')).toEqual(['undefined low no-session-expiry']);
  });
});

describe('mosquitto.conf lint: syntax Mosquitto refuses', () => {
  it.each([
    ['an unknown option', 'allow_anonymus true', "unknown option 'allow_anonymus'"],
    ['an indented comment', '  # listener 1883', 'comment must start in column 1'],
    ['a tab between option and value', 'listener\t1883', 'a tab is part of the word'],
    ['a listener without a port', 'listener', 'empty listener value'],
    ['a listener with a bad port', 'listener 99999', "invalid listener port '99999'"],
    ['a boolean that is not true or false', 'allow_anonymous yes', "invalid allow_anonymous value 'yes'"],
    ['a bad protocol', 'protocol ws', "invalid protocol value 'ws'"],
  ])('reports %s as a parse finding on its line', async (_name, line, message) => {
    const { file, findings } = await lintConf(['listener 1883 127.0.0.1', line]);
    const parse = findings.filter((f) => f.id === 'conf-parse-error');
    expect(parse.map((f) => `${f.file}:${f.line}`)).toEqual([`${file}:2`]);
    expect(parse[0]?.message).toContain(message);
    expect(parse[0]?.severity).toBe('critical');
  });

  it('reports a second acl_file line as a duplicate', async () => {
    const { findings } = await lintConf([`acl_file ${acl}`, `acl_file ${acl}`, 'listener 1883 127.0.0.1']);
    expect(only(findings, 'conf-parse-error')).toEqual(['2 critical conf-parse-error']);
  });

  it('reads a missing config as one critical finding', async () => {
    const file = path.join(dir, 'no-such.conf');
    const findings = await lintMosquittoConf(file);
    expect(findings.map((f) => `${f.file} ${f.severity} ${f.id}`)).toEqual([`${file} critical missing-file`]);
  });
});

describe('mosquitto.conf lint: files the config names', () => {
  it('flags a missing acl_file and password_file as critical', async () => {
    const { findings } = await lintConf([
      `password_file ${path.join(dir, 'nope-passwd')}`,
      `acl_file ${path.join(dir, 'nope-acl')}`,
      'listener 1883 127.0.0.1',
    ]);
    expect(only(findings, 'missing-file')).toEqual(['1 critical missing-file', '2 critical missing-file']);
  });

  it('flags a world-readable password file as high', async () => {
    const open = path.join(dir, 'passwd-644');
    await writeFile(open, 'device:x\n');
    await chmod(open, 0o644);
    const { findings } = await lintConf([
      `password_file ${open}`,
      `acl_file ${acl}`,
      'listener 1883 127.0.0.1',
    ]);
    expect(only(findings, 'world-readable')).toEqual(['1 high world-readable']);
    expect(findings.find((f) => f.id === 'world-readable')?.fix).toContain('chmod 0640');
  });

  it('flags a relative acl_file path and resolves it against the working directory given', async () => {
    const { findings } = await lintConf(
      ['allow_anonymous true', 'acl_file aclfile', 'listener 1883 127.0.0.1'],
      dir,
    );
    expect(only(findings, 'relative-path')).toEqual(['2 low relative-path']);
    expect(only(findings, 'missing-file')).toEqual([]);
    expect(only(findings, 'client-id-not-bound')).toEqual(['3 high client-id-not-bound']);
  });

  it('finds a relative acl_file missing when resolved from another working directory', async () => {
    const { findings } = await lintConf(['acl_file aclfile', 'listener 1883 127.0.0.1'], '/');
    expect(only(findings, 'missing-file')).toEqual(['1 critical missing-file']);
  });
});

describe('mosquitto.conf lint: include_dir', () => {
  it('follows include_dir in Mosquitto order and reports findings in the included file', async () => {
    const inc = path.join(dir, 'conf.d');
    await mkdir(inc, { recursive: true });
    await writeFile(path.join(inc, 'b.conf'), '# second\nmax_queued_messages 0\n');
    await writeFile(path.join(inc, 'A.conf'), 'listener 1884\n');
    await writeFile(path.join(inc, 'ignored.txt'), 'not an option\n');
    const { findings } = await lintConf([...hushConf(), `include_dir ${inc}`]);
    expect(
      withoutLimits(findings)
        .filter((f) => f.file.startsWith(inc))
        .map((f) => `${path.basename(f.file)}:${f.line} ${f.id}`),
    ).toEqual(['A.conf:1 client-id-not-bound', 'A.conf:1 plain-listener', 'b.conf:2 unbounded-queue']);
  });

  it('puts options at the top of an included file on the default listener, as Mosquitto does', async () => {
    const inc = path.join(dir, 'conf2.d');
    await mkdir(inc, { recursive: true });
    await writeFile(path.join(inc, 'uuac.conf'), 'use_username_as_clientid true\n');
    const { findings } = await lintConf([...hushConf(), `include_dir ${inc}`]);
    const hidden = findings.filter((f) => f.id === 'use-username-as-clientid-before-listener');
    expect(hidden.map((f) => `${path.basename(f.file)}:${f.line}`)).toEqual(['uuac.conf:1']);
  });

  it('does not follow include_dir inside an included file, which Mosquitto ignores', async () => {
    const inc = path.join(dir, 'conf3.d');
    await mkdir(path.join(inc, 'nested'), { recursive: true });
    await writeFile(path.join(inc, 'a.conf'), `include_dir ${path.join(inc, 'nested')}\n`);
    await writeFile(path.join(inc, 'nested', 'z.conf'), 'bogus option\n');
    const { findings } = await lintConf([...hushConf(), `include_dir ${inc}`]);
    expect(only(findings, 'include-dir-ignored')).toEqual(['1 info include-dir-ignored']);
    expect(only(findings, 'conf-parse-error')).toEqual([]);
  });

  it('reports an include_dir that does not exist as a parse finding', async () => {
    const { findings } = await lintConf([...hushConf(), `include_dir ${path.join(dir, 'nope.d')}`]);
    expect(only(findings, 'conf-parse-error')).toEqual(['12 critical conf-parse-error']);
  });
});

/** Hush's deployment with the limits `hush deploy mosquitto` writes: global ones, then per listener. */
const limitedConf = () => [
  'per_listener_settings false', // 1
  'allow_anonymous false', // 2
  `password_file ${passwd}`, // 3
  `acl_file ${acl}`, // 4
  'retain_available false', // 5
  'persistent_client_expiration 30d', // 6
  'max_packet_size 262144', // 7
  'message_size_limit 262144', // 8
  'max_queued_messages 1000', // 9
  'max_queued_bytes 33554432', // 10
  'max_inflight_messages 20', // 11
  'max_inflight_bytes 1048576', // 12
  'listener 1883 127.0.0.1', // 13
  'max_connections 10000', // 14
  'use_username_as_clientid true', // 15
  'listener 8083 lo', // 16
  'protocol websockets', // 17
  'max_connections 10000', // 18
  'use_username_as_clientid true', // 19
];
const limitFindings = (findings: LintFinding[]) => ids(findings.filter((f) => LIMIT_IDS.has(f.id)));
const replaceLine = (lines: string[], line: number, text: string | undefined) =>
  lines.flatMap((l, i) => (i === line - 1 ? (text === undefined ? [] : [text]) : [l]));

describe('mosquitto.conf lint: size, queue and connection limits', () => {
  it('passes the limits hush deploy mosquitto writes: no limit finding, exit code 0', async () => {
    const { findings } = await lintConf(limitedConf());
    expect(limitFindings(findings)).toEqual([]);
    expect(lintExitCode(findings)).toBe(0);
  });

  it('flags a config without any size limit, naming the file (exit 1)', async () => {
    const conf = replaceLine(replaceLine(limitedConf(), 8, undefined), 7, undefined);
    const { file, findings } = await lintConf(conf);
    expect(limitFindings(findings)).toEqual(['undefined medium no-message-size-limit']);
    expect(findings.find((f) => f.id === 'no-message-size-limit')?.file).toBe(file);
    expect(lintExitCode(findings)).toBe(1);
  });

  it('flags a size limit of 0 at its line', async () => {
    const conf = replaceLine(replaceLine(limitedConf(), 8, 'message_size_limit 0'), 7, 'max_packet_size 0');
    const { findings } = await lintConf(conf);
    expect(limitFindings(findings)).toEqual(['7 medium no-message-size-limit']);
  });

  it('flags max_packet_size alone when there is a WebSockets listener (2.0.11 ignores it there)', async () => {
    const { findings } = await lintConf(replaceLine(limitedConf(), 8, undefined));
    expect(limitFindings(findings)).toEqual(['7 medium size-limit-not-on-websockets']);
    expect(lintExitCode(findings)).toBe(1);
  });

  it('accepts max_packet_size alone without a WebSockets listener', async () => {
    const conf = replaceLine(limitedConf(), 8, undefined).slice(0, 14);
    const { findings } = await lintConf(conf);
    expect(limitFindings(findings)).toEqual([]);
  });

  it('flags a missing max_queued_bytes (file) and max_queued_bytes 0 (line)', async () => {
    const missing = await lintConf(replaceLine(limitedConf(), 10, undefined));
    expect(limitFindings(missing.findings)).toEqual(['undefined medium no-queued-bytes-limit']);
    expect(lintExitCode(missing.findings)).toBe(1);
    const zero = await lintConf(replaceLine(limitedConf(), 10, 'max_queued_bytes 0'));
    expect(limitFindings(zero.findings)).toEqual(['10 medium no-queued-bytes-limit']);
  });

  it('flags max_queued_messages 0 (no bound on the count) at its line', async () => {
    const { findings } = await lintConf(replaceLine(limitedConf(), 9, 'max_queued_messages 0'));
    expect(only(findings, 'unbounded-queue')).toEqual(['9 medium unbounded-queue']);
  });

  it('flags unlimited in-flight messages without a byte bound, not with one', async () => {
    const unbounded = replaceLine(replaceLine(limitedConf(), 12, undefined), 11, 'max_inflight_messages 0');
    const { findings } = await lintConf(unbounded);
    expect(limitFindings(findings)).toEqual(['11 medium unbounded-inflight']);
    const byBytes = await lintConf(replaceLine(limitedConf(), 11, 'max_inflight_messages 0'));
    expect(limitFindings(byBytes.findings)).toEqual([]);
  });

  it('flags a listener without max_connections (low) at its listener line, and -1 at its line', async () => {
    const missing = await lintConf(replaceLine(limitedConf(), 14, undefined));
    expect(limitFindings(missing.findings)).toEqual(['13 low no-connection-limit']);
    expect(lintExitCode(missing.findings)).toBe(0);
    const unlimited = await lintConf(replaceLine(limitedConf(), 18, 'max_connections -1'));
    expect(limitFindings(unlimited.findings)).toEqual(['18 low no-connection-limit']);
  });
});
