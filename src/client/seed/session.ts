/**
 * Broker sessions of anonymous seed-mode ids (docs/PROTOCOL.md §11). A persistent session must exist before anyone
 * learns an id (a broker drops messages for an id it has no session for), and a retired id's session is removed
 * by connecting once with clean: true, so nothing addressed to it is queued any more.
 */

import mqtt, { type IClientOptions } from 'mqtt';

const TIMEOUT_MS = 10_000;

async function once(
  url: string,
  clientId: string,
  clean: boolean,
  inbox: string | undefined,
  extra: Partial<IClientOptions> | undefined,
): Promise<void> {
  const client = mqtt.connect(url, {
    timerVariant: 'native',
    ...extra,
    protocolVersion: 4,
    clean,
    clientId,
    username: undefined,
    password: undefined,
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT_MS,
    keepalive: 30,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`seed: no answer from ${url}`)), TIMEOUT_MS);
      client.once('connect', () => {
        if (!inbox) {
          clearTimeout(timer);
          resolve();
          return;
        }
        client.subscribe(inbox, { qos: 1 }, (error, granted) => {
          clearTimeout(timer);
          const refused = error ?? (granted?.[0]?.qos === 128 ? new Error('SUBACK 0x80') : undefined);
          if (refused) reject(refused);
          else resolve();
        });
      });
      client.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } finally {
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => client.end(true, {}, () => resolve()), 1000);
      client.end(false, {}, () => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}

/** Creates the persistent session (clean: false, QoS 1 subscription to the exact inbox) of a fresh id. */
export function primeSession(
  url: string,
  clientId: string,
  inbox: string,
  extra?: Partial<IClientOptions>,
): Promise<void> {
  return once(url, clientId, false, inbox, extra);
}

/** Removes the session of a retired id: one connection with clean: true. */
export function wipeSession(url: string, clientId: string, extra?: Partial<IClientOptions>): Promise<void> {
  return once(url, clientId, true, undefined, extra);
}
