// Static lint of a Mosquitto 2.0 `mosquitto.conf` and the files it names (acl_file, password_file, TLS keys,
// include_dir). The reader follows Mosquitto 2.0.11's own rules, each checked against the real binary
// (see the integration test and notes/brokers.md): options split on spaces only, `#` comments only in column
// 1, unknown options and bad values stop the broker, options written before the first `listener` belong to a
// hidden default listener on port 1883 (every interface) that some of them bring to life, and with
// `per_listener_settings true` security options before the first listener are silently dropped.

import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { analyzeAclText, unreadableAcl, type AclFacts } from './acl-lint.ts';
import type { LintFinding, LintSeverity } from './types.ts';

/** Where an option was written. */
interface Origin {
  file: string;
  line: number;
}

interface Setting<T> {
  value: T;
  at: Origin;
}

/** allow_anonymous, acl_file, password_file…: global, or one listener's with per_listener_settings true. */
interface Security {
  allowAnonymous?: Setting<boolean>;
  aclFile?: Setting<string>;
  passwordFile?: Setting<string>;
  pskFile?: Setting<string>;
  plugin?: Setting<string>;
  /** Every security option written into this set, for "was silently ignored" findings. */
  written: { keyword: string; at: Origin }[];
}

interface Listener {
  /** The `listener` line; for the hidden default listener, the option that brought it to life. */
  at: Origin | undefined;
  isDefault: boolean;
  port: number;
  host: string | undefined;
  bindInterface: string | undefined;
  protocol: 'mqtt' | 'websockets';
  certfile?: Setting<string>;
  keyfile?: Setting<string>;
  cafile?: Setting<string>;
  pskHint: boolean;
  useUsernameAsClientId?: Setting<boolean>;
  maxConnections?: Setting<number>;
  certIdentity: boolean;
  security: Security;
}

/** Options for {@link lintMosquittoConf}. */
export interface MosquittoConfLintOptions {
  /** Directory relative paths in the config resolve against (Mosquitto uses its working directory). */
  cwd?: string;
}

/** Every option Mosquitto 2.0.11 accepts (each one tried against the binary), plus the *_opt_ prefixes. */
const KNOWN_OPTIONS: ReadonlySet<string> = new Set(
  (
    'acl_file address addresses allow_anonymous allow_duplicate_messages allow_zero_length_clientid ' +
    'auth_plugin auth_plugin_deny_special_chars auto_id_prefix autosave_interval autosave_on_changes ' +
    'bind_address bind_interface bridge_alpn bridge_attempt_unsubscribe bridge_bind_address bridge_cafile ' +
    'bridge_capath bridge_certfile bridge_identity bridge_insecure bridge_keyfile bridge_max_packet_size ' +
    'bridge_outgoing_retain bridge_protocol_version bridge_psk bridge_require_ocsp bridge_tls_version cafile ' +
    'capath certfile check_retain_source ciphers ciphers_tls1.3 cleansession clientid_prefixes connection ' +
    'connection_messages crlfile dhparamfile http_dir idle_timeout include_dir keepalive_interval keyfile ' +
    'listener local_cleansession local_clientid local_password local_username log_dest log_facility ' +
    'log_timestamp log_timestamp_format log_type max_connections max_inflight_bytes max_inflight_messages ' +
    'max_keepalive max_packet_size max_qos max_queued_bytes max_queued_messages max_topic_alias maximum_qos ' +
    'memory_limit message_size_limit mount_point notification_topic notifications notifications_local_only ' +
    'password_file per_listener_settings persistence persistence_file persistence_location ' +
    'persistent_client_expiration pid_file plugin port protocol psk_file psk_hint queue_qos0_messages ' +
    'remote_clientid remote_password remote_username require_certificate restart_timeout retain_available ' +
    'retained_persistence retry_interval round_robin set_tcp_nodelay socket_domain start_type sys_interval ' +
    'threshold tls_engine tls_engine_kpass_sha1 tls_keyform tls_version topic try_private ' +
    'upgrade_outgoing_qos use_identity_as_username use_subject_as_username use_username_as_clientid user ' +
    'websockets_headers_size websockets_log_level'
  ).split(' '),
);

/** Security options: global, or per listener when per_listener_settings is true. */
const SECURITY_OPTIONS: ReadonlySet<string> = new Set([
  'acl_file',
  'password_file',
  'psk_file',
  'allow_anonymous',
  'auth_plugin',
  'plugin',
  'allow_zero_length_clientid',
  'auto_id_prefix',
]);

