/**
 * Reads what `hush start --mosquitto-dir` needs from a deployment's mosquitto.conf: the password file it
 * writes, the pid file of the broker it signals, and a plain MQTT listener on loopback over which it creates
 * new devices' sessions. Follows Mosquitto 2.0's syntax (one option per line, `#` comments in column 1 only,
 * options split on spaces); written for configurations `hush deploy mosquitto` generates, it refuses what it
 * cannot follow (include_dir, per-listener security) with a sentence saying so. The full lint of a config is
 * `hush audit --mosquitto-conf`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** What the registration server uses from a Mosquitto deployment. */
export interface MosquittoDeployment {
  confFile: string;
  passwordFile: string;
  pidFile: string;
  /** mqtt://127.0.0.1:PORT (or [::1]) of a plain MQTT listener on loopback. */
  localUrl: string;
  /** `use_username_as_clientid true` under every listener. */
  usernameIsClientId: boolean;
}

/** A deployment the server cannot use, with what to do about it. */
export class MosquittoConfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MosquittoConfError';
  }
}

interface ListenerFacts {
  port: number;
  host: string | undefined;
  websockets: boolean;
  tls: boolean;
  usernameIsClientId: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Reads DIR/mosquitto.conf and checks that it is an account-mode deployment this server can drive. */
export async function readMosquittoDeployment(dir: string): Promise<MosquittoDeployment> {
  const confFile = path.join(path.resolve(dir), 'mosquitto.conf');
  let text: string;
  try {
    text = await readFile(confFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MosquittoConfError(
      code === 'ENOENT'
        ? `${confFile} does not exist: generate the deployment with \`hush deploy mosquitto --out ${dir}\``
        : `cannot read ${confFile} (${code ?? (error as Error).message}): run hush as a user in the mosquitto group`,
    );
  }
  const fail = (line: number, problem: string) =>
    new MosquittoConfError(`${confFile} line ${line}: ${problem}`);
  let passwordFile: string | undefined;
  let pidFile: string | undefined;
  let anonymous = false;
  const listeners: ListenerFacts[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('#') || line.trim() === '') return;
    const [keyword = '', ...rest] = line.trim().split(/ +/);
    const value = rest.join(' ');
    const current = listeners.at(-1);
    switch (keyword) {
      case 'password_file':
        passwordFile = path.resolve(path.dirname(confFile), value);
        break;
      case 'pid_file':
        pidFile = path.resolve(path.dirname(confFile), value);
        break;
      case 'allow_anonymous':
        anonymous = value === 'true';
        break;
      case 'per_listener_settings':
        if (value === 'true')
          throw fail(
            index + 1,
            'per_listener_settings true is not supported here (the generated config uses false)',
          );
        break;
      case 'include_dir':
        throw fail(
          index + 1,
          'include_dir is not followed by hush start; keep the options it needs in this file',
        );
      case 'listener':
        listeners.push({
          port: Number(rest[0]),
          host: rest[1],
          websockets: false,
          tls: false,
          usernameIsClientId: false,
        });
        break;
      case 'protocol':
        if (current) current.websockets = value === 'websockets';
        break;
      case 'certfile':
        if (current) current.tls = true;
        break;
      case 'use_username_as_clientid':
        if (current) current.usernameIsClientId = value === 'true';
        break;
      default:
        break;
    }
  });
  if (anonymous || passwordFile === undefined)
    throw new MosquittoConfError(
      `${confFile} is an anonymous deployment (no accounts): it needs no registration server. ` +
        'Serve the web app some other way, or re-generate it without --anonymous for accounts.',
    );
  if (pidFile === undefined)
    throw new MosquittoConfError(
      `${confFile} has no pid_file, so hush cannot tell Mosquitto to re-read the password file: ` +
        're-run `hush deploy mosquitto --force` with the same flags (it adds one), then restart Mosquitto',
    );
  const local = listeners.find(
    (l) => !l.websockets && !l.tls && l.host !== undefined && LOOPBACK.has(l.host) && l.port > 0,
  );
  if (!local)
    throw new MosquittoConfError(
      `${confFile} has no plain MQTT listener on loopback (\`listener PORT 127.0.0.1\`): hush uses it to create ` +
        "new devices' sessions",
    );
  const host = local.host === '::1' ? '[::1]' : local.host === 'localhost' ? '127.0.0.1' : local.host!;
  return {
    confFile,
    passwordFile,
    pidFile,
    localUrl: `mqtt://${host}:${local.port}`,
    usernameIsClientId: listeners.length > 0 && listeners.every((l) => l.usernameIsClientId),
  };
}