/** Listener options that, written before the first `listener`, open the default listener (verified on 2.0.11). */
const DEFAULT_LISTENER_TRIGGERS: ReadonlySet<string> = new Set([
  'bind_address',
  'bind_interface',
  'cafile',
  'capath',
  'certfile',
  'keyfile',
  'crlfile',
  'dhparamfile',
  'ciphers',
  'psk_hint',
  'require_certificate',
  'use_identity_as_username',
  'use_subject_as_username',
  'use_username_as_clientid',
  'max_connections',
  'max_qos',
  'port',
  'protocol',
  'socket_domain',
  'tls_engine',
  'tls_engine_kpass_sha1',
]);

/** Security options that also open the default listener when per_listener_settings is true. */
const PER_LISTENER_TRIGGERS: ReadonlySet<string> = new Set([
  'password_file',
  'psk_file',
  'auth_plugin',
  'plugin',
  'allow_zero_length_clientid',
]);

const BOOLEAN_OPTIONS: ReadonlySet<string> = new Set([
  'allow_anonymous',
  'per_listener_settings',
  'use_username_as_clientid',
  'use_identity_as_username',
  'use_subject_as_username',
  'require_certificate',
  'retain_available',
  'allow_zero_length_clientid',
  'persistence',
]);

/** Global resource limits whose absence (or 0, "no limit") the lint reports. */
const LIMIT_OPTIONS: ReadonlySet<string> = new Set([
  'max_packet_size',
  'message_size_limit',
  'max_queued_bytes',
  'max_inflight_messages',
  'max_inflight_bytes',
]);

const MAX_INCLUDE_DEPTH = 1;

const trimBlanks = (s: string) => s.replace(/^[ \t\n\r\v\f]+|[ \t\n\r\v\f]+$/g, '');
const isLoopbackHost = (host: string | undefined) =>
  host !== undefined && (/^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1' || host === 'localhost');

function newSecurity(): Security {
  return { written: [] };
}

function newListener(at: Origin | undefined, port: number, host: string | undefined): Listener {
  return {
    at,
    isDefault: at === undefined,
    port,
    host,
    bindInterface: undefined,
    protocol: 'mqtt',
    pskHint: false,
    certIdentity: false,
    security: newSecurity(),
  };
}

/** Everything the reader collects from the main file and the files it includes. */
class ConfState {
  readonly findings: LintFinding[] = [];
  perListenerSettings: Setting<boolean> | undefined;
  securityWritten = false;
  readonly global: Security = newSecurity();
  readonly listeners: Listener[] = [];
  readonly defaultListener: Listener = newListener(undefined, 1883, undefined);
  defaultTrigger: { keyword: string; at: Origin } | undefined;
  /** With per_listener_settings false: security options written under a listener (they apply to all). */
  readonly globalUnderListener: { keyword: string; at: Origin }[] = [];
  maxQueuedMessages: Setting<number> | undefined;
  /** Global size, queue and in-flight limits, by option name (max_packet_size, max_queued_bytes, ...). */
  readonly limits = new Map<string, Setting<number>>();
  persistentClientExpiration: Setting<string> | undefined;
  retainAvailable: Setting<boolean> | undefined;

  constructor(readonly cwd: string) {}

  add(
    at: Origin | undefined,
    file: string,
    id: string,
    severity: LintSeverity,
    message: string,
    fix: string,
  ) {
    this.findings.push({ id, file: at?.file ?? file, line: at?.line, severity, message, fix });
  }

  parseError(at: Origin, message: string, fix: string) {
    this.add(at, at.file, 'conf-parse-error', 'critical', `Mosquitto refuses to start: ${message}`, fix);
  }

  get perListener(): boolean {
    return this.perListenerSettings?.value === true;
  }
}

/** Reads one config file into the state; `depth` 0 is the main file. */
async function readConfFile(state: ConfState, file: string, text: string, depth: number): Promise<void> {
  // Each file starts outside any listener: Mosquitto resets its "current listener" per file, so options at
  // the top of an included file go to the default listener even after the main file's `listener` lines.
  let current = state.defaultListener;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const at: Origin = { file, line: index + 1 };
    const line = (lines[index] as string).replace(/[\r\n]+$/, '');
    // Only a `#` in the very first column is a comment.
    if (line.startsWith('#')) continue;
    const words = line.split(' ').filter((w) => w !== '');
    const keyword = words[0];
    if (keyword === undefined) continue;
    const rest = trimBlanks(line.slice(line.indexOf(keyword) + keyword.length));

    if (!KNOWN_OPTIONS.has(keyword) && !/^(auth|plugin)_opt_/.test(keyword)) {
      let why = `unknown option '${keyword}'`;
      let fix = 'correct the spelling (see `man mosquitto.conf`) or remove the line';
      if (keyword.startsWith('#')) {
        why = 'a comment must start in column 1; an indented `#` is read as an option name';
        fix = 'move the `#` to the first column';
      } else if (/[\t]/.test(keyword)) {
        why = `'${keyword.replace(/\t/g, '\\t')}' is not an option: Mosquitto separates words with spaces only, a tab is part of the word`;
        fix = 'separate the option and its value with a space';
      }
      state.parseError(at, why, fix);
      continue;
    }

    let bool: boolean | undefined;
    if (BOOLEAN_OPTIONS.has(keyword)) {
      const value = words[1];
      if (value !== 'true' && value !== 'false') {
        state.parseError(
          at,
          value === undefined ? `'${keyword}' has no value` : `invalid ${keyword} value '${value}'`,
          `write \`${keyword} true\` or \`${keyword} false\``,
        );
        continue;
      }
      bool = value === 'true';
    }

    if (keyword === 'per_listener_settings') {
      // Verified: `per_listener_settings true` after allow_anonymous (or any security option) is refused.
      if (bool && state.securityWritten) {
        state.parseError(
          at,
          'per_listener_settings must be set before any other security settings',
          'move `per_listener_settings true` to the top of the main file',
        );
        continue;
      }
      state.perListenerSettings = { value: bool as boolean, at };
      continue;
    }

    if (SECURITY_OPTIONS.has(keyword)) {
      state.securityWritten = true;
      const target = state.perListener ? current.security : state.global;
      target.written.push({ keyword, at });
      if (!state.perListener && !current.isDefault) state.globalUnderListener.push({ keyword, at });
      if (state.perListener && current.isDefault && PER_LISTENER_TRIGGERS.has(keyword)) {
        if (keyword !== 'allow_zero_length_clientid' || bool === false) {
          state.defaultTrigger ??= { keyword, at };
        }
      }
      const stringKeys = {
        acl_file: 'aclFile',
        password_file: 'passwordFile',
        psk_file: 'pskFile',
        auth_plugin: 'plugin',
        plugin: 'plugin',
      } as const;
      if (keyword === 'allow_anonymous') {
        target.allowAnonymous = { value: bool as boolean, at };
      } else if (keyword in stringKeys) {
        const key = stringKeys[keyword as keyof typeof stringKeys];
        if (rest === '') {
          state.parseError(at, `'${keyword}' has no value`, `write \`${keyword} /path/to/file\``);
          continue;
        }
        if (target[key] !== undefined && key !== 'plugin') {
          state.parseError(
            at,
            `duplicate ${keyword} value (first set at line ${target[key].at.line} of ${target[key].at.file})`,
            'keep only one of the two lines',
          );
          continue;
        }
        target[key] ??= { value: rest, at };
      }
      continue;
    }

    if (keyword === 'listener') {
      const portText = words[1];
      if (portText === undefined) {
        state.parseError(
          at,
          'empty listener value',
          'write `listener PORT [ADDRESS]`, e.g. `listener 1883 127.0.0.1`',
        );
        continue;
      }
      const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
      if (!(port >= 0 && port <= 65535) || (port === 0 && words[2] === undefined)) {
        state.parseError(
          at,
          port === 0
            ? 'a listener with port 0 must name a Unix socket path'
            : `invalid listener port '${portText}'`,
          'write `listener PORT [ADDRESS]` with a port from 1 to 65535',
        );
        continue;
      }
      current = newListener(at, port, words[2]);
      state.listeners.push(current);
      continue;
    }

    if (keyword === 'port' || keyword === 'bind_address') {
      // Both always configure the default listener, wherever they stand.
      if (keyword === 'port') {
        const port = Number(words[1]);
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
          state.parseError(
            at,
            `invalid port value '${words[1] ?? ''}'`,
            'write `listener PORT [ADDRESS]` instead',
          );
          continue;
        }
        state.defaultListener.port = port;
      } else {
        state.defaultListener.host = words[1];
      }
      state.defaultTrigger ??= { keyword, at };
      continue;
    }

    if (keyword === 'mount_point' && current.isDefault) {
      state.parseError(at, 'mount_point needs a listener first', 'move it under a `listener` line');
      continue;
    }

    if (DEFAULT_LISTENER_TRIGGERS.has(keyword)) {
      if (current.isDefault) state.defaultTrigger ??= { keyword, at };
      switch (keyword) {
        case 'protocol':
          if (words[1] !== 'mqtt' && words[1] !== 'websockets') {
            state.parseError(
              at,
              `invalid protocol value '${words[1] ?? ''}'`,
              'write `protocol mqtt` or `protocol websockets`',
            );
            continue;
          }
          current.protocol = words[1];
          break;
        case 'certfile':
        case 'keyfile':
        case 'cafile':
          if (current[keyword] !== undefined) {
            state.parseError(at, `duplicate ${keyword} value`, 'keep only one of the two lines');
            continue;
          }
          current[keyword] = { value: rest, at };
          break;
        case 'bind_interface':
          current.bindInterface = words[1];
          break;
        case 'max_connections':
          current.maxConnections = { value: Number(words[1]), at };
          break;
        case 'psk_hint':
          current.pskHint = true;
          break;
        case 'use_username_as_clientid':
          current.useUsernameAsClientId = { value: bool as boolean, at };
          if (current.isDefault && bool) {
            state.add(
              at,
              file,
              'use-username-as-clientid-before-listener',
              'high',
              'use_username_as_clientid stands before the first `listener` line: it is a per-listener option, so Mosquitto 2.0 opens an extra listener on port 1883 on every interface for it and applies it only there; the listeners you declared do not get it',
              'delete this line and write `use_username_as_clientid true` under each `listener` line',
            );
          }
          break;
        case 'use_identity_as_username':
        case 'use_subject_as_username':
          current.certIdentity ||= bool === true;
          break;
      }
      continue;
    }

    if (keyword === 'max_queued_messages') {
      state.maxQueuedMessages = { value: Number(words[1]), at };
    } else if (LIMIT_OPTIONS.has(keyword)) {
      state.limits.set(keyword, { value: Number(words[1]), at });
    } else if (keyword === 'persistent_client_expiration') {
      state.persistentClientExpiration = { value: rest, at };
    } else if (keyword === 'retain_available') {
      state.retainAvailable = { value: bool as boolean, at };
    } else if (keyword === 'include_dir') {
      await includeDir(state, at, rest, depth);
    }
  }
}

/** Follows `include_dir` the way Mosquitto does: `*.conf` files, A before a before B, main file only. */
async function includeDir(state: ConfState, at: Origin, dir: string, depth: number): Promise<void> {
  if (depth >= MAX_INCLUDE_DEPTH) {
    state.add(
      at,
      at.file,
      'include-dir-ignored',
      'info',
      `include_dir is only processed in the main file; Mosquitto ignores this one, so the lint did not follow '${dir}' either`,
      'move the include_dir line to the main configuration file',
    );
    return;
  }
  const resolved = resolvePath(state, dir, at, 'include_dir');
  let names: string[];
  try {
    names = (await readdir(resolved)).filter((n) => n.endsWith('.conf'));
  } catch (error) {
    state.parseError(
      at,
      `cannot open include_dir '${dir}' (${reason(error)})`,
      'create the directory or correct the path',
    );
    return;
  }
  // Case-sensitive order with the upper case of each letter before its lower case (mosquitto.conf(5)).
  names.sort((a, b) => {
    const byLetter = a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0;
    return byLetter !== 0 ? byLetter : a < b ? -1 : a > b ? 1 : 0;
  });
  for (const name of names) {
    const file = path.join(resolved, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      state.parseError(
        at,
        `cannot read included file '${file}' (${reason(error)})`,
        'fix its permissions or remove it',
      );
      continue;
    }
    await readConfFile(state, file, text, depth + 1);
  }
}

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Resolves a path from the config; a relative one depends on Mosquitto's working directory (a finding). */
function resolvePath(state: ConfState, value: string, at: Origin, keyword: string): string {
  if (path.isAbsolute(value)) return value;
  state.add(
    at,
    at.file,
    'relative-path',
    'low',
    `${keyword} '${value}' is a relative path: Mosquitto opens it relative to the directory it is started from (not the config file's), so it breaks or picks another file when started elsewhere (systemd starts it in /); the lint resolved it against ${state.cwd}`,
    `write an absolute path, e.g. \`${keyword} ${path.resolve(state.cwd, value)}\``,
  );
  return path.resolve(state.cwd, value);
}

/**
 * Checks a file the config names: it must exist and be readable; `secret` files (passwords, keys, the ACL)
 * must not be world-readable. Returns the resolved path when the file can be read.
 */
async function checkFile(
  state: ConfState,
  setting: Setting<string>,
  keyword: string,
  secret: boolean,
  consequence = 'Mosquitto refuses to start',
): Promise<string | undefined> {
  const resolved = resolvePath(state, setting.value, setting.at, keyword);
  const { at } = setting;
  let mode: number;
  try {
    const info = await stat(resolved);
    if (!info.isFile()) throw new Error('not a regular file');
    mode = info.mode;
  } catch (error) {
    state.add(
      at,
      at.file,
      'missing-file',
      'critical',
      `${keyword} '${setting.value}' cannot be opened (${reason(error)}): ${consequence}`,
      'create the file or correct the path',
    );
    return undefined;
  }
  try {
    await access(resolved, constants.R_OK);
  } catch (error) {
    state.add(
      at,
      at.file,
      'unreadable-file',
      'high',
      `${keyword} '${setting.value}' exists but this lint cannot read it (${reason(error)}), so it was not checked`,
      'run the lint as a user that can read it (Mosquitto itself reads it as user `mosquitto`)',
    );
    return undefined;
  }
  if (secret && (mode & 0o004) !== 0) {
    state.add(
      at,
      at.file,
      'world-readable',
      'high',
      `${keyword} '${setting.value}' is readable by every local user (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): anyone on the host can copy it`,
      `\`chown root:mosquitto ${resolved} && chmod 0640 ${resolved}\``,
    );
  }
  return resolved;
}

function listenerName(l: Listener): string {
  if (l.isDefault)
    return `the default listener (port ${l.port}${l.host ? ` on ${l.host}` : ', every interface'})`;
  return `listener ${l.port}${l.host ? ` ${l.host}` : ''}`;
}

/** TLS and bind-address checks for one listener. */
function checkListener(state: ConfState, l: Listener): void {
  const at = l.at;
  const file = at?.file ?? '';
  const name = listenerName(l);
  if (l.port === 0) return; // a Unix socket: local by construction.
  const half = l.certfile === undefined ? l.keyfile : l.keyfile === undefined ? l.certfile : undefined;
  if (half !== undefined) {
    const [has, lacks] = l.certfile === undefined ? ['keyfile', 'certfile'] : ['certfile', 'keyfile'];
    state.add(
      half.at,
      half.at.file,
      'tls-incomplete',
      'high',
      `${name} has a ${has} but no ${lacks}: Mosquitto 2.0.11 then starts it without TLS, silently (verified)`,
      `add \`${lacks} /etc/mosquitto/certs/...\` under the same listener`,
    );
  }
  const tls = (l.certfile !== undefined && l.keyfile !== undefined) || l.pskHint;
  if (tls) return;
  if (l.protocol === 'websockets') {
    const local = l.host === 'lo' || l.bindInterface === 'lo';
    if (local) {
      state.add(
        at,
        file,
        'plain-websockets-loopback',
        'info',
        `${name} speaks plain WebSockets, reachable only on the loopback interface (behind a TLS proxy, that is fine)`,
        'keep it on `lo`, or add `certfile` and `keyfile` to serve wss:// directly',
      );
      return;
    }
    const ignoredIp = isLoopbackHost(l.host)
      ? `; the address '${l.host}' does not help: Mosquitto's WebSocket listeners ignore an IP bind address and listen on every interface (verified on 2.0.11) — use the interface name \`lo\``
      : '';
    state.add(
      at,
      file,
      'plain-websockets',
      'high',
      `${name} speaks plain WebSockets (ws://) on a public interface: passwords, client ids and metadata cross the network in clear text${ignoredIp}`,
      `add \`certfile\` and \`keyfile\` under this listener (wss://), or bind it to the loopback interface with \`listener ${l.port} lo\` behind a TLS proxy`,
    );
    return;
  }
  const local = isLoopbackHost(l.host) || l.bindInterface === 'lo';
  if (local) {
    state.add(
      at,
      file,
      'plain-listener-loopback',
      'info',
      `${name} is plain MQTT (no TLS), reachable only from this host`,
      'nothing to do, unless other local users are not trusted',
    );
    return;
  }
  state.add(
    at,
    file,
    'plain-listener',
    'high',
    `${name} is plain MQTT (no TLS) on ${l.host ?? 'every interface'}: passwords, client ids and metadata cross the network in clear text`,
    `bind it to loopback (\`listener ${l.port} 127.0.0.1\`) or add \`certfile\` and \`keyfile\` under it`,
  );
}

/** Security checks for one set of options and the listeners it governs. */
async function checkSecurity(
  state: ConfState,
  security: Security,
  listeners: Listener[],
  aclCache: Map<string, AclFacts | undefined>,
): Promise<void> {
  const names = listeners.map(listenerName).join(', ');
  const anonymous = security.allowAnonymous?.value === true;
  const anonAt = security.allowAnonymous?.at ?? listeners[0]?.at;
  const file = anonAt?.file ?? '';

  let facts: AclFacts | undefined;
  if (security.aclFile !== undefined) {
    const resolved = await checkFile(state, security.aclFile, 'acl_file', true);
    if (resolved !== undefined) {
      if (!aclCache.has(resolved)) {
        try {
          const analysis = analyzeAclText(await readFile(resolved, 'utf8'), security.aclFile.value);
          state.findings.push(...analysis.findings);
          aclCache.set(resolved, analysis.facts);
        } catch (error) {
          state.findings.push(unreadableAcl(security.aclFile.value, error));
          aclCache.set(resolved, undefined);
        }
      }
      facts = aclCache.get(resolved);
    }
  } else if (security.plugin === undefined) {
    if (anonymous) {
      state.add(
        anonAt,
        file,
        'anonymous-without-acl',
        'critical',
        `allow_anonymous true without an acl_file on ${names}: anyone can connect without a password, subscribe to \`#\` and read every message`,
        'add `acl_file /etc/mosquitto/aclfile` with `pattern read chats/%c/messages` and `pattern write chats/+/messages`',
      );
    } else if (security.passwordFile !== undefined) {
      const at = security.passwordFile.at;
      state.add(
        at,
        at.file,
        'no-acl-file',
        'high',
        `${names} check passwords but have no acl_file: every account (and every web page's shared credentials) may read every topic`,
        'add `acl_file /etc/mosquitto/aclfile` with `pattern read chats/%c/messages` and `pattern write chats/+/messages`',
      );
    }
  }
  if (security.passwordFile !== undefined)
    await checkFile(state, security.passwordFile, 'password_file', true);
  if (security.pskFile !== undefined) await checkFile(state, security.pskFile, 'psk_file', true);

  const authenticated = security.passwordFile !== undefined || security.plugin !== undefined;
  if (
    !anonymous &&
    !authenticated &&
    security.pskFile === undefined &&
    !listeners.some((l) => l.certIdentity)
  ) {
    state.add(
      anonAt,
      file,
      'nobody-can-connect',
      'info',
      `${names} allow no anonymous clients and have no password_file or plugin: every connection is refused`,
      'add `password_file /etc/mosquitto/passwd` (created with `hush passwd` or `mosquitto_passwd`)',
    );
  }

  for (const l of listeners) {
    const bound = l.useUsernameAsClientId?.value === true;
    const lAt = l.at ?? anonAt;
    if (facts?.clientIdPatternLine !== undefined && !bound) {
      state.add(
        lAt,
        lAt?.file ?? file,
        'client-id-not-bound',
        'high',
        `the aclfile grants reads by client id (\`%c\`, its line ${facts.clientIdPatternLine}) but ${listenerName(l)} has no \`use_username_as_clientid true\`: anyone who learns or guesses a client id connects with it, takes the session over and receives that inbox, queued messages included`,
        'write `use_username_as_clientid true` under this listener and give every device a username = client id and a password in password_file',
      );
    }
    if (bound && !authenticated) {
      const uAt = l.useUsernameAsClientId?.at;
      state.add(
        uAt,
        uAt?.file ?? file,
        'username-not-authenticated',
        'high',
        `use_username_as_clientid binds the client id to the username, but ${listenerName(l)} has no password_file or plugin, so usernames are never checked: a client sends the victim's username with any password and takes its session (verified on 2.0.11)`,
        'add `password_file /etc/mosquitto/passwd` and `allow_anonymous false`',
      );
    }
  }

  if (facts?.inboxWriteLine !== undefined && state.retainAvailable?.value !== false) {
    const at = state.retainAvailable?.at ?? security.aclFile?.at;
    state.add(
      at,
      at?.file ?? file,
      'retained-inbox',
      'low',
      `clients may write into other clients' inboxes (aclfile line ${facts.inboxWriteLine}) and retained messages are available: anyone can leave a retained message that every future reader of that inbox receives first`,
      'add `retain_available false` (Hush clients never retain)',
    );
  }
}

/**
 * Size, queue, in-flight and connection limits: anyone may write into an inbox, so without them one client
 * makes the broker hold (and persist) as much as it sends. Values: 0 means "no limit" for all of them.
 */
function checkLimits(state: ConfState, file: string, listeners: Listener[]): void {
  const positive = (keyword: string) => {
    const setting = state.limits.get(keyword);
    return setting !== undefined && Number.isFinite(setting.value) && setting.value > 0;
  };
  const zeroAt = (keyword: string) => {
    const setting = state.limits.get(keyword);
    return setting !== undefined && !positive(keyword) ? setting.at : undefined;
  };
  const packet = positive('max_packet_size');
  const payload = positive('message_size_limit');
  if (!packet && !payload) {
    const at = zeroAt('max_packet_size') ?? zeroAt('message_size_limit');
    state.add(
      at,
      file,
      'no-message-size-limit',
      'medium',
      `${at ? 'the size limit is 0 (no limit)' : 'neither max_packet_size nor message_size_limit is set'}: the broker accepts messages of up to 256 MB, so one client can make it hold (and write to its database for offline devices) hundreds of megabytes per message`,
      'add `max_packet_size 262144` and `message_size_limit 262144` (256 KiB, far above any Hush message)',
    );
  } else if (packet && !payload && listeners.some((l) => l.protocol === 'websockets')) {
    const at = state.limits.get('max_packet_size')!.at;
    state.add(
      at,
      at.file,
      'size-limit-not-on-websockets',
      'medium',
      'max_packet_size is the only size limit, and Mosquitto 2.0.11 does not apply it to WebSockets listeners (verified: a 1 MiB publish over wss:// was accepted and delivered)',
      'add `message_size_limit 262144` as well: it bounds the payload on every listener',
    );
  }
  if (!positive('max_queued_bytes')) {
    const at = zeroAt('max_queued_bytes');
    state.add(
      at,
      file,
      'no-queued-bytes-limit',
      'medium',
      `${at ? 'max_queued_bytes 0 means no limit' : 'max_queued_bytes is not set (no limit)'}: only the message count bounds what waits for an offline or slow client, so 1000 large messages (up to 256 MB each) can pile up per client`,
      'add `max_queued_bytes 33554432` (32 MiB per client)',
    );
  }
  const inflightMessages = state.limits.get('max_inflight_messages');
  if (
    inflightMessages !== undefined &&
    !positive('max_inflight_messages') &&
    !positive('max_inflight_bytes')
  ) {
    state.add(
      inflightMessages.at,
      inflightMessages.at.file,
      'unbounded-inflight',
      'medium',
      'max_inflight_messages 0 removes the limit on unacknowledged messages sent to one client, and no max_inflight_bytes bounds them either: a client that never acknowledges makes the broker keep everything sent to it',
      'write `max_inflight_messages 20` (the default) and `max_inflight_bytes 1048576`',
    );
  }
  for (const l of listeners) {
    if (l.port === 0 || (l.maxConnections !== undefined && l.maxConnections.value > 0)) continue;
    const at = l.maxConnections?.at ?? l.at;
    state.add(
      at,
      at?.file ?? file,
      'no-connection-limit',
      'low',
      `${listenerName(l)} has no connection limit (max_connections ${l.maxConnections ? l.maxConnections.value : 'not set: -1, unlimited'}): a connect storm is bounded only by the process's file descriptors`,
      `write \`max_connections 10000\` under \`listener ${l.port}${l.host ? ` ${l.host}` : ''}\``,
    );
  }
}

/** Lints a mosquitto.conf (Mosquitto 2.0 syntax) and the acl, password and key files it names. */
export async function lintMosquittoConf(
  file: string,
  options: MosquittoConfLintOptions = {},
): Promise<LintFinding[]> {
  const state = new ConfState(options.cwd ?? process.cwd());
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return [
      {
        id: 'missing-file',
        file,
        line: undefined,
        severity: 'critical',
        message: `the config cannot be read (${reason(error)})`,
        fix: 'correct the path',
      },
    ];
  }
  await readConfFile(state, file, text, 0);

  const explicit = state.listeners;
  const dl = state.defaultListener;
  const defaultOpen = state.defaultTrigger !== undefined;
  if (defaultOpen) dl.at = state.defaultTrigger?.at;
  const listeners = defaultOpen ? [...explicit, dl] : [...explicit];

  if (defaultOpen && explicit.length > 0 && state.defaultTrigger?.keyword !== 'use_username_as_clientid') {
    const t = state.defaultTrigger as { keyword: string; at: Origin };
    state.add(
      t.at,
      t.at.file,
      'default-listener-created',
      'high',
      `\`${t.keyword}\` stands outside any \`listener\` block (before the first one, or at the top of an included file): Mosquitto opens an extra listener on port ${dl.port}${dl.host ? ` on ${dl.host}` : ' on every interface'} just for it`,
      `move \`${t.keyword}\` under the \`listener\` it belongs to`,
    );
  }
  if (listeners.length === 0) {
    state.add(
      undefined,
      file,
      'local-only',
      'info',
      'no listener is configured: Mosquitto 2.0 then listens only on the loopback interface, port 1883, and lets anonymous clients in',
      'add `listener PORT ADDRESS` lines for the clients you want to serve',
    );
  }

  const aclCache = new Map<string, AclFacts | undefined>();
  if (state.perListener) {
    // Options written before the first listener went to the hidden default listener; unless it opened,
    // they apply nowhere (verified: acl_file there is ignored and `#` reads everything).
    if (!defaultOpen) {
      for (const w of dl.security.written) {
        state.add(
          w.at,
          w.at.file,
          'per-listener-setting-ignored',
          'high',
          `\`${w.keyword}\` stands before the first listener while per_listener_settings is true: it belongs to no listener and Mosquitto silently ignores it (an acl_file here protects nothing; allow_anonymous here opens nothing)`,
          `move \`${w.keyword}\` under each \`listener\` line it should apply to`,
        );
      }
    }
    for (const l of listeners) await checkSecurity(state, l.security, [l], aclCache);
  } else if (listeners.length > 0) {
    await checkSecurity(state, state.global, listeners, aclCache);
    if (listeners.length > 1) {
      for (const w of state.globalUnderListener) {
        state.add(
          w.at,
          w.at.file,
          'security-option-applies-to-all-listeners',
          'low',
          `\`${w.keyword}\` is written under a listener, but with per_listener_settings false it applies to every listener`,
          'move it above the first `listener` line so the file reads as it behaves, or set `per_listener_settings true` at the top and repeat it per listener',
        );
      }
    }
  }

  for (const l of listeners) {
    checkListener(state, l);
    if (l.certfile && l.keyfile) {
      await checkFile(state, l.certfile, 'certfile', false);
      await checkFile(state, l.keyfile, 'keyfile', true);
      if (l.cafile) await checkFile(state, l.cafile, 'cafile', false);
    }
  }

  if (state.maxQueuedMessages?.value === 0) {
    const at = state.maxQueuedMessages.at;
    state.add(
      at,
      at.file,
      'unbounded-queue',
      'medium',
      "max_queued_messages 0 removes the limit on each offline client's queue: anyone who may write an inbox can fill the broker's memory",
      'use a bound, e.g. `max_queued_messages 1000` (the default) with `max_queued_bytes`',
    );
  }
  if (listeners.length > 0) checkLimits(state, file, listeners);
  if (state.persistentClientExpiration === undefined && listeners.length > 0) {
    state.add(
      undefined,
      file,
      'no-session-expiry',
      'low',
      'persistent_client_expiration is not set: sessions of devices that never come back, with their queues, are kept forever',
      'add e.g. `persistent_client_expiration 30d`',
    );
  }
  // Group by file (the main file first, then files in the order they were first mentioned), then by line.
  const fileOrder = [file, ...new Set(state.findings.map((f) => f.file))];
  const rank = (f: LintFinding) => fileOrder.indexOf(f.file);
  return state.findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f) - rank(b.f) || (a.f.line ?? 0) - (b.f.line ?? 0) || a.i - b.i)
    .map(({ f }) => f);
}
